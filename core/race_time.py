"""Race times as people read them (``1:02:03.4``, tenths, as racetime shows them), and the
canonical ISO 8601 durations events carry (``PT1H2M3.4S``) read back. Standard library only:
events use it to describe themselves."""

from __future__ import annotations

import re
from datetime import timedelta

_CANONICAL = re.compile(
    r"(?P<sign>-)?PT(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?"
)


def format_race_time(value: timedelta) -> str:
    """``1:02:03.4``: hours, minutes, seconds and tenths (never rounded up past the clock)."""
    tenths = int(value.total_seconds() * 10)
    seconds, tenth = divmod(tenths, 10)
    minutes, second = divmod(seconds, 60)
    hours, minute = divmod(minutes, 60)
    return f"{hours}:{minute:02d}:{second:02d}.{tenth}"


def parse_event_duration(text: str) -> timedelta | None:
    """A duration as events carry it (``PT7.010401S``, ``PT1H23M45S``); None if it is not one."""
    match = _CANONICAL.fullmatch(text)
    if match is None or text.endswith(("P", "T")):
        return None
    value = timedelta(
        hours=int(match["hours"] or 0),
        minutes=int(match["minutes"] or 0),
        seconds=float(match["seconds"] or 0),
    )
    return -value if match["sign"] else value


def shown_race_time(text: str) -> str:
    """An event's duration as a race time (``0:00:07.0``); the text itself if it is not one."""
    value = parse_event_duration(text)
    return format_race_time(value) if value is not None else text
