"""Proposed match times. Never commit: the service owns the transaction."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from db.models import Match, MatchProposal, ProposalState, RaceStatus, Tournament
from db.types import utcnow


async def proposal_with_match(
    session: AsyncSession, proposal_id: int, *, for_update: bool = False
) -> tuple[MatchProposal, Match, Tournament] | None:
    """The proposal, its match and tournament; ``for_update`` locks the match, then the
    proposal (PostgreSQL), in the order every change of a match's proposals takes them."""
    statement = (
        select(MatchProposal, Match, Tournament)
        .join(Match, col(Match.id) == col(MatchProposal.match_id))
        .join(Tournament, col(Tournament.id) == col(Match.tournament_id))
        .where(col(MatchProposal.id) == proposal_id)
    )
    if for_update:
        statement = statement.with_for_update(of=[Match, MatchProposal])
    row = (await session.execute(statement)).first()
    return (row[0], row[1], row[2]) if row is not None else None


async def live_proposal(session: AsyncSession, match_id: int) -> MatchProposal | None:
    """The match's proposal still in play (open, or waiting for an organizer), if any."""
    result = await session.execute(
        select(MatchProposal).where(col(MatchProposal.live_match_id) == match_id)
    )
    return result.scalar_one_or_none()


async def awaiting_approval(
    session: AsyncSession, guild_id: int, *, tournament_id: int | None = None, limit: int = 26
) -> list[tuple[MatchProposal, Match, Tournament]]:
    """Proposals every player accepted that wait for an organizer, soonest time first."""
    statement = (
        select(MatchProposal, Match, Tournament)
        .join(Match, col(Match.id) == col(MatchProposal.match_id))
        .join(Tournament, col(Tournament.id) == col(Match.tournament_id))
        .where(
            col(Tournament.guild_id) == guild_id,
            col(MatchProposal.state) == ProposalState.ACCEPTED.value,
            col(MatchProposal.live_match_id).is_not(None),
        )
    )
    if tournament_id is not None:
        statement = statement.where(col(Match.tournament_id) == tournament_id)
    result = await session.execute(
        statement.order_by(col(MatchProposal.proposed_at), col(MatchProposal.id)).limit(limit)
    )
    return [(proposal, match, tournament) for proposal, match, tournament in result.all()]


async def unscheduled_matches(session: AsyncSession, tournament_id: int) -> list[Match]:
    """The tournament's matches still to be played that have no time, oldest first."""
    result = await session.execute(
        select(Match)
        .where(
            col(Match.tournament_id) == tournament_id,
            col(Match.status) == RaceStatus.SCHEDULED.value,
            col(Match.scheduled_at).is_(None),
        )
        .order_by(col(Match.id))
    )
    return list(result.scalars())


async def overtake_live_proposal(
    session: AsyncSession, match_id: int, reason: str
) -> int | None:
    """End the match's proposal still in play, if any, because something else decided its
    time (``reason``); returns its id."""
    result = await session.execute(
        update(MatchProposal)
        .where(col(MatchProposal.live_match_id) == match_id)
        .values(state=ProposalState.REPLACED.value, live_match_id=None, reason=reason,
                updated_at=utcnow())
        .returning(col(MatchProposal.id))
    )
    return result.scalar_one_or_none()
