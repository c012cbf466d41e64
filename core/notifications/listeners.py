"""Events become notifications, exactly once.

Each listener runs through ``exactly_once_writes``: it reads who to tell, then the outbox rows
are written in one transaction with a receipt keyed by the event's ``event_id`` (and the rows
themselves are unique per event and recipient), so an event delivered again after a crash adds
nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.event_store.exactly_once import exactly_once_writes
from core.events import (
    AsyncLiveRaceCancelledEvent,
    AsyncLiveRaceCreatedEvent,
    AsyncLiveRaceEvent,
    AsyncLiveRaceFinishedEvent,
    AsyncLiveRaceRoomOpenedEvent,
    AsyncLiveRaceStartedEvent,
    Event,
    EventDispatcher,
    MatchCancelledEvent,
    MatchEvent,
    MatchInviteRefusedEvent,
    MatchReminderEvent,
    MatchRescheduledEvent,
    MatchResultEvent,
    MatchScheduledEvent,
    RoomForMatchEvent,
    RoomSeedRolledEvent,
)
from core.live_races.rules import eligible_users
from core.notifications.kinds import NotificationType
from core.notifications.service import NotificationContent, NotificationService
from db.models import AsyncLiveRace
from db.queries.match_reminders import remindable_match
from db.queries.notifications import notifications_write
from db.queries.recipients import Audience, live_race_audience, match_audience
from db.write_batch import Rows, Write

Content = Callable[[Any, Audience], NotificationContent]
Recipients = Callable[[Any, list[int]], list[int]]  # which of the audience a rule tells
Holds = Callable[[AsyncSession, Any], Awaitable[bool]]  # whether the event still holds


def _base(audience: Audience, **fields: Any) -> NotificationContent:
    return NotificationContent(tournament=audience.tournament, subject=audience.subject, **fields)


def _moved(event: MatchRescheduledEvent, audience: Audience) -> NotificationContent:
    before = event.old_scheduled_at
    details = f"It was set for <t:{int(before.timestamp())}:F>." if before else None
    return _base(audience, scheduled_at=event.scheduled_at, details=details)


def _finished(event: AsyncLiveRaceFinishedEvent, audience: Audience) -> NotificationContent:
    count = f"{event.finisher_count} of {event.participant_count} finished"
    details = f"{count}: {event.summary}" if event.summary else count
    return _base(audience, room_url=event.room_url, details=details)


def _not_invited(event: MatchInviteRefusedEvent, audience: Audience) -> NotificationContent:
    who = f" ({event.racetime_name})" if event.racetime_name else ""
    return _base(
        audience, room_url=event.room_url,
        problem=(
            f"racetime.gg would not let RaceDesk invite you{who} to your match's room: "
            f"“{event.reason}” {event.advice}"
        ),
    )


async def _reminder_holds(session: AsyncSession, event: MatchReminderEvent) -> bool:
    """The match is still at the reminded time and has not started (nor been called off):
    a reminder delivered late, after a reschedule, tells no one of a time that is gone."""
    found = await remindable_match(session, event.match_id)
    return found is not None and found[0].scheduled_at == event.scheduled_at


def _seed(event: RoomSeedRolledEvent, audience: Audience) -> NotificationContent:
    again = " (a re-roll: this one replaces the earlier seed)" if event.rolls > 1 else ""
    return _base(audience, room_url=event.room_url, details=f"Seed: {event.seed_text}{again}")


@dataclass(frozen=True, slots=True)
class Rule:
    """One kind of event, the notification it becomes, what it says and to whom."""

    event_type: type[Event]
    kind: NotificationType
    content: Content
    recipients: Recipients = lambda _event, user_ids: user_ids
    holds: Holds | None = None


# A match the players schedule themselves (issue 25): what its DM says instead of a time.
NO_TIME_YET = "No time yet: agree on one with your opponent, then /schedule propose it"


MATCH_RULES = [
    Rule(MatchScheduledEvent, NotificationType.MATCH_SCHEDULED,
         lambda e, a: _base(a, scheduled_at=e.scheduled_at,
                            details=None if e.scheduled_at else NO_TIME_YET)),
    Rule(MatchRescheduledEvent, NotificationType.MATCH_RESCHEDULED, _moved),
    Rule(MatchCancelledEvent, NotificationType.MATCH_CANCELLED,
         lambda e, a: _base(a, reason=e.reason)),
    Rule(MatchResultEvent, NotificationType.MATCH_RESULT,
         lambda e, a: _base(a, details=e.summary, room_url=e.room_url)),
    # Made on time by the scheduler, or by hand with /open-room: both are "room opened",
    # except for a player racetime would not let in: they are told why instead (below).
    Rule(RoomForMatchEvent, NotificationType.MATCH_ROOM_OPENED,
         lambda e, a: _base(a, scheduled_at=e.scheduled_at, room_url=e.room_url),
         lambda e, users: [u for u in users if u not in e.not_invited]),
    Rule(MatchInviteRefusedEvent, NotificationType.MATCH_ROOM_OPENED, _not_invited,
         lambda e, users: [u for u in users if u == e.player_user_id]),
    Rule(RoomSeedRolledEvent, NotificationType.MATCH_SEED, _seed),
    Rule(MatchReminderEvent, NotificationType.MATCH_REMINDER,
         lambda e, a: _base(a, scheduled_at=e.scheduled_at, room_url=e.room_url),
         holds=_reminder_holds),
]
LIVE_RACE_RULES = [
    Rule(AsyncLiveRaceCreatedEvent, NotificationType.LIVE_RACE_SCHEDULED,
         lambda e, a: _base(a, scheduled_at=e.scheduled_at)),
    Rule(AsyncLiveRaceRoomOpenedEvent, NotificationType.LIVE_RACE_ROOM_OPENED,
         lambda e, a: _base(a, scheduled_at=e.scheduled_at, room_url=e.room_url)),
    Rule(AsyncLiveRaceStartedEvent, NotificationType.LIVE_RACE_STARTED,
         lambda e, a: _base(a, room_url=e.room_url,
                            details=f"{e.participant_count} participant(s) racing")),
    Rule(AsyncLiveRaceFinishedEvent, NotificationType.LIVE_RACE_FINISHED, _finished),
    Rule(AsyncLiveRaceCancelledEvent, NotificationType.LIVE_RACE_CANCELLED,
         lambda e, a: _base(a, reason=e.reason, scheduled_at=e.scheduled_at)),
]


class NotificationListeners:
    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], notifications: NotificationService
    ) -> None:
        self._sessionmaker = sessionmaker
        self._notifications = notifications

    def subscribe(self, dispatcher: EventDispatcher) -> None:
        for rule in MATCH_RULES:
            self._listen(dispatcher, rule, self._match_audience)
        for rule in LIVE_RACE_RULES:
            self._listen(dispatcher, rule, self._live_race_audience)

    def _listen(
        self,
        dispatcher: EventDispatcher,
        rule: Rule,
        audience_of: Callable[[AsyncSession, Any], Awaitable[Audience | None]],
    ) -> None:
        async def prepare(session: AsyncSession, dialect: str, event: Any) -> list[Write]:
            if rule.holds is not None and not await rule.holds(session, event):
                return []
            audience = await audience_of(session, event)
            user_ids = rule.recipients(event, audience.user_ids) if audience else []
            if audience is None or not user_ids:
                return []
            rows = await self._notifications.outbox_rows(
                session,
                kind=rule.kind,
                guild_id=audience.guild_id,
                user_ids=user_ids,
                event_id=event.event_id,
                content=rule.content(event, audience),
            )
            return [notifications_write(dialect, rows)] if rows else []

        def committed(returned: list[Rows]) -> None:
            if any(returned):
                self._notifications.queued()

        name = f"notifications.{rule.kind.value.lower()}"
        if rule.event_type is MatchInviteRefusedEvent:
            name += ".not_invited"  # a receipt of its own: the same kind, another event
        dispatcher.subscribe(
            rule.event_type,
            exactly_once_writes(self._sessionmaker, name, prepare, committed=committed),
        )

    async def _match_audience(self, session: AsyncSession, event: Any) -> Audience | None:
        match_id = (
            event.match_id
            if isinstance(event, MatchEvent | RoomForMatchEvent | RoomSeedRolledEvent)
            else None
        )
        return await match_audience(session, match_id) if match_id is not None else None

    async def _live_race_audience(
        self, session: AsyncSession, event: AsyncLiveRaceEvent
    ) -> Audience | None:
        """The participants eligible for the live race (see ``live_race_rules``)."""
        audience = await live_race_audience(session, event.live_race_id)
        race = await session.get(AsyncLiveRace, event.live_race_id)
        if audience is None or race is None:
            return None
        eligible = {user.id for user in await eligible_users(session, race)}
        return replace(audience, user_ids=[u for u in audience.user_ids if u in eligible])
