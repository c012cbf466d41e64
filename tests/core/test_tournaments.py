"""Tournaments, their settings and the servers' timezones, on the real database."""

from __future__ import annotations

import asyncio
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.access import AccessPolicy, Actor
from core.accounts.timezones import (
    TimezoneService,
    UnknownTimezoneError,
    parse_zone,
    suggest_zones,
)
from core.audit import AuditService
from core.clock import ManualClock
from core.errors import NotFoundError, UserFacingError
from core.tournaments.tournaments import TournamentService, TournamentSettings
from db.models import GuildSettings, RacetimeBot, RacetimeBotGuild, Tournament, User

GUILD, OTHER_GUILD = 111_111_111_111_111_111, 222_222_222_222_222_222
ADA, BOB = 900_000_000_000_000_001, 900_000_000_000_000_002
CHANNEL = 333_333_333_333_333_333  # past 2**53: a JSON double would round it
# Ada and Bob are server admins of both servers, as the services see them; Ada is also one of
# the bot owners.
BY_ADA = Actor.server_admin(ADA, GUILD)
BY_ADA_THERE = Actor.server_admin(ADA, OTHER_GUILD)
BY_BOB = Actor.server_admin(BOB, GUILD)
BY_BOB_THERE = Actor.server_admin(BOB, OTHER_GUILD)


@pytest.fixture
def audit(db_sessionmaker: async_sessionmaker[AsyncSession]) -> AuditService:
    return AuditService(db_sessionmaker)


@pytest.fixture
def access(
    db_sessionmaker: async_sessionmaker[AsyncSession], audit: AuditService
) -> AccessPolicy:
    return AccessPolicy(db_sessionmaker, audit, owner_ids=[ADA])


@pytest.fixture
async def service(
    db_sessionmaker: async_sessionmaker[AsyncSession], audit: AuditService, access: AccessPolicy
) -> TournamentService:
    async with db_sessionmaker.begin() as session:
        for category, active in (("alttpr", True), ("smz3", True), ("ootr", False)):
            bot = RacetimeBot(
                category=category, display_name=category, client_id="id",
                client_secret_encrypted=b"sealed", is_active=active,
            )
            session.add(bot)
            await session.flush()
            assert bot.id is not None
            session.add(RacetimeBotGuild(bot_id=bot.id, guild_id=GUILD))
        session.add(
            RacetimeBot(category="sm", display_name="sm", client_id="id",
                        client_secret_encrypted=b"sealed")
        )
    return TournamentService(db_sessionmaker, audit, access=access)


async def create(service: TournamentService, name: str = "Winter Cup", **options: object):
    return await service.create(
        GUILD, name, category=options.pop("category", "alttpr"), actor=BY_ADA,
        **options,  # type: ignore[arg-type]
    )


# -- create ------------------------------------------------------------------------------------


async def test_a_tournament_is_created_with_the_defaults_and_audited(
    service: TournamentService, audit: AuditService
) -> None:
    created = await create(service, "  Winter   Cup ")
    assert created.name == "Winter Cup"
    assert created.active
    assert created.settings == TournamentSettings(
        category="alttpr", auto_create_rooms=False, room_open_minutes_before=60,
        require_racetime_link=False, default_goal=None, announcement_channel_id=None,
        results_channel_id=None,
    )
    [entry] = await audit.entries("tournament.")
    assert entry.action == "tournament.create"
    assert entry.guild_id == GUILD
    assert entry.details["name"] == "Winter Cup"
    assert entry.details["tournament_id"] == created.id
    assert entry.actor_user_id is not None


