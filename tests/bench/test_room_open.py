"""The pure parts of ``bench.room_open``: due times, percentiles, lateness and rooms per match."""

from __future__ import annotations

import pytest

from bench.room_open import Outcome, Room, due_times, outcome, parse, percentile, summary
from core.rooms.rules import room_marker

INFO_1 = "Bench Open - A vs B - Scheduled: 2026-11-26 12:30 UTC"
INFO_2 = "Bench Open - C vs D - Scheduled: 2026-11-26 12:30 UTC"


def room(name: str, info: str, match_id: int) -> Room:
    return Room(name, f"{info}\n{room_marker(match_id)}")


def test_due_times_spread_evenly_within_the_window() -> None:
    assert due_times(100.0, 60.0, 4) == [100.0, 115.0, 130.0, 145.0]
    assert due_times(100.0, 0.0, 2) == [100.0, 100.0]


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.50) == 50.0
    assert percentile(values, 0.99) == 99.0
    assert percentile(values, 1.0) == 100.0
    assert percentile([3.0, 1.0, 2.0], 0.99) == 3.0
    assert percentile([7.0], 0.5) == 7.0


def test_lateness_is_the_first_startrace_that_opened_the_match_room() -> None:
    due = {1: 1000.0, 2: 1000.5}
    infos = {1: INFO_1, 2: INFO_2}
    rooms = [
        room("alttpr/a-1", INFO_1, 1),
        room("alttpr/b-2", INFO_2, 2),
        room("alttpr/c-3", INFO_2, 2),  # a second room for match 2
        Room("alttpr/d-4", "someone else's race"),
    ]
    startraces = [
        {"at": 1000.25, "location": "/alttpr/a-1"},
        {"at": 1000.75, "location": "/alttpr/c-3"},
        {"at": 1000.625, "location": "/alttpr/b-2"},
        {"at": 1001.0, "location": None},  # refused or lost: opened nothing
    ]
    result = outcome(due, infos, startraces, rooms)
    assert result.lateness == {1: 0.25, 2: 0.125}
    assert result.rooms == {1: 1, 2: 2}
    assert result.unmatched_startraces == 1


def test_a_room_needs_both_the_info_and_the_match_marker() -> None:
    rooms = [room("alttpr/a-1", INFO_1, 2)]  # match 1's text, match 2's marker
    result = outcome({1: 0.0}, {1: INFO_1}, [{"at": 1.0, "location": "/alttpr/a-1"}], rooms)
    assert result == Outcome(lateness={}, rooms={1: 0}, unmatched_startraces=1)


def test_summary_reports_early_rooms_and_matches_without_one() -> None:
    result = Outcome(lateness={1: -0.5, 2: 0.25, 3: 2.0}, rooms={1: 1, 2: 1, 3: 2, 4: 0},
                     unmatched_startraces=0)
    line = summary(result, 4)
    assert line["matches"] == 4
    assert (line["p50_s"], line["p99_s"], line["max_s"], line["min_s"]) == (0.25, 2.0, 2.0, -0.5)
    assert line["max_rooms_per_match"] == 2
    assert (line["early"], line["without_room"]) == (1, 1)


def test_summary_without_any_room() -> None:
    line = summary(Outcome(lateness={}, rooms={1: 0}, unmatched_startraces=0), 1)
    assert line["p99_s"] is None and line["max_rooms_per_match"] == 0


@pytest.mark.parametrize(("argv", "postgres"), [
    ([], False), (["--postgres"], True), (["--processes", "2"], True),
])
def test_two_processes_force_postgresql(argv: list[str], postgres: bool) -> None:
    assert parse(argv).postgres is postgres
