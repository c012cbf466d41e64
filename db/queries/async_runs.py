"""A pool's seeds and players' own runs of them (issue 26). Never commit: the service owns the
transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from db.models import AsyncPool, AsyncPoolSeed, AsyncRun, AsyncRunStatus, User
from db.queries._tables import affected_rows


async def seeds_of(session: AsyncSession, pool_id: int) -> list[AsyncPoolSeed]:
    """The pool's seeds in the order they are played."""
    result = await session.execute(
        select(AsyncPoolSeed)
        .where(col(AsyncPoolSeed.pool_id) == pool_id)
        .order_by(col(AsyncPoolSeed.position))
    )
    return list(result.scalars().all())


async def last_position(session: AsyncSession, pool_id: int) -> int:
    result = await session.execute(
        select(func.max(AsyncPoolSeed.position)).where(col(AsyncPoolSeed.pool_id) == pool_id)
    )
    return int(result.scalar() or 0)


async def seed_at(session: AsyncSession, pool_id: int, position: int) -> AsyncPoolSeed | None:
    result = await session.execute(
        select(AsyncPoolSeed).where(
            col(AsyncPoolSeed.pool_id) == pool_id, col(AsyncPoolSeed.position) == position
        )
    )
    return result.scalars().first()


async def runs_of_seed(session: AsyncSession, seed_id: int) -> int:
    result = await session.execute(
        select(func.count()).select_from(AsyncRun).where(col(AsyncRun.seed_id) == seed_id)
    )
    return int(result.scalar() or 0)


async def player_runs_in_pool(
    session: AsyncSession, pool_id: int, user_id: int
) -> list[AsyncRun]:
    """The player's runs of the pool's seeds, the latest attempt of each seed last."""
    result = await session.execute(
        select(AsyncRun)
        .where(col(AsyncRun.pool_id) == pool_id, col(AsyncRun.user_id) == user_id)
        .order_by(col(AsyncRun.seed_id), col(AsyncRun.attempt))
    )
    return list(result.scalars().all())


async def running_run(
    session: AsyncSession, tournament_id: int, user_id: int
) -> AsyncRun | None:
    """The player's run in progress in the tournament, if any."""
    result = await session.execute(
        select(AsyncRun).where(
            col(AsyncRun.running_tournament_id) == tournament_id,
            col(AsyncRun.user_id) == user_id,
        )
    )
    return result.scalars().first()


async def latest_run(
    session: AsyncSession, seed_id: int, user_id: int
) -> AsyncRun | None:
    result = await session.execute(
        select(AsyncRun)
        .where(col(AsyncRun.seed_id) == seed_id, col(AsyncRun.user_id) == user_id)
        .order_by(col(AsyncRun.attempt).desc())
    )
    return result.scalars().first()


async def overdue_runs(session: AsyncSession, now: datetime) -> list[AsyncRun]:
    """Runs still in progress whose deadline has passed."""
    result = await session.execute(
        select(AsyncRun)
        .where(
            col(AsyncRun.status) == AsyncRunStatus.STARTED.value,
            col(AsyncRun.deadline_at) <= now,
        )
        .order_by(col(AsyncRun.deadline_at), col(AsyncRun.id))
    )
    return list(result.scalars().all())


async def claim_end(
    session: AsyncSession, run_id: int, status: AsyncRunStatus, now: datetime
) -> bool:
    """End run ``run_id`` if it is still in progress: ``True`` for the one caller that did
    (a conditional update, so a submission and a timeout never both win)."""
    result = await session.execute(
        update(AsyncRun)
        .where(col(AsyncRun.id) == run_id, col(AsyncRun.status) == AsyncRunStatus.STARTED.value)
        .values(status=status.value, running_tournament_id=None, ended_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return affected_rows(result) == 1


async def submitted_runs(
    session: AsyncSession, tournament_id: int
) -> list[tuple[AsyncRun, AsyncPool, AsyncPoolSeed, User]]:
    """The tournament's runs waiting for review, oldest submission first."""
    result = await session.execute(
        select(AsyncRun, AsyncPool, AsyncPoolSeed, User)
        .join(AsyncPool, col(AsyncPool.id) == col(AsyncRun.pool_id))
        .join(AsyncPoolSeed, col(AsyncPoolSeed.id) == col(AsyncRun.seed_id))
        .join(User, col(User.id) == col(AsyncRun.user_id))
        .where(col(AsyncRun.tournament_id) == tournament_id,
               col(AsyncRun.status) == AsyncRunStatus.SUBMITTED.value)
        .order_by(col(AsyncRun.ended_at), col(AsyncRun.id))
    )
    return [(run, pool, seed, user) for run, pool, seed, user in result.all()]


async def claim_review(session: AsyncSession, run_id: int, values: dict[str, Any]) -> bool:
    """Decide run ``run_id`` if it still waits for review: ``True`` for the one caller that
    did (a conditional update, so two reviewers at once decide once)."""
    result = await session.execute(
        update(AsyncRun)
        .where(col(AsyncRun.id) == run_id,
               col(AsyncRun.status) == AsyncRunStatus.SUBMITTED.value)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return affected_rows(result) == 1