async def test_every_setting_is_stored_and_read_back(
    service: TournamentService, db_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    created = await create(
        service, category=" SMZ3 ", auto_create_rooms=True, room_open_minutes_before=30,
        require_racetime_link=True, default_goal="  Beat the games ",
        announcement_channel_id=CHANNEL, results_channel_id=CHANNEL + 1,
    )
    again = await service.get(GUILD, "winter cup")
    assert again == created
    assert again.settings == TournamentSettings(
        category="smz3", auto_create_rooms=True, room_open_minutes_before=30,
        require_racetime_link=True, default_goal="Beat the games",
        announcement_channel_id=CHANNEL, results_channel_id=CHANNEL + 1,
    )
    async with db_sessionmaker() as session:
        row = await session.get(Tournament, created.id)
        assert row is not None
        assert row.racetime_category == "smz3"
        assert row.racetime_goal == "Beat the games"
        assert row.settings["announcement_channel_id"] == str(CHANNEL)
        assert row.settings["room_open_minutes_before"] == 30


@pytest.mark.parametrize("minutes", [29, 121, 0, -5])
async def test_room_open_minutes_outside_30_to_120_are_refused(
    service: TournamentService, minutes: int
) -> None:
    with pytest.raises(UserFacingError) as caught:
        await create(service, room_open_minutes_before=minutes)
    assert caught.value.message == (
        "Rooms can open 30 to 120 minutes before a match (default 60); "
        f"{minutes} is outside that range."
    )
    assert await service.list_tournaments(GUILD, actor=BY_ADA) == []


@pytest.mark.parametrize("minutes", [30, 120])
async def test_the_range_ends_are_allowed(service: TournamentService, minutes: int) -> None:
    created = await create(service, room_open_minutes_before=minutes)
    assert created.settings.room_open_minutes_before == minutes


async def test_a_duplicate_name_is_refused_ignoring_case(service: TournamentService) -> None:
    await create(service)
    with pytest.raises(UserFacingError, match=r"already has a tournament called \*\*WINTER CUP"):
        await create(service, "WINTER CUP")
    await service.archive(GUILD, "Winter Cup", actor=BY_ADA)
    with pytest.raises(UserFacingError, match="archived tournaments keep theirs"):
        await create(service, "Winter Cup")


async def test_the_same_name_in_another_server_is_fine(
    service: TournamentService, db_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await create(service)
    await service.allow_bot(OTHER_GUILD, "alttpr", actor=BY_ADA_THERE)
    other = await service.create(
        OTHER_GUILD, "Winter Cup", category="alttpr", actor=BY_BOB_THERE
    )
    assert other.guild_id == OTHER_GUILD
    listed = await service.list_tournaments(OTHER_GUILD, actor=BY_BOB_THERE)
    assert [t.name for t in listed] == ["Winter Cup"]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("   ", "Give the tournament a name"),
        ("x" * 101, "at most 100 characters; this one has 101"),
    ],
)
async def test_bad_names_are_refused(service: TournamentService, name: str, message: str) -> None:
    with pytest.raises(UserFacingError, match=message):
        await create(service, name)


async def test_a_goal_longer_than_200_characters_is_refused(service: TournamentService) -> None:
    with pytest.raises(UserFacingError, match="at most 200 characters; this one has 201"):
        await create(service, default_goal="g" * 201)


async def test_only_active_bots_assigned_to_the_server_are_allowed(
    service: TournamentService,
) -> None:
    assert await service.categories_for(GUILD, actor=BY_ADA) == ["alttpr", "smz3"]
    for category in ("ootr", "sm", "nope"):  # stopped, not assigned, unknown
        with pytest.raises(UserFacingError) as caught:
            await create(service, category=category)
        assert caught.value.message == (
            f"`{category}` is not a racetime category bot of this server (or it is stopped). "
            "Choose one of: `alttpr`, `smz3`."
        )


async def test_a_server_without_bots_is_told_how_to_get_one(service: TournamentService) -> None:
    with pytest.raises(UserFacingError, match="No racetime category bot serves this server yet"):
        await service.create(OTHER_GUILD, "Cup", category="alttpr", actor=BY_ADA_THERE)


