"""A match room's database for ``bench.chat_engine``, and reading back what the engine did.

:func:`set_up_matches` runs in the driver (the test or ``bench.chat_crash``) on the engine's
SQLite file before the engine starts: the migrations, the category's bot (its secret
encrypted with the key the engine is given) serving one Discord server, a tournament there
whose seeds come from a *template* provider (no network), and matches whose players have
linked their racetime accounts. The engine opens the matches' rooms itself (``--open-match``),
through the services, as ``/open-room`` does.

:class:`ChatDb` reads the file from the driver's process (``sqlite3``, WAL: never in the
engine's way): the logged commands, the receipts, the seed, the seed DMs queued, parked and
undelivered events.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bench.crash import EngineDb
from core.racetime_bots.bots import RacetimeBotService
from core.seeds.settings import SeedSettings
from db.engine import create_engine, create_sessionmaker
from db.migrate import upgrade_to_head
from db.models import Match, MatchPlayer, Tournament, User
from db.queries.bot_guilds import assign_bot_to_guild
from db.secrets import SecretBox

GUILD_ID = 424_242_424_242_424_242
TOURNAMENT = "Chat Cup"
TEMPLATE = "https://seeds.example.org/{preset}/{seed}"
SEED_PRESETS = ("standard",)
KEY_ENV = "RACEDESK_CHAT_ENGINE_KEY"
"""The environment variable that gives the engine the secret key (never its command line)."""
ANSWER_RECEIPT = "room_commands"  # core.room_commands.service.RECEIPT
_discord_ids = itertools.count(880_000_000_000_000_001)


@dataclass(frozen=True, slots=True)
class Player:
    racetime_id: str
    racetime_name: str  # as racetime shows it, e.g. ``RacerOne#1234``


@dataclass(frozen=True, slots=True)
class ChatSetup:
    guild_id: int
    tournament_id: int
    match_ids: tuple[int, ...]


def seed_settings() -> dict[str, object]:
    """A tournament's ``settings`` with template seeds, as ``/tournament seeds`` stores them."""
    return SeedSettings(
        provider="template", presets=SEED_PRESETS, default_preset=SEED_PRESETS[0],
        template=TEMPLATE,
    ).stored_in({})


async def set_up_matches(
    url: str,
    secret_box: SecretBox,
    *,
    category: str,
    client_id: str,
    client_secret: str,
    players: Sequence[Player],
    scheduled_at: datetime,
    matches: int = 1,
) -> ChatSetup:
    """Migrate the database at ``url`` and add the bot, the tournament, its ``matches``
    matches (each its own room, and its own seed) and their players."""
    await upgrade_to_head(url)
    engine = create_engine(url)
    sessionmaker = create_sessionmaker(engine)
    try:
        async with sessionmaker.begin() as session:
            bot = await RacetimeBotService(sessionmaker, secret_box).add_bot(
                session, category=category, client_id=client_id,
                client_secret=client_secret, display_name="Chat bench",
            )
            assert bot.id is not None
            await assign_bot_to_guild(session, bot.id, GUILD_ID)
            tournament = Tournament(
                guild_id=GUILD_ID, name=TOURNAMENT, racetime_category=category,
                racetime_goal="Any% NMG", settings=seed_settings(),
            )
            session.add(tournament)
            await session.flush()
            assert tournament.id is not None
            users = [
                User(discord_id=next(_discord_ids), racetime_id=p.racetime_id,
                     racetime_name=p.racetime_name)
                for p in players
            ]
            title = " vs ".join(p.racetime_name.split("#")[0] for p in players)
            rows = [
                Match(tournament_id=tournament.id, title=f"{title} ({n + 1})",
                      scheduled_at=scheduled_at, auto_create_room=False)
                for n in range(matches)
            ]
            session.add_all([*users, *rows])
            await session.flush()
            session.add_all(
                MatchPlayer(match_id=match.id, user_id=user.id)  # type: ignore[arg-type]  # flushed
                for match in rows for user in users
            )
            return ChatSetup(GUILD_ID, tournament.id, tuple(m.id for m in rows if m.id))
    finally:
        await engine.dispose()


class ChatDb(EngineDb):
    """What the chat engine stored, read from another process."""

    async def command_ids(self) -> Counter[str]:
        """The logged command events' ids (one per message typed, whatever happened)."""
        rows = await self.query(
            "SELECT event_id FROM event_log WHERE kind = 'RacetimeChatCommandEvent'"
        )
        return Counter(event_id for (event_id,) in rows)

    async def receipts(self) -> Counter[str]:
        rows = await self.query(
            "SELECT event_id FROM listener_receipts "
            f"WHERE listener = '{ANSWER_RECEIPT}'"
        )
        return Counter(event_id for (event_id,) in rows)

    async def seed_rolls(self) -> dict[str, int]:
        """Each room's seed: how many times it was rolled, by room slug."""
        rows = await self.query("SELECT slug, rolls FROM room_seeds")
        return {slug: int(rolls) for slug, rolls in rows}

    async def seed_dms(self) -> Counter[str]:
        """The seed DMs queued (notification outbox rows, one per player and seed event),
        counted by the seed event's id."""
        rows = await self.query(
            "SELECT event_id FROM notification_log WHERE event_type = 'MATCH_SEED'"
        )
        return Counter(event_id for (event_id,) in rows)

    async def parked(self) -> int:
        return await self.count("event_deliveries_parked")
