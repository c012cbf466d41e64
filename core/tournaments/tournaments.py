"""Tournaments of a server and their settings; the server's organizer and moderator roles.

Every change is audited in its own transaction. Settings live in the tournament's columns
(``racetime_category``, ``racetime_goal``) and its ``settings`` JSON object (the rest);
:class:`TournamentSettings` is the one typed view of both.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace
from datetime import datetime
from enum import Enum
from typing import Any, Final

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.access import AccessPolicy, Actor, Permission
from core.audit import AuditService
from core.errors import NotFoundError, UserFacingError
from core.labels import clean_label
from core.racetime_bots.category_slug import normalise_category
from db.models import Tournament
from db.queries import tournaments as queries
from db.queries.bot_guilds import assign_bot_to_guild
from db.queries.bots import get_bot_by_category, list_bots_for_guild
from db.queries.users import get_or_create_user_by_discord_id

log = logging.getLogger(__name__)

NAME_MAX = 100
GOAL_MAX = 200
# How long before a match its room opens (a tournament setting), in minutes.
MATCH_ROOM_MINUTES_MIN, MATCH_ROOM_MINUTES_MAX, MATCH_ROOM_MINUTES_DEFAULT = 30, 120, 60
# Who sets a match's time: organizers only; players propose, organizers approve; players agree.
SCHEDULING_MODES = {
    "organizers": "organizers only",
    "approval": "players propose, organizers approve",
    "players": "players agree and it stands",
}
SCHEDULING_DEFAULT = "organizers"
# How long before a match its players are reminded, in minutes.
REMINDER_MINUTES_MIN, REMINDER_MINUTES_MAX, REMINDER_MINUTES_DEFAULT = 5, 24 * 60, 30


class _Unset(Enum):
    UNSET = "unset"


UNSET: Final = _Unset.UNSET
"""An option the organizer did not give (``None`` clears an optional setting)."""


@dataclass(frozen=True, slots=True)
class TournamentSettings:
    """What a tournament's matches and rooms follow."""

    category: str  # the racetime category whose bot opens the rooms
    auto_create_rooms: bool = False
    room_open_minutes_before: int = MATCH_ROOM_MINUTES_DEFAULT
    require_racetime_link: bool = False
    default_goal: str | None = None
    announcement_channel_id: int | None = None
    results_channel_id: int | None = None
    # racetime lets only players with a live stream into such rooms (Twitch connected).
    streaming_required: bool = True
    # Where organizers are told of trouble (a room not opened, a player racetime would not
    # let in); None: the announcement channel.
    staff_channel_id: int | None = None
    # Who sets a match's time (issue 25): "organizers" only, players "propose" and organizers
    # approve, or players "agree" and it stands.
    scheduling: str = SCHEDULING_DEFAULT
    # Minutes before a match its players are reminded (DM, and a post in the reminder channel).
    reminder_minutes: int = REMINDER_MINUTES_DEFAULT
    reminder_channel_id: int | None = None
    # Each scheduled match is a Discord scheduled event in the server.
    discord_events: bool = False
    # Anyone may read the tournament's page on the web server (issue 26, ``core.pages``).
    public: bool = False

    @classmethod
    def of(cls, tournament: Tournament) -> TournamentSettings:
        stored = tournament.settings or {}
        return cls(
            category=tournament.racetime_category,
            auto_create_rooms=bool(stored.get("auto_create_rooms", False)),
            room_open_minutes_before=int(
                stored.get("room_open_minutes_before", MATCH_ROOM_MINUTES_DEFAULT)
            ),
            require_racetime_link=bool(stored.get("require_racetime_link", False)),
            default_goal=tournament.racetime_goal,
            announcement_channel_id=_snowflake(stored.get("announcement_channel_id")),
            results_channel_id=_snowflake(stored.get("results_channel_id")),
            streaming_required=bool(stored.get("streaming_required", True)),
            staff_channel_id=_snowflake(stored.get("staff_channel_id")),
            scheduling=str(stored.get("scheduling", SCHEDULING_DEFAULT)),
            reminder_minutes=int(stored.get("reminder_minutes", REMINDER_MINUTES_DEFAULT)),
            reminder_channel_id=_snowflake(stored.get("reminder_channel_id")),
            discord_events=bool(stored.get("discord_events", False)),
            public=bool(stored.get("public", False)),
        )

    @property
    def trouble_channel_id(self) -> int | None:
        """Where problems of the tournament's rooms are posted for its organizers."""
        return self.staff_channel_id or self.announcement_channel_id

    def apply_to(self, tournament: Tournament) -> None:
        tournament.racetime_category = self.category
        tournament.racetime_goal = self.default_goal
        json = dict(tournament.settings or {})  # a new object, so the change is noticed
        for key in _JSON_KEYS:
            value = getattr(self, key)
            # Snowflakes as text: JSON readers that use doubles would round them.
            json[key] = str(value) if key.endswith("_channel_id") and value is not None else value
        tournament.settings = json