async def test_allowing_a_bot_is_audited_once_and_needs_a_real_bot(
    service: TournamentService, audit: AuditService
) -> None:
    assert await service.allow_bot(GUILD, "sm", actor=BY_ADA) is True
    assert await service.allow_bot(GUILD, "SM", actor=BY_ADA) is False
    assert await service.categories_for(GUILD, actor=BY_ADA) == ["alttpr", "sm", "smz3"]
    assert [e.action for e in await audit.entries("tournament.")] == ["tournament.bot_allowed"]
    with pytest.raises(NotFoundError, match="There is no `zelda` bot"):
        await service.allow_bot(GUILD, "zelda", actor=BY_ADA)


# -- settings ----------------------------------------------------------------------------------


async def test_settings_change_only_what_was_given_and_report_it(
    service: TournamentService, audit: AuditService
) -> None:
    await create(service, default_goal="Beat the game")
    update = await service.update_settings(
        GUILD, "winter cup", actor=BY_BOB, room_open_minutes_before=90,
        auto_create_rooms=True, announcement_channel_id=CHANNEL, category="smz3",
    )
    assert update.changed == {
        "room_open_minutes_before": (60, 90),
        "auto_create_rooms": (False, True),
        "announcement_channel_id": (None, CHANNEL),
        "category": ("alttpr", "smz3"),
    }
    settings = (await service.get(GUILD, "Winter Cup")).settings
    assert settings.default_goal == "Beat the game"
    assert settings.room_open_minutes_before == 90
    entry = (await audit.entries("tournament.settings"))[0]
    assert entry.details["changed"]["room_open_minutes_before"] == [60, 90]
    assert entry.details["changed"]["announcement_channel_id"] == [None, str(CHANNEL)]


async def test_none_clears_an_optional_setting(service: TournamentService) -> None:
    await create(service, default_goal="Beat the game", results_channel_id=CHANNEL)
    update = await service.update_settings(
        GUILD, "Winter Cup", actor=BY_ADA, default_goal=None, results_channel_id=None
    )
    assert update.changed == {
        "default_goal": ("Beat the game", None), "results_channel_id": (CHANNEL, None)
    }
    settings = (await service.get(GUILD, "Winter Cup")).settings
    assert settings.default_goal is None and settings.results_channel_id is None


async def test_no_change_is_not_audited(
    service: TournamentService, audit: AuditService
) -> None:
    await create(service)
    update = await service.update_settings(
        GUILD, "Winter Cup", actor=BY_ADA, room_open_minutes_before=60
    )
    assert update.changed == {}
    assert [e.action for e in await audit.entries("tournament.")] == ["tournament.create"]


async def test_bad_settings_change_nothing(service: TournamentService) -> None:
    await create(service)
    with pytest.raises(UserFacingError, match="30 to 120 minutes"):
        await service.update_settings(
            GUILD, "Winter Cup", actor=BY_ADA, room_open_minutes_before=200,
            auto_create_rooms=True,
        )
    with pytest.raises(UserFacingError, match="`ootr` is not a racetime category bot"):
        await service.update_settings(
            GUILD, "Winter Cup", actor=BY_ADA, category="ootr", auto_create_rooms=True
        )
    assert (await service.get(GUILD, "Winter Cup")).settings.auto_create_rooms is False


async def test_unknown_and_archived_tournaments_are_refused(service: TournamentService) -> None:
    with pytest.raises(NotFoundError, match="There is no tournament called `Spring` in this"):
        await service.update_settings(GUILD, "Spring", actor=BY_ADA)
    with pytest.raises(NotFoundError):
        await service.get(GUILD, "Spring")
    await create(service)
    with pytest.raises(NotFoundError):
        await service.get(OTHER_GUILD, "Winter Cup")
    await service.archive(GUILD, "Winter Cup", actor=BY_ADA)
    with pytest.raises(UserFacingError, match=r"\*\*Winter Cup\*\* is archived"):
        await service.update_settings(
            GUILD, "Winter Cup", actor=BY_ADA, auto_create_rooms=True
        )
    with pytest.raises(UserFacingError, match="already archived"):
        await service.archive(GUILD, "Winter Cup", actor=BY_ADA)


