"""A room's players (a match's, a live race's): invited, their join requests accepted,
told what the match is.

Used when a room is opened and every time the bot joins it again. An invite is sent only to
a linked player racetime shows no entry for, and not twice by this process: racetime's
snapshot shows an invite only after the action's ``pong``.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.services import match_room_rules as rules
from core.services.match_room_rules import MatchPlan
from db.models import User
from db.queries import match_rooms as queries
from db.types import utcnow
from racetime.connection import RoomConnection
from racetime.errors import RacetimeActionError, RacetimeError
from racetime.manager import RacetimeManager

log = logging.getLogger(__name__)


class RoomPlayers:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        racetime: RacetimeManager,
        *,
        connect_timeout: float = 10.0,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._racetime = racetime
        self._connect_timeout = connect_timeout
        self._locks: dict[int, asyncio.Lock] = {}
        self._invited: dict[str, set[str]] = {}  # room name -> racetime ids invited

    async def set_up(
        self, plan: MatchPlan, connection: RoomConnection
    ) -> tuple[tuple[str, ...], list[str]]:
        """Invite and accept, then post the details and the unlinked warning once per room
        (``details_posted_at`` on the claim). Returns (invited so far, problems)."""
        async with self._locks.setdefault(plan.match_id, asyncio.Lock()):
            problems = await self.reconcile(plan.linked, connection)
            async with self._sessionmaker() as session:
                claim = await queries.get_claim(session, plan.match_id)
            if claim is not None and claim.details_posted_at is None:
                problems += await self._post_details(plan, connection)
        return tuple(sorted(self._invited.get(connection.name, set()))), problems

    async def _post_details(self, plan: MatchPlan, connection: RoomConnection) -> list[str]:
        unlinked = len(rules.unlinked(plan.players))
        try:
            await connection.send_message(
                rules.details_message(plan.match, plan.tournament, plan.players)
            )
            if unlinked:
                await connection.send_message(rules.unlinked_warning(unlinked))
        except RacetimeError as error:
            return [f"Could not post the match details: {error}"]
        async with self._sessionmaker.begin() as session:
            row = await queries.get_claim(session, plan.match_id)
            if row is not None:
                row.details_posted_at = utcnow()
        return []

    async def reconcile(self, linked: list[User], connection: RoomConnection) -> list[str]:
        """Invite ``linked`` players (with a racetime id) who are not entrants; accept those
        who asked to join. Returns the problems."""
        try:
            async with asyncio.timeout(self._connect_timeout):
                await connection.wait_connected()
        except TimeoutError:
            return [f"Could not reach {connection.name} to invite the players."]
        race = connection.last_race
        statuses = {
            e.user.id: e.status.value
            for e in (race.entrants if race is not None else [])
            if e.user is not None
        }
        sent = self._invited.setdefault(connection.name, set())
        problems: list[str] = []
        for player in linked:
            racetime_id = player.racetime_id
            assert racetime_id is not None
            status = statuses.get(racetime_id)
            try:
                if status == "requested":
                    await connection.accept_request(racetime_id)
                elif status is None and racetime_id not in sent:
                    sent.add(racetime_id)
                    await self._racetime.invite(
                        connection.name, racetime_id, player.racetime_name
                    )
            except RacetimeActionError as error:
                problems.append(f"{player.racetime_name or racetime_id}: {error}")
            except RacetimeError as error:
                sent.discard(racetime_id)  # not delivered: the next reconcile tries again
                problems.append(f"{player.racetime_name or racetime_id}: {error}")
        for problem in problems:
            log.warning("Room %s: %s", connection.name, problem)
        return problems

    async def accept_request(
        self, linked: list[User], room_name: str, racetime_user_id: str
    ) -> None:
        """Accept a join request if it comes from one of the ``linked`` players."""
        if not any(p.racetime_id == racetime_user_id for p in linked):
            return
        try:
            connection = await self._racetime.room(room_name)
            await connection.accept_request(racetime_user_id)
        except RacetimeActionError as error:
            # Accepted already (a reconcile got there first) or the request was withdrawn.
            log.info("Room %s: request of %s not accepted: %s",
                     room_name, racetime_user_id, error)