_JSON_KEYS = (
    "auto_create_rooms",
    "room_open_minutes_before",
    "require_racetime_link",
    "announcement_channel_id",
    "results_channel_id",
    "streaming_required",
    "staff_channel_id",
    "scheduling",
    "reminder_minutes",
    "reminder_channel_id",
    "discord_events",
    "public",
)
SETTING_NAMES = tuple(f.name for f in fields(TournamentSettings))


def _snowflake(value: Any) -> int | None:
    return int(value) if value is not None else None


@dataclass(frozen=True, slots=True)
class TournamentInfo:
    id: int
    guild_id: int
    name: str
    active: bool
    settings: TournamentSettings
    created_at: datetime

    @classmethod
    def of(cls, tournament: Tournament) -> TournamentInfo:
        assert tournament.id is not None
        return cls(
            id=tournament.id,
            guild_id=tournament.guild_id,
            name=tournament.name,
            active=tournament.is_active,
            settings=TournamentSettings.of(tournament),
            created_at=tournament.created_at,
        )


@dataclass(frozen=True, slots=True)
class SettingsUpdate:
    """A tournament after a change, and what changed: setting -> (old, new)."""

    tournament: TournamentInfo
    changed: dict[str, tuple[Any, Any]]


# -- validation --------------------------------------------------------------------------------


def clean_name(name: str) -> str:
    return clean_label(
        name, noun="tournament name", limit=NAME_MAX,
        when_blank="Give the tournament a name, e.g. `Winter Cup 2026`.",
    )


def check_match_room_minutes(minutes: int) -> int:
    """How long before a match its room opens: 30 to 120 minutes."""
    if not MATCH_ROOM_MINUTES_MIN <= minutes <= MATCH_ROOM_MINUTES_MAX:
        raise UserFacingError(
            f"Rooms can open {MATCH_ROOM_MINUTES_MIN} to {MATCH_ROOM_MINUTES_MAX} minutes "
            f"before a match (default {MATCH_ROOM_MINUTES_DEFAULT}); {minutes} is outside "
            "that range."
        )
    return minutes


def clean_goal(goal: str | None) -> str | None:
    if goal is None:
        return None
    cleaned = goal.strip()
    if not cleaned:
        return None
    if len(cleaned) > GOAL_MAX:
        raise UserFacingError(
            f"A goal can be at most {GOAL_MAX} characters; this one has {len(cleaned)}."
        )
    return cleaned


# -- the service -------------------------------------------------------------------------------


