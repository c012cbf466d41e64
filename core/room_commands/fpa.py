"""The fair-play agreement: an entrant calls it in the room (``!fpa``), the organizers are
told in the staff channel, and the match stays under review until an organizer clears it."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.access import AccessPolicy, Actor, Permission
from core.audit import AuditService
from core.clock import Clock
from core.errors import NotFoundError, UserFacingError
from core.event_store.event_log import DatabaseEventLog
from core.events import FpaCalledEvent
from core.tournaments.match_info import FpaNote, fpa_note, race_clock
from db.models import FpaCall
from db.queries import room_commands as queries
from db.queries.match_rooms import get_match

REASON_MAX = 300


@dataclass(frozen=True, slots=True)
class FpaRoom:
    category: str
    slug: str
    room_url: str
    tournament_id: int
    guild_id: int
    match_id: int | None = None
    live_race_id: int | None = None


def _plain(reason: str) -> str:
    """A racer's reason as the staff channel shows it: one line, bounded, and no mention that
    would ping anyone (``@`` followed by a zero-width space)."""
    return " ".join(reason.split())[:REASON_MAX].replace("@", "@\u200b")


class FairPlay:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        event_log: DatabaseEventLog,
        audit: AuditService,
        clock: Clock,
        access: AccessPolicy,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._log = event_log
        self._audit = audit
        self._clock = clock
        self._access = access

    async def call(
        self,
        room: FpaRoom,
        *,
        request_id: str,
        racetime_user_id: str,
        racetime_user_name: str,
        caller_discord_id: int | None,
        user_id: int | None,
        reason: str,
        race_seconds: float | None,
    ) -> FpaNote:
        """Record the call once per request (a repeat returns the first), with the event the
        staff channel's post comes from."""
        async with self._log.transaction() as outbox:
            session = outbox.session
            existing = await queries.fpa_call_by_request(session, request_id)
            if existing is not None:
                return fpa_note(existing)
            row = FpaCall(
                request_id=request_id, category=room.category, slug=room.slug,
                match_id=room.match_id, live_race_id=room.live_race_id,
                racetime_user_id=racetime_user_id, racetime_user_name=racetime_user_name,
                caller_discord_id=caller_discord_id, reason=_plain(reason) or None,
                race_time_seconds=race_seconds, called_at=self._clock.now(),
            )
            session.add(row)
            await session.flush()
            info = fpa_note(row)
            outbox.add(FpaCalledEvent(
                category=room.category, room_slug=room.slug, room_url=room.room_url,
                tournament_id=room.tournament_id, match_id=room.match_id,
                live_race_id=room.live_race_id, request_id=request_id,
                racetime_user_name=racetime_user_name, caller_discord_id=caller_discord_id,
                reason=info.reason, race_time=race_clock(race_seconds),
                occurred_at=row.called_at, user_id=user_id,
            ))
            await self._audit.record(
                session, "room.fpa_called", actor_discord_id=caller_discord_id,
                guild_id=room.guild_id,
                details={"room": f"{room.category}/{room.slug}", "reason": info.reason or ""},
            )
            return info

    async def clear(self, actor: Actor, guild_id: int, match_id: int) -> tuple[FpaNote, ...]:
        """Clear the match's open calls (organizers); returns the ones cleared."""
        await self._access.require(actor, Permission.MANAGE_TOURNAMENTS, guild_id)
        async with self._sessionmaker.begin() as session:
            found = await get_match(session, match_id)
            if found is None or found[1].guild_id != guild_id:
                raise NotFoundError(f"No match #{match_id} in this server.")
            rows = [row for row in await queries.fpa_calls_of_match(session, match_id)
                    if row.cleared_at is None]
            if not rows:
                raise UserFacingError(f"Match #{match_id} has no fair-play call to clear.")
            now = self._clock.now()
            for row in rows:
                row.cleared_at = now
                row.cleared_by_discord_id = actor.discord_id
            await self._audit.record(
                session, "match.fpa_cleared", actor_discord_id=actor.discord_id,
                guild_id=guild_id, details={"match_id": match_id, "calls": len(rows)},
            )
            await session.flush()
            return tuple(fpa_note(row) for row in rows)
