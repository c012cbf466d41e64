"""racetime.diff: snapshot pairs -> events, the connection-layer helpers and the log lines."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest

from core.events import (
    EventDispatcher,
    RacetimeBotCreatedRaceEvent,
    RacetimeBotJoinedRaceEvent,
    RacetimeEntrantInvitedEvent,
    RacetimeEntrantJoinedEvent,
    RacetimeEntrantLeftEvent,
    RacetimeEntrantStatusChangedEvent,
    RacetimeRaceStatusChangedEvent,
    RacetimeRoomEvent,
)
from core.identity import SYSTEM_USER_ID
from racetime.diff import (
    RoomContext,
    bot_created_event,
    bot_joined_event,
    describe,
    diff_race,
    entrant_invited_event,
    log_changes,
)
from racetime.models import Race, RaceDataFrame, decode_frame, race_from_dict
from tests.racetime import frames as fb

FIXTURES = Path(__file__).resolve().parent / "fixtures"
CTX = RoomContext(
    category="testgame",
    room_slug="fancy-wolf-4891",
    room_name="testgame/fancy-wolf-4891",
    match_id=7,
    tournament_id=3,
)
START = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
ONE = fb.user(1, name="RacerOne", discriminator="8145")
TWO = fb.user(2, name="RacerTwo", discriminator="6497")
THREE = fb.user(3, name="RacerThree", discriminator="0042")


def fixture_race(name: str) -> Race:
    frame = decode_frame((FIXTURES / name).read_bytes())
    assert isinstance(frame, RaceDataFrame)
    return frame.race


def make(
    version: int,
    race_status: str,
    entrants: list[dict[str, Any]],
    **kwargs: Any,
) -> Race:
    race = race_from_dict(
        fb.race(version=version, status_value=race_status, entrants=entrants, **kwargs)
    )
    assert race is not None
    return race


def summary(events: list[Any]) -> list[tuple[Any, ...]]:
    """A compact view of the events for exact comparisons."""
    out: list[tuple[Any, ...]] = []
    for e in events:
        if isinstance(e, RacetimeRaceStatusChangedEvent):
            out.append(("race", e.old_status, e.new_status))
        elif isinstance(e, RacetimeEntrantStatusChangedEvent):
            out.append(
                ("status", e.racetime_user_name, e.old_status, e.new_status, e.place, e.finish_time)
            )
        elif isinstance(e, RacetimeEntrantJoinedEvent):
            out.append(("joined", e.racetime_user_name, e.initial_status))
        elif isinstance(e, RacetimeEntrantLeftEvent):
            out.append(("left", e.racetime_user_name, e.last_status))
        else:
            out.append((type(e).__name__,))
    return out


def full_race() -> list[Race]:
    """open -> joins -> ready -> pending -> in_progress -> done/forfeit -> finished."""
    t1 = timedelta(hours=1, minutes=23, seconds=45)
    return [
        make(1, "open", []),
        make(2, "open", [fb.entrant(ONE, "not_ready")]),
        make(3, "open", [fb.entrant(ONE, "not_ready"), fb.entrant(TWO, "not_ready")]),
        make(4, "open", [fb.entrant(ONE, "ready"), fb.entrant(TWO, "not_ready")]),
        make(6, "open", [fb.entrant(ONE, "ready"), fb.entrant(TWO, "ready")]),  # v5 skipped
        make(7, "pending", [fb.entrant(ONE, "ready"), fb.entrant(TWO, "ready")], started_at=START),
        make(
            8,
            "in_progress",
            [fb.entrant(ONE, "in_progress"), fb.entrant(TWO, "in_progress")],
            started_at=START,
        ),
        make(
            9,
            "in_progress",
            [
                fb.entrant(ONE, "done", place=1, finish_time=t1, started_at=START),
                fb.entrant(TWO, "in_progress"),
            ],
            started_at=START,
        ),
        make(
            10,
            "in_progress",
            [
                fb.entrant(ONE, "done", place=1, finish_time=t1, started_at=START),
                fb.entrant(TWO, "dnf"),
            ],
            started_at=START,
        ),
        make(
            11,
            "finished",
            [
                fb.entrant(ONE, "done", place=1, finish_time=t1, started_at=START),
                fb.entrant(TWO, "dnf"),
            ],
            started_at=START,
            ended_at=START + t1,
        ),
    ]


def run(snapshots: list[Race], **kwargs: Any) -> list[list[Any]]:
    previous: Race | None = None
    out = []
    for race in snapshots:
        out.append(diff_race(previous, race, CTX, **kwargs))
        previous = race
    return out


def test_full_race_sequence() -> None:
    per_frame = [summary(events) for events in run(full_race())]
    assert per_frame == [
        [],
        [("joined", "RacerOne#8145", "not_ready")],
        [("joined", "RacerTwo#6497", "not_ready")],
        [("status", "RacerOne#8145", "not_ready", "ready", None, None)],
        [("status", "RacerTwo#6497", "not_ready", "ready", None, None)],
        [("race", "open", "pending")],
        [
            ("race", "pending", "in_progress"),
            ("status", "RacerOne#8145", "ready", "in_progress", None, None),
            ("status", "RacerTwo#6497", "ready", "in_progress", None, None),
        ],
        [("status", "RacerOne#8145", "in_progress", "done", 1, "PT1H23M45S")],
        [("status", "RacerTwo#6497", "in_progress", "dnf", None, None)],
        [("race", "in_progress", "finished")],
    ]


def test_event_fields() -> None:
    snapshots = full_race()
    linked = {ONE["id"]: 42}
    frames = run(snapshots, linked_users=linked, occurred_at=START)

    (pending,) = frames[5]
    assert isinstance(pending, RacetimeRaceStatusChangedEvent)
    assert pending.user_id == SYSTEM_USER_ID
    assert pending.entrant_count == 2
    assert pending.started_at == START and pending.started_at.tzinfo is not None
    assert pending.ended_at is None
    assert (pending.category, pending.room_slug, pending.room_name) == (
        "testgame",
        "fancy-wolf-4891",
        "testgame/fancy-wolf-4891",
    )
    assert (pending.match_id, pending.tournament_id) == (7, 3)
    assert pending.racetime_version == 7
    assert pending.event_id == (
        "testgame/fancy-wolf-4891:7:RacetimeRaceStatusChangedEvent:open>pending"
    )
    assert pending.occurred_at == START
    assert pending.partition_key == "room:testgame/fancy-wolf-4891"

    (finished,) = frames[9]
    assert finished.ended_at == START + timedelta(hours=1, minutes=23, seconds=45)

    (done,) = frames[7]
    assert isinstance(done, RacetimeEntrantStatusChangedEvent)
    assert done.racetime_user_id == ONE["id"]
    assert done.racetime_user_name == "RacerOne#8145"
    assert done.user_id == 42  # linked
    assert done.race_status == "in_progress"
    assert done.racetime_version == 9
    assert done.match_id == 7 and done.tournament_id == 3
    assert done.event_id == (
        f"testgame/fancy-wolf-4891:9:RacetimeEntrantStatusChangedEvent:{ONE['id']}:"
        "in_progress>done@PT1H23M45S"
    )

    (dnf,) = frames[8]
    assert dnf.user_id is None  # unlinked: unknown, never the system id
    assert dnf.racetime_user_id == TWO["id"]

    (joined_two,) = frames[2]
    assert isinstance(joined_two, RacetimeEntrantJoinedEvent)
    assert joined_two.user_id is None and joined_two.race_status == "open"


def test_no_entrant_event_ever_has_the_system_id() -> None:
    for events in run(full_race(), linked_users={ONE["id"]: 5}):
        for event in events:
            if isinstance(event, RacetimeRaceStatusChangedEvent):
                assert event.user_id == SYSTEM_USER_ID
            else:
                assert event.user_id in (None, 5)


def test_event_ids_are_stable_and_unique() -> None:
    first = [e.event_id for events in run(full_race()) for e in events]
    second = [e.event_id for events in run(full_race()) for e in events]
    assert first == second
    assert len(set(first)) == len(first)


def test_fixture_sequence() -> None:
    races = [
        fixture_race(name)
        for name in (
            "ws_race_data_open.json",
            "ws_race_data_pending.json",
            "ws_race_data_in_progress.json",
            "ws_race_data_finished.json",
        )
    ]
    per_frame = [summary(events) for events in run(races)]
    assert per_frame == [
        [],
        [("race", "open", "pending")],
        # v6 -> v10: the transitions in between were missed and are reported once.
        [
            ("race", "pending", "in_progress"),
            ("status", "RacerOne#8145", "ready", "done", 1, "PT7.407S"),
            ("status", "RacerTwo#6497", "ready", "dnf", None, None),
        ],
        [("race", "in_progress", "finished")],
    ]


def test_repeated_and_old_versions_produce_nothing() -> None:
    snapshots = full_race()
    latest = snapshots[7]
    assert diff_race(latest, latest, CTX) == []
    assert diff_race(latest, snapshots[3], CTX) == []


def test_an_equal_version_with_different_content_is_news() -> None:
    """racetime can save two different payloads under one version (protocol notes §6)."""
    snapshots = full_race()
    same_version = msgspec.structs.replace(snapshots[7], version=snapshots[6].version)
    (done,) = diff_race(snapshots[6], same_version, CTX)
    assert isinstance(done, RacetimeEntrantStatusChangedEvent) and done.new_status == "done"
    assert done.racetime_version == snapshots[6].version


def test_fresh_join_gives_no_entrant_events() -> None:
    race = full_race()[8]
    assert diff_race(None, race, CTX) == []
    (event,) = diff_race(None, race, CTX, first_snapshot=True)
    assert isinstance(event, RacetimeRaceStatusChangedEvent)
    assert (event.old_status, event.new_status, event.entrant_count) == (None, "in_progress", 2)
    assert event.user_id == SYSTEM_USER_ID
    assert event.racetime_version == 10


def test_reconnect_reports_missed_transitions_once() -> None:
    snapshots = full_race()
    before_drop = snapshots[4]  # open, both ready (v6)
    after_reconnect = snapshots[8]  # in progress, one done, one dnf (v10)
    events = diff_race(before_drop, after_reconnect, CTX)
    assert summary(events) == [
        ("race", "open", "in_progress"),
        ("status", "RacerOne#8145", "ready", "done", 1, "PT1H23M45S"),
        ("status", "RacerTwo#6497", "ready", "dnf", None, None),
    ]
    # The same frame again (the server resends race.data on getrace): nothing new.
    assert diff_race(after_reconnect, after_reconnect, CTX) == []


def test_entrant_leaves_and_joins_in_one_frame() -> None:
    before = make(3, "open", [fb.entrant(ONE, "ready"), fb.entrant(TWO, "not_ready")])
    after = make(4, "open", [fb.entrant(ONE, "ready"), fb.entrant(THREE, "not_ready")])
    events = diff_race(before, after, CTX, linked_users={TWO["id"]: 9})
    assert summary(events) == [
        ("joined", "RacerThree#0042", "not_ready"),
        ("left", "RacerTwo#6497", "not_ready"),
    ]
    left = events[1]
    assert isinstance(left, RacetimeEntrantLeftEvent)
    assert left.user_id == 9 and left.racetime_user_id == TWO["id"]
    assert left.race_status == "open"


def test_invited_and_requested_entrants_are_joins() -> None:
    before = make(3, "invitational", [])
    after = make(4, "invitational", [fb.entrant(ONE, "invited"), fb.entrant(TWO, "requested")])
    assert summary(diff_race(before, after, CTX)) == [
        ("joined", "RacerOne#8145", "invited"),
        ("joined", "RacerTwo#6497", "requested"),
    ]


def test_null_user_is_skipped() -> None:
    before = make(
        3, "in_progress", [fb.entrant(None, "in_progress"), fb.entrant(ONE, "in_progress")]
    )
    after = make(
        4,
        "in_progress",
        [fb.entrant(None, "done", place=1, finish_time=timedelta(seconds=9), started_at=START),
         fb.entrant(ONE, "dnf")],
    )
    assert summary(diff_race(before, after, CTX)) == [
        ("status", "RacerOne#8145", "in_progress", "dnf", None, None)
    ]
    # A deleted account appearing or vanishing is not an event either.
    assert diff_race(after, make(5, "in_progress", [fb.entrant(ONE, "dnf")]), CTX) == []
    assert diff_race(make(5, "open", []), make(6, "open", [fb.entrant(None, "ready")]), CTX) == []


def test_user_with_empty_id_is_skipped() -> None:
    nameless = dict(ONE, id="")
    after = make(2, "open", [fb.entrant(nameless, "ready")])
    assert diff_race(make(1, "open", []), after, CTX) == []


def test_name_falls_back_to_name_then_id() -> None:
    bare = {"id": "abcdefghijklmnop", "name": "Bare"}
    events = diff_race(make(1, "open", []), make(2, "open", [fb.entrant(bare, "ready")]), CTX)
    assert events[0].racetime_user_name == "Bare"
    anonymous = {"id": "abcdefghijklmnop"}
    events = diff_race(make(1, "open", []), make(2, "open", [fb.entrant(anonymous, "ready")]), CTX)
    assert events[0].racetime_user_name is None
    assert "abcdefghijklmnop" in describe(events[0])


def test_refinish_with_a_new_time_is_reported() -> None:
    t_old, t_new = timedelta(minutes=50), timedelta(minutes=55, seconds=1, microseconds=500000)
    before = make(8, "in_progress", [fb.entrant(ONE, "done", place=1, finish_time=t_old)])
    after = make(11, "in_progress", [fb.entrant(ONE, "done", place=1, finish_time=t_new)])
    assert summary(diff_race(before, after, CTX)) == [
        ("status", "RacerOne#8145", "done", "done", 1, "PT55M1.5S")
    ]
    # A place change alone (someone above undid) is not an event.
    moved = make(12, "in_progress", [fb.entrant(ONE, "done", place=2, finish_time=t_new)])
    assert diff_race(after, moved, CTX) == []


def test_undone_reopens() -> None:
    t1 = timedelta(minutes=50)
    before = make(
        11,
        "finished",
        [fb.entrant(ONE, "done", place=1, finish_time=t1)],
        started_at=START,
        ended_at=START + t1,
    )
    after = make(12, "in_progress", [fb.entrant(ONE, "in_progress")], started_at=START)
    events = diff_race(before, after, CTX)
    assert summary(events) == [
        ("race", "finished", "in_progress"),
        ("status", "RacerOne#8145", "done", "in_progress", None, None),
    ]
    assert events[0].ended_at is None


def test_hidden_entrants_reveal_is_not_a_mass_leave() -> None:
    shielded = [fb.user(10 + i, name=f"Anon{i}") for i in range(2)]
    before = make(
        10, "in_progress", [fb.entrant(u, "done", place=i + 1, finish_time=timedelta(minutes=i + 1))
                            for i, u in enumerate(shielded)], hide_entrants=True
    )
    after = make(
        11, "finished", [fb.entrant(u, "done", place=i + 1, finish_time=timedelta(minutes=i + 1))
                         for i, u in enumerate((ONE, TWO))], hide_entrants=False
    )
    assert summary(diff_race(before, after, CTX)) == [("race", "in_progress", "finished")]


def test_duplicate_entrants_are_reported_once() -> None:
    before = make(1, "open", [])
    after = make(2, "open", [fb.entrant(ONE, "ready"), fb.entrant(ONE, "not_ready")])
    assert summary(diff_race(before, after, CTX)) == [("joined", "RacerOne#8145", "ready")]


def test_unparseable_times_do_not_crash() -> None:
    payload = fb.race(
        version=2,
        status_value="in_progress",
        entrants=[fb.entrant(ONE, "done", place=1, finish_time=timedelta(seconds=3))],
        started_at=START,
    )
    payload["started_at"] = "soon"
    payload["entrants"][0]["finish_time"] = "fast"
    current = race_from_dict(payload)
    assert current is not None
    previous = make(1, "pending", [fb.entrant(ONE, "ready")], started_at=START)
    events = diff_race(previous, current, CTX)
    assert summary(events) == [
        ("race", "pending", "in_progress"),
        ("status", "RacerOne#8145", "ready", "done", 1, None),
    ]
    assert events[0].started_at is None


def test_occurred_at_is_shared_and_aware() -> None:
    events = diff_race(full_race()[5], full_race()[6], CTX)
    assert len(events) == 3
    assert len({e.occurred_at for e in events}) == 1
    assert events[0].occurred_at.tzinfo is not None


def test_room_context_for_race() -> None:
    race = fixture_race("ws_race_data_open.json")
    ctx = RoomContext.for_race(race, match_id=1)
    assert ctx == RoomContext("testgame", "fancy-wolf-4891", "testgame/fancy-wolf-4891", 1, None)
    assert ctx.label == "testgame/fancy-wolf-4891"


# -- helpers for the connection layer --------------------------------------------------------


def test_bot_joined_event() -> None:
    race = fixture_race("ws_race_data_open.json")
    event = bot_joined_event(race, CTX)
    assert isinstance(event, RacetimeBotJoinedRaceEvent)
    assert event.user_id == SYSTEM_USER_ID
    assert (event.race_status, event.entrant_count, event.racetime_version) == ("open", 2, 5)
    assert event.event_id == "testgame/fancy-wolf-4891:5:RacetimeBotJoinedRaceEvent"
    assert describe(event) == "Race testgame/fancy-wolf-4891 bot joined: status open, 2 entrant(s)"


def test_bot_created_event() -> None:
    race = decode_frame((FIXTURES / "ws_race_data_open.json").read_bytes())
    assert isinstance(race, RaceDataFrame)
    event = bot_created_event(race.race, CTX)
    assert isinstance(event, RacetimeBotCreatedRaceEvent)
    assert event.user_id == SYSTEM_USER_ID
    assert (event.goal, event.invitational) == ("Beat the game", False)
    assert event.racetime_version == 5
    explicit = bot_created_event(None, CTX, "Any%", True)
    assert (explicit.goal, explicit.invitational, explicit.racetime_version) == ("Any%", True, None)
    assert explicit.event_id  # random but present
    assert describe(explicit) == (
        "Race testgame/fancy-wolf-4891 created by bot (invitational, goal 'Any%')"
    )


def test_entrant_invited_event() -> None:
    race = fixture_race("ws_race_data_open.json")
    event = entrant_invited_event(race, CTX, "x" * 16, "Someone#0001", 12)
    assert isinstance(event, RacetimeEntrantInvitedEvent)
    assert (event.user_id, event.racetime_user_id, event.racetime_user_name) == (
        12,
        "x" * 16,
        "Someone#0001",
    )
    assert event.race_status == "open" and event.racetime_version is None
    assert entrant_invited_event(race, CTX, "y" * 16, None, None).user_id is None
    assert describe(event) == "Race testgame/fancy-wolf-4891 entrant Someone#0001 invited"


# -- log lines -------------------------------------------------------------------------------


def test_describe_lines() -> None:
    frames = run(full_race())
    lines = [describe(e) for events in frames for e in events]
    room = "Race testgame/fancy-wolf-4891"
    assert lines == [
        f"{room} entrant RacerOne#8145 joined as not_ready",
        f"{room} entrant RacerTwo#6497 joined as not_ready",
        f"{room} entrant RacerOne#8145 status changed: not_ready -> ready",
        f"{room} entrant RacerTwo#6497 status changed: not_ready -> ready",
        f"{room} status changed: open -> pending",
        f"{room} status changed: pending -> in_progress",
        f"{room} entrant RacerOne#8145 status changed: ready -> in_progress",
        f"{room} entrant RacerTwo#6497 status changed: ready -> in_progress",
        f"{room} entrant RacerOne#8145 status changed: in_progress -> done "
        "(place 1, time 1:23:45.0)",
        f"{room} entrant RacerTwo#6497 status changed: in_progress -> dnf",
        f"{room} status changed: in_progress -> finished",
    ]
    left = diff_race(
        make(1, "open", [fb.entrant(ONE, "ready")]), make(2, "open", []), CTX
    )
    assert describe(left[0]) == f"{room} entrant RacerOne#8145 left (was ready)"
    (initial,) = diff_race(None, make(1, "open", []), CTX, first_snapshot=True)
    assert describe(initial) == f"{room} status changed: none -> open"


def test_log_changes(caplog: pytest.LogCaptureFixture) -> None:
    events = diff_race(full_race()[5], full_race()[6], CTX)
    with caplog.at_level(logging.INFO, logger="racetime.diff"):
        log_changes(events)
    assert [r.getMessage() for r in caplog.records] == [describe(e) for e in events]
    assert all(r.levelno == logging.INFO for r in caplog.records)
    caplog.clear()
    quiet = logging.getLogger("tests.racetime.quiet")
    quiet.setLevel(logging.WARNING)
    log_changes(events, quiet)
    assert caplog.records == []


# -- through the real dispatcher -------------------------------------------------------------


async def test_events_reach_listeners_in_order() -> None:
    dispatcher = EventDispatcher()
    seen: list[str] = []

    async def listener(event: RacetimeRoomEvent) -> None:
        seen.append(describe(event))

    dispatcher.subscribe(RacetimeRoomEvent, listener)
    previous: Race | None = None
    expected: list[str] = []
    for race in full_race():
        raw = fb.encode(fb.race_data_frame(json.loads(msgspec.json.encode(race))))
        frame = decode_frame(raw)
        assert isinstance(frame, RaceDataFrame)
        events = diff_race(previous, frame.race, CTX)
        previous = frame.race
        expected.extend(describe(e) for e in events)
        await dispatcher.emit(*events)
    await dispatcher.drain()
    assert seen == expected
    assert len(seen) == 11
