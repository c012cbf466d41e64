"""Players schedule their own match (issue 25): one player proposes a time, the others accept
or decline; when all accept, the time stands (the tournament's ``scheduling`` is "players") or
waits for an organizer's approval ("approval"). Organizers set deadlines per round and see the
matches still without a time after them.

Who may: the match's players, which no server role says. The service decides who they are
(``match_players``) and asks the access policy with ``entrant=`` (a player of the match; to
answer, one the proposal asks), as a race room asks for its entrants; organizers approve,
reject, set deadlines and list (``MANAGE_TOURNAMENTS``).

Every step writes the proposal, its audit entry and its event (with the acting person's user
id) in one transaction; a time that stands is set through ``MatchService.set_time``, with the
same checks and :class:`MatchRescheduledEvent` as an organizer's ``/match reschedule``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.access import AccessPolicy, Actor, Permission
from core.audit import AuditService
from core.clock import Clock
from core.errors import NotFoundError, UserFacingError
from core.event_store.event_log import DatabaseEventLog, Outbox
from core.events import (
    MatchProposalAcceptedEvent,
    MatchProposalApprovedEvent,
    MatchProposalDeclinedEvent,
    MatchProposalEvent,
    MatchProposalRejectedEvent,
    MatchProposalWithdrawnEvent,
    MatchTimeProposedEvent,
)
from core.times.parsing import show_time
from core.tournaments.deadlines import deadline_for, deadlines_of, with_deadline
from core.tournaments.match_info import MatchInfo
from core.tournaments.matches import MatchService, clean_reason, clean_round
from core.tournaments.tournaments import SCHEDULING_DEFAULT, TournamentService
from db.models import Match, MatchProposal, ProposalState, RaceStatus, Tournament
from db.queries import matches as match_queries
from db.queries import proposals as queries
from db.queries.users import get_or_create_user_by_discord_id

PENDING_MAX = 25  # proposals /schedule pending lists; it says when there are more


@dataclass(frozen=True, slots=True)
class ProposalInfo:
    """A proposal with what its messages show. Player ids are Discord ids."""

    id: int
    match_id: int
    guild_id: int
    tournament: str
    title: str
    round: str | None
    proposer: int
    proposed_at: datetime
    state: ProposalState
    needs_approval: bool
    players: tuple[int, ...]
    accepted_by: tuple[int, ...]
    replaced_by: int | None = None
    reason: str | None = None
    decided_by: int | None = None  # who declined, withdrew, approved or rejected it

    @property
    def asked(self) -> tuple[int, ...]:
        """The players whose answer it needs: everyone but the proposer."""
        return tuple(player for player in self.players if player != self.proposer)

    @property
    def waiting_for(self) -> tuple[int, ...]:
        return tuple(player for player in self.asked if player not in self.accepted_by)

    @property
    def awaiting_approval(self) -> bool:
        return self.state is ProposalState.ACCEPTED and self.needs_approval


@dataclass(frozen=True, slots=True)
class Answered:
    """What an answer did: the proposal after it, and the match when its time now stands."""

    proposal: ProposalInfo
    scheduled: MatchInfo | None = None


@dataclass(frozen=True, slots=True)
class Overdue:
    """A match without a time after its round's deadline."""

    match: MatchInfo
    deadline: datetime


@dataclass(frozen=True, slots=True)
class Deadline:
    tournament: str
    round: str
    when: datetime | None  # None: removed


# What became of a proposal that is no longer open, by its state ("... was withdrawn ...");
# replaced without a newer one: the match's time was set, or the match cancelled, meanwhile.
def _fate(proposal: ProposalInfo) -> str:
    if proposal.state is ProposalState.REPLACED and proposal.replaced_by is None:
        return f"no longer counts: {proposal.reason or 'the match changed'}."
    if proposal.state is ProposalState.REPLACED:
        return f"was replaced by a newer one (#{proposal.replaced_by}): answer that one instead."
    if proposal.state is ProposalState.WITHDRAWN:
        return f"was withdrawn by <@{proposal.proposer}>; nothing to answer."
    if proposal.state is ProposalState.DECLINED:
        return "was declined; the proposer can propose another time."
    if proposal.state is ProposalState.REJECTED:
        return "was rejected by an organizer; propose another time."
    if proposal.awaiting_approval:
        return "was accepted by every player and waits for an organizer's approval."
    return "was agreed; the match is set for that time."


def _closed_text(proposal: ProposalInfo) -> str:
    what = f"This proposal ({show_time(proposal.proposed_at)} for match #{proposal.match_id})"
    return f"{what} {_fate(proposal)}"


