"""Query functions: results, and that they leave the transaction to the caller."""

import asyncio
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.engine import engine_of
from db.models import (
    AuditLog,
    BotStatus,
    Match,
    MatchPlayer,
    RaceRoom,
    RacetimeBot,
    RacetimeBotGuild,
    Tournament,
    User,
)
from db.queries import (
    add_audit_entry,
    get_bot,
    get_bot_by_category,
    get_or_create_user_by_discord_id,
    get_room,
    get_room_for_match,
    get_user_by_racetime_id,
    linked_user_ids,
    list_active_bots,
    list_active_rooms,
    list_bots_for_guild,
    upsert_room,
)
from db.queries.recipients import Audience, match_audience
from db.secrets import SecretBox

BIG = 1234567890123456789

Sessions = async_sessionmaker[AsyncSession]


async def _count(sessions: Sessions, model: type) -> int:
    async with sessions() as session:
        return (await session.execute(select(func.count()).select_from(model))).scalar_one()


async def test_get_or_create_user(db_sessionmaker: Sessions) -> None:
    async with db_sessionmaker.begin() as session:
        first = await get_or_create_user_by_discord_id(session, BIG)
        again = await get_or_create_user_by_discord_id(session, BIG)
        assert first is again
        assert first.id is not None and first.discord_id == BIG
        assert first.created_at.tzinfo is not None
    async with db_sessionmaker.begin() as session:
        later = await get_or_create_user_by_discord_id(session, BIG)
        assert later.id == first.id
    assert await _count(db_sessionmaker, User) == 1


async def test_get_or_create_user_concurrently(db_sessionmaker: Sessions) -> None:
    async def create() -> int | None:
        async with db_sessionmaker.begin() as session:
            return (await get_or_create_user_by_discord_id(session, BIG)).id

    ids = await asyncio.gather(*(create() for _ in range(5)))
    assert len(set(ids)) == 1
    assert await _count(db_sessionmaker, User) == 1


async def test_query_functions_do_not_commit(db_sessionmaker: Sessions) -> None:
    async with db_sessionmaker() as session:
        await get_or_create_user_by_discord_id(session, BIG)
        await upsert_room(session, "alttpr", "room-0001", last_version=1)
        await add_audit_entry(session, "user.create", actor_user_id=-1)
        await session.rollback()
    assert await _count(db_sessionmaker, User) == 0
    assert await _count(db_sessionmaker, RaceRoom) == 0
    assert await _count(db_sessionmaker, AuditLog) == 0


async def test_racetime_id_lookups(db_sessionmaker: Sessions) -> None:
    async with db_sessionmaker.begin() as session:
        session.add(User(discord_id=1, racetime_id="aaaaaaaaaaaaaaaa"))
        session.add(User(discord_id=2, racetime_id="bbbbbbbbbbbbbbbb"))
        session.add(User(discord_id=3))
    async with db_sessionmaker() as session:
        user = await get_user_by_racetime_id(session, "bbbbbbbbbbbbbbbb")
        assert user is not None and user.discord_id == 2
        assert await get_user_by_racetime_id(session, "cccccccccccccccc") is None
        linked = await linked_user_ids(
            session, ["aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb", "cccccccccccccccc"]
        )
        first = await get_user_by_racetime_id(session, "aaaaaaaaaaaaaaaa")
        assert first is not None
        assert linked == {"aaaaaaaaaaaaaaaa": first.id, "bbbbbbbbbbbbbbbb": user.id}
        assert await linked_user_ids(session, []) == {}


