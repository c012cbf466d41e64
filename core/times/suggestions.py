"""What a ``when`` option suggests while it is typed: the reading of the text so far, in the
caller's zone and with its weekday, so a misread date shows before the command is sent;
before anything is typed, the next evenings.

A suggestion's name is itself a form ``parse_time`` reads (``Sat 5 Dec 2026 19:00
Europe/Paris``), so editing the picked text still works; its value is exact whatever zone
reads it (ISO 8601 with the offset).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo

from core.times.formatting import plain_text, weekday_text
from core.times.parsing import (
    TimeInputError,
    TimeOutOfRangeError,
    check_in_range,
    happening_once,
    parse_time,
)

LIMIT = 100  # Discord's limit for a choice's name and its value
UPCOMING_DAYS = 7
EVENING = 19  # the hour offered on each of the next days


@dataclass(frozen=True)
class TimeSuggestion:
    name: str
    value: str


def suggest_times(typed: str, zone: tzinfo, now: datetime) -> list[TimeSuggestion]:
    """The reading of ``typed`` (both readings of an hour the clocks repeat, the one that
    exists for an hour they skip), or the next evenings when it is empty or not readable."""
    text = typed.strip()
    if not text:
        return [reading(when, zone, now) for when in upcoming(now, zone)]
    shown = " ".join(text.split())
    try:
        try:
            readings = [parse_time(text, zone, now=now)]
        except TimeInputError as error:
            if not error.choices:
                raise
            readings = list(error.choices)  # both readings of a repeated hour
        readings = [check_in_range(when, now, shown) for when in readings]
    except TimeOutOfRangeError as error:
        # Said as the only suggestion (showing the time itself may not even fit the calendar).
        return [TimeSuggestion(_fit(error.message.replace("`", "")), _fit(text))]
    except TimeInputError:
        evenings = upcoming(now, zone)
        hint = TimeSuggestion(
            _fit(
                f"Not a time yet: type e.g. {plain_text(evenings[0], zone)} (a date and time "
                f"in {zone}), or pick one below"
            ),
            _fit(text),
        )
        return [hint, *(reading(when, zone, now) for when in evenings)]
    exact = len(readings) > 1
    return [reading(when, zone, now, offset=exact) for when in readings]


def reading(
    when: datetime, zone: tzinfo, now: datetime, *, offset: bool = False
) -> TimeSuggestion:
    """``when`` as the caller reads it (a past time says so), picked as its exact instant."""
    name = weekday_text(when, zone, offset=offset)
    if when <= now:
        name += " is in the past"
    local = when.astimezone(zone)
    return TimeSuggestion(_fit(name), local.isoformat(timespec="seconds"))


def upcoming(now: datetime, zone: tzinfo) -> list[datetime]:
    """19:00 in ``zone`` on each of the next days (today's too, if still ahead), skipping an
    evening a daylight saving change would make ambiguous."""
    today = now.astimezone(zone).date()
    evenings = (
        happening_once(datetime.combine(today + timedelta(days=days), time(EVENING)), zone)
        for days in range(UPCOMING_DAYS + 1)
    )
    return [when for when in evenings if when is not None and when > now]


def _fit(text: str) -> str:
    return text if len(text) <= LIMIT else text[: LIMIT - 1] + "…"