class ProposalService:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        event_log: DatabaseEventLog,
        audit: AuditService,
        matches: MatchService,
        tournaments: TournamentService,
        clock: Clock,
        *,
        access: AccessPolicy,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._event_log = event_log
        self._audit = audit
        self._matches = matches
        self._tournaments = tournaments
        self._clock = clock
        self._access = access

    # -- players -----------------------------------------------------------------------------

    async def propose(
        self, guild_id: int, match_id: int, when: datetime, *, actor: Actor
    ) -> tuple[ProposalInfo, ProposalInfo | None]:
        """Propose ``when`` for a match of one's own; returns the proposal and the one it
        replaced (the match's earlier proposal still in play, if any)."""
        self._matches.check_time(when)
        async with self._event_log.transaction() as outbox:
            session = outbox.session
            match, tournament = await self._match(session, guild_id, match_id)
            _check_players_schedule(tournament)  # first: the same answer for everyone
            players = await _players(session, match_id)
            await self._access.require(
                actor, Permission.PROPOSE_MATCH_TIMES, guild_id,
                entrant=actor.discord_id in players,
            )
            await self._check_proposable(session, match, tournament, when)
            proposer = _person(actor)
            old = await queries.live_proposal(session, match_id)
            if old is not None:
                # Out of play first: one live proposal per match (a unique column).
                old.live_match_id = None
                old.state = ProposalState.REPLACED.value
                await session.flush()
            proposal = MatchProposal(
                match_id=match_id, live_match_id=match_id, proposer_discord_id=proposer,
                proposed_at=when, needs_approval=_needs_approval(tournament),
            )
            session.add(proposal)
            await session.flush()
            new_id = _id(proposal)
            if old is not None:
                old.replaced_by = new_id
                await self._record(
                    session, outbox, "replace", old, match, tournament, actor, None,
                    details={"replaced_by": new_id},
                )
            info = _info(proposal, match, tournament, players)
            await self._record(
                session, outbox, "propose", proposal, match, tournament, actor,
                MatchTimeProposedEvent(
                    **await self._event_fields(session, proposal, match, actor),
                    ask=info.asked, replaces=old.id if old is not None else None,
                ),
                details={"replaces": old.id if old is not None else None},
            )
            replaced = _info(old, match, tournament, players) if old is not None else None
            return info, replaced

    async def accept(self, proposal_id: int, *, actor: Actor) -> Answered:
        """Accept a proposal one is asked about; when every player has, the time stands, or
        waits for an organizer (``approval``)."""
        async with self._event_log.transaction() as outbox:
            session = outbox.session
            proposal, match, tournament, players = await self._answerable(
                session, proposal_id, actor
            )
            person = _person(actor)
            if str(person) in proposal.accepted_by:
                waiting = _info(proposal, match, tournament, players).waiting_for
                raise UserFacingError(
                    "You already accepted this proposal; it waits for "
                    f"{_mentions(waiting)}."
                )
            if proposal.proposed_at <= self._clock.now():
                raise UserFacingError(
                    f"{show_time(proposal.proposed_at)} has passed, so this proposal can no "
                    "longer be accepted. Propose a new time with `/schedule propose`."
                )
            proposal.accepted_by = [*proposal.accepted_by, str(person)]
            info = _info(proposal, match, tournament, players)
            complete = not info.waiting_for
            scheduled = None
            if complete:
                proposal.needs_approval = _needs_approval(tournament)
                proposal.state = ProposalState.ACCEPTED.value
                if not proposal.needs_approval:
                    proposal.live_match_id = None
                    scheduled, _ = await self._matches.set_time(
                        outbox, match, tournament, proposal.proposed_at, actor=actor,
                        by_player=True, details={"proposal_id": proposal_id},
                    )
            await session.flush()
            await self._record(
                session, outbox, "accept", proposal, match, tournament, actor,
                MatchProposalAcceptedEvent(
                    **await self._event_fields(session, proposal, match, actor),
                    complete=complete, needs_approval=proposal.needs_approval,
                ),
            )
            return Answered(_info(proposal, match, tournament, players), scheduled)

    async def decline(self, proposal_id: int, *, actor: Actor) -> ProposalInfo:
        """Decline a proposal one is asked about: it ends; the proposer is told."""
        async with self._event_log.transaction() as outbox:
            session = outbox.session
            proposal, match, tournament, players = await self._answerable(
                session, proposal_id, actor
            )
            _end(proposal, ProposalState.DECLINED, actor)
            await session.flush()
            await self._record(
                session, outbox, "decline", proposal, match, tournament, actor,
                MatchProposalDeclinedEvent(
                    **await self._event_fields(session, proposal, match, actor),
                    proposer_discord_id=proposal.proposer_discord_id,
                ),
            )
            return _info(proposal, match, tournament, players)

    async def withdraw(self, guild_id: int, match_id: int, *, actor: Actor) -> ProposalInfo:
        """Withdraw one's own proposal still in play for the match."""
        async with self._event_log.transaction() as outbox:
            session = outbox.session
            match, tournament = await self._match(session, guild_id, match_id)
            players = await _players(session, match_id)
            # Only its proposer (a player when they proposed) may: no one else's to take back.
            proposal = await queries.live_proposal(session, match_id)
            if proposal is None or proposal.proposer_discord_id != actor.discord_id:
                raise UserFacingError(
                    f"You have no proposal waiting for match #{match_id}; nothing to withdraw."
                )
            _end(proposal, ProposalState.WITHDRAWN, actor)
            await session.flush()
            await self._record(
                session, outbox, "withdraw", proposal, match, tournament, actor,
                MatchProposalWithdrawnEvent(
                    **await self._event_fields(session, proposal, match, actor)
                ),
            )
            return _info(proposal, match, tournament, players)

    async def get(self, proposal_id: int) -> ProposalInfo:
        async with self._sessionmaker() as session:
            found = await queries.proposal_with_match(session, proposal_id)
            if found is None:
                raise NotFoundError(f"There is no proposal #{proposal_id}.")
            proposal, match, tournament = found
            return _info(proposal, match, tournament, await _players(session, match.id or 0))

    # -- organizers --------------------------------------------------------------------------

    async def pending(
        self, guild_id: int, tournament: str | None = None, *, actor: Actor
    ) -> tuple[list[ProposalInfo], bool]:
        """Proposals every player accepted that wait for an organizer (at most
        :data:`PENDING_MAX`, soonest first) and whether there are more."""
        await self._access.require(actor, Permission.MANAGE_TOURNAMENTS, guild_id)
        tournament_id = None
        if tournament is not None:
            tournament_id = (await self._tournaments.get(guild_id, tournament)).id
        async with self._sessionmaker() as session:
            rows = await queries.awaiting_approval(
                session, guild_id, tournament_id=tournament_id, limit=PENDING_MAX + 1
            )
            found = [
                _info(proposal, match, found, await _players(session, match.id or 0))
                for proposal, match, found in rows[:PENDING_MAX]
            ]
        return found, len(rows) > PENDING_MAX

    async def approve(
        self, guild_id: int, proposal_id: int, *, actor: Actor
    ) -> tuple[ProposalInfo, MatchInfo]:
        """Approve a proposal every player accepted: the match is set for its time."""
        await self._access.require(actor, Permission.MANAGE_TOURNAMENTS, guild_id)
        async with self._event_log.transaction() as outbox:
            session = outbox.session
            proposal, match, tournament, players = await self._awaiting(
                session, guild_id, proposal_id
            )
            _end(proposal, ProposalState.APPROVED, actor)
            scheduled, _ = await self._matches.set_time(
                outbox, match, tournament, proposal.proposed_at, actor=actor,
                details={"proposal_id": proposal_id},
            )
            await session.flush()
            await self._record(
                session, outbox, "approve", proposal, match, tournament, actor,
                MatchProposalApprovedEvent(
                    **await self._event_fields(session, proposal, match, actor)
                ),
            )
            return _info(proposal, match, tournament, players), scheduled

    async def reject(
        self, guild_id: int, proposal_id: int, reason: str, *, actor: Actor
    ) -> ProposalInfo:
        """Reject a proposal every player accepted; the proposer is told ``reason``."""
        await self._access.require(actor, Permission.MANAGE_TOURNAMENTS, guild_id)
        reason = clean_reason(reason)
        async with self._event_log.transaction() as outbox:
            session = outbox.session
            proposal, match, tournament, players = await self._awaiting(
                session, guild_id, proposal_id
            )
            _end(proposal, ProposalState.REJECTED, actor)
            proposal.reason = reason
            await session.flush()
            await self._record(
                session, outbox, "reject", proposal, match, tournament, actor,
                MatchProposalRejectedEvent(
                    **await self._event_fields(session, proposal, match, actor),
                    proposer_discord_id=proposal.proposer_discord_id, reason=reason,
                ),
                details={"reason": reason},
            )
            return _info(proposal, match, tournament, players)

    async def set_deadline(
        self, guild_id: int, tournament: str, round_: str, when: datetime | None, *,
        actor: Actor,
    ) -> Deadline:
        """By when ``round_``'s matches must have a time (``None`` removes it). Proposals
        for its matches are refused after it; ``overdue`` lists those without a time."""
        await self._access.require(actor, Permission.MANAGE_TOURNAMENTS, guild_id)
        name = clean_round(round_)
        if name is None:
            raise UserFacingError("Name the round, e.g. `Round 1`, as its matches have it.")
        found = await self._tournaments.get(guild_id, tournament, include_archived=False)
        async with self._sessionmaker.begin() as session:
            row = await session.get(Tournament, found.id)
            assert row is not None
            row.settings = with_deadline(row.settings, name, when)
            await self._audit.record(
                session, "tournament.deadline", actor_discord_id=actor.discord_id,
                guild_id=guild_id,
                details={"tournament_id": found.id, "round": name,
                         "deadline": when.isoformat() if when else None},
            )
        return Deadline(found.name, name, when)

    async def deadlines(self, guild_id: int, tournament: str) -> list[tuple[str, datetime]]:
        """The tournament's deadlines, earliest first."""
        found = await self._tournaments.get(guild_id, tournament)
        async with self._sessionmaker() as session:
            row = await session.get(Tournament, found.id)
            assert row is not None
            return sorted(deadlines_of(row.settings).values(), key=lambda item: item[1])

    async def overdue(self, guild_id: int, tournament: str, *, actor: Actor) -> list[Overdue]:
        """The tournament's matches still without a time after their round's deadline,
        longest overdue first."""
        await self._access.require(actor, Permission.MANAGE_TOURNAMENTS, guild_id)
        found = await self._tournaments.get(guild_id, tournament)
        now = self._clock.now()
        async with self._sessionmaker() as session:
            row = await session.get(Tournament, found.id)
            assert row is not None
            late = []
            for match in await queries.unscheduled_matches(session, found.id):
                deadline = deadline_for(row.settings, match.round)
                if deadline is not None and deadline < now:
                    late.append((match.id or 0, deadline))
        shown = [Overdue(await self._matches.info(guild_id, m), d) for m, d in late]
        return sorted(shown, key=lambda item: (item.deadline, item.match.id))

    # -- helpers -----------------------------------------------------------------------------

    async def _match(
        self, session: AsyncSession, guild_id: int, match_id: int
    ) -> tuple[Match, Tournament]:
        found = await match_queries.match_in_guild(session, guild_id, match_id, for_update=True)
        if found is None:
            raise NotFoundError(
                f"There is no match #{match_id} in this server. `/match list` shows the "
                "upcoming ones."
            )
        return found

    async def _check_proposable(
        self, session: AsyncSession, match: Match, tournament: Tournament, when: datetime
    ) -> None:
        await self._matches.check_movable(session, match, by_player=True)
        if match.scheduled_at == when:
            raise UserFacingError(
                f"Match #{match.id} is already set for {show_time(when)}; nothing to propose."
            )
        deadline = deadline_for(tournament.settings, match.round)
        if deadline is not None and self._clock.now() > deadline:
            raise UserFacingError(
                f"The deadline for scheduling {match.round} matches of **{tournament.name}** "
                f"was {show_time(deadline)}, so players can no longer propose a time. Ask an "
                "organizer to set it (`/match reschedule`) or to move the deadline "
                "(`/tournament deadline`)."
            )

    async def _answerable(
        self, session: AsyncSession, proposal_id: int, actor: Actor
    ) -> tuple[MatchProposal, Match, Tournament, tuple[int, ...]]:
        """An open proposal, locked, that ``actor`` is asked to answer; else why not."""
        found = await queries.proposal_with_match(session, proposal_id, for_update=True)
        if found is None:
            raise NotFoundError(f"There is no proposal #{proposal_id}.")
        proposal, match, tournament = found
        players = await _players(session, match.id or 0)
        info = _info(proposal, match, tournament, players)
        if actor.discord_id == proposal.proposer_discord_id:
            raise UserFacingError(
                "This is your own proposal: the other players answer it. `/schedule withdraw` "
                "takes it back."
            )
        await self._access.require(
            actor, Permission.PROPOSE_MATCH_TIMES, tournament.guild_id,
            entrant=actor.discord_id in info.asked,
        )
        if info.state is not ProposalState.OPEN:
            raise UserFacingError(_closed_text(info))
        if match.status != RaceStatus.SCHEDULED:
            raise UserFacingError(
                f"Match #{match.id} is {match.status.replace('_', ' ')}: its time can no "
                "longer change. Ask an organizer if it must."
            )
        return proposal, match, tournament, players

    async def _awaiting(
        self, session: AsyncSession, guild_id: int, proposal_id: int
    ) -> tuple[MatchProposal, Match, Tournament, tuple[int, ...]]:
        found = await queries.proposal_with_match(session, proposal_id, for_update=True)
        if found is None or found[2].guild_id != guild_id:
            raise NotFoundError(
                f"There is no proposal #{proposal_id} in this server. `/schedule pending` "
                "lists those waiting for approval."
            )
        proposal, match, tournament = found
        players = await _players(session, match.id or 0)
        info = _info(proposal, match, tournament, players)
        if not (info.awaiting_approval and proposal.live_match_id is not None):
            why = (
                f"it still waits for {_mentions(info.waiting_for)} to accept it."
                if info.state is ProposalState.OPEN else f"it {_fate(info)}"
            )
            raise UserFacingError(
                f"Proposal #{proposal_id} ({show_time(info.proposed_at)} for match "
                f"#{info.match_id}) does not wait for approval: {why}"
            )
        return proposal, match, tournament, players

    async def _event_fields(
        self, session: AsyncSession, proposal: MatchProposal, match: Match, actor: Actor
    ) -> dict[str, Any]:
        user = await get_or_create_user_by_discord_id(session, _person(actor))
        return {
            "match_id": match.id or 0, "tournament_id": match.tournament_id,
            "proposal_id": _id(proposal), "proposed_at": proposal.proposed_at,
            "actor_discord_id": _person(actor), "user_id": user.id,
            "occurred_at": self._clock.now(),
        }

    async def _record(
        self,
        session: AsyncSession,
        outbox: Outbox,
        step: str,
        proposal: MatchProposal,
        match: Match,
        tournament: Tournament,
        actor: Actor,
        event: MatchProposalEvent | None,
        *,
        details: dict[str, Any] | None = None,
    ) -> None:
        await self._audit.record(
            session, f"match.proposal.{step}", actor_discord_id=actor.discord_id,
            guild_id=tournament.guild_id,
            details={
                "proposal_id": proposal.id, "match_id": match.id,
                "proposed_at": proposal.proposed_at.isoformat(), "state": proposal.state,
                **(details or {}),
            },
        )
        if event is not None:
            outbox.add(event)