async def test_bot_queries(db_sessionmaker: Sessions, secret_box: SecretBox) -> None:
    async with db_sessionmaker.begin() as session:
        for category, active in [("smr", True), ("alttpr", True), ("ootr", False)]:
            session.add(
                RacetimeBot(
                    category=category,
                    display_name=category.upper(),
                    client_id=f"{category}-id",
                    client_secret_encrypted=secret_box.encrypt(f"{category}-secret"),
                    is_active=active,
                )
            )
    async with db_sessionmaker.begin() as session:
        bots = await list_active_bots(session)
        assert [bot.category for bot in bots] == ["alttpr", "smr"]
        assert all(bot.status == BotStatus.UNKNOWN for bot in bots)
        ootr = await get_bot_by_category(session, "ootr")
        assert ootr is not None and not ootr.is_active
        assert ootr.id is not None
        fetched = await get_bot(session, ootr.id)
        assert fetched is ootr
        assert await get_bot_by_category(session, "nope") is None
        assert await get_bot(session, 999_999) is None
        for bot in [*bots, ootr]:
            assert bot.id is not None
            session.add(RacetimeBotGuild(bot_id=bot.id, guild_id=BIG))
    async with db_sessionmaker() as session:
        assert [bot.category for bot in await list_bots_for_guild(session, BIG)] == [
            "alttpr",
            "smr",
        ]
        assert await list_bots_for_guild(session, 42) == []


async def test_upsert_room_inserts_then_updates(db_sessionmaker: Sessions) -> None:
    data = {"version": 3, "status": {"value": "open"}}
    async with db_sessionmaker.begin() as session:
        room = await upsert_room(
            session, "alttpr", "room-0001", opened_by_us=True, last_version=3, last_race_data=data
        )
        assert room.id is not None and room.opened_by_us and room.is_active
    async with db_sessionmaker.begin() as session:
        same = await upsert_room(
            session, "alttpr", "room-0001", last_version=4, last_status="in_progress"
        )
        assert same.id == room.id
        assert same.last_version == 4 and same.last_status == "in_progress"
        assert same.opened_by_us is True, "fields not passed stay as they were"
        assert same.last_race_data == data
        assert same.updated_at >= room.updated_at
    async with db_sessionmaker() as session:
        loaded = await get_room(session, "alttpr", "room-0001")
        assert loaded is not None and loaded.last_version == 4
        assert await get_room(session, "smr", "room-0001") is None
    with pytest.raises(TypeError, match="slugg"):
        async with db_sessionmaker() as session:
            await upsert_room(session, "alttpr", "room-0001", slugg="x")


async def test_upsert_room_refreshes_a_loaded_instance(db_sessionmaker: Sessions) -> None:
    async with db_sessionmaker.begin() as session:
        room = await upsert_room(session, "alttpr", "room-0001", last_version=1)
        again = await upsert_room(session, "alttpr", "room-0001", last_version=2)
        assert again is room
        assert room.last_version == 2


async def test_upsert_room_keeps_one_room_per_match(db_sessionmaker: Sessions) -> None:
    async with db_sessionmaker.begin() as session:
        tournament = Tournament(guild_id=BIG, name="Cup", racetime_category="alttpr")
        session.add(tournament)
        await session.flush()
        assert tournament.id is not None
        match = Match(tournament_id=tournament.id, title="A vs B")
        session.add(match)
        await session.flush()
        await upsert_room(session, "alttpr", "room-0001", match_id=match.id)
    with pytest.raises(IntegrityError):
        async with db_sessionmaker.begin() as session:
            await upsert_room(session, "alttpr", "room-0002", match_id=match.id)
    async with db_sessionmaker() as session:
        assert match.id is not None
        room = await get_room_for_match(session, match.id)
        assert room is not None and room.slug == "room-0001"


async def test_list_active_rooms(db_sessionmaker: Sessions) -> None:
    async with db_sessionmaker.begin() as session:
        await upsert_room(session, "alttpr", "a-0001")
        await upsert_room(session, "smr", "b-0002")
        await upsert_room(session, "alttpr", "c-0003", is_active=False)
        await upsert_room(session, "ootr", "d-0004")
    async with db_sessionmaker() as session:
        everything = await list_active_rooms(session)
        assert [room.name for room, _ in everything] == [
            "alttpr/a-0001", "smr/b-0002", "ootr/d-0004"
        ]
        some = await list_active_rooms(session, ["alttpr", "smr"])
        assert [room.name for room, _ in some] == ["alttpr/a-0001", "smr/b-0002"]
        assert await list_active_rooms(session, []) == []
        # Rooms of neither a match nor a live race belong to no tournament.
        assert {tournament_id for _, tournament_id in everything} == {None}