# -- list, archive, autocomplete ---------------------------------------------------------------


async def test_archived_tournaments_leave_the_list_and_suggestions(
    service: TournamentService, audit: AuditService
) -> None:
    for name in ("Winter Cup", "Spring Cup", "Summer League"):
        await create(service, name)
    archived = await service.archive(GUILD, "spring cup", actor=BY_BOB)
    assert not archived.active
    active = await service.list_tournaments(GUILD, actor=BY_ADA)
    assert [t.name for t in active] == ["Summer League", "Winter Cup"]
    everything = await service.list_tournaments(GUILD, actor=BY_ADA, include_archived=True)
    assert [(t.name, t.active) for t in everything] == [
        ("Summer League", True), ("Winter Cup", True), ("Spring Cup", False),
    ]
    assert await service.suggest_names(GUILD, "CUP") == ["Winter Cup"]
    assert await service.suggest_names(GUILD, "") == ["Summer League", "Winter Cup"]
    assert await service.suggest_names(OTHER_GUILD, "") == []
    assert (await service.get(GUILD, "Spring Cup")).active is False
    [entry] = await audit.entries("tournament.archive")
    assert entry.details["name"] == "Spring Cup"


async def test_suggestions_match_substrings_literally_and_stop_at_25(
    service: TournamentService,
) -> None:
    for index in range(30):
        await create(service, f"League {index:02d}")
    await create(service, "100% Cup")
    assert len(await service.suggest_names(GUILD, "league")) == 25
    assert await service.suggest_names(GUILD, "%") == ["100% Cup"]
    assert await service.suggest_names(GUILD, "gue 2") == [f"League 2{i}" for i in range(10)]


# -- timezones ---------------------------------------------------------------------------------


@pytest.fixture
def timezones(
    db_sessionmaker: async_sessionmaker[AsyncSession], audit: AuditService, access: AccessPolicy
) -> TimezoneService:
    return TimezoneService(db_sessionmaker, audit, ManualClock(), access=access)


async def test_a_player_zone_wins_then_the_server_zone_then_utc(
    timezones: TimezoneService, audit: AuditService
) -> None:
    assert await timezones.timezone_for(ADA, GUILD) == ZoneInfo("UTC")
    await timezones.set_server_timezone(GUILD, "america/new_york", actor=BY_BOB)
    assert await timezones.server_timezone(GUILD) == "America/New_York"
    assert await timezones.timezone_for(ADA, GUILD) == ZoneInfo("America/New_York")
    assert await timezones.timezone_for(ADA, OTHER_GUILD) == ZoneInfo("UTC")
    assert await timezones.timezone_for(ADA, None) == ZoneInfo("UTC")
    await timezones.set_user_timezone(ADA, "Europe/Berlin")
    assert await timezones.user_timezone(ADA) == "Europe/Berlin"
    assert await timezones.timezone_for(ADA, GUILD) == ZoneInfo("Europe/Berlin")
    assert await timezones.timezone_for(BOB, GUILD) == ZoneInfo("America/New_York")
    [entry] = await audit.entries("timezone.")
    assert entry.details == {"old": "UTC", "new": "America/New_York"}