def _check_players_schedule(tournament: Tournament) -> None:
    mode = (tournament.settings or {}).get("scheduling", SCHEDULING_DEFAULT)
    if mode == SCHEDULING_DEFAULT:
        raise UserFacingError(
            f"In **{tournament.name}** organizers set every match's time; players do not "
            "propose one. Tell an organizer the time you agreed on."
        )


def _needs_approval(tournament: Tournament) -> bool:
    """Only "players" lets an agreed time stand by itself."""
    return bool((tournament.settings or {}).get("scheduling", SCHEDULING_DEFAULT) != "players")


def _end(proposal: MatchProposal, state: ProposalState, actor: Actor) -> None:
    proposal.state = state.value
    proposal.live_match_id = None
    proposal.decided_by_discord_id = actor.discord_id


async def _players(session: AsyncSession, match_id: int) -> tuple[int, ...]:
    return tuple(user.discord_id for _, user in await match_queries.players_of(session, match_id))


def _info(
    proposal: MatchProposal, match: Match, tournament: Tournament, players: Sequence[int]
) -> ProposalInfo:
    return ProposalInfo(
        id=_id(proposal),
        match_id=match.id or 0,
        guild_id=tournament.guild_id,
        tournament=tournament.name,
        title=match.title,
        round=match.round,
        proposer=proposal.proposer_discord_id,
        proposed_at=proposal.proposed_at,
        state=ProposalState(proposal.state),
        needs_approval=proposal.needs_approval,
        players=tuple(players),
        accepted_by=tuple(int(player) for player in proposal.accepted_by),
        replaced_by=proposal.replaced_by,
        reason=proposal.reason,
        decided_by=proposal.decided_by_discord_id,
    )


def _mentions(players: Sequence[int]) -> str:
    return ", ".join(f"<@{player}>" for player in players) or "nobody"


def _person(actor: Actor) -> int:
    assert actor.discord_id is not None
    return actor.discord_id


def _id(row: Any) -> int:
    assert row.id is not None
    return int(row.id)


__all__ = [
    "Answered", "Deadline", "Overdue", "ProposalInfo", "ProposalService", "ProposalState",
]
