"""Times typed by people, read into aware UTC datetimes, and shown back as Discord timestamps.

Accepted: a Discord timestamp (``<t:1730836800:F>``, any style letter or none), ISO 8601 with
an offset (``2026-12-01T19:00+01:00``, ``2026-12-01T18:00Z``), or a plain date and time
(``2026-12-01 19:00``, ``2026-12-01T19:00``) read in the zone the caller gives (the player's,
else the server's). A plain time that does not exist in that zone (skipped by a daylight
saving change) or that happens twice (the hour repeated when clocks go back) is refused
with the choices, never guessed: a match an hour off is worse than a second try.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo

from core.errors import UserFacingError

ACCEPTED_FORMATS = (
    "Write the time as a Discord timestamp (`<t:1796151600:F>`), as ISO 8601 with an offset "
    "(`2026-12-01T19:00+01:00` or `2026-12-01T18:00Z`), or as a date and time in your "
    "timezone (`2026-12-01 19:00`; set your timezone with `/timezone set`)."
)

_DISCORD = re.compile(r"<t:(?P<seconds>-?\d{1,12})(?::[tTdDfFRsS])?>")
_ISO = re.compile(
    r"(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})"
    r"(?:[Tt]|\s+)(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:\.\d+)?)?"
    r"\s*(?P<offset>[Zz]|[+-]\d{2}(?::?\d{2})?)?"
)
# Discord accepts timestamps from 1970 to about 275,000 years on; Python stops at year 9999.
_MAX_UNIX = 253_402_300_799


class TimeInputError(UserFacingError, ValueError):
    """A time that could not be read; the message says what was wrong and what is accepted."""


def parse_time(text: str, zone: tzinfo) -> datetime:
    """``text`` as an aware UTC datetime; a plain date and time is read in ``zone``.

    Raises :class:`TimeInputError` (a ``ValueError``) with the accepted formats.
    """
    typed = text.strip()
    if not typed:
        raise TimeInputError(f"No time given. {ACCEPTED_FORMATS}")
    stamp = _DISCORD.fullmatch(typed)
    if stamp is not None:
        seconds = int(stamp["seconds"])
        if not 0 <= seconds <= _MAX_UNIX:
            raise TimeInputError(f"`{typed}` is not a usable date. {ACCEPTED_FORMATS}")
        return datetime.fromtimestamp(seconds, UTC)
    iso = _ISO.fullmatch(typed)
    if iso is None:
        raise TimeInputError(f"`{typed}` is not a time RaceDesk can read. {ACCEPTED_FORMATS}")
    try:
        # The wall-clock fields; their real zone (offset or ``zone``) replaces UTC below.
        local = datetime(
            int(iso["year"]), int(iso["month"]), int(iso["day"]),
            int(iso["hour"]), int(iso["minute"]), int(iso["second"] or 0), tzinfo=UTC,
        )
    except ValueError as error:
        raise TimeInputError(f"`{typed}` is not a real date or time ({error}).") from None
    offset = iso["offset"]
    if offset is not None:
        return local.replace(tzinfo=_offset(offset, typed)).astimezone(UTC)
    return _in_zone(local, zone, typed)


def _offset(text: str, typed: str) -> timezone:
    if text in ("Z", "z"):
        return UTC
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:] or 0)
    if hours > 23 or minutes > 59:
        raise TimeInputError(f"`{typed}` has an impossible UTC offset `{text}`.")
    delta = timedelta(hours=hours, minutes=minutes)
    return timezone(-delta if text[0] == "-" else delta)


def _in_zone(local: datetime, zone: tzinfo, typed: str) -> datetime:
    """The wall-clock time ``local`` read in ``zone``; refuses times a clock change skips or
    repeats."""
    first = local.replace(tzinfo=zone, fold=0)
    second = local.replace(tzinfo=zone, fold=1)
    name = str(zone)
    if first.utcoffset() != second.utcoffset():
        round_trip = first.astimezone(UTC).astimezone(zone).replace(tzinfo=UTC)
        if round_trip != local:
            raise TimeInputError(
                f"`{typed}` does not exist in {name}: the clocks skip that hour for daylight "
                f"saving time. Pick another time, e.g. `{round_trip:%Y-%m-%d %H:%M}`."
            )
        raise TimeInputError(
            f"`{typed}` happens twice in {name}, when the clocks go back. Say which one with "
            f"its offset: `{_iso_with_offset(first)}` (the first) or "
            f"`{_iso_with_offset(second)}` (the second)."
        )
    return first.astimezone(UTC)


def _iso_with_offset(moment: datetime) -> str:
    offset = moment.utcoffset() or timedelta()
    sign = "-" if offset < timedelta() else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"{moment:%Y-%m-%dT%H:%M}{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def discord_timestamp(when: datetime, style: str = "F") -> str:
    """``<t:UNIX:style>``: Discord shows it in each reader's own zone."""
    if when.tzinfo is None:
        raise ValueError("discord_timestamp needs an aware datetime")
    return f"<t:{int(when.timestamp())}:{style}>"


def show_time(when: datetime) -> str:
    """The full date and time and how far away it is, e.g. ``<t:…:F> (<t:…:R>)``."""
    return f"{discord_timestamp(when, 'F')} ({discord_timestamp(when, 'R')})"
