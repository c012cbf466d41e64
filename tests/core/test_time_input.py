"""Reading typed times: Discord timestamps, ISO 8601 with an offset, plain times in a zone,
dates with the month's name and the weekday, a zone after the time, the daylight-saving edges
that are refused rather than guessed, and help whose examples are computed from now.

``NOW`` is a past instant: these tests only read text, and it is what the help's examples
are computed from."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from core.errors import UserFacingError
from core.times.parsing import (
    TimeInputError,
    accepted_formats,
    discord_timestamp,
    example_time,
    parse_time,
    show_time,
)

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")
NOW = datetime(2026, 11, 26, 14, 46, 12, tzinfo=UTC)  # a Thursday


@pytest.mark.parametrize(
    "text", ["<t:1730836800:F>", "<t:1730836800>", "<t:1730836800:R>", " <t:1730836800:t> "]
)
def test_a_discord_timestamp_in_any_style_is_that_instant(text: str) -> None:
    assert parse_time(text, PARIS, now=NOW) == datetime(2024, 11, 5, 20, 0, tzinfo=UTC)


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
    assert parse_time(text, NEW_YORK, now=NOW) == expected


@pytest.mark.parametrize("text", ["2026-12-01 19:00", "2026-12-01T19:00", "2026-12-01 19:00:00"])
def test_a_plain_time_is_read_in_the_given_zone(text: str) -> None:
    assert parse_time(text, PARIS, now=NOW) == datetime(2026, 12, 1, 18, 0, tzinfo=UTC)
    assert parse_time(text, NEW_YORK, now=NOW) == datetime(2026, 12, 2, 0, 0, tzinfo=UTC)
    assert parse_time(text, UTC, now=NOW) == datetime(2026, 12, 1, 19, 0, tzinfo=UTC)


def test_summer_time_is_applied() -> None:
    assert parse_time("2026-07-01 19:00", PARIS, now=NOW) == datetime(2026, 7, 1, 17, 0, tzinfo=UTC)


def test_the_result_is_aware_utc() -> None:
    parsed = parse_time("2026-12-01 19:00", PARIS, now=NOW)
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    "text", ["", "tomorrow at 7", "19:00", "2026-12-01", "1730836800", "<t:abc:F>", "12/01/2026"]
)
def test_unreadable_times_list_the_accepted_formats(text: str) -> None:
    with pytest.raises(TimeInputError) as caught:
        parse_time(text, PARIS, now=NOW)
    assert caught.value.message.endswith(accepted_formats(NOW, PARIS))


def test_the_help_gives_examples_a_day_ahead_in_the_callers_zone() -> None:
    assert accepted_formats(NOW, PARIS) == (
        "Write a date and time in Europe/Paris, e.g. `2026-11-27 16:00` (`/timezone set` "
        "changes your timezone); with its zone, e.g. `2026-11-27 15:00 UTC` or "
        "`2026-11-27T16:00+01:00`; or a Discord timestamp, e.g. `<t:1795791600:F>`."
    )
    examples = re.findall(r"`([^`]*\d{4}[^`]*)`", accepted_formats(NOW, PARIS))
    assert len(examples) == 4
    for written in examples:
        assert parse_time(written, PARIS, now=NOW) == datetime(2026, 11, 27, 15, tzinfo=UTC)


def test_an_example_skips_an_hour_the_clocks_repeat() -> None:
    # A day after 01:30 on the day before Paris's clocks go back is 01:30; the next whole
    # hour, 02:00, happens twice, so the example is 03:00, which happens once.
    before = datetime(2026, 10, 24, 1, 30, tzinfo=PARIS).astimezone(UTC)
    assert example_time(before, PARIS) == datetime(2026, 10, 25, 3, tzinfo=PARIS)
    assert "e.g. `2026-10-25 03:00`" in accepted_formats(before, PARIS)


def test_the_error_is_a_value_error_and_shown_to_the_user() -> None:
    with pytest.raises(ValueError, match="not a time RaceDesk can read"):
        parse_time("soon", PARIS, now=NOW)
    assert issubclass(TimeInputError, UserFacingError)


@pytest.mark.parametrize("text", ["2026-02-30 10:00", "2026-12-01 25:00", "2026-13-01 10:00"])
def test_impossible_dates_are_refused(text: str) -> None:
    with pytest.raises(TimeInputError, match="is not a real date or time"):
        parse_time(text, PARIS, now=NOW)


def test_an_impossible_offset_is_refused() -> None:
    with pytest.raises(TimeInputError, match="impossible UTC offset `\\+25:00`"):
        parse_time("2026-12-01T19:00+25:00", PARIS, now=NOW)


def test_a_time_skipped_by_summer_time_is_refused_with_one_that_exists() -> None:
    with pytest.raises(TimeInputError) as caught:
        parse_time("2026-03-29 02:30", PARIS, now=NOW)
    assert caught.value.message == (
        "`2026-03-29 02:30` does not exist in Europe/Paris: the clocks skip that hour for "
        "daylight saving time. Pick another time, e.g. `2026-03-29 03:30`."
    )


def test_a_repeated_time_is_refused_with_both_offsets_which_then_work() -> None:
    with pytest.raises(TimeInputError) as caught:
        parse_time("2026-11-01 01:30", NEW_YORK, now=NOW)
    assert "happens twice in America/New_York" in caught.value.message
    assert "`2026-11-01T01:30-04:00` (the first)" in caught.value.message
    assert "`2026-11-01T01:30-05:00` (the second)" in caught.value.message
    first = parse_time("2026-11-01T01:30-04:00", NEW_YORK, now=NOW)
    second = parse_time("2026-11-01T01:30-05:00", NEW_YORK, now=NOW)
    assert (second - first).total_seconds() == 3600


def test_a_discord_timestamp_out_of_range_is_refused() -> None:
    with pytest.raises(TimeInputError, match="not a usable date"):
        parse_time("<t:999999999999:F>", PARIS, now=NOW)


def test_times_are_shown_as_discord_timestamps() -> None:
    when = datetime(2024, 11, 5, 20, 0, tzinfo=UTC)
    assert discord_timestamp(when) == "<t:1730836800:F>"
    assert show_time(when) == "<t:1730836800:F> (<t:1730836800:R>)"
    assert show_time(when.astimezone(PARIS)) == show_time(when)
    with pytest.raises(ValueError, match="aware"):
        discord_timestamp(datetime(2024, 11, 5, 20, 0))


SATURDAY_19_UTC = datetime(2026, 12, 5, 19, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    [
        "2026-12-05 19:00 UTC",
        "2026-12-05 19:00 utc",
        "2026-12-05 19:00 GMT",
        "2026-12-05 19:00 Z",
        "2026-12-05 20:00 UTC+01:00",
        "2026-12-05 20:00 (UTC+01:00)",
        "2026-12-05 20:00 (UTC+0100)",
        "2026-12-05 20:00 GMT+1",
        "2026-12-05 14:00 UTC-5",
        "2026-12-05 20:00 Europe/Paris",
        "2026-12-05 14:00 america/new_york",
        "2026-12-05 14:00 America/New York",
        "2026-12-05 20:00 (Europe/Paris)",
        "2026-12-05 19:00:00.123456+00:00",
        "Saturday 5 December 2026 19:00 UTC",
        "Saturday 05 December 2026 19:00 UTC",
        "5 December 2026 19:00 UTC",
        "Sat 5 Dec 2026 19:00 UTC",
        "Sat, 5 Dec 2026 at 19:00 UTC",
        "saturday, 5th december 2026, 19:00 utc",
        "Saturday, December 5, 2026 at 7:00 PM UTC",
        "Saturday, December 5, 2026 at 7:00\u202fPM UTC",  # Discord's narrow no-break space
        "December 5, 2026 7:00 p.m. UTC",
        "Sat 5 Dec 2026 20:00 Europe/Paris",
        "<t:1796497200:F> (<t:1796497200:R>)",
    ],
)
def test_every_form_racedesk_shows_is_read_back(text: str) -> None:
    assert parse_time(text, NEW_YORK, now=NOW) == SATURDAY_19_UTC


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Saturday 5 December 2026 19:00", datetime(2026, 12, 5, 18, 0, tzinfo=UTC)),
        ("December 5, 2026 7:00 PM", datetime(2026, 12, 5, 18, 0, tzinfo=UTC)),
        ("5 Dec 2026 12:00 AM", datetime(2026, 12, 4, 23, 0, tzinfo=UTC)),
        ("5 Dec 2026 12:30 PM", datetime(2026, 12, 5, 11, 30, tzinfo=UTC)),
        ("Sept 5 2026 7:00 am", datetime(2026, 9, 5, 5, 0, tzinfo=UTC)),
    ],
)
def test_a_date_with_the_months_name_and_no_zone_is_read_in_the_given_zone(
    text: str, expected: datetime
) -> None:
    assert parse_time(text, PARIS, now=NOW) == expected


def test_a_weekday_that_is_not_the_dates_is_refused() -> None:
    with pytest.raises(TimeInputError) as caught:
        parse_time("Friday 5 December 2026 19:00 UTC", PARIS, now=NOW)
    assert caught.value.message == (
        "`Friday 5 December 2026 19:00 UTC`: 5 December 2026 is a Saturday, not a Friday. "
        "Check the date, or leave the weekday out."
    )


@pytest.mark.parametrize(
    "text", ["Someday 5 December 2026 19:00", "5 Decembre 2026 19:00", "5 De 2026 19:00"]
)
def test_an_unknown_day_or_month_name_is_unreadable(text: str) -> None:
    with pytest.raises(TimeInputError, match="is not a time RaceDesk can read"):
        parse_time(text, PARIS, now=NOW)


def test_an_unknown_zone_after_the_time_is_named() -> None:
    with pytest.raises(TimeInputError) as caught:
        parse_time("2026-12-05 19:00 Mars/Olympus", PARIS, now=NOW)
    assert caught.value.message == (
        "`2026-12-05 19:00 Mars/Olympus` ends in `Mars/Olympus`, which is not a timezone "
        "RaceDesk knows. After the time, write `UTC`, an offset such as `+01:00`, or an IANA "
        "name such as `Europe/Paris`; or leave it out to use your timezone."
    )


def test_a_zone_named_after_the_time_refuses_its_own_repeated_hour() -> None:
    with pytest.raises(TimeInputError, match="happens twice in America/New_York"):
        parse_time("2026-11-01 01:30 America/New_York", PARIS, now=NOW)


@pytest.mark.parametrize("text", ["2026-12-05 13:00 PM", "2026-12-05 0:30 AM"])
def test_an_hour_past_twelve_with_am_or_pm_is_refused(text: str) -> None:
    with pytest.raises(TimeInputError, match="with AM or PM the hour is 1 to 12"):
        parse_time(text, PARIS, now=NOW)


def test_two_different_stamps_are_refused() -> None:
    with pytest.raises(TimeInputError, match="names two different times"):
        parse_time("<t:1796497200:F> (<t:1796497201:R>)", PARIS, now=NOW)


@pytest.mark.parametrize("text", ["9999-12-31 23:59 -01:00", "0001-01-01 00:30 +01:00"])
def test_a_date_beyond_what_can_be_stored_is_refused(text: str) -> None:
    with pytest.raises(TimeInputError, match="is not a usable date"):
        parse_time(text, PARIS, now=NOW)


def test_a_refused_clock_change_hour_carries_its_readings() -> None:
    with pytest.raises(TimeInputError) as skipped:
        parse_time("2026-03-29 02:30", PARIS, now=NOW)
    assert skipped.value.choices == (datetime(2026, 3, 29, 1, 30, tzinfo=UTC),)
    with pytest.raises(TimeInputError) as repeated:
        parse_time("2026-11-01 01:30", NEW_YORK, now=NOW)
    assert repeated.value.choices == (
        datetime(2026, 11, 1, 5, 30, tzinfo=UTC), datetime(2026, 11, 1, 6, 30, tzinfo=UTC)
    )


# -- extreme dates -------------------------------------------------------------------------------


def test_a_time_more_than_a_few_years_ahead_is_refused_by_the_services() -> None:
    from core.tournaments.matches import check_future

    with pytest.raises(UserFacingError, match="more than 3 years ahead"):
        check_future(datetime(9999, 12, 31, 23, 59, tzinfo=UTC), NOW)
    with pytest.raises(UserFacingError, match="more than 3 years ahead"):
        check_future(NOW.replace(year=NOW.year + 3, day=NOW.day + 2), NOW)
    check_future(NOW.replace(year=NOW.year + 3) - (NOW - NOW.replace(hour=0)), NOW)


@pytest.mark.parametrize(
    ("text", "zone"),
    [
        ("9999-12-31 23:59 UTC", ZoneInfo("Asia/Tokyo")),  # a year past 9999 in Tokyo
        ("0001-01-01 00:00 UTC", NEW_YORK),  # a year before 1 in New York
        ("<t:253402300799:F>", ZoneInfo("Asia/Tokyo")),
        ("9999-12-31 23:59", PARIS),
    ],
)
def test_autocomplete_of_an_extreme_date_says_what_is_wrong(text: str, zone: ZoneInfo) -> None:
    from core.times.suggestions import suggest_times

    found = suggest_times(text, zone, NOW)
    assert found, text
    assert "years ahead" in found[0].name or "before 1970" in found[0].name, found[0]
