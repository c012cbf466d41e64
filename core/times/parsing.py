"""Times typed by people, read into aware UTC datetimes, and shown back as Discord timestamps.

Accepted, and every form RaceDesk shows a time in (``time_text``):

- a Discord timestamp (``<t:1796151600:F>``, any style letter or none; also ``show_time``'s
  ``<t:…:F> (<t:…:R>)``);
- a date and a time: ``2026-12-05 19:00``, ``2026-12-05T19:00``, or with the month's name
  and the weekday, as Discord and the rehearsal's timeline show a timestamp:
  ``Saturday 5 December 2026 19:00``, ``Sat, 5 Dec 2026 at 7:00 PM``,
  ``Saturday, December 5, 2026 at 7:00 PM``. A weekday that is not the date's is refused;
- then, optionally, the zone: ``Z``, an offset (``+01:00``), ``UTC``/``GMT`` with or without
  an offset (``UTC+01:00``, in brackets too), or an IANA name (``Europe/Paris``).

Without a zone, the date and time are read in the zone the caller gives (the player's, else
the server's). A time that does not exist there (skipped by a daylight saving change) or that
happens twice (the hour repeated when clocks go back) is refused with the choices, never
guessed: a match an hour off is worse than a second try.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone, tzinfo

from core.errors import UserFacingError
from core.times.formatting import MONTHS, WEEKDAYS, iso_with_offset, plain_text, utc_text
from core.times.zone_names import zone_called

_DISCORD = re.compile(
    r"<t:(?P<seconds>-?\d{1,12})(?::[tTdDfFRsS])?>(?:\s*\(<t:(?P<again>-?\d{1,12}):R>\))?"
)
_ORDINAL = r"(?:st|nd|rd|th)?"
_DATE = re.compile(
    r"(?:(?P<weekday>[^\W\d_]+)\.?,?\s+)?"
    r"(?:(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})"
    rf"|(?P<dm_day>\d{{1,2}}){_ORDINAL}\s+(?P<dm_month>[^\W\d_]+)\.?,?\s+(?P<dm_year>\d{{4}})"
    rf"|(?P<md_month>[^\W\d_]+)\.?\s+(?P<md_day>\d{{1,2}}){_ORDINAL},?\s+(?P<md_year>\d{{4}}))"
)
_TIME = re.compile(
    r"(?:[Tt]|\s*,\s*(?:at\s+)?|\s+(?:at\s+)?)"
    r"(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:\.\d+)?)?"
    r"(?:\s*(?P<half>[AaPp])\.?[Mm]\.?(?![^\W\d_]))?"  # not the "Am" of "America/…"
    r"(?P<zone>.*)",
    re.DOTALL,
)
_OFFSET = re.compile(
    r"(?:(?P<name>UTC|GMT)\s*)?(?P<offset>[+-](?P<hours>\d{1,2})(?::?(?P<minutes>\d{2}))?)?",
    re.IGNORECASE,
)
# Discord accepts timestamps from 1970 to about 275,000 years on; Python stops at year 9999.
_MAX_UNIX = 253_402_300_799
# How far ahead a race may be set: far enough for any season, near enough that a mistyped
# year ("9999", "2226") is caught, and every zone's local time stays within Python's years.
MAX_YEARS_AHEAD = 3
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)  # Discord timestamps start here


class TimeInputError(UserFacingError, ValueError):
    """A time that could not be read; the message says what was wrong and what is accepted.

    ``choices``: the instants the text could have meant, when it names a wall-clock time a
    daylight saving change repeats (both) or skips (the one that exists instead).
    """

    def __init__(self, message: str, choices: tuple[datetime, ...] = ()) -> None:
        super().__init__(message)
        self.choices = choices


def example_time(now: datetime, zone: tzinfo) -> datetime:
    """A day after ``now``, on the next whole hour of ``zone``'s clock that happens once
    there: the time the help and the suggestions offer, so copying it always works."""
    local = (now + timedelta(days=1)).astimezone(zone)
    wall = local.replace(minute=0, second=0, microsecond=0, tzinfo=None) + timedelta(hours=1)
    for _ in range(48):  # a zone's clock changes at most twice a day
        once = happening_once(wall, zone)
        if once is not None:
            return once
        wall += timedelta(hours=1)
    raise AssertionError(f"no unambiguous hour in {zone} in two days")  # pragma: no cover


def happening_once(wall: datetime, zone: tzinfo) -> datetime | None:
    """The naive wall-clock time ``wall`` in ``zone`` as aware UTC, or None when a daylight
    saving change skips or repeats it there."""
    first, second = wall.replace(tzinfo=zone, fold=0), wall.replace(tzinfo=zone, fold=1)
    return first.astimezone(UTC) if first.utcoffset() == second.utcoffset() else None


def accepted_formats(now: datetime, zone: tzinfo) -> str:
    """What can be typed, with examples a day after ``now`` (so they are never in the past)
    in ``zone``, the caller's."""
    when = example_time(now, zone)
    return (
        f"Write a date and time in {zone}, e.g. `{plain_text(when, zone)}` (`/timezone set` "
        f"changes your timezone); with its zone, e.g. `{utc_text(when)}` or "
        f"`{iso_with_offset(when, zone)}`; or a Discord timestamp, e.g. "
        f"`{discord_timestamp(when)}`."
    )


