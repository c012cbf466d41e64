"""Every form RaceDesk shows a time in is read back by ``parse_time`` as that instant (to its
minute), for any instant and any zone: what a reply, a suggestion, a room's info, the API or
the rehearsal's timeline shows can be typed in again. Also the forms Discord's client renders
a ``<t:…:F>``/``<t:…:f>`` stamp in (English), read in the reader's zone."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, tzinfo
from functools import partial
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from core.times.formatting import (
    MONTHS,
    WEEKDAYS,
    iso_with_offset,
    local_text,
    plain_text,
    utc_text,
    weekday_text,
)
from core.times.parsing import (
    TimeInputError,
    discord_timestamp,
    example_time,
    latest_time,
    parse_time,
    show_time,
)
from core.times.suggestions import suggest_times
from core.times.zone_names import zone_names
from rehearsal.timeline import as_seen

# From 1973: Liberia's offset had seconds in it until 1972, and a form with minutes cannot
# carry those. To 9998: a zone's local year stays within Python's 9999.
instants = st.datetimes(
    min_value=datetime(1973, 1, 1), max_value=datetime(9998, 12, 31), timezones=st.just(UTC)
).map(lambda moment: moment.replace(second=0, microsecond=0))
# The zones a player or a server can choose (``/timezone`` takes these names only).
zones = st.sampled_from(zone_names()).map(ZoneInfo)
NOW = datetime(2026, 11, 26, 14, 46, 12, tzinfo=UTC)
PARIS = ZoneInfo("Europe/Paris")
# 02:30 in Paris, the first of the two (the clocks go back at 03:00 summer time), and the
# second; Lord Howe's clocks go back half an hour.
REPEATED = [
    (datetime(2026, 10, 25, 0, 30, tzinfo=UTC), PARIS),
    (datetime(2026, 10, 25, 1, 30, tzinfo=UTC), PARIS),
    (datetime(2026, 4, 4, 15, 15, tzinfo=UTC), ZoneInfo("Australia/Lord_Howe")),
]


def discord_client_forms(when: datetime, zone: tzinfo) -> list[str]:
    """How Discord's client shows ``<t:…:F>`` and ``<t:…:f>`` to a reader in ``zone``, in its
    American and British English."""
    local = when.astimezone(zone)
    day, month, year = local.day, MONTHS[local.month - 1], local.year
    weekday = WEEKDAYS[local.weekday()]
    twelve = f"{(local.hour - 1) % 12 + 1}:{local:%M}\u202f{'PM' if local.hour >= 12 else 'AM'}"
    return [
        f"{weekday}, {month} {day}, {year} at {twelve}",
        f"{month} {day}, {year} at {twelve}",
        f"{weekday}, {month} {day}, {year} {twelve}",
        f"{weekday} {day} {month} {year} at {local:%H:%M}",
        f"{weekday}, {day} {month} {year} {local:%H:%M}",
        f"{day} {month} {year} {local:%H:%M}",
    ]


def stamp(when: datetime, zone: tzinfo, style: str) -> str:
    return discord_timestamp(when, style)


# Forms exact whatever zone reads them.
EXACT: dict[str, Callable[[datetime, tzinfo], str]] = {
    "utc_text (labels, room info)": lambda when, zone: utc_text(when),
    "local_text (/timezone)": local_text,
    "iso_with_offset (examples, suggestion values)": iso_with_offset,
    "weekday_text with the offset (a repeated hour's suggestions)": (
        lambda when, zone: weekday_text(when, zone, offset=True)
    ),
    "isoformat (the web API)": lambda when, zone: when.astimezone(zone).isoformat(),
    "the rehearsal's timeline": lambda when, zone: as_seen(discord_timestamp(when)),
    "show_time (replies)": lambda when, zone: show_time(when),
    **{f"discord_timestamp :{style}": partial(stamp, style=style) for style in "tTdDfFRsS"},
}
# Forms read in the zone they are shown in: exact, except for an hour the clocks repeat
# there, which is refused with both readings to choose from.
IN_ZONE: dict[str, Callable[[datetime, tzinfo], str]] = {
    "plain_text (examples)": plain_text,
    "weekday_text (suggestions)": weekday_text,
}


@pytest.mark.parametrize("form", EXACT)
@given(when=instants, zone=zones, reader=zones)
def test_an_exact_form_reads_back_in_any_zone(
    form: str, when: datetime, zone: tzinfo, reader: tzinfo
) -> None:
    shown = EXACT[form](when, zone)
    assert parse_time(shown, reader, now=NOW) == when, shown


@pytest.mark.parametrize("form", IN_ZONE)
@given(when=instants, zone=zones)
@example(*REPEATED[0])
@example(*REPEATED[1])
@example(*REPEATED[2])
def test_a_form_in_a_zone_reads_back_there(form: str, when: datetime, zone: tzinfo) -> None:
    shown = IN_ZONE[form](when, zone)
    assert_read_back(shown, when, zone)


@given(when=instants, zone=zones)
@example(*REPEATED[0])
@example(*REPEATED[2])
def test_discord_clients_renderings_read_back_in_the_readers_zone(
    when: datetime, zone: tzinfo
) -> None:
    for shown in discord_client_forms(when, zone):
        assert_read_back(shown, when, zone)


def assert_read_back(shown: str, when: datetime, zone: tzinfo) -> None:
    try:
        assert parse_time(shown, zone, now=NOW) == when, shown
    except TimeInputError as refused:
        assert "happens twice" in refused.message, (shown, refused.message)
        assert when in refused.choices


@given(now=instants, zone=zones)
def test_the_example_is_a_day_ahead_on_the_hour_and_reads_back(
    now: datetime, zone: tzinfo
) -> None:
    example = example_time(now, zone)
    # The next whole hour; later only past hours a clock change skips or repeats.
    assert now + timedelta(days=1) < example <= now + timedelta(days=2, hours=1)
    assert example.astimezone(zone).minute == 0
    assert parse_time(plain_text(example, zone), zone, now=now) == example


@given(now=instants, when=instants, zone=zones)
@example(NOW, *REPEATED[0])
@example(NOW, *REPEATED[2])
# An hour the clocks repeat, past the latest time RaceDesk takes: one hint, not two readings.
@example(
    datetime(2000, 1, 1, tzinfo=UTC), datetime(2162, 11, 7, 7, tzinfo=UTC),
    ZoneInfo("America/Boise"),
)
def test_a_suggestions_name_reads_back_as_its_value(
    now: datetime, when: datetime, zone: tzinfo
) -> None:
    typed = plain_text(when, zone)
    read = suggest_times(typed, zone, now)
    if when > latest_time(now):  # only said, as a hint: RaceDesk takes no such time
        [hint] = read
        assert "years ahead" in hint.name and len(hint.name) <= 100
        read = []
    for suggestion in read + suggest_times("", zone, now):
        assert len(suggestion.name) <= 100 and len(suggestion.value) <= 100
        name = suggestion.name.removesuffix(" is in the past")
        value = datetime.fromisoformat(suggestion.value)
        assert parse_time(suggestion.value, UTC, now=now) == value
        assert parse_time(name, UTC, now=now) == value, suggestion