class TournamentService:
    """A server's tournaments; every change and the organizers' views ask ``access``."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        audit: AuditService,
        *,
        access: AccessPolicy,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._audit = audit
        self._access = access
        self._changed: list[Callable[[int], None]] = []

    def on_settings_changed(self, callback: Callable[[int], None]) -> None:
        """``callback(tournament_id)`` runs after a change of a tournament's settings (or its
        archiving) commits: the room scheduler re-plans its matches."""
        self._changed.append(callback)

    def _settings_changed(self, tournament_id: int | None) -> None:
        if tournament_id is None:
            return
        for callback in self._changed:
            callback(tournament_id)

    # -- reading -----------------------------------------------------------------------------

    async def get(
        self, guild_id: int, name: str, *, include_archived: bool = True
    ) -> TournamentInfo:
        """The server's tournament called ``name`` (any case), or :class:`NotFoundError`."""
        async with self._sessionmaker() as session:
            tournament = await self._find(session, guild_id, name, include_archived)
            return TournamentInfo.of(tournament)

    async def info(self, guild_id: int, name: str, *, actor: Actor) -> TournamentInfo:
        """:meth:`get` for an organizer (``/tournament info``): archived ones too."""
        await self._access.require(actor, Permission.MANAGE_TOURNAMENTS, guild_id)
        return await self.get(guild_id, name)

    async def get_by_id(self, tournament_id: int) -> TournamentInfo | None:
        async with self._sessionmaker() as session:
            tournament = await queries.get_tournament(session, tournament_id)
            return TournamentInfo.of(tournament) if tournament is not None else None

    async def list_tournaments(
        self, guild_id: int, *, actor: Actor, include_archived: bool = False
    ) -> list[TournamentInfo]:
        """Active tournaments (and archived ones when asked), active first, by name."""
        await self._access.require(actor, Permission.MANAGE_TOURNAMENTS, guild_id)
        async with self._sessionmaker() as session:
            rows = await queries.list_tournaments(
                session, guild_id, include_archived=include_archived
            )
            return [TournamentInfo.of(row) for row in rows]

    async def suggest_names(self, guild_id: int, typed: str) -> list[str]:
        """Active tournaments' names containing ``typed`` (for autocomplete; at most 25)."""
        async with self._sessionmaker() as session:
            return await queries.search_tournament_names(session, guild_id, typed.strip())

    async def categories_for(self, guild_id: int, *, actor: Actor) -> list[str]:
        """The racetime categories whose (active) bot this server's tournaments may use."""
        await self._access.require(actor, Permission.MANAGE_TOURNAMENTS, guild_id)
        async with self._sessionmaker() as session:
            return [bot.category for bot in await list_bots_for_guild(session, guild_id)]

    # -- changing ----------------------------------------------------------------------------

    async def create(
        self,
        guild_id: int,
        name: str,
        *,
        category: str,
        actor: Actor,
        auto_create_rooms: bool | None = None,
        room_open_minutes_before: int | None = None,
        require_racetime_link: bool | None = None,
        default_goal: str | None = None,
        announcement_channel_id: int | None = None,
        results_channel_id: int | None = None,
        streaming_required: bool | None = None,
        staff_channel_id: int | None = None,
    ) -> TournamentInfo:
        """A new active tournament; options left out take their defaults."""
        await self._access.require(actor, Permission.MANAGE_TOURNAMENTS, guild_id)
        name = clean_name(name)
        settings = TournamentSettings(category=normalise_category(category))
        given: dict[str, Any] = {
            "auto_create_rooms": auto_create_rooms,
            "room_open_minutes_before": room_open_minutes_before,
            "require_racetime_link": require_racetime_link,
            "default_goal": default_goal,
            "announcement_channel_id": announcement_channel_id,
            "results_channel_id": results_channel_id,
            "streaming_required": streaming_required,
            "staff_channel_id": staff_channel_id,
        }
        chosen = {key: value for key, value in given.items() if value is not None}
        settings = _validated(replace(settings, **chosen))
        try:
            async with self._sessionmaker.begin() as session:
                await self._check_category(session, guild_id, settings.category)
                await self._check_name_free(session, guild_id, name)
                creator = await get_or_create_user_by_discord_id(session, _person(actor))
                tournament = Tournament(
                    guild_id=guild_id, name=name, racetime_category=settings.category,
                    created_by=creator.id,
                )
                settings.apply_to(tournament)
                await queries.add_tournament(session, tournament)
                await self._audit.record(
                    session, "tournament.create", actor_discord_id=actor.discord_id,
                    guild_id=guild_id,
                    details={"tournament_id": tournament.id, "name": name,
                             "settings": _audit_view(settings)},
                )
                return TournamentInfo.of(tournament)
        except IntegrityError:
            # Someone created the same name between our check and our insert.
            raise UserFacingError(_duplicate_message(name)) from None

    async def update_settings(
        self,
        guild_id: int,
        name: str,
        *,
        actor: Actor,
        category: str | _Unset = UNSET,
        auto_create_rooms: bool | _Unset = UNSET,
        room_open_minutes_before: int | _Unset = UNSET,
        require_racetime_link: bool | _Unset = UNSET,
        default_goal: str | _Unset | None = UNSET,
        announcement_channel_id: int | _Unset | None = UNSET,
        results_channel_id: int | _Unset | None = UNSET,
        streaming_required: bool | _Unset = UNSET,
        staff_channel_id: int | _Unset | None = UNSET,
        scheduling: str | _Unset = UNSET,
        reminder_minutes: int | _Unset = UNSET,
        reminder_channel_id: int | _Unset | None = UNSET,
        discord_events: bool | _Unset = UNSET,
        public: bool | _Unset = UNSET,
    ) -> SettingsUpdate:
        """Change the given settings of an active tournament (``None`` clears an optional
        one); returns what changed. Nothing given, or nothing different, changes nothing."""
        await self._access.require(actor, Permission.MANAGE_TOURNAMENTS, guild_id)
        given: dict[str, Any] = {
            "category": category,
            "auto_create_rooms": auto_create_rooms,
            "room_open_minutes_before": room_open_minutes_before,
            "require_racetime_link": require_racetime_link,
            "default_goal": default_goal,
            "announcement_channel_id": announcement_channel_id,
            "results_channel_id": results_channel_id,
            "streaming_required": streaming_required,
            "staff_channel_id": staff_channel_id,
            "scheduling": scheduling,
            "reminder_minutes": reminder_minutes,
            "reminder_channel_id": reminder_channel_id,
            "discord_events": discord_events,
            "public": public,
        }
        given = {key: value for key, value in given.items() if value is not UNSET}
        if isinstance(given.get("category"), str):
            given["category"] = normalise_category(given["category"])
        async with self._sessionmaker.begin() as session:
            tournament = await self._find(session, guild_id, name, include_archived=False)
            old = TournamentSettings.of(tournament)
            new = _validated(replace(old, **given))
            changed = {
                key: (getattr(old, key), getattr(new, key))
                for key in SETTING_NAMES
                if getattr(old, key) != getattr(new, key)
            }
            if "category" in changed:
                await self._check_category(session, guild_id, new.category)
            if changed:
                new.apply_to(tournament)
                await session.flush()
                await self._audit.record(
                    session, "tournament.settings", actor_discord_id=actor.discord_id,
                    guild_id=guild_id,
                    details={"tournament_id": tournament.id, "name": tournament.name,
                             "changed": {k: [_plain(o), _plain(n)]
                                         for k, (o, n) in changed.items()}},
                )
            update = SettingsUpdate(TournamentInfo.of(tournament), changed)
        if changed:
            self._settings_changed(tournament.id)
        return update

    async def archive(self, guild_id: int, name: str, *, actor: Actor) -> TournamentInfo:
        """Retire a tournament: it leaves the lists and autocomplete, and keeps its history."""
        await self._access.require(actor, Permission.MANAGE_TOURNAMENTS, guild_id)
        async with self._sessionmaker.begin() as session:
            tournament = await self._find(session, guild_id, name, include_archived=True)
            if not tournament.is_active:
                raise UserFacingError(f"**{tournament.name}** is already archived.")
            tournament.is_active = False
            await session.flush()
            await self._audit.record(
                session, "tournament.archive", actor_discord_id=actor.discord_id,
                guild_id=guild_id,
                details={"tournament_id": tournament.id, "name": tournament.name},
            )
            archived = TournamentInfo.of(tournament)
        self._settings_changed(tournament.id)
        return archived

    # -- the server's bots -------------------------------------------------------------------

    async def allow_bot(self, guild_id: int, category: str, *, actor: Actor) -> bool:
        """Let this server's tournaments use the category's bot (bot owners decide); returns
        whether it was new."""
        await self._access.require(actor, Permission.MANAGE_RACETIME_BOTS, guild_id)
        category = normalise_category(category)
        async with self._sessionmaker.begin() as session:
            bot = await get_bot_by_category(session, category)
            if bot is None or bot.id is None:
                raise NotFoundError(
                    f"There is no `{category}` bot. Add it with `/racetime bot add`; "
                    "`/racetime bot list` lists them."
                )
            added = await assign_bot_to_guild(session, bot.id, guild_id)
            if added:
                await self._audit.record(
                    session, "tournament.bot_allowed", actor_discord_id=actor.discord_id,
                    guild_id=guild_id, details={"category": category, "bot_id": bot.id},
                )
            return added

    # -- helpers -----------------------------------------------------------------------------

    async def _find(
        self, session: AsyncSession, guild_id: int, name: str, include_archived: bool
    ) -> Tournament:
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
            f"There is no tournament called `{typed}` in this server. "
            "`/tournament list` shows them; `/tournament create` makes one."
        )

    async def _check_name_free(self, session: AsyncSession, guild_id: int, name: str) -> None:
        if await queries.tournaments_named(session, guild_id, name):
            raise UserFacingError(_duplicate_message(name))

    async def _check_category(self, session: AsyncSession, guild_id: int, category: str) -> None:
        await check_category(session, guild_id, category)


