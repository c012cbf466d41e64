"""Players' own runs of an async tournament's pool seeds (issue 26).

Organizers give a pool its seeds (a permalink or text, with an optional par time). A
participant previews their next seed (the first of the pool, in order, they have not played,
or one an organizer allowed again), starts it, and submits a time with a VOD or gives up; a
run not submitted within the tournament's run limit becomes a forfeit, by the sweep
(:class:`AsyncRunSweeper`) or as soon as the player submits too late.

Exactly once: a run is a row unique per seed, player and attempt, and a player's run in
progress holds ``running_tournament_id`` (unique with the player), so a double click starts
one run; a run ends by a conditional update, so a submission and a timeout never both win.
Every step is audited and an event on the dispatcher in its transaction. Review and
leaderboards (approved, rejected) come later on the same rows.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.access import AccessPolicy, Actor, Permission
from core.audit import AuditService
from core.clock import Clock
from core.errors import NotFoundError, PermissionDeniedError, UserFacingError
from core.event_store.event_log import DatabaseEventLog, Outbox
from core.events.async_runs import (
    AsyncRunEvent,
    AsyncRunForfeitedEvent,
    AsyncRunStartedEvent,
    AsyncRunSubmittedEvent,
    AsyncRunTimedOutEvent,
)
from core.identity import SYSTEM_USER_ID
from core.live_races.async_run_values import (
    GRACE,
    RUN_LIMIT_MAX_HOURS,
    SEED_MAX,
    RunInfo,
    SeedInfo,
    StartBoard,
    StartPreview,
    Submission,
    parse_duration,
    submission,
    written_duration,
)
from core.live_races.async_tournaments import AsyncTournamentService
from db.models import AsyncPool, AsyncPoolSeed, AsyncRun, AsyncRunStatus, AsyncTournament, User
from db.queries import async_runs as queries
from db.queries import async_tournaments as tournament_queries
from db.queries.users import get_or_create_user_by_discord_id

log = logging.getLogger(__name__)

class AsyncRunService:
    """Seeds of pools (organizers) and players' own runs of them (participants)."""

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

    # -- organizers --------------------------------------------------------------------------

    async def add_seed(
        self, guild_id: int, tournament: str, pool: str, seed: str, *, actor: Actor,
        par: str | None = None,
    ) -> tuple[str, SeedInfo]:
        """Add a seed at the end of the pool; returns the pool's name and the seed."""
        await self._access.require(actor, Permission.MANAGE_TOURNAMENTS, guild_id)
        text = seed.strip()
        if not text:
            raise UserFacingError("A seed needs a permalink or its text.")
        if len(text) > SEED_MAX:
            raise UserFacingError(f"A seed can be at most {SEED_MAX} characters.")
        par_time = parse_duration(par) if par else None
        async with self._sessionmaker.begin() as session:
            found, pool_row = await self._pool(session, guild_id, tournament, pool, open_only=True)
            pool_id = _id(pool_row)
            row = AsyncPoolSeed(
                pool_id=pool_id, position=await queries.last_position(session, pool_id) + 1,
                seed=text, par_time=par_time, added_by_discord_id=actor.discord_id,
            )
            try:
                async with session.begin_nested():
                    session.add(row)
                    await session.flush()
            except IntegrityError:
                raise UserFacingError(
                    "Another seed was added to this pool at the same moment; try again."
                ) from None
            await self._audit.record(
                session, "async.seed.add", actor_discord_id=actor.discord_id, guild_id=guild_id,
                details={"tournament_id": found.id, "pool_id": pool_id, "seed_id": row.id,
                         "position": row.position,
                         "par_seconds": _seconds(par_time)},
            )
            return pool_row.name, SeedInfo(_id(row), row.position, row.seed, par_time, 0)

    async def seeds(
        self, guild_id: int, tournament: str, pool: str, *, actor: Actor
    ) -> tuple[str, str, list[SeedInfo]]:
        """The tournament's and pool's names and the pool's seeds (organizers: seeds are
        secret until a player starts one)."""
        await self._access.require(actor, Permission.MANAGE_TOURNAMENTS, guild_id)
        async with self._sessionmaker() as session:
            found, pool_row = await self._pool(session, guild_id, tournament, pool)
            shown = [
                SeedInfo(_id(row), row.position, row.seed, row.par_time,
                         await queries.runs_of_seed(session, _id(row)))
                for row in await queries.seeds_of(session, _id(pool_row))
            ]
            return found.name, pool_row.name, shown

    async def remove_seed(
        self, guild_id: int, tournament: str, pool: str, position: int, *, actor: Actor
    ) -> str:
        """Remove a seed nobody has played; returns the pool's name."""
        await self._access.require(actor, Permission.MANAGE_TOURNAMENTS, guild_id)
        async with self._sessionmaker.begin() as session:
            found, pool_row = await self._pool(session, guild_id, tournament, pool, open_only=True)
            row = await self._seed(session, pool_row, position)
            if await queries.runs_of_seed(session, _id(row)):
                raise UserFacingError(
                    f"Seed {position} of **{pool_row.name}** has runs, so it stays: its runs "
                    "would lose their seed."
                )
            await session.delete(row)
            await self._audit.record(
                session, "async.seed.remove", actor_discord_id=actor.discord_id,
                guild_id=guild_id,
                details={"tournament_id": found.id, "pool_id": pool_row.id, "seed_id": row.id,
                         "position": position},
            )
            return pool_row.name

    async def allow_reattempt(
        self, guild_id: int, tournament: str, discord_id: int, pool: str, position: int, *,
        actor: Actor,
    ) -> str:
        """Let a player play seed ``position`` again (their next start picks it); returns the
        pool's name."""
        await self._access.require(actor, Permission.MANAGE_TOURNAMENTS, guild_id)
        async with self._sessionmaker.begin() as session:
            found, pool_row = await self._pool(session, guild_id, tournament, pool, open_only=True)
            row = await self._seed(session, pool_row, position)
            user = await get_or_create_user_by_discord_id(session, discord_id)
            last = await queries.latest_run(session, _id(row), _id(user))
            if last is None:
                raise UserFacingError(
                    f"<@{discord_id}> has not played seed {position} of **{pool_row.name}**; "
                    "they can start it as it is."
                )
            if last.status == AsyncRunStatus.STARTED.value:
                raise UserFacingError(
                    f"<@{discord_id}> is playing seed {position} right now; allow a re-attempt "
                    "once the run is over."
                )
            if last.reattempt_allowed:
                raise UserFacingError(
                    f"<@{discord_id}> may already play seed {position} of **{pool_row.name}** "
                    "again."
                )
            last.reattempt_allowed = True
            last.updated_at = self._clock.now()
            await self._audit.record(
                session, "async.run.reattempt", actor_discord_id=actor.discord_id,
                guild_id=guild_id,
                details={"tournament_id": found.id, "run_id": last.id, "seed_id": row.id,
                         "discord_id": str(discord_id)},
            )
            return pool_row.name

    async def set_run_limit(
        self, guild_id: int, tournament: str, hours: int, *, actor: Actor
    ) -> str:
        """How many hours a player has to submit a run they start from now on."""
        await self._access.require(actor, Permission.MANAGE_TOURNAMENTS, guild_id)
        if not 1 <= hours <= RUN_LIMIT_MAX_HOURS:
            raise UserFacingError(
                f"A run limit is between 1 and {RUN_LIMIT_MAX_HOURS} hours."
            )
        async with self._sessionmaker.begin() as session:
            found = await self._tournaments.find(session, guild_id, tournament, open_only=True)
            found.run_limit_hours = hours
            await self._audit.record(
                session, "async.run_limit", actor_discord_id=actor.discord_id,
                guild_id=guild_id, details={"tournament_id": found.id, "hours": hours},
            )
            return found.name

    # -- players -----------------------------------------------------------------------------

    async def preview(
        self, guild_id: int, tournament: str, pool: str, *, actor: Actor
    ) -> StartPreview:
        """The player's next seed of the pool, refused with the reason when there is none."""
        await self._access.require(actor, Permission.USE, guild_id)
        with contextlib.suppress(_TooLate):  # a run past its limit ends: the next may start
            await self._check_in_time(guild_id, tournament, actor, self._clock.now())
        async with self._sessionmaker() as session:
            found, pool_row = await self._pool(session, guild_id, tournament, pool, open_only=True)
            user = await self._participant(session, found, pool_row, actor)
            return await self._next(session, found, pool_row, user)

    async def start(
        self, guild_id: int, preview: StartPreview, *, actor: Actor
    ) -> RunInfo:
        """Start the previewed run: recorded once, whatever the clicks."""
        await self._access.require(actor, Permission.USE, guild_id)
        now = self._clock.now()
        async with self._event_log.transaction() as outbox:
            session = outbox.session
            found = await self._tournaments.find(
                session, guild_id, preview.tournament, open_only=True
            )
            pool_row = await self._tournaments.find_pool(session, found, preview.pool)
            user = await self._participant(session, found, pool_row, actor)
            current = await self._next(session, found, pool_row, user)
            if (current.seed_id, current.attempt) != (preview.seed_id, preview.attempt):
                raise UserFacingError(
                    f"Seed {preview.position} of **{pool_row.name}** was already started. "
                    "`/async start` shows your next seed."
                )
            seed = await session.get(AsyncPoolSeed, preview.seed_id)
            assert seed is not None
            run = AsyncRun(
                tournament_id=_id(found), pool_id=_id(pool_row), seed_id=_id(seed),
                user_id=_id(user), attempt=preview.attempt, running_tournament_id=_id(found),
                started_at=now, deadline_at=now + timedelta(hours=found.run_limit_hours),
            )
            try:
                async with session.begin_nested():
                    session.add(run)
                    await session.flush()
            except IntegrityError:
                raise UserFacingError(
                    "This run was already started (or you have another in progress): "
                    "`/async submit` or `/async forfeit` it first."
                ) from None
            await self._record(
                session, outbox, "start", run, found, seed, actor,
                AsyncRunStartedEvent(**self._fields(run, seed, user, actor)),
            )
            return _run_info(run, found, pool_row, seed)

    async def submit(
        self, guild_id: int, tournament: str, time: str, vod: str, *, actor: Actor,
        comment: str | None = None,
    ) -> RunInfo:
        """Submit the player's run in progress with its time and VOD."""
        await self._access.require(actor, Permission.USE, guild_id)
        entry = submission(time, vod, comment)
        now = self._clock.now()
        await self._check_in_time(guild_id, tournament, actor, now)
        async with self._event_log.transaction() as outbox:
            found, run, seed, user = await self._running(
                outbox.session, guild_id, tournament, actor
            )
            return await self._submit(outbox, run, found, seed, user, entry, actor, now)

    async def forfeit(self, guild_id: int, tournament: str, *, actor: Actor) -> RunInfo:
        """Give up the player's run in progress."""
        await self._access.require(actor, Permission.USE, guild_id)
        now = self._clock.now()
        await self._check_in_time(guild_id, tournament, actor, now)
        async with self._event_log.transaction() as outbox:
            found, run, seed, user = await self._running(
                outbox.session, guild_id, tournament, actor
            )
            return await self._forfeit(outbox, run, found, seed, user, actor, now)

    # -- players, by the buttons RaceDesk posts and DMs --------------------------------------

    async def start_board(self, guild_id: int, tournament: str, *, actor: Actor) -> StartBoard:
        """The tournament and its pools, for the message with a "Start a run" button per pool
        that organizers post (each button names the ids: :meth:`preview_pool`)."""
        await self._access.require(actor, Permission.MANAGE_TOURNAMENTS, guild_id)
        async with self._sessionmaker() as session:
            found = await self._tournaments.find(session, guild_id, tournament)
            pools = await tournament_queries.pools_of(session, _id(found))
        if not found.is_active:
            raise UserFacingError(f"**{found.name}** is closed: no run starts any more.")
        if not pools:
            raise UserFacingError(
                f"**{found.name}** has no pools yet: `/async pool add` adds one."
            )
        return StartBoard(
            tournament_id=_id(found), tournament=found.name, limit_hours=found.run_limit_hours,
            pools=tuple((_id(pool), pool.name) for pool in pools),
        )

    async def preview_pool(
        self, tournament_id: int, pool_id: int, *, actor: Actor
    ) -> StartPreview:
        """:meth:`preview` for a "Start a run" button, which names the tournament and the
        pool by id: they may have closed or gone since it was posted."""
        async with self._sessionmaker() as session:
            found = await session.get(AsyncTournament, tournament_id)
            pool_row = await session.get(AsyncPool, pool_id)
        if found is None:
            raise NotFoundError("This async tournament no longer exists.")
        await self._access.require(actor, Permission.USE, found.guild_id)
        if not found.is_active:
            raise UserFacingError(f"**{found.name}** is closed: no run starts any more.")
        if pool_row is None or pool_row.tournament_id != found.id:
            raise NotFoundError(
                f"This pool is no longer part of **{found.name}**. `/async pool list` shows "
                "its pools."
            )
        return await self.preview(found.guild_id, found.name, pool_row.name, actor=actor)

    async def run_in_progress(self, run_id: int, *, actor: Actor) -> RunInfo:
        """The actor's own run ``run_id`` while it is in progress (the DM's Submit and Forfeit
        buttons ask before opening their form or confirmation); what became of it otherwise."""
        await self._own_run(run_id, actor, self._clock.now())
        async with self._sessionmaker() as session:
            run, found, seed, _ = await _run_rows(session, run_id)
            await self._require_running(session, run, found, seed)
            return await _info(session, run, found, seed)

    async def submit_run(
        self, run_id: int, time: str, vod: str, *, actor: Actor, comment: str | None = None
    ) -> RunInfo:
        """:meth:`submit` for run ``run_id`` (the DM's Submit button): the actor's own, in
        progress; once, however often it is sent."""
        now = self._clock.now()
        await self._own_run(run_id, actor, now)
        async with self._event_log.transaction() as outbox:
            run, found, seed, user = await _run_rows(outbox.session, run_id)
            await self._require_running(outbox.session, run, found, seed)
            entry = submission(time, vod, comment)
            return await self._submit(outbox, run, found, seed, user, entry, actor, now)

    async def forfeit_run(self, run_id: int, *, actor: Actor) -> RunInfo:
        """:meth:`forfeit` for run ``run_id`` (the DM's Forfeit button, confirmed)."""
        now = self._clock.now()
        await self._own_run(run_id, actor, now)
        async with self._event_log.transaction() as outbox:
            run, found, seed, user = await _run_rows(outbox.session, run_id)
            await self._require_running(outbox.session, run, found, seed)
            return await self._forfeit(outbox, run, found, seed, user, actor, now)

    # -- the run limit -----------------------------------------------------------------------

    async def sweep(self) -> int:
        """Forfeit every run past its deadline (once each); how many this call did."""
        now = self._clock.now()
        async with self._sessionmaker() as session:
            overdue = [_id(run) for run in await queries.overdue_runs(session, now)]
        done = 0
        for run_id in overdue:
            async with self._event_log.transaction() as outbox:
                session = outbox.session
                run = await session.get(AsyncRun, run_id)
                if run is None or run.status != AsyncRunStatus.STARTED.value:
                    continue
                found = await session.get(AsyncTournament, run.tournament_id)
                seed = await session.get(AsyncPoolSeed, run.seed_id)
                user = await session.get(User, run.user_id)
                assert found is not None and seed is not None and user is not None
                done += await self._time_out(session, outbox, run, found, seed, user, now)
        return done

    # -- helpers -----------------------------------------------------------------------------

    async def _check_in_time(
        self, guild_id: int, tournament: str, actor: Actor, now: datetime
    ) -> None:
        """The player's run in progress, if past its limit, becomes a forfeit now (it commits)
        and they are told, without waiting for the sweep."""
        assert actor.discord_id is not None
        too_late: _TooLate | None = None
        async with self._event_log.transaction() as outbox:
            session = outbox.session
            found = await self._tournaments.find(session, guild_id, tournament)
            user = await get_or_create_user_by_discord_id(session, actor.discord_id)
            run = await queries.running_run(session, _id(found), _id(user))
            if run is None:
                return
            seed = await session.get(AsyncPoolSeed, run.seed_id)
            assert seed is not None
            too_late = await self._late(outbox, run, found, seed, user, now)
        if too_late is not None:
            raise too_late

    async def _expire(self, run_id: int, now: datetime) -> None:
        """:meth:`_check_in_time` for run ``run_id``."""
        async with self._event_log.transaction() as outbox:
            run, found, seed, user = await _run_rows(outbox.session, run_id)
            too_late = await self._late(outbox, run, found, seed, user, now)
        if too_late is not None:
            raise too_late

    async def _late(
        self, outbox: Outbox, run: AsyncRun, found: AsyncTournament, seed: AsyncPoolSeed,
        user: User, now: datetime,
    ) -> _TooLate | None:
        """Time ``run`` out if it is in progress past its deadline: what the player is told."""
        if run.status != AsyncRunStatus.STARTED.value or run.deadline_at > now:
            return None
        if not await self._time_out(outbox.session, outbox, run, found, seed, user, now):
            return None
        return _TooLate(found.name, found.run_limit_hours)

    async def _time_out(
        self, session: AsyncSession, outbox: Outbox, run: AsyncRun, found: AsyncTournament,
        seed: AsyncPoolSeed, user: User, now: datetime,
    ) -> bool:
        if not await queries.claim_end(session, _id(run), AsyncRunStatus.FORFEIT, now):
            return False
        await session.refresh(run)
        run.forfeit_reason = "timeout"
        system = Actor.system()
        await self._record(
            session, outbox, "timeout", run, found, seed, system,
            AsyncRunTimedOutEvent(
                **self._fields(run, seed, user, system), limit_hours=found.run_limit_hours
            ),
        )
        return True

    async def _pool(
        self, session: AsyncSession, guild_id: int, tournament: str, pool: str, *,
        open_only: bool = False,
    ) -> tuple[AsyncTournament, AsyncPool]:
        found = await self._tournaments.find(session, guild_id, tournament, open_only=open_only)
        return found, await self._tournaments.find_pool(session, found, pool)

    @staticmethod
    async def _seed(session: AsyncSession, pool: AsyncPool, position: int) -> AsyncPoolSeed:
        row = await queries.seed_at(session, _id(pool), position)
        if row is None:
            raise NotFoundError(
                f"**{pool.name}** has no seed {position}. `/async seed list` shows its seeds."
            )
        return row

    async def _participant(
        self, session: AsyncSession, found: AsyncTournament, pool: AsyncPool, actor: Actor
    ) -> User:
        assert actor.discord_id is not None
        user = await get_or_create_user_by_discord_id(session, actor.discord_id)
        row = await tournament_queries.participant(session, _id(found), _id(user))
        if row is None or not row.is_active:
            raise UserFacingError(
                f"You are not registered for **{found.name}**: `/async join` first."
            )
        if row.pool_id is not None and row.pool_id != pool.id:
            raise UserFacingError(f"You are registered for another pool of **{found.name}**.")
        return user

    async def _next(
        self, session: AsyncSession, found: AsyncTournament, pool: AsyncPool, user: User
    ) -> StartPreview:
        running = await queries.running_run(session, _id(found), _id(user))
        if running is not None:
            raise UserFacingError(
                f"You have a run of **{found.name}** in progress: `/async submit` or "
                "`/async forfeit` it first."
            )
        seeds = await queries.seeds_of(session, _id(pool))
        if not seeds:
            raise UserFacingError(f"**{pool.name}** has no seeds yet; ask an organizer.")
        latest: dict[int, AsyncRun] = {}
        for run in await queries.player_runs_in_pool(session, _id(pool), _id(user)):
            latest[run.seed_id] = run  # ordered by attempt: the last one stays
        for seed in seeds:
            last = latest.get(_id(seed))
            if last is None or last.reattempt_allowed:
                return StartPreview(
                    tournament_id=_id(found), tournament=found.name, pool=pool.name,
                    seed_id=_id(seed), position=seed.position,
                    attempt=last.attempt + 1 if last is not None else 1, seeds=len(seeds),
                    limit_hours=found.run_limit_hours,
                )
        raise UserFacingError(
            f"You have played every seed of **{pool.name}**. An organizer can allow a "
            "re-attempt (`/async reattempt`)."
        )

    async def _running(
        self, session: AsyncSession, guild_id: int, tournament: str, actor: Actor
    ) -> tuple[AsyncTournament, AsyncRun, AsyncPoolSeed, User]:
        assert actor.discord_id is not None
        found = await self._tournaments.find(session, guild_id, tournament)
        user = await get_or_create_user_by_discord_id(session, actor.discord_id)
        run = await queries.running_run(session, _id(found), _id(user))
        if run is None:
            raise UserFacingError(
                f"You have no run of **{found.name}** in progress (a run is submitted or "
                "forfeit once): `/async start` starts one."
            )
        seed = await session.get(AsyncPoolSeed, run.seed_id)
        assert seed is not None
        return found, run, seed, user

    async def _own_run(self, run_id: int, actor: Actor, now: datetime) -> None:
        """Refused unless run ``run_id`` is ``actor``'s and the policy lets them act in its
        tournament's server (a DM's button brings no server: the person is looked up in that
        one, so a player who left it can no longer submit); then, past its limit, it is a
        forfeit (:meth:`_expire`)."""
        async with self._sessionmaker() as session:
            run = await session.get(AsyncRun, run_id)
            found = await session.get(AsyncTournament, run.tournament_id) if run else None
            owner = await session.get(User, run.user_id) if run else None
        if found is None or owner is None or owner.discord_id != actor.discord_id:
            raise NotFoundError(f"You have no run #{run_id}. `/async start` starts one.")
        person = actor
        if actor.is_person and actor.guild_id is None:
            person = await self._access.person_in_server(actor.discord_id, found.guild_id)
        if not await self._access.allows(person, Permission.USE, found.guild_id):
            raise PermissionDeniedError(
                f"Only members of the server of **{found.name}** can submit or forfeit its "
                "runs."
            )
        await self._expire(run_id, now)

    async def _require_running(
        self, session: AsyncSession, run: AsyncRun, found: AsyncTournament,
        seed: AsyncPoolSeed,
    ) -> None:
        if run.status != AsyncRunStatus.STARTED.value:
            raise UserFacingError(await _ended(session, run, found, seed))

    async def _submit(
        self, outbox: Outbox, run: AsyncRun, found: AsyncTournament, seed: AsyncPoolSeed,
        user: User, entry: Submission, actor: Actor, now: datetime,
    ) -> RunInfo:
        """End ``run`` as submitted with ``entry``, once (whoever ended it first wins)."""
        session = outbox.session
        finish, vod, comment = entry
        if finish > now - run.started_at + GRACE:
            raise UserFacingError(
                f"{written_duration(finish)} is longer than the time since you started "
                f"({written_duration(now - run.started_at)}): check the time."
            )
        if not await queries.claim_end(session, _id(run), AsyncRunStatus.SUBMITTED, now):
            await session.refresh(run)
            raise UserFacingError(await _ended(session, run, found, seed))
        await session.refresh(run)
        run.finish_time, run.vod_url, run.comment = finish, vod, comment
        await self._record(
            session, outbox, "submit", run, found, seed, actor,
            AsyncRunSubmittedEvent(
                **self._fields(run, seed, user, actor),
                finish_seconds=int(finish.total_seconds()), vod_url=vod,
            ),
            details={"finish_seconds": int(finish.total_seconds()), "vod_url": vod},
        )
        return await _info(session, run, found, seed)

    async def _forfeit(
        self, outbox: Outbox, run: AsyncRun, found: AsyncTournament, seed: AsyncPoolSeed,
        user: User, actor: Actor, now: datetime,
    ) -> RunInfo:
        """End ``run`` as the player's forfeit, once."""
        session = outbox.session
        if not await queries.claim_end(session, _id(run), AsyncRunStatus.FORFEIT, now):
            await session.refresh(run)
            raise UserFacingError(await _ended(session, run, found, seed))
        await session.refresh(run)
        run.forfeit_reason = "player"
        await self._record(
            session, outbox, "forfeit", run, found, seed, actor,
            AsyncRunForfeitedEvent(**self._fields(run, seed, user, actor)),
        )
        return await _info(session, run, found, seed)

    def _fields(
        self, run: AsyncRun, seed: AsyncPoolSeed, user: User, actor: Actor
    ) -> dict[str, Any]:
        return {
            "run_id": _id(run), "tournament_id": run.tournament_id, "pool_id": run.pool_id,
            "seed_id": run.seed_id, "seed_position": seed.position, "attempt": run.attempt,
            "player_discord_id": user.discord_id,
            "user_id": SYSTEM_USER_ID if actor.is_system else user.id,
            "occurred_at": self._clock.now(),
        }

    async def _record(
        self, session: AsyncSession, outbox: Outbox, step: str, run: AsyncRun,
        found: AsyncTournament, seed: AsyncPoolSeed, actor: Actor, event: AsyncRunEvent,
        *, details: dict[str, Any] | None = None,
    ) -> None:
        await self._audit.record(
            session, f"async.run.{step}", actor_discord_id=actor.discord_id,
            guild_id=found.guild_id,
            details={"tournament_id": found.id, "run_id": run.id, "seed_id": seed.id,
                     "attempt": run.attempt, "status": run.status, **(details or {})},
        )
        outbox.add(event)


