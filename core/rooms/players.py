"""A room's players (a match's, a live race's): invited, their join requests accepted,
told what the match is.

Used when a room is opened and every time the bot joins it again. An invite is sent only to
a linked player racetime shows no entry for, and not twice by this process: racetime's
snapshot shows an invite only after the action's ``pong``. What comes back says what racetime
did: who it let in (accepted the invite, or shows in the room) and who it refused, in its own
words (e.g. a room that requires streaming refuses a player without Twitch connected).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.rooms import rules
from core.rooms.rules import MatchPlan
from db.models import User
from db.queries import match_rooms as queries
from db.types import utcnow
from racetime.connection import RoomConnection
from racetime.errors import RacetimeActionError, RacetimeError
from racetime.manager import RacetimeManager

log = logging.getLogger(__name__)


@dataclass(slots=True)
class InviteResult:
    """What inviting a room's players came to."""

    invited: tuple[str, ...] = ()  # racetime ids in the room or whose invite racetime took
    refused: dict[str, str] = field(default_factory=dict)  # racetime id -> racetime's words
    problems: list[str] = field(default_factory=list)  # what else went wrong, as text
    names: dict[str, str] = field(default_factory=dict)  # racetime id -> racetime name

    def everything(self) -> list[str]:
        """Every problem as a line, the refused invites first."""
        refused = [f"{self.names.get(r, r)}: {why}" for r, why in self.refused.items()]
        return refused + self.problems


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
        self._tried: dict[str, set[str]] = {}  # room name -> racetime ids an invite was sent to
        self._taken: dict[str, set[str]] = {}  # room name -> racetime ids racetime took in
        # room name -> racetime id -> racetime's refusal: every later look at the room
        # reports it too, until racetime shows the player in the room.
        self._refused: dict[str, dict[str, str]] = {}

    def lock(self, match_id: int) -> asyncio.Lock:
        """Held while a match room's players are set up and the outcome recorded, so two
        looks at one room (its opening, the bot joining it) never interleave."""
        return self._locks.setdefault(match_id, asyncio.Lock())

    async def set_up(self, plan: MatchPlan, connection: RoomConnection) -> InviteResult:
        """Invite and accept, then post the details and the unlinked warning once per room
        (``details_posted_at`` on the claim). Call it holding :meth:`lock`."""
        result = await self.reconcile(plan.linked, connection)
        async with self._sessionmaker() as session:
            claim = await queries.get_claim(session, plan.match_id)
        if claim is not None and claim.details_posted_at is None:
            result.problems += await self._post_details(plan, connection)
        return result

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

    async def reconcile(self, linked: list[User], connection: RoomConnection) -> InviteResult:
        """Invite ``linked`` players (with a racetime id) who are not entrants; accept those
        who asked to join."""
        try:
            async with asyncio.timeout(self._connect_timeout):
                await connection.wait_connected()
        except TimeoutError:
            return InviteResult(problems=[f"Could not reach {connection.name} to invite the "
                                          "players."])
        race = connection.last_race
        statuses = {
            e.user.id: e.status.value
            for e in (race.entrants if race is not None else [])
            if e.user is not None
        }
        tried = self._tried.setdefault(connection.name, set())
        taken = self._taken.setdefault(connection.name, set())
        refused = self._refused.setdefault(connection.name, {})
        for was_refused in list(refused):
            if was_refused in statuses:  # in the room after all (a request, an override)
                del refused[was_refused]
        result = InviteResult()
        for player in linked:
            racetime_id = player.racetime_id
            assert racetime_id is not None
            status = statuses.get(racetime_id)
            try:
                if status == "requested":
                    await connection.accept_request(racetime_id)
                    taken.add(racetime_id)
                elif status is None and racetime_id not in tried:
                    tried.add(racetime_id)
                    await self._racetime.invite(
                        connection.name, racetime_id, player.racetime_name
                    )
                    taken.add(racetime_id)
            except RacetimeActionError as error:
                refused[racetime_id] = "; ".join(error.errors) or str(error)
            except RacetimeError as error:
                tried.discard(racetime_id)  # not delivered: the next reconcile tries again
                result.problems.append(f"{player.racetime_name or racetime_id}: {error}")
        linked_ids = {p.racetime_id for p in linked}
        for player in linked:
            if player.racetime_id in refused:
                result.refused[player.racetime_id] = refused[player.racetime_id]
                result.names[player.racetime_id] = player.racetime_name or player.racetime_id
        result.invited = tuple(sorted(
            racetime_id for racetime_id in linked_ids
            if racetime_id is not None and racetime_id not in result.refused
            and (racetime_id in taken or racetime_id in statuses)
        ))
        for problem in result.problems:  # refusals are logged by the connection as they come
            log.warning("Room %s: %s", connection.name, problem)
        return result

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
