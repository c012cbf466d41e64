"""The seed service: a tournament's seed setup, rolling, and organizers changing it."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import Enum
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.access import AccessPolicy, Actor, Permission
from core.audit import AuditService
from core.clock import Clock
from core.config import SeedServiceSettings
from core.errors import NotFoundError, UserFacingError
from core.seeds.alttpr import AlttprProvider
from core.seeds.base import RolledSeed, SeedProvider, SeedProviderError
from core.seeds.settings import SeedSettings, changed_settings, differences
from core.seeds.template import TemplateProvider
from core.seeds.text import one_line, unknown_preset
from db.models import Tournament
from db.queries import tournaments as queries

log = logging.getLogger(__name__)


class _Unset(Enum):
    UNSET = "unset"


UNSET: Final = _Unset.UNSET
"""A setting the organizer did not give (``None`` for ``provider``/``default_preset``/
``template`` clears it)."""

NO_SEEDS = (
    "This tournament has no seeds set up, so there is nothing to roll. Its organizers choose "
    "them with /tournament seeds."
)


@dataclass(frozen=True, slots=True)
class SeedSetup:
    """What a room of the tournament can roll: ``!seed`` alone rolls ``default_preset``."""

    provider_name: str  # "alttpr" or "template"
    presets: tuple[str, ...]
    default_preset: str


@dataclass(frozen=True, slots=True)
class TournamentSeeds:
    """A tournament's seed settings, for organizers to read."""

    tournament_id: int
    tournament_name: str
    settings: SeedSettings


@dataclass(frozen=True, slots=True)
class SeedChange:
    """A change of seed settings: setting -> (old, new), only those that differ."""

    tournament_id: int
    tournament_name: str
    old: SeedSettings
    new: SeedSettings
    changed: dict[str, tuple[Any, Any]]


class SeedService:
    """Rolls a tournament's seeds and keeps its seed settings.

    Rolling asks no permission: who may roll in a room, and how often, is the room's business
    (the race-room chat commands). Two rolls at once are two independent rolls.
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        access: AccessPolicy,
        audit: AuditService,
        config: SeedServiceSettings,
        clock: Clock,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._access = access
        self._audit = audit
        self._config = config
        self._clock = clock

    # -- rooms ---------------------------------------------------------------------------

    async def setup(self, tournament_id: int) -> SeedSetup | None:
        """The tournament's presets and default; ``None`` when it rolls no seeds (or does
        not exist)."""
        settings = await self._settings_of(tournament_id)
        if settings is None or settings.provider is None:
            return None
        default = settings.effective_default
        if default is None:
            return None
        return SeedSetup(settings.provider, settings.presets, default)

    async def roll(self, tournament_id: int, preset: str | None) -> RolledSeed:
        """Roll ``preset`` (any case; ``None`` or blank: the default) for the tournament, or raise
        :class:`SeedProviderError` with what the racer is told."""
        settings = await self._settings_of(tournament_id)
        if settings is None or not settings.rolls:
            raise SeedProviderError(NO_SEEDS)
        return await self.roll_with(settings, preset)

    async def roll_with(self, settings: SeedSettings, preset: str | None) -> RolledSeed:
        """Roll ``preset`` (``None`` or blank: the default) with these settings (a tournament's
        or an async tournament's), or raise :class:`SeedProviderError`."""
        typed = (preset or "").strip().lower()
        chosen = typed or settings.effective_default
        if chosen is None or chosen not in settings.presets:
            raise SeedProviderError(unknown_preset(typed, settings.presets))
        return await self.provider_for(settings).roll(chosen)

    def provider_for(self, settings: SeedSettings) -> SeedProvider:
        """A provider for these settings (cheap: built for each roll)."""
        if settings.provider == "alttpr":
            return AlttprProvider(
                self._config.alttpr_base_url,
                timeout_seconds=self._config.timeout_seconds,
                spoiler=settings.spoiler,
                race=settings.race,
                clock=self._clock,
            )
        if settings.provider == "template" and settings.template:
            return TemplateProvider(settings.template, settings.presets)
        raise SeedProviderError(NO_SEEDS)

    # -- organizers ----------------------------------------------------------------------

    async def view(self, actor: Actor, guild_id: int, tournament_name: str) -> TournamentSeeds:
        """A tournament's seed settings (archived ones too); organizers only."""
        await self._access.require(actor, Permission.MANAGE_TOURNAMENTS, guild_id)
        async with self._sessionmaker() as session:
            tournament = await _find(session, guild_id, tournament_name, include_archived=True)
            return _seeds_of(tournament)

    async def configure(
        self,
        actor: Actor,
        guild_id: int,
        tournament_name: str,
        *,
        provider: str | _Unset | None = UNSET,
        presets: str | tuple[str, ...] | list[str] | _Unset = UNSET,
        default_preset: str | _Unset | None = UNSET,
        template: str | _Unset | None = UNSET,
        spoiler: str | _Unset = UNSET,
        race: bool | _Unset = UNSET,
    ) -> SeedChange:
        """Change the given seed settings of an active tournament; organizers only, audited.
        Returns old and new; nothing different changes nothing (and records nothing)."""
        await self._access.require(actor, Permission.MANAGE_TOURNAMENTS, guild_id)
        given: dict[str, Any] = {
            "provider": provider, "presets": presets, "default_preset": default_preset,
            "template": template, "spoiler": spoiler, "race": race,
        }
        given = {key: value for key, value in given.items() if value is not UNSET}
        async with self._sessionmaker.begin() as session:
            tournament = await _find(session, guild_id, tournament_name, include_archived=False)
            assert tournament.id is not None
            old = SeedSettings.of(tournament.settings)
            new = changed_settings(old, given)
            changed = differences(old, new)
            if changed:
                tournament.settings = new.stored_in(tournament.settings)
                await session.flush()
                await self._audit.record(
                    session, "tournament.seeds", actor_discord_id=actor.discord_id,
                    guild_id=guild_id,
                    details={
                        "tournament_id": tournament.id, "name": tournament.name,
                        "changed": audited(changed),
                    },
                )
                log.info("Seed settings of tournament %s changed: %s", tournament.id,
                         ", ".join(changed))
            return SeedChange(tournament.id, tournament.name, old, new, changed)

    # -- helpers -------------------------------------------------------------------------

    async def _settings_of(self, tournament_id: int) -> SeedSettings | None:
        async with self._sessionmaker() as session:
            tournament = await queries.get_tournament(session, tournament_id)
            return SeedSettings.of(tournament.settings) if tournament is not None else None


def _seeds_of(tournament: Tournament) -> TournamentSeeds:
    assert tournament.id is not None
    return TournamentSeeds(tournament.id, tournament.name, SeedSettings.of(tournament.settings))


async def _find(
    session: AsyncSession, guild_id: int, name: str, *, include_archived: bool
) -> Tournament:
    """The server's tournament ``name`` (as ``TournamentService`` finds it)."""
    typed = " ".join(name.split())
    found = await queries.tournaments_named(session, guild_id, typed)
    if found and (include_archived or found[0].is_active):
        return found[0]
    if found:
        raise UserFacingError(
            f"**{found[0].name}** is archived, so it can no longer be changed. "
            "`/tournament info` still shows it."
        )
    raise NotFoundError(
        f"There is no tournament called `{one_line(typed, 100)}` in this server. "
        "`/tournament list` shows them; `/tournament create` makes one."
    )


def audited(changed: dict[str, tuple[Any, Any]]) -> dict[str, list[Any]]:
    """Changed settings as the audit's JSON keeps them."""
    return {key: [_plain(old), _plain(new)] for key, (old, new) in changed.items()}


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value