class TimeOutOfRangeError(TimeInputError):
    """A time read fine but before 1970 or more than :data:`MAX_YEARS_AHEAD` years ahead."""


def latest_time(now: datetime) -> datetime:
    """The latest time a race may be set to: the same moment :data:`MAX_YEARS_AHEAD` years
    after ``now`` (the 28th for a 29 February)."""
    try:
        return now.replace(year=now.year + MAX_YEARS_AHEAD)
    except ValueError:
        return now.replace(year=now.year + MAX_YEARS_AHEAD, day=28)


def check_in_range(when: datetime, now: datetime, typed: str | None = None) -> datetime:
    """``when``, if it is from 1970 to :func:`latest_time`; else a
    :class:`TimeOutOfRangeError` saying so (``typed``: the text as the user wrote it)."""
    shown = f"`{typed}`" if typed is not None else utc_text(when)
    if when > latest_time(now):
        raise TimeOutOfRangeError(
            f"{shown} is more than {MAX_YEARS_AHEAD} years ahead; RaceDesk takes times up to "
            f"{utc_text(latest_time(now))}. Check the year."
        )
    if when < EARLIEST:
        raise TimeOutOfRangeError(f"{shown} is before 1970, which is not a usable date.")
    return when


def parse_time(text: str, zone: tzinfo, *, now: datetime) -> datetime:
    """``text`` as an aware UTC datetime; a date and time without a zone is read in ``zone``.

    Raises :class:`TimeInputError` (a ``ValueError``) whose message gives examples computed
    from ``now`` in ``zone``.
    """
    typed = " ".join(text.split())
    if not typed:
        raise TimeInputError(f"No time given. {accepted_formats(now, zone)}")

    def unreadable() -> TimeInputError:
        return TimeInputError(
            f"`{typed}` is not a time RaceDesk can read. {accepted_formats(now, zone)}"
        )

    stamp = _DISCORD.fullmatch(typed)
    if stamp is not None:
        return _from_stamp(stamp, typed, now, zone)
    date = _DATE.match(typed)
    clock = _TIME.fullmatch(typed, date.end()) if date is not None else None
    if date is None or clock is None:
        raise unreadable()
    year, month, day = _date_fields(date)
    if month is None:
        raise unreadable()
    hour = _hour(int(clock["hour"]), clock["half"], typed)
    try:
        # The wall-clock fields; their real zone (the one typed, or ``zone``) replaces UTC.
        local = datetime(
            year, month, day, hour, int(clock["minute"]), int(clock["second"] or 0), tzinfo=UTC
        )
    except ValueError as error:
        raise TimeInputError(f"`{typed}` is not a real date or time ({error}).") from None
    if date["weekday"] is not None:
        _check_weekday(date["weekday"], local, typed, unreadable)
    named = _zone(clock["zone"].strip(), typed)
    try:
        if isinstance(named, timezone):
            return local.replace(tzinfo=named).astimezone(UTC)
        return _in_zone(local, named or zone, typed)
    except OverflowError:
        raise TimeInputError(f"`{typed}` is not a usable date.") from None


def _from_stamp(stamp: re.Match[str], typed: str, now: datetime, zone: tzinfo) -> datetime:
    seconds = int(stamp["seconds"])
    if stamp["again"] is not None and int(stamp["again"]) != seconds:
        raise TimeInputError(f"`{typed}` names two different times; give one.")
    if not 0 <= seconds <= _MAX_UNIX:
        raise TimeInputError(f"`{typed}` is not a usable date. {accepted_formats(now, zone)}")
    return datetime.fromtimestamp(seconds, UTC)


