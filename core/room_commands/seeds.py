"""A race room's seed: rolled once per room, before the race starts, never twice at once.

Rolling asks a seed provider (alttpr.com through pyz3r, or an organizers' template), which
can be slow or fail. The order is:

1. *claim* the room's row (``rolling_since``, ``rolling_request``) in a short transaction:
   a second roll of the room (``!seed`` typed twice, ``/match seed`` at the same moment) sees
   the claim and is told the seed is on its way;
2. *roll* outside any transaction (a slow provider never holds the database);
3. *store* the seed with :class:`~core.events.RoomSeedRolledEvent` (the players' DMs) in one
   commit, and lock the room against a re-roll.

A provider that fails releases the claim and leaves the room unlocked. A request delivered
again after a crash (the same chat message) finds its seed stored and gets it back instead of
a second roll; a claim left by a process that stopped mid-roll is taken over once it is older
than any roll may take.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.audit import AuditService
from core.clock import Clock
from core.errors import UserFacingError
from core.event_store.event_log import DatabaseEventLog
from core.events import RoomSeedRolledEvent
from db.models import RoomSeed
from db.queries import room_commands as queries

# A claim older than this belongs to a roll that will never finish (its process stopped).
STALE_CLAIM = timedelta(minutes=2)
BEFORE_START = frozenset({"open", "invitational"})


class Rolled(Protocol):
    @property
    def preset(self) -> str: ...
    @property
    def url(self) -> str | None: ...
    @property
    def text(self) -> str: ...
    @property
    def code(self) -> str | None: ...


class Setup(Protocol):
    @property
    def presets(self) -> tuple[str, ...]: ...
    @property
    def default_preset(self) -> str: ...


class SeedSource(Protocol):
    """``core.seeds.SeedService``: the tournament's provider."""

    async def setup(self, tournament_id: int) -> Setup | None: ...

    async def roll(self, tournament_id: int, preset: str | None) -> Rolled: ...


@dataclass(frozen=True, slots=True)
class SeedRoom:
    """The room a seed is for."""

    category: str
    slug: str
    room_url: str
    tournament_id: int
    guild_id: int
    match_id: int | None = None

    @property
    def name(self) -> str:
        return f"{self.category}/{self.slug}"


@dataclass(frozen=True, slots=True)
class RoomSeedInfo:
    preset: str | None
    text: str
    url: str | None
    rolls: int
    locked: bool


@dataclass(frozen=True, slots=True)
class RollResult:
    seed: RoomSeedInfo
    again: bool = False  # the same request, delivered again: nothing new was rolled


NOT_SET_UP = (
    "This tournament rolls no seeds through RaceDesk. Organizers choose a seed provider with "
    "/tournament seeds."
)


def _info(row: RoomSeed) -> RoomSeedInfo:
    return RoomSeedInfo(row.preset, row.text or "", row.url, row.rolls, row.locked)


