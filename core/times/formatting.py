"""The forms RaceDesk writes a time in as text (Discord timestamps, which each reader's client
renders, are in ``time_input``). ``time_input.parse_time`` reads every one of them back, so a
time copied from a reply, a suggestion or a room's info can be typed in again.

Names of days and months are English whatever the machine's locale (``%a``/``%b`` are not).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)


def utc_text(when: datetime) -> str:
    """``2026-12-05 19:00 UTC``: labels and room info, read the same by everyone."""
    return f"{when.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def plain_text(when: datetime, zone: tzinfo) -> str:
    """``2026-12-05 20:00``: the wall clock in ``zone``, as a person types it there."""
    return f"{when.astimezone(zone):%Y-%m-%d %H:%M}"


def local_text(when: datetime, zone: tzinfo) -> str:
    """``2026-12-05 20:00 (UTC+01:00)``: the wall clock in ``zone`` and its offset."""
    local = when.astimezone(zone)
    return f"{local:%Y-%m-%d %H:%M} (UTC{offset_text(local.utcoffset())})"


def iso_with_offset(when: datetime, zone: tzinfo | None = None) -> str:
    """``2026-12-05T20:00+01:00``: exact whatever zone reads it (``zone`` picks the offset;
    default: the one ``when`` has)."""
    local = when.astimezone(zone) if zone is not None else when
    return f"{local:%Y-%m-%dT%H:%M}{offset_text(local.utcoffset())}"


def weekday_text(when: datetime, zone: tzinfo, *, offset: bool = False) -> str:
    """``Sat 5 Dec 2026 20:00 Europe/Paris``: with the weekday, to catch a wrong date;
    ``offset``: ``… 20:00 UTC+01:00`` instead, which tells apart the two readings of an hour
    the clocks repeat."""
    local = when.astimezone(zone)
    shown_zone = f"UTC{offset_text(local.utcoffset())}" if offset else str(zone)
    return (
        f"{WEEKDAYS[local.weekday()][:3]} {local.day} {MONTHS[local.month - 1][:3]} "
        f"{local.year} {local:%H:%M} {shown_zone}"
    )


def offset_text(offset: timedelta | None) -> str:
    """``+01:00``, ``-05:30``, ``+00:00``."""
    offset = offset or timedelta()
    sign = "-" if offset < timedelta() else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def short_duration(value: timedelta) -> str:
    """``5m``, ``2h``, ``2h30``: a duration in whole minutes, as people type it in chat."""
    minutes = int(value.total_seconds()) // 60
    hours, minutes = divmod(minutes, 60)
    if hours and minutes:
        return f"{hours}h{minutes:02d}"
    return f"{hours}h" if hours else f"{minutes}m"


def breaks_text(duration: timedelta, every: timedelta) -> str:
    """A room's scheduled breaks, e.g. ``5m break every 2h30 of race time``."""
    return f"{short_duration(duration)} break every {short_duration(every)} of race time"
