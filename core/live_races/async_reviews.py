"""Review of players' own async runs (issue 26): approve, reject with a reason, or adjust
the time (which approves it, keeping the player's time).

Who reviews: the server's organizers (:attr:`Permission.REVIEW_RUNS`) and members with the
async tournament's reviewer role; never their own run. Exactly once: a decision is a
conditional update from ``submitted``, so two reviewers at once decide once; the loser is
told who was first. Every decision is audited and an event on the dispatcher in its
transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.access import AccessPolicy, Actor, Permission
from core.audit import AuditService
from core.clock import Clock
from core.errors import NotFoundError, PermissionDeniedError, UserFacingError
from core.event_store.event_log import DatabaseEventLog
from core.events.async_runs import (
    AsyncRunAdjustedEvent,
    AsyncRunApprovedEvent,
    AsyncRunRejectedEvent,
    AsyncRunReviewedEvent,
)
from core.live_races.async_run_values import parse_duration, written_duration
from core.live_races.async_tournaments import AsyncTournamentService
from db.models import AsyncPool, AsyncPoolSeed, AsyncRun, AsyncRunStatus, AsyncTournament, User
from db.queries import async_runs as queries
from db.queries.users import get_or_create_user_by_discord_id

REASON_MAX = 500


@dataclass(frozen=True, slots=True)
class QueuedRun:
    """A submitted run waiting for review."""

    id: int
    pool: str
    position: int
    attempt: int
    player_discord_id: int
    finish_time: timedelta
    vod_url: str | None
    comment: str | None
    submitted_at: datetime | None


@dataclass(frozen=True, slots=True)
class Decision:
    """A review's outcome, as the reviewer and the player are told."""

    run_id: int
    tournament: str
    pool: str
    position: int
    player_discord_id: int
    status: str  # approved | rejected
    finish_time: timedelta | None
    original_time: timedelta | None  # when adjusted
    reason: str | None

    def for_player(self) -> str:
        run = f"Your run of seed {self.position} of **{self.tournament}** · **{self.pool}**"
        if self.status == AsyncRunStatus.REJECTED.value:
            return f"{run} was rejected: {self.reason}"
        assert self.finish_time is not None
        if self.original_time is not None:
            why = f" ({self.reason})" if self.reason else ""
            return (
                f"{run} was approved with its time adjusted from "
                f"{written_duration(self.original_time)} to "
                f"{written_duration(self.finish_time)}{why}."
            )
        return f"{run} was approved in {written_duration(self.finish_time)}."