def _date_fields(date: re.Match[str]) -> tuple[int, int | None, int]:
    """Year, month (None: not a month's name) and day, whichever way the date was written."""
    if date["year"] is not None:
        return int(date["year"]), int(date["month"]), int(date["day"])
    if date["dm_year"] is not None:
        return int(date["dm_year"]), _named(date["dm_month"], MONTHS), int(date["dm_day"])
    return int(date["md_year"]), _named(date["md_month"], MONTHS), int(date["md_day"])


def _named(word: str, names: tuple[str, ...]) -> int | None:
    """1-based position of ``word`` in ``names``: the whole name or its first three letters
    or more (``Dec``, ``Sept``, ``Sat``), any case."""
    lowered = word.lower()
    for number, name in enumerate(names, start=1):
        if len(lowered) >= 3 and name.lower().startswith(lowered):
            return number
    return None


def _hour(hour: int, half: str | None, typed: str) -> int:
    if half is None:
        return hour
    if not 1 <= hour <= 12:
        raise TimeInputError(
            f"`{typed}` is not a real date or time (with AM or PM the hour is 1 to 12)."
        )
    return hour % 12 + (12 if half in "Pp" else 0)


def _check_weekday(
    word: str, local: datetime, typed: str, unreadable: Callable[[], TimeInputError]
) -> None:
    weekday = _named(word, WEEKDAYS)
    if weekday is None:
        raise unreadable()
    actual = WEEKDAYS[local.weekday()]
    if weekday != local.weekday() + 1:
        raise TimeInputError(
            f"`{typed}`: {local.day} {MONTHS[local.month - 1]} {local.year} is a {actual}, "
            f"not a {WEEKDAYS[weekday - 1]}. Check the date, or leave the weekday out."
        )


def _zone(text: str, typed: str) -> tzinfo | None:
    """The zone written after the time: None when there is none, a fixed ``timezone`` for
    ``Z``, an offset or UTC/GMT, else the IANA zone named."""
    if text.startswith("(") and text.endswith(")"):
        text = text[1:-1].strip()
    if not text:
        return None
    if text in ("Z", "z"):
        return UTC
    fixed = _OFFSET.fullmatch(text)
    if fixed is not None and (fixed["name"] or fixed["offset"]):
        if fixed["offset"] is None:
            return UTC
        hours, minutes = int(fixed["hours"]), int(fixed["minutes"] or 0)
        if hours > 23 or minutes > 59:
            raise TimeInputError(f"`{typed}` has an impossible UTC offset `{fixed['offset']}`.")
        delta = timedelta(hours=hours, minutes=minutes)
        return timezone(-delta if fixed["offset"][0] == "-" else delta)
    named = zone_called(text)
    if named is None:
        raise TimeInputError(
            f"`{typed}` ends in `{text}`, which is not a timezone RaceDesk knows. After the "
            "time, write `UTC`, an offset such as `+01:00`, or an IANA name such as "
            "`Europe/Paris`; or leave it out to use your timezone."
        )
    return zoneinfo.ZoneInfo(named)


def _in_zone(local: datetime, zone: tzinfo, typed: str) -> datetime:
    """The wall-clock time ``local`` read in ``zone``; refuses times a clock change skips or
    repeats."""
    first = local.replace(tzinfo=zone, fold=0)
    second = local.replace(tzinfo=zone, fold=1)
    name = str(zone)
    if first.utcoffset() != second.utcoffset():
        real = first.astimezone(UTC)
        round_trip = real.astimezone(zone).replace(tzinfo=UTC)
        if round_trip != local:
            raise TimeInputError(
                f"`{typed}` does not exist in {name}: the clocks skip that hour for daylight "
                f"saving time. Pick another time, e.g. `{round_trip:%Y-%m-%d %H:%M}`.",
                (real,),
            )
        raise TimeInputError(
            f"`{typed}` happens twice in {name}, when the clocks go back. Say which one with "
            f"its offset: `{iso_with_offset(first)}` (the first) or "
            f"`{iso_with_offset(second)}` (the second).",
            (first.astimezone(UTC), second.astimezone(UTC)),
        )
    return first.astimezone(UTC)


def discord_timestamp(when: datetime, style: str = "F") -> str:
    """``<t:UNIX:style>``: Discord shows it in each reader's own zone."""
    if when.tzinfo is None:
        raise ValueError("discord_timestamp needs an aware datetime")
    return f"<t:{int(when.timestamp())}:{style}>"


def show_time(when: datetime) -> str:
    """The full date and time and how far away it is, e.g. ``<t:…:F> (<t:…:R>)``."""
    return f"{discord_timestamp(when, 'F')} ({discord_timestamp(when, 'R')})"
