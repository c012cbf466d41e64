"""Typed events and the dispatcher that delivers them (stdlib only)."""

from core.events.base import Event, EventPriority, utc_now
from core.events.dispatcher import EventDispatcher, Subscription
from core.events.live_races import (
    AsyncLiveRaceCancelledEvent,
    AsyncLiveRaceCreatedEvent,
    AsyncLiveRaceEvent,
    AsyncLiveRaceFinishedEvent,
    AsyncLiveRaceRoomOpenedEvent,
    AsyncLiveRaceStartedEvent,
)
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
    "EventPriority",
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
    "RoomForMatchEvent",
    "Subscription",
    "utc_now",
]
