"""The event codec: every event the program has survives the event log's JSON and comes back
the same event, id included."""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Literal

import pytest

import core.events
from core.events import (
    Event,
    RacetimeEntrantStatusChangedEvent,
    UnknownEventKindError,
    decode_event,
    encode_event,
)
from core.identity import SYSTEM_USER_ID

# Not UTC on purpose: offsets must survive, and ``occurred_at`` is normalised to UTC.
PLUS_TWO = timezone(timedelta(hours=2))
WHEN = datetime(2026, 11, 23, 14, 41, 35, 580123, tzinfo=PLUS_TWO)


def concrete_event_classes() -> list[type[Event]]:
    """Every event class defined in ``core.events`` (the kinds the program logs)."""
    found = sorted(
        {cls for cls in Event.registry.values() if cls.__module__.startswith("core.events.")},
        key=lambda cls: cls.__name__,
    )
    modules = {cls.__module__ for cls in found}
    assert {"core.events.racetime", "core.events.live_races"} <= modules
    return found


def sample_value(hint: Any, index: int) -> Any:
    """A non-default value of type ``hint`` (None only when nothing else fits)."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        return sample_value(options[0], index)
    if origin is Literal:
        return typing.get_args(hint)[0]
    if origin is tuple:  # ``tuple[X, ...]``: JSON gives a list back, the event a tuple
        return (sample_value(typing.get_args(hint)[0], index),) * 2
    if hint is bool:
        return True
    if hint is int:
        return 1000 + index
    if hint is str:
        return f"value-{index}"
    if hint is datetime:
        return WHEN + timedelta(minutes=index)
    raise AssertionError(f"no sample for {hint!r}: teach sample_value the new field type")


def sample_event(cls: type[Event]) -> Event:
    hints = typing.get_type_hints(cls)
    values = {
        field.name: sample_value(hints[field.name], index)
        for index, field in enumerate(dataclasses.fields(cls))
        if field.name != "event_id"
    }
    values["user_id"] = SYSTEM_USER_ID
    return cls(**values)


@pytest.mark.parametrize("cls", concrete_event_classes(), ids=lambda cls: cls.__name__)
def test_every_event_class_round_trips_through_json(cls: type[Event]) -> None:
    event = sample_event(cls)
    # What the log stores: the encoded fields, through a real JSON text.
    stored = json.loads(json.dumps(encode_event(event)))

    decoded = decode_event(event.kind, stored)

    assert type(decoded) is cls
    assert decoded == event
    assert decoded.event_id == event.event_id
    for field in dataclasses.fields(cls):
        value = getattr(decoded, field.name)
        if isinstance(value, datetime):
            assert value.tzinfo is not None, f"{field.name} came back naive"
            assert value.utcoffset() == getattr(event, field.name).utcoffset()
    assert decoded.occurred_at.utcoffset() == timedelta(0)


def test_every_event_class_core_events_exports_is_covered() -> None:
    exported = {
        value
        for name in core.events.__all__
        if isinstance(value := getattr(core.events, name), type) and issubclass(value, Event)
    }
    assert exported - {Event} <= set(concrete_event_classes())


def test_a_random_event_id_is_kept_not_made_again() -> None:
    # Events without a natural key get a random id: decoding must not draw a new one.
    event = sample_event(core.events.RacetimeBotStatusChangedEvent)
    assert event.stable_key() is None
    decoded = decode_event(event.kind, json.loads(json.dumps(encode_event(event))))
    assert decoded.event_id == event.event_id


def test_datetimes_are_iso_strings_in_the_stored_form() -> None:
    event = RacetimeEntrantStatusChangedEvent(
        category="alttpr",
        room_slug="fancy-wolf-4891",
        room_name="alttpr/fancy-wolf-4891",
        racetime_user_id="a" * 16,
        old_status="in_progress",
        new_status="done",
        occurred_at=WHEN,
    )
    stored = encode_event(event)
    assert stored["occurred_at"] == WHEN.astimezone(UTC).isoformat()
    assert decode_event(event.kind, stored).occurred_at == WHEN


def test_fields_the_program_no_longer_has_are_ignored() -> None:
    event = sample_event(RacetimeEntrantStatusChangedEvent)
    stored = {**encode_event(event), "removed_in_a_later_release": 3}
    assert decode_event(event.kind, stored) == event


def test_an_unknown_kind_raises() -> None:
    with pytest.raises(UnknownEventKindError, match="NoSuchEvent"):
        decode_event("NoSuchEvent", {"event_id": "x"})


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class CodecOptionalProbe(Event):
    """An event spelling its optional datetime the old way (``Optional[...]``)."""

    due_at: typing.Optional[datetime] = None  # noqa: UP045 - the spelling under test


def test_optional_datetimes_written_the_old_way_are_decoded_too() -> None:
    # ``Optional[datetime]`` and ``datetime | None`` are the same type; both must decode.
    event = CodecOptionalProbe(due_at=WHEN)
    decoded = decode_event(event.kind, json.loads(json.dumps(encode_event(event))))
    assert decoded == event