async def test_an_active_room_comes_with_its_matchs_tournament(db_sessionmaker: Sessions) -> None:
    async with db_sessionmaker.begin() as session:
        tournament = Tournament(guild_id=BIG, name="Cup", racetime_category="alttpr")
        session.add(tournament)
        await session.flush()
        assert tournament.id is not None
        match = Match(tournament_id=tournament.id, title="A vs B")
        session.add(match)
        await session.flush()
        await upsert_room(session, "alttpr", "room-0001", match_id=match.id)
        await upsert_room(session, "alttpr", "room-0002")
    async with db_sessionmaker() as session:
        rooms = await list_active_rooms(session, ["alttpr"])
    assert [(room.slug, of) for room, of in rooms] == [
        ("room-0001", tournament.id), ("room-0002", None)
    ]


async def test_a_match_s_audience_is_its_players_in_its_tournament_s_server(
    db_sessionmaker: Sessions,
) -> None:
    async with db_sessionmaker.begin() as session:
        tournament = Tournament(guild_id=BIG, name="Cup", racetime_category="alttpr")
        users = [User(discord_id=BIG + n) for n in range(3)]
        session.add_all([tournament, *users])
        await session.flush()
        assert tournament.id is not None
        duel = Match(tournament_id=tournament.id, title="A vs B")
        empty = Match(tournament_id=tournament.id, title="Nobody yet")
        session.add_all([duel, empty])
        await session.flush()
        assert duel.id is not None and empty.id is not None
        session.add_all([
            MatchPlayer(match_id=duel.id, user_id=users[2].id),
            MatchPlayer(match_id=duel.id, user_id=users[0].id),
        ])
    statements: list[str] = []
    engine = engine_of(db_sessionmaker).sync_engine
    def note(*args: Any) -> None:
        statements.append(args[2])
    event.listen(engine, "before_cursor_execute", note)
    try:
        async with db_sessionmaker() as session:
            found = await match_audience(session, duel.id)
    finally:
        event.remove(engine, "before_cursor_execute", note)
    assert len(statements) == 1, "one trip inside a listener's transaction"
    async with db_sessionmaker() as session:
        nobody = await match_audience(session, empty.id)
        gone = await match_audience(session, empty.id + 1000)
    assert found == Audience(BIG, "Cup", "A vs B", [users[2].id, users[0].id])
    assert nobody == Audience(BIG, "Cup", "Nobody yet", [])
    assert gone is None


async def test_add_audit_entry(db_sessionmaker: Sessions) -> None:
    async with db_sessionmaker.begin() as session:
        by_user = await add_audit_entry(
            session, "match.create", actor_user_id=7, guild_id=BIG, details={"match": 1}
        )
        by_system = await add_audit_entry(session, "room.open", actor_user_id=-1)
        unknown = await add_audit_entry(session, "room.close", actor_user_id=None)
        assert by_user.id is not None
    async with db_sessionmaker() as session:
        rows = (await session.execute(select(AuditLog).order_by(AuditLog.id))).scalars().all()  # type: ignore[arg-type]
        assert [(r.action, r.actor_user_id, r.guild_id, r.details) for r in rows] == [
            ("match.create", 7, BIG, {"match": 1}),
            ("room.open", -1, None, {}),
            ("room.close", None, None, {}),
        ]
        assert rows[0].created_at.tzinfo is not None
    assert by_system.actor_user_id == -1 and unknown.actor_user_id is None
