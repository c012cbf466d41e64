"""Reading typed times: Discord timestamps, ISO 8601 with an offset, plain times in a zone,
and the daylight-saving edges that are refused rather than guessed."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from core.errors import UserFacingError
from core.services.time_input import (
    ACCEPTED_FORMATS,
    TimeInputError,
    discord_timestamp,
    parse_time,
    show_time,
)

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")


@pytest.mark.parametrize(
    "text", ["<t:1730836800:F>", "<t:1730836800>", "<t:1730836800:R>", " <t:1730836800:t> "]
)
def test_a_discord_timestamp_in_any_style_is_that_instant(text: str) -> None:
    assert parse_time(text, PARIS) == datetime(2024, 11, 5, 20, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-01T19:00+01:00", datetime(2026, 12, 1, 18, 0, tzinfo=UTC)),
        ("2026-12-01T19:00-05:30", datetime(2026, 12, 2, 0, 30, tzinfo=UTC)),
        ("2026-12-01T18:00Z", datetime(2026, 12, 1, 18, 0, tzinfo=UTC)),
        ("2026-12-01 18:00:30+0000", datetime(2026, 12, 1, 18, 0, 30, tzinfo=UTC)),
    ],
)
def test_an_offset_wins_over_the_zone(text: str, expected: datetime) -> None:
    assert parse_time(text, NEW_YORK) == expected


@pytest.mark.parametrize("text", ["2026-12-01 19:00", "2026-12-01T19:00", "2026-12-01 19:00:00"])
def test_a_plain_time_is_read_in_the_given_zone(text: str) -> None:
    assert parse_time(text, PARIS) == datetime(2026, 12, 1, 18, 0, tzinfo=UTC)
    assert parse_time(text, NEW_YORK) == datetime(2026, 12, 2, 0, 0, tzinfo=UTC)
    assert parse_time(text, UTC) == datetime(2026, 12, 1, 19, 0, tzinfo=UTC)


def test_summer_time_is_applied() -> None:
    assert parse_time("2026-07-01 19:00", PARIS) == datetime(2026, 7, 1, 17, 0, tzinfo=UTC)


def test_the_result_is_aware_utc() -> None:
    parsed = parse_time("2026-12-01 19:00", PARIS)
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    "text", ["", "tomorrow at 7", "19:00", "2026-12-01", "1730836800", "<t:abc:F>", "12/01/2026"]
)
def test_unreadable_times_list_the_accepted_formats(text: str) -> None:
    with pytest.raises(TimeInputError) as caught:
        parse_time(text, PARIS)
    assert ACCEPTED_FORMATS in caught.value.message
    assert "`<t:1796151600:F>`" in caught.value.message


def test_the_error_is_a_value_error_and_shown_to_the_user() -> None:
    with pytest.raises(ValueError, match="not a time RaceDesk can read"):
        parse_time("soon", PARIS)
    assert issubclass(TimeInputError, UserFacingError)


@pytest.mark.parametrize("text", ["2026-02-30 10:00", "2026-12-01 25:00", "2026-13-01 10:00"])
def test_impossible_dates_are_refused(text: str) -> None:
    with pytest.raises(TimeInputError, match="is not a real date or time"):
        parse_time(text, PARIS)


def test_an_impossible_offset_is_refused() -> None:
    with pytest.raises(TimeInputError, match="impossible UTC offset `\\+25:00`"):
        parse_time("2026-12-01T19:00+25:00", PARIS)


def test_a_time_skipped_by_summer_time_is_refused_with_one_that_exists() -> None:
    with pytest.raises(TimeInputError) as caught:
        parse_time("2026-03-29 02:30", PARIS)
    assert caught.value.message == (
        "`2026-03-29 02:30` does not exist in Europe/Paris: the clocks skip that hour for "
        "daylight saving time. Pick another time, e.g. `2026-03-29 03:30`."
    )


def test_a_repeated_time_is_refused_with_both_offsets_which_then_work() -> None:
    with pytest.raises(TimeInputError) as caught:
        parse_time("2026-11-01 01:30", NEW_YORK)
    assert "happens twice in America/New_York" in caught.value.message
    assert "`2026-11-01T01:30-04:00` (the first)" in caught.value.message
    assert "`2026-11-01T01:30-05:00` (the second)" in caught.value.message
    first = parse_time("2026-11-01T01:30-04:00", NEW_YORK)
    second = parse_time("2026-11-01T01:30-05:00", NEW_YORK)
    assert (second - first).total_seconds() == 3600


def test_a_discord_timestamp_out_of_range_is_refused() -> None:
    with pytest.raises(TimeInputError, match="not a usable date"):
        parse_time("<t:999999999999:F>", PARIS)


def test_times_are_shown_as_discord_timestamps() -> None:
    when = datetime(2024, 11, 5, 20, 0, tzinfo=UTC)
    assert discord_timestamp(when) == "<t:1730836800:F>"
    assert show_time(when) == "<t:1730836800:F> (<t:1730836800:R>)"
    assert show_time(when.astimezone(PARIS)) == show_time(when)
    with pytest.raises(ValueError, match="aware"):
        discord_timestamp(datetime(2024, 11, 5, 20, 0))
