"""The pure parts of ``bench.failover``: the fault plan, who may have acted when, the DMs by
nonce, the event log as ``bench.crash`` compares it, and the sizes."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from bench.crash import RACE, Record
from bench.failover import (
    FULL,
    KILL,
    PAUSE,
    QUICK,
    TERM,
    Effect,
    discord_effects,
    dm_figures,
    dm_gaps,
    event_records,
    expected_seconds,
    fault_plan,
    fenced_effects,
    lives,
    parse,
    racetime_effects,
    spread,
    timings,
)
from bench.failover_desks import Lead
from core.events import (
    MatchScheduledEvent,
    RacetimeBotJoinedRaceEvent,
    RacetimeEntrantStatusChangedEvent,
)
from core.events.codec import encode_event
from core.sending import nonce_for

AT = datetime(2031, 5, 4, 12, 0, tzinfo=UTC)


def test_the_plan_has_every_fault_once_in_a_shuffled_order() -> None:
    plan = fault_plan(3, 2, 1, random.Random(7))
    assert sorted(plan) == sorted([KILL] * 3 + [PAUSE] * 2 + [TERM])
    assert fault_plan(3, 2, 1, random.Random(7)) == plan  # the seed decides
    assert fault_plan(0, 0, 0, random.Random(7)) == []


def test_a_pause_counts_its_length_in_the_expected_time() -> None:
    assert expected_seconds([PAUSE], 8.0, 30.0) > expected_seconds([KILL], 8.0, 30.0)
    assert expected_seconds([KILL], 8.0, 30.0) > expected_seconds([TERM], 8.0, 30.0)
    assert expected_seconds([], 8.0, 30.0) > 0


def test_the_dms_are_spread_over_the_faults() -> None:
    assert spread(2000, 16) == [125] * 16
    assert spread(10, 3) == [4, 3, 3]
    assert spread(5, 0) == []


def test_timings_are_nearest_rank_and_empty_without_values() -> None:
    assert timings([3.0, 1.0, 2.0]) == {"p50_s": 2.0, "p99_s": 3.0, "max_s": 3.0}
    assert timings([]) == {"p50_s": None, "p99_s": None, "max_s": None}


def test_an_effect_counts_as_fenced_outside_its_process_lead() -> None:
    leads = [Lead("desk-1", 1, 100.0, 110.0), Lead("desk-2", 2, 110.0)]
    effects = [
        Effect("desk-1", 105.0, "racetime POST /o/alttpr/startrace"),  # while it led
        Effect("desk-1", 110.0, "discord POST messages"),  # the moment epoch 2 began
        Effect("desk-1", 140.0, "discord POST messages"),  # resumed after a pause
        Effect("desk-2", 109.0, "discord gateway session"),  # a standby acting
        Effect("desk-2", 150.0, "racetime WS /ws/<room>/..."),
        Effect("desk-3", 150.0, "discord POST messages"),  # never led
        Effect(None, 150.0, "racetime WS /ws/<room>/..."),  # no tag: not attributable
    ]
    fenced, untagged = fenced_effects(effects, leads)
    assert [(e.client, e.at) for e in fenced] == [
        ("desk-1", 110.0), ("desk-1", 140.0), ("desk-2", 109.0), ("desk-3", 150.0),
    ]
    assert untagged == 1


def test_reads_and_tokens_are_no_effects() -> None:
    changes = [
        {"at": 1.0, "method": "POST", "path": "/o/token", "client": "desk-1"},
        {"at": 2.0, "method": "POST", "path": "/o/alttpr/startrace", "client": "desk-1"},
        {"at": 3.0, "method": "WS", "path": "/ws/odd-ness-1/invite", "client": "desk-2"},
    ]
    assert racetime_effects(changes) == [
        Effect("desk-1", 2.0, "racetime POST /o/alttpr/startrace"),
        Effect("desk-2", 3.0, "racetime WS /ws/..."),
    ]
    requests = [
        {"at": 1.0, "route": "GET /api/v10/users/@me", "client": "desk-1"},
        {"at": 2.0, "route": "POST /api/v10/users/@me/channels", "client": "desk-1"},
        {"at": 3.0, "route": "POST /api/v10/channels/{channel_id}/messages",
         "client": "desk-1"},
    ]
    sessions = [{"at": 4.0, "session_id": "s", "client": "desk-2"}]
    assert discord_effects(requests, sessions, to_wall=100.0) == [
        Effect("desk-1", 103.0, "discord POST /api/v10/channels/{channel_id}/messages"),
        Effect("desk-2", 104.0, "discord gateway session"),
    ]


def message(event_id: str, discord_id: int, *, client: str = "desk-1",
            at: float = 0.0) -> dict[str, object]:
    return {"nonce": nonce_for(f"dm:{event_id}:{discord_id}"), "recipient_id": discord_id,
            "client": client, "at": at}


def test_dms_are_matched_to_their_outbox_rows_by_nonce() -> None:
    outbox = [("bench:0", 1), ("bench:0", 2), ("bench:1", 1)]
    messages = [
        message("bench:0", 1), message("bench:0", 1),  # stored twice
        message("bench:0", 2),
        message("other:9", 3),  # no such row
        {"nonce": None, "recipient_id": None, "client": "desk-1", "at": 0.0},  # a channel post
    ]
    assert dm_figures(outbox, messages) == {
        "dms_expected": 3, "dms_delivered": 2, "dms_lost": 1, "dms_sent_twice": 1,
        "dms_unexpected": 1,
    }


def test_the_dm_gap_runs_to_the_successors_first_dm_after_the_fault() -> None:
    messages = [
        message("e", 1, client="desk-1", at=9.0),
        message("e", 2, client="desk-2", at=14.0),
        message("e", 3, client="desk-2", at=12.5),
        message("e", 4, client="desk-1", at=11.0),  # the old leader's, not the new one's
    ]
    # The second fault had no DM left to send after it.
    assert dm_gaps(messages, [10.0, 20.0], ["desk-2", "desk-3"]) == [2.5]


def test_lives_run_from_fault_to_fault() -> None:
    assert lives([5.0], [10.0, 20.0]) == [(5.0, 10.0), (10.0, 20.0), (20.0, float("inf"))]
    assert lives([5.0], []) == [(5.0, float("inf"))]


def test_the_event_log_is_compared_by_its_room_events_only() -> None:
    room = {"category": "alttpr", "room_slug": "odd-ness-1", "room_name": "alttpr/odd-ness-1",
            "occurred_at": AT}
    joined = RacetimeBotJoinedRaceEvent(**room, race_status="open", racetime_version=3)
    ready = RacetimeEntrantStatusChangedEvent(
        **room, racetime_user_id="u1", old_status="not_ready", new_status="ready",
        racetime_version=5,
    )
    other = MatchScheduledEvent(match_id=1, tournament_id=1, scheduled_at=AT, occurred_at=AT)
    rows = [(1, type(e).__name__, encode_event(e)) for e in (joined, other, ready)]
    rows[2] = (3, *rows[2][1:])
    assert event_records(rows) == [
        Record(1, joined.event_id, "RacetimeBotJoinedRaceEvent", "odd-ness-1", RACE, None,
               "open", 3),
        Record(3, ready.event_id, "RacetimeEntrantStatusChangedEvent", "odd-ness-1", "u1",
               "not_ready", "ready", 5),
    ]


def test_quick_is_small_and_an_explicit_option_wins() -> None:
    quick = parse(["--quick", "--rooms", "3"])
    assert (quick.rooms, quick.matches, quick.dms) == (3, QUICK["matches"], QUICK["dms"])
    assert (quick.kills, quick.pauses, quick.terms) == (1, 1, 1)
    assert quick.postgres
    full = parse([])
    assert {key: getattr(full, key) for key in FULL} == FULL
    assert (full.kills, full.pauses, full.pause_seconds, full.terms) == (10, 3, 30.0, 3)


def test_a_pause_shorter_than_the_lease_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse(["--pause-seconds", "5", "--lease-seconds", "8"])
    assert "--pause-seconds must be longer than --lease-seconds" in capsys.readouterr().err
    assert parse(["--pauses", "0", "--pause-seconds", "5"]).pauses == 0