class _TooLate(UserFacingError):
    def __init__(self, name: str, hours: int) -> None:
        super().__init__(
            f"Your run of **{name}** was not submitted within {hours} hours, so it is a "
            "forfeit."
        )


async def _run_rows(
    session: AsyncSession, run_id: int
) -> tuple[AsyncRun, AsyncTournament, AsyncPoolSeed, User]:
    run = await session.get(AsyncRun, run_id)
    if run is None:
        raise NotFoundError(f"You have no run #{run_id}. `/async start` starts one.")
    found = await session.get(AsyncTournament, run.tournament_id)
    seed = await session.get(AsyncPoolSeed, run.seed_id)
    user = await session.get(User, run.user_id)
    assert found is not None and seed is not None and user is not None
    return run, found, seed, user


async def _info(
    session: AsyncSession, run: AsyncRun, found: AsyncTournament, seed: AsyncPoolSeed
) -> RunInfo:
    pool = await session.get(AsyncPool, run.pool_id)
    assert pool is not None
    return _run_info(run, found, pool, seed)


async def _ended(
    session: AsyncSession, run: AsyncRun, found: AsyncTournament, seed: AsyncPoolSeed
) -> str:
    """What became of a run that is no longer in progress, for a player who acts on it."""
    pool = await session.get(AsyncPool, run.pool_id)
    what = f"seed {seed.position} of **{found.name}** · **{pool.name if pool else '?'}**"
    if run.status == AsyncRunStatus.FORFEIT.value:
        if run.forfeit_reason == "timeout":
            return (f"Your run of {what} was not submitted within its time limit, so it is a "
                    "forfeit. Nothing changed.")
        return f"You already gave up your run of {what}: it is a forfeit. Nothing changed."
    time = f" in {written_duration(run.finish_time)}" if run.finish_time else ""
    now = {AsyncRunStatus.APPROVED.value: "it was approved",
           AsyncRunStatus.REJECTED.value: "it was rejected"}.get(run.status, "it waits for review")
    return f"You already submitted {what}{time}: {now}. Nothing changed."


def _run_info(
    run: AsyncRun, found: AsyncTournament, pool: AsyncPool, seed: AsyncPoolSeed
) -> RunInfo:
    return RunInfo(
        id=_id(run), tournament=found.name, pool=pool.name, position=seed.position,
        attempt=run.attempt, seed=seed.seed, par_time=seed.par_time, status=run.status,
        started_at=run.started_at, deadline_at=run.deadline_at, finish_time=run.finish_time,
        vod_url=run.vod_url,
    )


def _seconds(duration: timedelta | None) -> int | None:
    return int(duration.total_seconds()) if duration is not None else None


def _id(row: Any) -> int:
    assert row.id is not None
    return int(row.id)
