"""The event classes: required fields, aware times, stable ids."""

import dataclasses
from datetime import UTC, datetime, timedelta, timezone

import pytest

import core.events as events
from core.events import (
    Event,
    EventPriority,
    RacetimeEntrantStatusChangedEvent,
    RacetimeRaceStatusChangedEvent,
)
from core.race_time import shown_race_time


def _status(**overrides: object) -> RacetimeRaceStatusChangedEvent:
    fields: dict = dict(
        category="alttpr",
        room_slug="cool-doge-1234",
        room_name="alttpr/cool-doge-1234",
        old_status="open",
        new_status="pending",
        racetime_version=7,
    )
    fields.update(overrides)
    return RacetimeRaceStatusChangedEvent(**fields)


def test_every_exported_event_is_frozen_slotted_and_has_the_common_fields() -> None:
    classes = [
        obj
        for name in events.__all__
        if isinstance(obj := getattr(events, name), type) and issubclass(obj, Event)
    ]
    assert len(classes) >= 20
    for cls in classes:
        params = cls.__dataclass_params__  # type: ignore[attr-defined]
        assert params.frozen, cls
        assert "__slots__" in cls.__dict__, cls
        names = {f.name for f in dataclasses.fields(cls)}
        assert {"user_id", "entity_id", "occurred_at", "event_id"} <= names, cls


def test_racetime_event_id_is_built_from_room_version_kind_and_change() -> None:
    first, again = _status(), _status()
    assert (
        first.event_id
        == again.event_id
        == ("alttpr/cool-doge-1234:7:RacetimeRaceStatusChangedEvent:open>pending")
    )
    assert _status(racetime_version=8).event_id != first.event_id
    # racetime can save two different payloads under one version: two different changes.
    assert _status(new_status="in_progress").event_id != first.event_id


def test_entrant_event_ids_differ_per_entrant() -> None:
    def entrant(user: str) -> RacetimeEntrantStatusChangedEvent:
        return RacetimeEntrantStatusChangedEvent(
            category="alttpr",
            room_slug="s",
            room_name="alttpr/s",
            racetime_user_id=user,
            old_status="ready",
            new_status="in_progress",
            racetime_version=3,
        )

    assert entrant("a" * 16).event_id != entrant("b" * 16).event_id


def test_occurred_at_must_be_aware_and_is_normalised_to_utc() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        _status(occurred_at=datetime(2026, 1, 1))
    plus_two = datetime(2026, 1, 1, 12, tzinfo=timezone(timedelta(hours=2)))
    event = _status(occurred_at=plus_two)
    assert event.occurred_at == plus_two
    assert event.occurred_at.tzinfo is UTC


def test_events_are_immutable() -> None:
    event = _status()
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.new_status = "finished"  # type: ignore[misc]


def test_priorities() -> None:
    assert EventPriority.HIGH == 75 and EventPriority.NORMAL == 50
    assert RacetimeRaceStatusChangedEvent.priority == EventPriority.HIGH
    assert events.RacetimeBotCreatedRaceEvent.priority == EventPriority.HIGH
    assert events.RacetimeBotJoinedRaceEvent.priority == EventPriority.HIGH
    assert RacetimeEntrantStatusChangedEvent.priority == EventPriority.NORMAL
    assert events.RacetimeEntrantJoinedEvent.priority == EventPriority.NORMAL


def test_bot_action_defaults() -> None:
    joined = events.RacetimeBotJoinedRaceEvent(
        category="c", room_slug="s", room_name="c/s", race_status="open"
    )
    created = events.RacetimeBotCreatedRaceEvent(category="c", room_slug="s", room_name="c/s")
    assert joined.bot_action == "join" and created.bot_action == "create"


def test_every_event_kind_names_one_class() -> None:
    def define() -> type[Event]:
        @dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
        class LocalProbeEvent(Event):
            pass

        return LocalProbeEvent

    first, second = define(), define()
    assert Event.registry["LocalProbeEvent"] is second is not first
    with pytest.raises(TypeError, match="event kinds must be unique"):
        type("RacetimeRaceStatusChangedEvent", (Event,), {"__module__": "elsewhere"})


def test_bot_status_names_match_the_database_enum() -> None:
    from core.events.racetime import BOT_STATUS_NAMES
    from db.models import BotStatus

    assert {int(s): s.name for s in BotStatus} == BOT_STATUS_NAMES


def test_every_event_says_what_happened_in_words_not_its_class_name() -> None:
    """A log line (and the rehearsal's timeline) reads as a sentence: each concrete event
    class has a headline of its own, never the bare class name or an id."""
    abstract = {"Event", "MatchEvent", "AsyncLiveRaceEvent", "RacetimeRoomEvent",
                "RacetimeEntrantEvent", "RoomForMatchEvent"}
    plain = [
        name for name, cls in Event.registry.items()
        if name not in abstract and cls.__module__.startswith("core.events")
        and getattr(cls, "headline") is Event.headline  # noqa: B009
    ]
    assert plain == []


def test_a_log_line_names_who_caused_the_event_and_its_id() -> None:
    result = events.MatchResultEvent(
        match_id=2, tournament_id=1, user_id=-1,
        summary="1. RacerOne 0:00:07.0\n2. RacerTwo 0:00:10.0",
    )
    assert result.headline() == (
        "Match #2 results recorded: 1. RacerOne 0:00:07.0 · 2. RacerTwo 0:00:10.0"
    )
    assert result.describe() == (
        f"{result.headline()} (by System/Automation; event {result.event_id})"
    )
    when = datetime(2026, 12, 5, 19, 0, tzinfo=UTC)
    scheduled = events.MatchScheduledEvent(match_id=3, tournament_id=1, scheduled_at=when)
    assert scheduled.headline() == "Match #3 scheduled for 2026-12-05 19:00 UTC"
    assert "by Unknown/Unauthenticated" in scheduled.describe()


def test_an_entrant_finish_shows_the_race_time_as_racetime_does() -> None:
    done = RacetimeEntrantStatusChangedEvent(
        category="alttpr", room_slug="cool-doge-1234", room_name="alttpr/cool-doge-1234",
        racetime_user_id="u" * 16, racetime_user_name="RacerOne#1234",
        old_status="in_progress", new_status="done", place=1, finish_time="PT1H2M3.456S",
    )
    assert done.describe().endswith("in_progress -> done (place 1, time 1:02:03.4)")


@pytest.mark.parametrize(
    ("text", "shown"),
    [("PT7.010401S", "0:00:07.0"), ("PT1H23M45S", "1:23:45.0"), ("PT26H", "26:00:00.0"),
     ("PT0S", "0:00:00.0"), ("not a duration", "not a duration"), ("PT", "PT")],
)
def test_event_durations_read_as_race_times(text: str, shown: str) -> None:
    assert shown_race_time(text) == shown