class RoomSeeds:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        event_log: DatabaseEventLog,
        source: SeedSource,
        audit: AuditService,
        clock: Clock,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._log = event_log
        self._source = source
        self._audit = audit
        self._clock = clock

    async def setup(self, tournament_id: int) -> Setup | None:
        return await self._source.setup(tournament_id)

    async def current(self, category: str, slug: str) -> RoomSeedInfo | None:
        async with self._sessionmaker() as session:
            row = await queries.room_seed(session, category, slug)
            return _info(row) if row is not None and row.rolls else None

    async def roll(
        self,
        room: SeedRoom,
        *,
        preset: str | None,
        race_status: str | None,
        request_id: str,
        actor_discord_id: int | None,
        user_id: int | None = None,
        reroll: bool = False,
    ) -> RollResult:
        """Roll the room's seed for ``request_id`` (a chat message's event id, or a Discord
        interaction's). ``reroll``: an organizer asked from Discord to replace a rolled seed,
        which a lock does not stop. Raises :class:`UserFacingError` saying why not."""
        if await self._source.setup(room.tournament_id) is None:
            raise UserFacingError(NOT_SET_UP)
        if race_status is not None and race_status not in BEFORE_START:
            raise UserFacingError("The race has started: its seed can no longer be rolled.")
        again = await self._claim(room, request_id, reroll=reroll)
        if again is not None:
            return RollResult(again, again=True)
        try:
            rolled = await self._source.roll(room.tournament_id, preset)
        except BaseException:
            await self._release(room, request_id)
            raise
        return RollResult(
            await self._store(room, rolled, request_id, actor_discord_id, user_id)
        )

    async def set_locked(
        self, room: SeedRoom, locked: bool, *, actor_discord_id: int | None
    ) -> bool:
        """Lock or unlock the room's seed; returns whether anything changed."""
        async with self._sessionmaker.begin() as session:
            row = await self._row(session, room)
            if row.locked == locked:
                return False
            row.locked = locked
            await self._audit.record(
                session, "room.seed_lock" if locked else "room.seed_unlock",
                actor_discord_id=actor_discord_id, guild_id=room.guild_id,
                details={"room": room.name},
            )
            return True

    # -- the three steps ---------------------------------------------------------------------

    async def _row(self, session: AsyncSession, room: SeedRoom) -> RoomSeed:
        return await queries.room_seed_row(session, room.category, room.slug, room.match_id)

    async def _claim(
        self, room: SeedRoom, request_id: str, *, reroll: bool
    ) -> RoomSeedInfo | None:
        """Take the room's roll for ``request_id``; returns the stored seed when this very
        request already rolled it. Raises when the room may not roll now."""
        now = self._clock.now()
        async with self._sessionmaker.begin() as session:
            row = await self._row(session, room)
            if row.rolling_request == request_id and row.rolling_since is None and row.rolls:
                return _info(row)
            if row.rolling_since is not None and now - row.rolling_since < STALE_CLAIM:
                raise UserFacingError(
                    "A seed is being rolled for this room right now; it is posted here as "
                    "soon as it is ready."
                )
            if row.locked and not reroll:
                if row.rolls:
                    raise UserFacingError(
                        f"The seed is already rolled: {row.text}. An organizer can type "
                        "!unlock to allow a re-roll."
                    )
                raise UserFacingError(
                    "The organizers locked this room's seed; one of them can type !unlock."
                )
            row.rolling_since = now
            row.rolling_request = request_id
        return None

    async def _release(self, room: SeedRoom, request_id: str) -> None:
        async with self._sessionmaker.begin() as session:
            row = await queries.room_seed(session, room.category, room.slug, for_update=True)
            if row is not None and row.rolling_request == request_id:
                row.rolling_since = None
                row.rolling_request = None

    async def _store(
        self,
        room: SeedRoom,
        rolled: Rolled,
        request_id: str,
        actor_discord_id: int | None,
        user_id: int | None,
    ) -> RoomSeedInfo:
        async with self._log.transaction() as outbox:
            session = outbox.session
            row = await self._row(session, room)
            row.preset, row.url, row.text, row.code = (
                rolled.preset, rolled.url, rolled.text, rolled.code
            )
            row.rolls += 1
            row.locked = True
            row.rolling_since = None
            row.rolling_request = request_id
            row.rolled_at = self._clock.now()
            row.rolled_by_discord_id = actor_discord_id
            outbox.add(RoomSeedRolledEvent(
                category=room.category, room_slug=room.slug, room_url=room.room_url,
                tournament_id=room.tournament_id, match_id=room.match_id,
                rolls=row.rolls, preset=rolled.preset, seed_text=rolled.text,
                seed_url=rolled.url, user_id=user_id,
            ))
            await self._audit.record(
                session, "room.seed_rolled", actor_discord_id=actor_discord_id,
                guild_id=room.guild_id,
                details={"room": room.name, "preset": rolled.preset, "rolls": row.rolls},
            )
            return _info(row)
