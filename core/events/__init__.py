"""Typed events, the event log they are committed to, and the dispatcher (stdlib only).

Every event is committed to the event log before a listener sees it, and is delivered at
least once: after a crash, what was not acknowledged comes again with the same ``event_id``.
**The rule for listeners:** a listener that records anything durable (a result, a
notification, a status) does it in its own transaction keyed by ``event_id``, so that a
repeat changes nothing; ``core.event_store.exactly_once.exactly_once`` does exactly that. See
``core.events.dispatcher`` for ordering, retries and parking.
"""

from core.events.accounts import (
    RacetimeAccountLinkedEvent,
    RacetimeLinkNeedsReauthorizationEvent,
)
from core.events.async_runs import (
    AsyncRunEvent,
    AsyncRunForfeitedEvent,
    AsyncRunStartedEvent,
    AsyncRunSubmittedEvent,
    AsyncRunTimedOutEvent,
)
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
from core.events.matches import (
    MatchCancelledEvent,
    MatchEvent,
    MatchInviteRefusedEvent,
    MatchReminderEvent,
    MatchRescheduledEvent,
    MatchResultEvent,
    MatchRoomProblemEvent,
    MatchScheduledEvent,
    reminder_event_id,
)
from core.events.proposals import (
    MatchProposalAcceptedEvent,
    MatchProposalApprovedEvent,
    MatchProposalDeclinedEvent,
    MatchProposalEvent,
    MatchProposalRejectedEvent,
    MatchProposalWithdrawnEvent,
    MatchTimeProposedEvent,
)
from core.events.racetime import (
    RacetimeBotCreatedRaceEvent,
    RacetimeBotJoinedRaceEvent,
    RacetimeBotStatusChangedEvent,
    RacetimeChatCommandEvent,
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
from core.events.room_commands import FpaCalledEvent, RoomCommandEvent, RoomSeedRolledEvent

__all__ = [
    "AsyncLiveRaceCancelledEvent",
    "AsyncLiveRaceCreatedEvent",
    "AsyncLiveRaceEvent",
    "AsyncLiveRaceFinishedEvent",
    "AsyncLiveRaceRoomOpenedEvent",
    "AsyncLiveRaceStartedEvent",
    "AsyncRunEvent",
    "AsyncRunForfeitedEvent",
    "AsyncRunStartedEvent",
    "AsyncRunSubmittedEvent",
    "AsyncRunTimedOutEvent",
    "Event",
    "EventDispatcher",
    "EventLog",
    "EventPriority",
    "FpaCalledEvent",
    "LoggedEvent",
    "MatchCancelledEvent",
    "MatchEvent",
    "MatchInviteRefusedEvent",
    "MatchProposalAcceptedEvent",
    "MatchProposalApprovedEvent",
    "MatchProposalDeclinedEvent",
    "MatchProposalEvent",
    "MatchProposalRejectedEvent",
    "MatchProposalWithdrawnEvent",
    "MatchReminderEvent",
    "MatchRescheduledEvent",
    "MatchResultEvent",
    "MatchRoomProblemEvent",
    "MatchScheduledEvent",
    "MatchTimeProposedEvent",
    "MemoryEventLog",
    "RacetimeAccountLinkedEvent",
    "RacetimeBotCreatedRaceEvent",
    "RacetimeBotJoinedRaceEvent",
    "RacetimeBotStatusChangedEvent",
    "RacetimeChatCommandEvent",
    "RacetimeEntrantEvent",
    "RacetimeEntrantInvitedEvent",
    "RacetimeEntrantJoinedEvent",
    "RacetimeEntrantLeftEvent",
    "RacetimeEntrantStatusChangedEvent",
    "RacetimeLinkNeedsReauthorizationEvent",
    "RacetimeRaceStatusChangedEvent",
    "RacetimeRoomCreatedEvent",
    "RacetimeRoomEvent",
    "RacetimeRoomOpenedEvent",
    "RetryPolicy",
    "RoomCommandEvent",
    "RoomForMatchEvent",
    "RoomSeedRolledEvent",
    "Subscription",
    "UnknownEventKindError",
    "by_priority",
    "decode_event",
    "encode_event",
    "reminder_event_id",
    "room_partition",
    "utc_now",
]
