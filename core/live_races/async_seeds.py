"""An async tournament's seed provider, and pool seeds rolled with it (issue 26).

The same providers and settings as a tournament's race-room seeds (``core.seeds``), kept in
the async tournament's ``settings`` under ``"seeds"``. Organizers choose them with
``/async seeds`` and roll seeds into a pool with ``/async seed generate``; a rolled seed is
then a pool seed like one added by hand (its text: the permalink and the file-select code).

Rolling happens before any transaction (a provider may take seconds); then the seeds are
added in order, each audited. A provider failing part way adds the seeds rolled before it and
says why the rest were not.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.access import AccessPolicy, Actor, Permission
from core.audit import AuditService
from core.errors import UserFacingError
from core.live_races.async_run_values import SeedInfo, parse_duration
from core.live_races.async_runs import AsyncRunService
from core.live_races.async_tournaments import AsyncTournamentService
from core.seeds import RolledSeed, SeedChange, SeedProviderError, SeedService, SeedSettings
from core.seeds.service import audited
from core.seeds.settings import changed_settings, differences

log = logging.getLogger(__name__)

GENERATE_MAX = 10  # seeds rolled by one command: an ALTTPR roll takes seconds
NO_PROVIDER = (
    "**{name}** has no seed provider, so nothing can roll its seeds. Choose one with "
    "`/async seeds tournament:{name} provider:…`, or add seeds by hand with `/async seed add`."
)


@dataclass(frozen=True, slots=True)
class GeneratedSeeds:
    tournament: str
    pool: str
    preset: str
    added: list[SeedInfo]
    asked: int
    failure: str | None = None  # why fewer than asked were rolled


class AsyncSeeds:
    """Organizers' seed provider settings of an async tournament, and rolling pool seeds."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        tournaments: AsyncTournamentService,
        runs: AsyncRunService,
        seeds: SeedService,
        audit: AuditService,
        *,
        access: AccessPolicy,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._tournaments = tournaments
        self._runs = runs
        self._seeds = seeds
        self._audit = audit
        self._access = access

    async def view(
        self, guild_id: int, tournament: str, *, actor: Actor
    ) -> tuple[str, SeedSettings]:
        """The tournament's name and seed settings (organizers)."""
        await self._access.require(actor, Permission.MANAGE_TOURNAMENTS, guild_id)
        async with self._sessionmaker() as session:
            found = await self._tournaments.find(session, guild_id, tournament)
            return found.name, SeedSettings.of(found.settings)

    async def configure(
        self, guild_id: int, tournament: str, given: Mapping[str, Any], *, actor: Actor
    ) -> SeedChange:
        """Change the given seed settings of an open async tournament; audited. Nothing
        different changes nothing."""
        await self._access.require(actor, Permission.MANAGE_TOURNAMENTS, guild_id)
        async with self._sessionmaker.begin() as session:
            found = await self._tournaments.find(session, guild_id, tournament, open_only=True)
            assert found.id is not None
            old = SeedSettings.of(found.settings)
            new = changed_settings(old, given)
            changed = differences(old, new)
            if changed:
                found.settings = new.stored_in(found.settings)
                await self._audit.record(
                    session, "async.seeds", actor_discord_id=actor.discord_id,
                    guild_id=guild_id,
                    details={"tournament_id": found.id, "changed": audited(changed)},
                )
            return SeedChange(found.id, found.name, old, new, changed)

    async def generate(
        self, guild_id: int, tournament: str, pool: str, count: int, *, actor: Actor,
        preset: str | None = None, par: str | None = None,
    ) -> GeneratedSeeds:
        """Roll ``count`` seeds of ``preset`` (default: the tournament's default preset) and
        add them at the end of the pool, with ``par`` as their par time."""
        await self._access.require(actor, Permission.MANAGE_TOURNAMENTS, guild_id)
        if not 1 <= count <= GENERATE_MAX:
            raise UserFacingError(f"Roll between 1 and {GENERATE_MAX} seeds at a time.")
        if par:
            parse_duration(par)  # a bad par time is refused before anything is rolled
        async with self._sessionmaker() as session:
            found = await self._tournaments.find(session, guild_id, tournament, open_only=True)
            pool_name = (await self._tournaments.find_pool(session, found, pool)).name
            settings = SeedSettings.of(found.settings)
        if not settings.rolls:
            raise UserFacingError(NO_PROVIDER.format(name=found.name))
        rolled: list[RolledSeed] = []
        failure: str | None = None
        for _ in range(count):
            try:
                rolled.append(await self._seeds.roll_with(settings, preset))
            except SeedProviderError as error:
                if not rolled:
                    raise
                failure = error.message
                break
        added = []
        for seed in rolled:
            _, info = await self._runs.add_seed(
                guild_id, found.name, pool_name, seed.text, par=par, actor=actor
            )
            added.append(info)
        log.info("Rolled %d seed(s) of %s into pool %s of async tournament %s",
                 len(added), rolled[0].preset, pool_name, found.id)
        return GeneratedSeeds(found.name, pool_name, rolled[0].preset, added, count, failure)
