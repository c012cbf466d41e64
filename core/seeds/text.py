"""Wording shared by the providers and the service."""

from __future__ import annotations

import re
from collections.abc import Iterable

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def one_line(text: str, limit: int) -> str:
    """``text`` on one line, without control characters, at most ``limit`` characters."""
    flat = " ".join(_CONTROL.sub(" ", text).split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def listing(names: Iterable[str]) -> str:
    return ", ".join(names) or "none"


def unknown_preset(preset: str, presets: Iterable[str]) -> str:
    shown = one_line(preset, 40)
    return f"Unknown preset '{shown}'. Presets: {listing(presets)}."
