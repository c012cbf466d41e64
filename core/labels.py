"""Names and titles people type: one line, spacing collapsed, bounded, never blank."""

from __future__ import annotations

from core.errors import UserFacingError


def clean_label(text: str, *, noun: str, limit: int, when_blank: str) -> str:
    """``text`` on one line with single spaces; ``when_blank`` if nothing is left, a message
    naming the ``noun`` (e.g. "match title") if longer than ``limit`` characters."""
    cleaned = " ".join(text.split())
    if not cleaned:
        raise UserFacingError(when_blank)
    if len(cleaned) > limit:
        raise UserFacingError(
            f"A {noun} can be at most {limit} characters; this one has {len(cleaned)}."
        )
    return cleaned
