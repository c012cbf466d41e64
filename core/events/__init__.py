"""Typed events and the dispatcher that delivers them (stdlib only)."""

from core.events.base import Event, EventPriority, utc_now
from core.events.codec import UnknownEventKindError, decode_event, encode_event
from core.events.dispatcher import EventDispatcher, RetryPolicy, Subscription, by_priority
from core.events.live_races import (
    AsyncLiveRaceCancelledEvent,
    AsyncLiveRaceCreatedEvent,
    AsyncLiveRaceEvent,
    AsyncLiveRaceFinishedEvent,
    AsyncLiveRaceRoomOpenedEvent,
    AsyncLiveRaceStartedEvent,
)
from core.events.log import EventLog, LoggedEvent, MemoryEventLog
from core.events.racetime import (
    RacetimeBotCreatedRaceEvent,
    RacetimeBotJoinedRaceEvent,
    RacetimeBotStatusChangedEvent,
    RacetimeEntrantEvent,
    RacetimeEntrantInvitedEvent,
    RacetimeEntrantJoinedEvent,
    RacetimeEntrantLeftEvent,
    RacetimeEntrantStatusChangedEvent,
    RacetimeRaceStatusChangedEvent,
    RacetimeRoomCreatedEvent,
    RacetimeRoomEvent,
    RacetimeRoomOpenedEvent,
    RoomForMatchEvent,
    room_partition,
)

__all__ = [
    "AsyncLiveRaceCancelledEvent",
    "AsyncLiveRaceCreatedEvent",
    "AsyncLiveRaceEvent",
    "AsyncLiveRaceFinishedEvent",
    "AsyncLiveRaceRoomOpenedEvent",
    "AsyncLiveRaceStartedEvent",
    "Event",
    "EventDispatcher",
    "EventLog",
    "EventPriority",
    "LoggedEvent",
    "MemoryEventLog",
    "RacetimeBotCreatedRaceEvent",
    "RacetimeBotJoinedRaceEvent",
    "RacetimeBotStatusChangedEvent",
    "RacetimeEntrantEvent",
    "RacetimeEntrantInvitedEvent",
    "RacetimeEntrantJoinedEvent",
    "RacetimeEntrantLeftEvent",
    "RacetimeEntrantStatusChangedEvent",
    "RacetimeRaceStatusChangedEvent",
    "RacetimeRoomCreatedEvent",
    "RacetimeRoomEvent",
    "RacetimeRoomOpenedEvent",
    "RetryPolicy",
    "RoomForMatchEvent",
    "Subscription",
    "UnknownEventKindError",
    "by_priority",
    "decode_event",
    "encode_event",
    "room_partition",
    "utc_now",
]