class AsyncReviewService:
    """Reviewer roles (organizers) and the review of submitted runs (reviewers)."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        event_log: DatabaseEventLog,
        audit: AuditService,
        tournaments: AsyncTournamentService,
        clock: Clock,
        *,
        access: AccessPolicy,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._event_log = event_log
        self._audit = audit
        self._tournaments = tournaments
        self._clock = clock
        self._access = access

    async def set_reviewer_role(
        self, guild_id: int, tournament: str, role_id: int | None, *, actor: Actor
    ) -> str:
        """Members with ``role_id`` review the tournament's runs (``None``: organizers only)."""
        await self._access.require(actor, Permission.MANAGE_TOURNAMENTS, guild_id)
        async with self._sessionmaker.begin() as session:
            found = await self._tournaments.find(session, guild_id, tournament)
            found.reviewer_role_id = role_id
            found.updated_at = self._clock.now()
            await self._audit.record(
                session, "async.reviewers", actor_discord_id=actor.discord_id,
                guild_id=guild_id,
                details={"tournament_id": found.id,
                         "role_id": str(role_id) if role_id is not None else None},
            )
            return found.name

    async def queue(
        self, guild_id: int, tournament: str, *, actor: Actor
    ) -> tuple[str, list[QueuedRun]]:
        """The tournament's submitted runs, oldest submission first (the reviewer's own too,
        marked by the cog: they just can't decide them)."""
        async with self._sessionmaker() as session:
            found = await self._tournaments.find(session, guild_id, tournament)
            await self._require_reviewer(actor, found)
            queued = []
            for run, pool, seed, user in await queries.submitted_runs(session, _id(found)):
                assert run.id is not None and run.finish_time is not None
                assert user.discord_id is not None
                queued.append(QueuedRun(
                    run.id, pool.name, seed.position, run.attempt, user.discord_id,
                    run.finish_time, run.vod_url, run.comment, run.ended_at,
                ))
            return found.name, queued

    async def approve(self, guild_id: int, run_id: int, *, actor: Actor) -> Decision:
        return await self._decide(guild_id, run_id, AsyncRunStatus.APPROVED, actor=actor)

    async def reject(
        self, guild_id: int, run_id: int, reason: str, *, actor: Actor
    ) -> Decision:
        text = _reason(reason)
        if text is None:
            raise UserFacingError("A rejection needs a reason: the player is told it.")
        return await self._decide(
            guild_id, run_id, AsyncRunStatus.REJECTED, actor=actor, reason=text
        )

    async def adjust(
        self, guild_id: int, run_id: int, time: str, *, actor: Actor, reason: str | None = None
    ) -> Decision:
        """Approve the run with a corrected time, keeping the player's."""
        corrected = parse_duration(time)
        return await self._decide(
            guild_id, run_id, AsyncRunStatus.APPROVED, actor=actor, reason=_reason(reason),
            corrected=corrected,
        )

    # -- helpers -----------------------------------------------------------------------------

    async def _require_reviewer(self, actor: Actor, found: AsyncTournament) -> None:
        if await self._access.allows(actor, Permission.REVIEW_RUNS, found.guild_id):
            return
        role = found.reviewer_role_id
        if (
            role is not None and actor.is_person and actor.guild_id == found.guild_id
            and role in actor.role_ids
        ):
            return
        raise PermissionDeniedError(
            f"Only **{found.name}**'s reviewers (its reviewer role) and the server's "
            "organizers can review its runs."
        )

    async def _decide(
        self, guild_id: int, run_id: int, status: AsyncRunStatus, *, actor: Actor,
        reason: str | None = None, corrected: timedelta | None = None,
    ) -> Decision:
        assert actor.discord_id is not None
        now = self._clock.now()
        async with self._event_log.transaction() as outbox:
            session = outbox.session
            run = await session.get(AsyncRun, run_id)
            found = await session.get(AsyncTournament, run.tournament_id) if run else None
            if run is None or found is None or found.guild_id != guild_id:
                raise NotFoundError(
                    f"There is no async run #{run_id} here. `/async review queue` lists them."
                )
            await self._require_reviewer(actor, found)
            user = await session.get(User, run.user_id)
            pool = await session.get(AsyncPool, run.pool_id)
            seed = await session.get(AsyncPoolSeed, run.seed_id)
            assert user is not None and pool is not None and seed is not None
            assert user.discord_id is not None
            if user.discord_id == actor.discord_id:
                raise UserFacingError("You can't review your own run: another reviewer will.")
            if run.status != AsyncRunStatus.SUBMITTED.value:
                raise UserFacingError(_not_waiting(run))
            original = run.finish_time
            values: dict[str, object] = {
                "status": status.value, "reviewer_discord_id": actor.discord_id,
                "reviewed_at": now, "review_reason": reason, "updated_at": now,
            }
            if corrected is not None:
                values |= {"finish_time": corrected, "original_finish_time": original}
            if not await queries.claim_review(session, run_id, values):
                await session.refresh(run)
                raise UserFacingError(_not_waiting(run))
            await session.refresh(run)
            assert original is not None
            fields: dict[str, Any] = {
                "run_id": run_id, "tournament_id": run.tournament_id, "pool_id": run.pool_id,
                "seed_id": run.seed_id, "seed_position": seed.position, "attempt": run.attempt,
                "player_discord_id": user.discord_id,
                "user_id": _id(await get_or_create_user_by_discord_id(session, actor.discord_id)),
                "occurred_at": now, "reviewer_discord_id": actor.discord_id, "reason": reason,
            }
            event: AsyncRunReviewedEvent
            if status is AsyncRunStatus.REJECTED:
                step, event = "reject", AsyncRunRejectedEvent(**fields)
            elif corrected is not None:
                step, event = "adjust", AsyncRunAdjustedEvent(
                    **fields, finish_seconds=_secs(corrected), original_seconds=_secs(original)
                )
            else:
                step, event = "approve", AsyncRunApprovedEvent(
                    **fields, finish_seconds=_secs(original)
                )
            await self._audit.record(
                session, f"async.run.{step}", actor_discord_id=actor.discord_id,
                guild_id=guild_id,
                details={"tournament_id": found.id, "run_id": run_id, "status": run.status,
                         "reason": reason,
                         "finish_seconds": _secs(run.finish_time) if run.finish_time else None,
                         "original_seconds": _secs(original) if corrected else None},
            )
            outbox.add(event)
            return Decision(
                run_id, found.name, pool.name, seed.position, user.discord_id, run.status,
                run.finish_time, original if corrected is not None else None, reason,
            )


def _not_waiting(run: AsyncRun) -> str:
    if run.status in (AsyncRunStatus.APPROVED.value, AsyncRunStatus.REJECTED.value):
        return (f"Async run #{run.id} was already {run.status} by <@{run.reviewer_discord_id}>.")
    return f"Async run #{run.id} is {run.status}, not waiting for review."


def _reason(text: str | None) -> str | None:
    found = (text or "").strip() or None
    if found is not None and len(found) > REASON_MAX:
        raise UserFacingError(f"A reason can be at most {REASON_MAX} characters.")
    return found


def _secs(duration: timedelta) -> int:
    return int(duration.total_seconds())


def _id(row: object) -> int:
    found = getattr(row, "id", None)
    assert found is not None
    return int(found)
