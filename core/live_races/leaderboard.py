"""Async tournament leaderboards (issue 26): approved runs, scored from par, ranked.

The score of a run (the guides state it): ``100 * (2 - time / par)``, clamped to [0, 105]
and rounded to two decimals: a run in par time scores 100, half again as long scores 50,
twice as long or more scores 0, and the best a run can score is 105.

Par: the seed's par time when the organizer gave one; otherwise the mean of the counted
times of that seed. A live race's result (a finished :class:`AsyncPoolRun`) counts as a run
of its pool, of one "live race" entry per pool; its par is the mean of the pool's seeds' par
times, or else the mean of the pool's live race times. A live race without a pool counts in
no board.

A player's total for a pool is the sum, over the pool's seeds (and its live race entry), of
their best score there; the overall total sums the pools. Players with the same total share a
rank (1, 1, 3); they are listed by name-independent order: their Discord id. A standing
carries the player's racetime.gg name (``None``: not linked) for boards read outside Discord.

The ranking functions are pure; :class:`AsyncLeaderboards` reads the rows and asks the policy.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col, select

from core.access import AccessPolicy, Actor, Permission
from core.live_races.async_tournaments import AsyncTournamentService
from db.models import (
    AsyncPool,
    AsyncPoolRun,
    AsyncPoolSeed,
    AsyncRun,
    AsyncRunStatus,
    PlayerStatus,
    User,
)

SCORE_MAX = 105.0
# The score in a line, for readers of a board outside Discord (the public page); the signs
# are the ones the players' guide writes it with.
SCORE_FORMULA = (
    "Each run scores 100 × (2 − time ÷ par), kept between 0 and 105: a run in par time "  # noqa: RUF001
    "scores 100, twice the par or slower 0. Par is the seed's par time, else the average of "
    "its approved times. A player's total adds their best score on each seed (and on each "
    "pool's live races); equal totals share a rank."
)


def score(time: timedelta, par: timedelta) -> float:
    """``100 * (2 - time / par)`` clamped to [0, 105], two decimals."""
    raw = 100.0 * (2.0 - time / par)
    return round(min(SCORE_MAX, max(0.0, raw)), 2)


@dataclass(frozen=True, slots=True)
class CountedRun:
    """An approved run (or a live race's finish) as a board counts it. ``key`` says what was
    played (``seed:<id>`` or ``live:<pool id>``); ``par``: the given par, if any."""

    player_discord_id: int
    pool: str
    key: str
    time: timedelta
    par: timedelta | None
    live: bool = False
    player_name: str | None = None  # their racetime.gg name; None: not linked


@dataclass(frozen=True, slots=True)
class Standing:
    rank: int
    player_discord_id: int
    total: float
    runs: int  # seeds (and live race entries) counted
    racetime_name: str | None = None  # None: not linked


def pars(runs: Iterable[CountedRun]) -> dict[str, timedelta]:
    """Each key's par: the given one, else the mean of its counted times."""
    given: dict[str, timedelta] = {}
    times: dict[str, list[timedelta]] = defaultdict(list)
    for run in runs:
        if run.par is not None:
            given[run.key] = run.par
        times[run.key].append(run.time)
    return {key: given.get(key, sum(found, timedelta()) / len(found))
            for key, found in times.items()}


def standings(runs: Sequence[CountedRun], pool: str | None = None) -> list[Standing]:
    """Ranked totals of one pool's runs (``pool``) or of all of them (overall)."""
    counted = [run for run in runs if pool is None or run.pool == pool]
    par_of = pars(counted)
    best: dict[tuple[int, str], float] = {}
    names: dict[int, str | None] = {}
    for run in counted:
        names[run.player_discord_id] = names.get(run.player_discord_id) or run.player_name
        place = (run.player_discord_id, run.key)
        best[place] = max(best.get(place, 0.0), score(run.time, par_of[run.key]))
    totals: dict[int, float] = defaultdict(float)
    played: dict[int, int] = defaultdict(int)
    for (player, _), value in best.items():
        totals[player] += value
        played[player] += 1
    ordered = sorted(totals, key=lambda player: (-round(totals[player], 2), player))
    ranked: list[Standing] = []
    for index, player in enumerate(ordered):
        total = round(totals[player], 2)
        rank = ranked[-1].rank if ranked and ranked[-1].total == total else index + 1
        ranked.append(Standing(rank, player, total, played[player], names.get(player)))
    return ranked


def _id(row: object) -> int:
    found = getattr(row, "id", None)
    assert found is not None
    return int(found)


async def counted_runs(session: AsyncSession, tournament_id: int) -> list[CountedRun]:
    """The tournament's approved runs and its pools' live race finishes."""
    approved = await session.execute(
        select(AsyncRun, AsyncPool, AsyncPoolSeed, User)
        .join(AsyncPool, col(AsyncPool.id) == col(AsyncRun.pool_id))
        .join(AsyncPoolSeed, col(AsyncPoolSeed.id) == col(AsyncRun.seed_id))
        .join(User, col(User.id) == col(AsyncRun.user_id))
        .where(col(AsyncRun.tournament_id) == tournament_id,
               col(AsyncRun.status) == AsyncRunStatus.APPROVED.value,
               col(AsyncRun.finish_time).is_not(None))
        .order_by(col(AsyncRun.id))
    )
    runs: list[CountedRun] = []
    for run, pool, seed, user in approved.all():
        assert run.finish_time is not None and user.discord_id is not None
        runs.append(CountedRun(user.discord_id, pool.name, f"seed:{_id(seed)}",
                               run.finish_time, seed.par_time,
                               player_name=user.racetime_name))
    seed_pars: dict[int, list[timedelta]] = defaultdict(list)
    seeds = await session.execute(
        select(AsyncPoolSeed).join(AsyncPool, col(AsyncPool.id) == col(AsyncPoolSeed.pool_id))
        .where(col(AsyncPool.tournament_id) == tournament_id)
    )
    for seed in seeds.scalars():
        if seed.par_time is not None:
            seed_pars[seed.pool_id].append(seed.par_time)
    live = await session.execute(
        select(AsyncPoolRun, AsyncPool, User)
        .join(AsyncPool, col(AsyncPool.id) == col(AsyncPoolRun.pool_id))
        .join(User, col(User.id) == col(AsyncPoolRun.user_id))
        .where(col(AsyncPool.tournament_id) == tournament_id,
               col(AsyncPoolRun.status) == PlayerStatus.DONE.value,
               col(AsyncPoolRun.finish_time).is_not(None))
        .order_by(col(AsyncPoolRun.id))
    )
    for result, pool, user in live.all():
        assert result.finish_time is not None and user.discord_id is not None
        given = seed_pars.get(_id(pool))
        par = sum(given, timedelta()) / len(given) if given else None
        runs.append(CountedRun(user.discord_id, pool.name, f"live:{_id(pool)}",
                               result.finish_time, par, live=True,
                               player_name=user.racetime_name))
    return runs


@dataclass(frozen=True, slots=True)
class Leaderboard:
    tournament: str
    pool: str | None  # None: overall
    standings: list[Standing]


class AsyncLeaderboards:
    """``/async leaderboard``: anyone in the server sees a tournament's boards."""

    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession],
        tournaments: AsyncTournamentService, *, access: AccessPolicy,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._tournaments = tournaments
        self._access = access

    async def board(
        self, guild_id: int, tournament: str, *, actor: Actor, pool: str | None = None
    ) -> Leaderboard:
        await self._access.require(actor, Permission.USE, guild_id)
        async with self._sessionmaker() as session:
            found = await self._tournaments.find(session, guild_id, tournament)
            pool_name = (
                (await self._tournaments.find_pool(session, found, pool)).name if pool else None
            )
            runs = await counted_runs(session, _id(found))
            return Leaderboard(found.name, pool_name, standings(runs, pool_name))
