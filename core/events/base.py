"""The base event: who caused it, what it is about, when, and a stable id."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import IntEnum
from typing import Any, ClassVar

from core.identity import get_user_id_description


class EventPriority(IntEnum):
    """Delivery order: higher first, both for events in a batch and for listeners of one event."""

    LOW = 25
    NORMAL = 50
    HIGH = 75
    # For listeners that must see an event before anyone acts on it (the audit log).
    AUDIT = 90


def utc_now() -> datetime:
    return datetime.now(UTC)


def written_time(moment: datetime) -> str:
    """A moment as a person writes it in a log: ``2026-12-05 19:00 UTC``."""
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Base of every event on the dispatcher.

    ``user_id`` is three-state (see ``core.identity``): a linked user's id, ``SYSTEM_USER_ID`` or
    ``None`` for unknown. ``event_id`` lets listeners tell a repeat from news; subclasses that
    have a natural key compute it in :meth:`stable_key`.
    """

    priority: ClassVar[EventPriority] = EventPriority.NORMAL
    # Every concrete event class by name, so the event log can turn stored rows back into
    # events (see ``core.events.codec``). Filled in by ``__init_subclass__``.
    registry: ClassVar[dict[str, type[Event]]] = {}

    user_id: int | None = None
    entity_id: str | None = None
    occurred_at: datetime = field(default_factory=utc_now)
    event_id: str = ""

    def __post_init__(self) -> None:
        if self.occurred_at.tzinfo is None:
            raise ValueError(f"{type(self).__name__}.occurred_at must be timezone-aware")
        if self.occurred_at.utcoffset() != UTC.utcoffset(None):
            object.__setattr__(self, "occurred_at", self.occurred_at.astimezone(UTC))
        if not self.event_id:
            key = self.stable_key()
            object.__setattr__(self, "event_id", key if key else uuid.uuid4().hex)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super(Event, cls).__init_subclass__(**kwargs)  # the slotted class, not the first one
        existing = Event.registry.get(cls.__name__)
        if existing is not None and existing.__module__ != cls.__module__:
            raise TypeError(
                f"{cls.__module__} and {existing.__module__} both define an event called "
                f"{cls.__name__}; event kinds must be unique"
            )
        # ``@dataclass(slots=True)`` builds a second class of the same name (and a class
        # defined again in its module replaces the first): the last one wins.
        Event.registry[cls.__name__] = cls

    def stable_key(self) -> str | None:
        """A deterministic id for events that have one; None gives a random id."""
        return None

    @property
    def partition_key(self) -> str:
        """Events with the same key are delivered in order; different keys are independent."""
        return "global"

    @property
    def kind(self) -> str:
        return type(self).__name__

    def headline(self) -> str:
        """What happened, in words, without who did it; subclasses say it in their own."""
        return self.kind

    def describe(self) -> str:
        """One human line for the log: what happened, who did it, and the event's id."""
        actor = get_user_id_description(self.user_id)
        return f"{self.headline()} (by {actor}; event {self.event_id})"
