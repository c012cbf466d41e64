"""Property tests: the decoder and the diff never raise, and what they produce is well-formed."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.events import (
    Event,
    RacetimeEntrantEvent,
    RacetimeEntrantJoinedEvent,
    RacetimeEntrantLeftEvent,
    RacetimeEntrantStatusChangedEvent,
    RacetimeRaceStatusChangedEvent,
    RacetimeRoomEvent,
)
from core.identity import SYSTEM_USER_ID
from racetime.diff import RoomContext, describe, diff_race
from racetime.models import (
    Race,
    RaceDataFrame,
    decode_category,
    decode_frame,
    decode_race,
    race_from_dict,
)
from tests.racetime import frames as fb

FIXTURES = Path(__file__).resolve().parent / "fixtures"
FIXTURE_FRAMES = [
    json.loads(p.read_text()) for p in sorted(FIXTURES.glob("ws_*.json"))
]
CTX = RoomContext("testgame", "fancy-wolf-4891", "testgame/fancy-wolf-4891", 1, 2)
CANONICAL_DURATION = re.compile(r"-?PT(\d+H)?(\d+M)?(\d+(\.\d+)?S)?")

PROPS = settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=30,
)
frame_types = st.sampled_from(
    ["race.data", "race.renders", "chat.message", "chat.history", "chat.dm", "chat.pin",
     "error", "pong", "authenticated", "race.split", "mystery"]
)


def pipeline(previous: Race | None, raw: Any) -> list[Event]:
    """What a room connection does with one frame."""
    frame = decode_frame(raw)
    if not isinstance(frame, RaceDataFrame):
        return []
    return diff_race(previous, frame.race, CTX)


def check_events(previous: Race | None, current: Race, events: list[Event],
                 linked: dict[str, int]) -> None:
    prev_ids = {e.user.id for e in previous.entrants if e.user} if previous else set()
    cur_ids = {e.user.id for e in current.entrants if e.user}
    ids = [e.event_id for e in events]
    assert len(ids) == len(set(ids)), "event ids must be unique within a diff"
    for index, event in enumerate(events):
        assert isinstance(event, RacetimeRoomEvent)
        assert event.racetime_version == current.version
        assert (event.category, event.room_slug, event.room_name) == (
            CTX.category, CTX.room_slug, CTX.room_name
        )
        assert (event.match_id, event.tournament_id) == (1, 2)
        assert event.occurred_at.tzinfo is not None
        assert isinstance(describe(event), str)
        if isinstance(event, RacetimeRaceStatusChangedEvent):
            assert index == 0
            assert event.user_id == SYSTEM_USER_ID
            assert event.new_status == current.status.value
            for value in (event.started_at, event.ended_at):
                assert value is None or value.utcoffset() == timedelta(0)
        else:
            assert isinstance(event, RacetimeEntrantEvent)
            assert event.racetime_user_id
            assert event.user_id == linked.get(event.racetime_user_id)
            assert event.user_id is None or event.user_id > 0  # never the system id
            assert event.race_status == current.status.value
            if isinstance(event, RacetimeEntrantLeftEvent):
                assert event.racetime_user_id in prev_ids - cur_ids
            elif isinstance(event, RacetimeEntrantJoinedEvent):
                assert event.racetime_user_id in cur_ids - prev_ids
            else:
                assert isinstance(event, RacetimeEntrantStatusChangedEvent)
                assert event.racetime_user_id in cur_ids & prev_ids
                assert event.finish_time is None or CANONICAL_DURATION.fullmatch(
                    event.finish_time
                )


# -- the decoder -----------------------------------------------------------------------------


@PROPS
@given(st.binary(max_size=300) | st.text(max_size=300))
def test_random_bytes_never_raise(raw: bytes | str) -> None:
    decode_frame(raw)
    decode_race(raw)
    decode_category(raw)
    assert pipeline(None, raw) == [] or isinstance(decode_frame(raw), RaceDataFrame)


@PROPS
@given(json_values, st.one_of(st.none(), frame_types))
def test_random_json_never_raises(value: Any, frame_type: str | None) -> None:
    if frame_type is not None:
        value = {"type": frame_type, **(value if isinstance(value, dict) else {"x": value})}
    raw = json.dumps(value)
    frame = decode_frame(raw)
    if frame is None:
        # Garbage emits nothing, whatever the previous snapshot.
        previous = decode_frame(json.dumps(FIXTURE_FRAMES[-1]))
        assert isinstance(previous, RaceDataFrame)
        assert pipeline(previous.race, raw) == []
    decode_race(raw)
    decode_category(raw)
    if isinstance(value, dict):
        race_from_dict(value)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    paths = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            paths.extend(_paths(child, (*prefix, key)))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            paths.extend(_paths(child, (*prefix, index)))
    return paths


def _set(value: Any, path: tuple[Any, ...], new: Any, delete: bool) -> Any:
    if not path:
        return new
    container = value
    for key in path[:-1]:
        container = container[key]
    if delete:
        del container[path[-1]]
    else:
        container[path[-1]] = new
    return value


@PROPS
@given(st.data())
def test_mutated_fixture_frames_never_raise(data: st.DataObject) -> None:
    base = json.loads(json.dumps(data.draw(st.sampled_from(FIXTURE_FRAMES))))
    for _ in range(data.draw(st.integers(min_value=1, max_value=4))):
        paths = _paths(base)
        path = data.draw(st.sampled_from(paths))
        delete = bool(path) and data.draw(st.booleans())
        base = _set(base, path, data.draw(json_values), delete)
    raw = json.dumps(base)
    frame = decode_frame(raw)
    if isinstance(frame, RaceDataFrame):
        for fixture in FIXTURE_FRAMES:
            previous = decode_frame(json.dumps(fixture))
            if isinstance(previous, RaceDataFrame):
                events = diff_race(previous.race, frame.race, CTX)
                check_events(previous.race, frame.race, events, {})
                diff_race(frame.race, previous.race, CTX)


# -- the diff on valid random races ----------------------------------------------------------

USERS = [fb.user(i) for i in range(6)]
ENTRANT_STATUSES = sorted(fb.ENTRANT_STATUS_TEXT)
RACE_STATUSES = sorted(fb.RACE_STATUS_TEXT)
maybe_time = st.one_of(
    st.none(),
    st.builds(fb.duration, st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3))),
    st.text(max_size=10),
)
maybe_datetime = st.one_of(
    st.none(), st.sampled_from(["2026-11-23T14:42:13.289Z", "2026-11-23T14:42:13Z"]),
    st.text(max_size=10),
)


@st.composite
def entrants(draw: st.DrawFn) -> dict[str, Any]:
    user = draw(st.one_of(st.none(), st.sampled_from(USERS)))
    entrant = fb.entrant(user, draw(st.sampled_from(ENTRANT_STATUSES)))
    entrant["finish_time"] = draw(maybe_time)
    entrant["place"] = draw(st.one_of(st.none(), st.integers(min_value=1, max_value=50)))
    return entrant


@st.composite
def races(draw: st.DrawFn) -> Race:
    payload = fb.race(
        version=draw(st.integers(min_value=0, max_value=20)),
        status_value=draw(st.sampled_from(RACE_STATUSES)),
        entrants=draw(st.lists(entrants(), max_size=8)),
        hide_entrants=draw(st.booleans()),
    )
    payload["started_at"] = draw(maybe_datetime)
    payload["ended_at"] = draw(maybe_datetime)
    payload["entrants_count"] = draw(st.integers(min_value=-5, max_value=100))
    race = decode_frame(fb.encode(fb.race_data_frame(payload)))
    assert isinstance(race, RaceDataFrame)
    return race.race


linked_maps = st.dictionaries(
    st.sampled_from([u["id"] for u in USERS]), st.integers(min_value=1, max_value=10**18),
    max_size=6,
)


@PROPS
@given(races(), races(), linked_maps, st.booleans())
def test_random_race_pairs_give_well_formed_events(
    previous: Race, current: Race, linked: dict[str, int], first: bool
) -> None:
    events = diff_race(previous, current, CTX, linked_users=linked, first_snapshot=first)
    if current.version < previous.version or current == previous:
        assert events == []
    check_events(previous, current, events, linked)

    fresh = diff_race(None, current, CTX, linked_users=linked, first_snapshot=first)
    assert len(fresh) == (1 if first else 0)
    check_events(None, current, fresh, linked)


@PROPS
@given(races(), linked_maps)
def test_a_race_against_itself_is_empty(race: Race, linked: dict[str, int]) -> None:
    assert diff_race(race, race, CTX, linked_users=linked) == []
    payload = {"type": "race.data", "race": msgspec.to_builtins(race), "version": race.version}
    copy = decode_frame(fb.encode(payload))
    assert isinstance(copy, RaceDataFrame)
    assert diff_race(race, copy.race, CTX) == []


@settings(PROPS, max_examples=100)
@given(races(), races())
def test_diff_is_deterministic(previous: Race, current: Race) -> None:
    first = diff_race(previous, current, CTX, occurred_at=fb.BASE_TIME)
    second = diff_race(previous, current, CTX, occurred_at=fb.BASE_TIME)
    assert first == second