async def check_category(session: AsyncSession, guild_id: int, category: str) -> None:
    """Refuse a racetime category whose bot does not serve the server (any tournament kind)."""
    allowed = [bot.category for bot in await list_bots_for_guild(session, guild_id)]
    if category in allowed:
        return
    if not allowed:
        raise UserFacingError(
            "No racetime category bot serves this server yet, so there is nothing to open "
            "rooms with. A bot owner adds one with `/racetime bot add` and lets this server "
            "use it with `/tournament allow-bot`."
        )
    choices = ", ".join(f"`{c}`" for c in allowed)
    raise UserFacingError(
        f"`{category}` is not a racetime category bot of this server (or it is stopped). "
        f"Choose one of: {choices}."
    )


def _person(actor: Actor) -> int:
    """The Discord id of a person who may change tournaments (the policy let them)."""
    assert actor.discord_id is not None
    return actor.discord_id


def check_scheduling(mode: str) -> str:
    if mode not in SCHEDULING_MODES:
        choices = ", ".join(f"`{key}` ({text})" for key, text in SCHEDULING_MODES.items())
        raise UserFacingError(f"Scheduling is one of {choices}; `{mode}` is not.")
    return mode


def check_reminder_minutes(minutes: int) -> int:
    """How long before a match its players are reminded: 5 minutes to a day."""
    if not REMINDER_MINUTES_MIN <= minutes <= REMINDER_MINUTES_MAX:
        raise UserFacingError(
            f"Reminders come {REMINDER_MINUTES_MIN} to {REMINDER_MINUTES_MAX} minutes before a "
            f"match (default {REMINDER_MINUTES_DEFAULT}); {minutes} is outside that range."
        )
    return minutes


def _validated(settings: TournamentSettings) -> TournamentSettings:
    return replace(
        settings,
        scheduling=check_scheduling(settings.scheduling),
        reminder_minutes=check_reminder_minutes(settings.reminder_minutes),
        room_open_minutes_before=check_match_room_minutes(settings.room_open_minutes_before),
        default_goal=clean_goal(settings.default_goal),
    )


def _duplicate_message(name: str) -> str:
    return (
        f"This server already has a tournament called **{name}** (names ignore case, and "
        "archived tournaments keep theirs). Choose another name."
    )


def _plain(value: Any) -> Any:
    """A value for the audit's JSON: snowflakes as text, so no reader rounds them."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**53:
        return str(value)
    return value


def _audit_view(settings: TournamentSettings) -> dict[str, Any]:
    return {key: _plain(value) for key, value in asdict(settings).items()}
