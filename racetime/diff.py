"""Change detection: (previous race snapshot, new snapshot) -> typed ``core.events`` events.

:func:`diff_race` is pure (no I/O; it reads the clock only when no ``occurred_at`` is given)
and never raises on well-typed :class:`~racetime.models.Race` values, whatever their content.
The rules:

* **Versions.** A snapshot whose ``version`` is lower than the previous one's is old and gives
  nothing. An equal version is compared by content (racetime can save two different payloads
  under one version). Versions can skip numbers; that is fine.
* **No baseline.** With ``previous=None`` (a fresh join) there is nothing to compare, so no
  entrant events are produced. ``first_snapshot=True`` asks for one
  :class:`RacetimeRaceStatusChangedEvent` with ``old_status=None`` so status listeners learn the
  initial status; by default nothing is returned (the connection layer emits
  :func:`bot_joined_event`, which carries the status and entrant count).
* **Reconnects.** The caller passes the last snapshot it had as ``previous``; whatever changed
  while disconnected is reported once, as one transition from the old to the new value.
* **Race status** changes give :class:`RacetimeRaceStatusChangedEvent` by ``SYSTEM_USER_ID``.
* **Entrants** are keyed by racetime user id. A new id gives :class:`RacetimeEntrantJoinedEvent`
  (whatever its status, ``invited`` and ``requested`` included), a vanished id
  :class:`RacetimeEntrantLeftEvent`, a changed ``status.value``
  :class:`RacetimeEntrantStatusChangedEvent` (``place`` and ``finish_time``, as a canonical ISO
  8601 duration like ``PT1H23M45S``, when the entrant has them). A ``done`` entrant whose
  ``finish_time`` changed (undone and done again while we were away) also gives a
  ``done -> done`` status event, so a result is never missed.
* **Deleted accounts.** An entrant whose ``user`` is null (or has an empty id) has no stable
  identity (place, status and list position all change), so it is *skipped*: no entrant event
  is ever emitted for it. It still counts in the race's ``entrants_count``. An entrant whose
  account is deleted between two snapshots (its user turns null, its status, place and time
  stay) did not leave: no :class:`RacetimeEntrantLeftEvent`.
* **Hidden entrants.** In ``hide_entrants`` races the ids are shielded and are replaced by the
  real ones when the race finishes; for the snapshot where ``hide_entrants`` turns off, no
  entrant events are emitted (it would be a false "everyone left, everyone joined").
* **Order.** The race status event first, then entrant events in the current entrant list order
  (the server's order: finished by place, then running, ...), then departures in the previous
  list order. The dispatcher keeps that order within a priority.
* **Time.** Every event of one call shares ``occurred_at`` (the argument, or the time of the call).
* **Identity.** Each entrant event carries ``user_id`` from ``linked_users`` (racetime id -> our
  user id), ``None`` when unlinked (unknown, never ``SYSTEM_USER_ID``), the current race
  status, the room context and ``racetime_version = current.version``, so its ``event_id``
  is stable: (room, version, kind, entrant).

:func:`describe` renders one event as the INFO log line of the room change.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any, Final

from core.events import (
    Event,
    RacetimeBotCreatedRaceEvent,
    RacetimeBotJoinedRaceEvent,
    RacetimeEntrantInvitedEvent,
    RacetimeEntrantJoinedEvent,
    RacetimeEntrantLeftEvent,
    RacetimeEntrantStatusChangedEvent,
    RacetimeRaceStatusChangedEvent,
    utc_now,
)
from core.identity import SYSTEM_USER_ID
from racetime.models import (
    Entrant,
    Race,
    format_iso_duration,
    parse_racetime_datetime,
    parse_racetime_duration,
)

log = logging.getLogger(__name__)

_NO_LINKS: Final[Mapping[str, int | None]] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class RoomContext:
    """What the diff needs to know about the room beyond the race data."""

    category: str
    room_slug: str
    room_name: str
    match_id: int | None = None
    tournament_id: int | None = None
    live_race_id: int | None = None

    @classmethod
    def for_race(
        cls,
        race: Race,
        *,
        match_id: int | None = None,
        tournament_id: int | None = None,
        live_race_id: int | None = None,
    ) -> RoomContext:
        return cls(
            category=race.category_slug,
            room_slug=race.room_slug,
            room_name=race.name,
            match_id=match_id,
            tournament_id=tournament_id,
            live_race_id=live_race_id,
        )

    @property
    def label(self) -> str:
        """``category/slug``, as in log lines."""
        return f"{self.category}/{self.room_slug}"


def _room_kwargs(
    context: RoomContext, version: int | None, occurred_at: datetime | None
) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "category": context.category,
        "room_slug": context.room_slug,
        "room_name": context.room_name,
        "match_id": context.match_id,
        "tournament_id": context.tournament_id,
        "live_race_id": context.live_race_id,
        "racetime_version": version,
        "entity_id": context.room_name,
    }
    # One timestamp for every event of a snapshot (and one clock read instead of one per event).
    kwargs["occurred_at"] = occurred_at if occurred_at is not None else utc_now()
    return kwargs


def _safe_datetime(value: str | None) -> datetime | None:
    try:
        return parse_racetime_datetime(value)
    except (ValueError, TypeError, OverflowError):
        log.debug("Unparseable racetime datetime %r", value)
        return None


def _safe_finish_time(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        duration = parse_racetime_duration(value)
    except (ValueError, TypeError, OverflowError):
        log.debug("Unparseable racetime duration %r", value)
        return None
    return format_iso_duration(duration) if duration is not None else None


def _status_event(
    old_status: str | None, current: Race, base: dict[str, Any]
) -> RacetimeRaceStatusChangedEvent:
    return RacetimeRaceStatusChangedEvent(
        **base,
        user_id=SYSTEM_USER_ID,
        old_status=old_status,
        new_status=current.status.value,
        entrant_count=current.entrants_count,
        started_at=_safe_datetime(current.started_at),
        ended_at=_safe_datetime(current.ended_at),
    )


def _index(entrants: list[Entrant]) -> dict[str, Entrant]:
    """Entrants by racetime user id; null users and empty ids skipped, first one wins."""
    index: dict[str, Entrant] = {}
    for entrant in entrants:
        user = entrant.user
        if user is not None and user.id and user.id not in index:
            index[user.id] = entrant
    return index


def _trace(entrant: Entrant) -> tuple[str, int | None, str | None]:
    """What is left of an entrant once racetime blanks its user: status, place, time."""
    return entrant.status.value, entrant.place, entrant.finish_time


def _newly_deleted(
    previous: list[Entrant], current: list[Entrant]
) -> Counter[tuple[str, int | None, str | None]]:
    """Entrants that lost their user (a deleted account) since ``previous``, by trace."""
    now = Counter(_trace(e) for e in current if e.user is None or not e.user.id)
    if not now:
        return now
    now.subtract(_trace(e) for e in previous if e.user is None or not e.user.id)
    return now


def diff_race(
    previous: Race | None,
    current: Race,
    context: RoomContext,
    *,
    linked_users: Mapping[str, int | None] = _NO_LINKS,
    first_snapshot: bool = False,
    occurred_at: datetime | None = None,
) -> list[Event]:
    """The events that take ``previous`` to ``current`` (see the module docstring)."""
    base = None
    if previous is None:
        if not first_snapshot:
            return []
        base = _room_kwargs(context, current.version, occurred_at)
        return [_status_event(None, current, base)]
    if current.version < previous.version:
        return []

    events: list[Event] = []
    race_status = current.status.value
    if previous.status.value != race_status:
        base = _room_kwargs(context, current.version, occurred_at)
        events.append(_status_event(previous.status.value, current, base))

    if previous.hide_entrants and not current.hide_entrants:
        return events

    prev_entrants = previous.entrants
    cur_entrants = current.entrants
    if not prev_entrants and not cur_entrants:
        return events

    before = _index(prev_entrants)
    seen: set[str] = set()
    matched = 0  # current entrants that were in ``before``: fewer than len(before) means leaves
    for entrant in cur_entrants:
        user = entrant.user
        if user is None or not user.id:
            continue
        user_id = user.id
        if user_id in seen:
            continue
        seen.add(user_id)
        old = before.get(user_id)
        new_status = entrant.status.value
        if old is not None:
            matched += 1
            old_status = old.status.value
            if old_status == new_status and (
                new_status != "done" or old.finish_time == entrant.finish_time
            ):
                continue
        if base is None:
            base = _room_kwargs(context, current.version, occurred_at)
        name = user.full_name or user.name
        linked = linked_users.get(user_id)
        if old is None:
            events.append(
                RacetimeEntrantJoinedEvent(
                    **base,
                    user_id=linked,
                    racetime_user_id=user_id,
                    racetime_user_name=name,
                    race_status=race_status,
                    initial_status=new_status,
                )
            )
        else:
            events.append(
                RacetimeEntrantStatusChangedEvent(
                    **base,
                    user_id=linked,
                    racetime_user_id=user_id,
                    racetime_user_name=name,
                    race_status=race_status,
                    old_status=old.status.value,
                    new_status=new_status,
                    finish_time=_safe_finish_time(entrant.finish_time),
                    place=entrant.place,
                )
            )

    if matched != len(before):
        deleted = _newly_deleted(prev_entrants, cur_entrants)
        for user_id, old in before.items():
            if user_id in seen:
                continue
            trace = _trace(old)
            if deleted[trace] > 0:
                deleted[trace] -= 1  # the account was deleted, the entrant is still there
                continue
            if base is None:
                base = _room_kwargs(context, current.version, occurred_at)
            user = old.user
            assert user is not None
            events.append(
                RacetimeEntrantLeftEvent(
                    **base,
                    user_id=linked_users.get(user_id),
                    racetime_user_id=user_id,
                    racetime_user_name=user.full_name or user.name,
                    race_status=race_status,
                    last_status=old.status.value,
                )
            )
    return events


# -- events the connection layer emits itself ------------------------------------------------


def bot_joined_event(
    race: Race, context: RoomContext, *, occurred_at: datetime | None = None
) -> RacetimeBotJoinedRaceEvent:
    """Our bot joined (or rejoined) the room; ``event_id`` is stable per race version."""
    return RacetimeBotJoinedRaceEvent(
        **_room_kwargs(context, race.version, occurred_at),
        user_id=SYSTEM_USER_ID,
        race_status=race.status.value,
        entrant_count=race.entrants_count,
    )


def bot_created_event(
    race: Race | None,
    context: RoomContext,
    goal: str | None = None,
    invitational: bool | None = None,
    *,
    occurred_at: datetime | None = None,
) -> RacetimeBotCreatedRaceEvent:
    """Our bot opened the room. ``goal``/``invitational`` default to what ``race`` says.

    Without race data (only the ``Location`` of ``startrace`` known) the event has no
    ``racetime_version`` and therefore a random ``event_id``.
    """
    if goal is None and race is not None and race.goal is not None:
        goal = race.goal.name
    if invitational is None:
        invitational = race is not None and race.status.value == "invitational"
    return RacetimeBotCreatedRaceEvent(
        **_room_kwargs(context, race.version if race is not None else None, occurred_at),
        user_id=SYSTEM_USER_ID,
        goal=goal,
        invitational=invitational,
    )


def entrant_invited_event(
    race: Race | None,
    context: RoomContext,
    racetime_user_id: str,
    name: str | None,
    linked_user_id: int | None,
    *,
    occurred_at: datetime | None = None,
) -> RacetimeEntrantInvitedEvent:
    """Our bot invited a racetime user; ``user_id`` is that user's linked id (None if unlinked).

    ``race`` is the last snapshot *before* the invitation: racetime answers the action before
    it broadcasts the change, so no snapshot version names the invitation itself. The event
    has no ``racetime_version`` and a random ``event_id`` (kept by the event log, so a
    redelivery carries the same one).
    """
    return RacetimeEntrantInvitedEvent(
        **_room_kwargs(context, None, occurred_at),
        user_id=linked_user_id,
        racetime_user_id=racetime_user_id,
        racetime_user_name=name,
        race_status=race.status.value if race is not None else None,
    )


# -- log lines -------------------------------------------------------------------------------


def describe(event: Event) -> str:
    """One human line for a room change (see each event's ``describe``), e.g.

    ``Race alttpr/cool-doge-1234 status changed: pending -> in_progress`` or
    ``Race alttpr/cool-doge-1234 entrant RacerOne#8145 status changed: ready -> in_progress``.
    """
    return event.describe()


def log_changes(events: Iterable[Event], logger: logging.Logger | None = None) -> None:
    """Log each event's :func:`describe` line at INFO (cheap when INFO is off)."""
    target = logger if logger is not None else log
    if not target.isEnabledFor(logging.INFO):
        return
    for event in events:
        target.info("%s", describe(event))


__all__ = [
    "RoomContext",
    "bot_created_event",
    "bot_joined_event",
    "describe",
    "diff_race",
    "entrant_invited_event",
    "log_changes",
]
