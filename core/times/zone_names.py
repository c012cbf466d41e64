"""The IANA zone names (``Europe/Berlin``) this system's tz database knows, looked up loosely:
shared by ``/timezone`` and the time parser (``2026-12-05 19:00 Europe/Paris``)."""

from __future__ import annotations

import functools
import zoneinfo


@functools.cache
def zone_names() -> tuple[str, ...]:
    """Every IANA zone name this system knows, sorted."""
    return tuple(sorted(zoneinfo.available_timezones()))


@functools.cache
def known_zones() -> frozenset[str]:
    return frozenset(zone_names())


@functools.cache
def _by_lower() -> dict[str, str]:
    return {name.lower(): name for name in zone_names()}


def zone_called(text: str) -> str | None:
    """The zone name ``text`` spells, in any case and with spaces for underscores."""
    return _by_lower().get(text.strip().replace(" ", "_").lower())