async def test_setting_a_zone_creates_the_user_row(
    timezones: TimezoneService, db_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await timezones.set_user_timezone(ADA, "Asia/Tokyo")
    async with db_sessionmaker() as session:
        users = list((await session.execute(select(User))).scalars())
    assert [(u.discord_id, u.timezone) for u in users] == [(ADA, "Asia/Tokyo")]


async def test_an_unknown_zone_is_refused_with_an_example(timezones: TimezoneService) -> None:
    with pytest.raises(UnknownTimezoneError) as caught:
        await timezones.set_user_timezone(ADA, "Mars/Olympus")
    assert caught.value.message.startswith("`Mars/Olympus` is not a timezone RaceDesk knows.")
    assert "`Europe/Berlin`" in caught.value.message
    assert await timezones.user_timezone(ADA) is None
    with pytest.raises(UnknownTimezoneError, match="Did you mean `Europe/Berlin`"):
        parse_zone("berlin")


async def test_a_stored_zone_the_tz_database_lost_falls_through(
    timezones: TimezoneService, db_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    async with db_sessionmaker.begin() as session:
        session.add(User(discord_id=ADA, timezone="Gone/Away"))
        session.add(GuildSettings(guild_id=GUILD, default_timezone="Europe/Paris"))
    assert await timezones.timezone_for(ADA, GUILD) == ZoneInfo("Europe/Paris")


def test_zone_names_are_parsed_loosely() -> None:
    assert parse_zone(" europe/berlin ").key == "Europe/Berlin"
    assert parse_zone("America/New York").key == "America/New_York"
    assert parse_zone("utc").key == "UTC"


def test_suggestions_match_substrings_with_prefixes_first() -> None:
    assert suggest_zones("berlin") == ["Europe/Berlin"]
    new = suggest_zones("new")
    assert new[0] == "America/New_York"
    assert all("new" in name.lower() for name in new)
    assert len(suggest_zones("")) == 25
    assert len(suggest_zones("a")) == 25
    assert suggest_zones("no such place") == []


@pytest.mark.postgres
async def test_two_creates_of_one_name_at_once_make_one_tournament(
    service: TournamentService,
) -> None:
    results = await asyncio.gather(
        *(create(service, "Race Cup") for _ in range(4)), return_exceptions=True
    )
    created = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(created) == 1
    assert all(isinstance(r, UserFacingError) for r in refused), refused
    assert all("already has a tournament called **Race Cup**" in r.message for r in refused)
    assert [t.name for t in await service.list_tournaments(GUILD, actor=BY_ADA)] == ["Race Cup"]


# -- names beyond ASCII ------------------------------------------------------------------------


async def test_a_name_beyond_ascii_is_found_in_any_case_and_not_taken_twice(
    service: TournamentService, db_sessionmaker: async_sessionmaker[AsyncSession],
    access: AccessPolicy, audit: AuditService,
) -> None:
    """SQLite's lower() folds ASCII only: the names are compared by a stored casefolded key,
    on both backends alike."""
    await create(service, "Ärger Cup")
    assert await service.suggest_names(GUILD, "ärg") == ["Ärger Cup"]
    assert await service.suggest_names(GUILD, "ÄRGER") == ["Ärger Cup"]
    for typed in ("Ärger Cup", "ärger cup", "ÄRGER CUP", "ärger  cup"):
        assert (await service.info(GUILD, typed, actor=BY_ADA)).name == "Ärger Cup"
    with pytest.raises(UserFacingError, match="already has a tournament called"):
        await create(service, "ÄRGER CUP")
    await create(service, "Straße Cup")
    with pytest.raises(UserFacingError, match="already has a tournament called"):
        await create(service, "STRASSE CUP")  # casefolded, ß is ss

    # The async tournaments and their pools compare names the same way.
    from core.live_races.async_tournaments import AsyncTournamentService

    asyncs = AsyncTournamentService(db_sessionmaker, audit, access=access)
    await asyncs.create(GUILD, "Öl Async", category="alttpr", actor=BY_ADA)
    assert (await asyncs.info(GUILD, "öl async", actor=BY_ADA)).name == "Öl Async"
    assert await asyncs.suggest_names(GUILD, "öl") == ["Öl Async"]
    with pytest.raises(UserFacingError, match="already has an async tournament"):
        await asyncs.create(GUILD, "ÖL ASYNC", category="alttpr", actor=BY_ADA)
    await asyncs.add_pool(GUILD, "öl async", "Übung", actor=BY_ADA)
    with pytest.raises(UserFacingError, match="already has a pool called"):
        await asyncs.add_pool(GUILD, "Öl Async", "ÜBUNG", actor=BY_ADA)
