"""Events to JSON-ready dicts and back, for the event log.

An event is stored as its kind (the class name) and its fields; datetimes become ISO 8601
strings. Decoding looks the kind up in ``Event.registry`` and passes the stored ``event_id``
back, so a redelivered event is the same event, id included.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable
from datetime import datetime
from typing import Any

from core.events.base import Event


class UnknownEventKindError(LookupError):
    """A stored event names a class this program does not have (removed or not imported)."""


def _memoised(
    fields_of: Callable[[type[Event]], frozenset[str]],
) -> Callable[[type[Event]], frozenset[str]]:
    """``functools.cache`` for a function of an event class (typed: an event class is a
    key, though its instances are not hashable)."""
    known: dict[type[Event], frozenset[str]] = {}

    def memoised(cls: type[Event]) -> frozenset[str]:
        if cls not in known:
            known[cls] = fields_of(cls)
        return known[cls]

    return memoised


@_memoised
def _datetime_fields(cls: type[Event]) -> frozenset[str]:
    hints = typing.get_type_hints(cls)
    names = set()
    for field in dataclasses.fields(cls):
        hint = hints.get(field.name)
        union = typing.get_origin(hint) in (typing.Union, types.UnionType)  # X | None, Optional
        options = typing.get_args(hint) if union else (hint,)
        if datetime in options:
            names.add(field.name)
    return frozenset(names)


@_memoised
def _tuple_fields(cls: type[Event]) -> frozenset[str]:
    """Fields holding tuples, which JSON gives back as lists."""
    hints = typing.get_type_hints(cls)
    return frozenset(
        field.name for field in dataclasses.fields(cls)
        if typing.get_origin(hints.get(field.name)) is tuple
    )


def encode_event(event: Event) -> dict[str, Any]:
    """The event's fields as JSON-ready values (datetimes as ISO strings)."""
    datetimes = _datetime_fields(type(event))
    data: dict[str, Any] = {}
    for field in dataclasses.fields(event):
        value = getattr(event, field.name)
        if field.name in datetimes and value is not None:
            value = value.isoformat()
        data[field.name] = value
    return data


def decode_event(kind: str, data: dict[str, Any]) -> Event:
    """The event of class ``kind`` that :func:`encode_event` gave ``data`` for."""
    cls = Event.registry.get(kind)
    if cls is None:
        raise UnknownEventKindError(f"no event class is called {kind!r}")
    values = dict(data)
    for name in _datetime_fields(cls):
        value = values.get(name)
        if isinstance(value, str):
            values[name] = datetime.fromisoformat(value)
    for name in _tuple_fields(cls):
        if isinstance(values.get(name), list):
            values[name] = tuple(values[name])
    known = {field.name for field in dataclasses.fields(cls)}
    return cls(**{name: value for name, value in values.items() if name in known})
