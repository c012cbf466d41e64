"""Every table round-trips on the selected backend, and the constraints hold."""

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import SQLModel

import db.models
from db.models import (
    ApiToken,
    AsyncLiveRace,
    AsyncParticipant,
    AsyncPool,
    AsyncPoolRun,
    AsyncPoolSeed,
    AsyncRun,
    AsyncTournament,
    AuditLog,
    BotStatus,
    CalendarFeed,
    CalendarMatchRevision,
    EventLogEntry,
    FpaCall,
    GuildSettings,
    LeadershipLease,
    LinkState,
    ListenerReceipt,
    Match,
    MatchDiscordEvent,
    MatchPlayer,
    MatchProposal,
    MatchRoomClaim,
    NotificationLog,
    NotificationSubscription,
    ParkedDelivery,
    RaceRoom,
    RacetimeAlert,
    RacetimeBot,
    RacetimeBotGuild,
    RacetimeBotStatusHistory,
    RacetimeIncident,
    RoomBreaks,
    RoomSeed,
    Tournament,
    User,
)
from db.secrets import SecretBox
from db.types import NaiveDatetimeError

BIG = 1234567890123456789  # above 2**53: would lose precision as a float or in INTEGER
assert BIG > 2**53
PLUS_TWO = timezone(timedelta(hours=2))
WHEN = datetime(2030, 5, 6, 7, 8, 9, 123456, tzinfo=PLUS_TWO)
RACE_DATA: dict[str, Any] = {
    "name": "alttpr/clever-link-1234",
    "version": 42,
    "entrants": [{"user": {"id": "aB3dE6gH9jK2mN5p"}, "place": 1, "finish_time": None}],
    "nested": {"unicode": "Zelda ✓", "float": 1.5, "flag": True},
}


def _pk(row: SQLModel) -> Any:
    if isinstance(row, GuildSettings):
        return row.guild_id
    if isinstance(row, EventLogEntry):
        return row.seq
    if isinstance(row, CalendarMatchRevision):
        return row.match_id
    return row.id  # type: ignore[attr-defined]


async def _insert_one_of_everything(
    session: AsyncSession, box: SecretBox
) -> dict[str, list[SQLModel]]:
    rows: dict[str, list[SQLModel]] = {}
    # The migration made the lease's one row (a truncated PostgreSQL database has none).
    await session.execute(text("DELETE FROM leadership_lease"))

    def keep(*new: SQLModel) -> None:
        for row in new:
            session.add(row)
            rows.setdefault(row.__tablename__, []).append(row)  # type: ignore[arg-type]

    keep(
        GuildSettings(
            guild_id=BIG,
            organizer_role_id=BIG + 1,
            moderator_role_id=BIG + 2,
            announcement_channel_id=BIG + 3,
            results_channel_id=BIG + 4,
            notification_fallback_channel_id=BIG + 5,
            admin_channel_id=BIG + 6,
            default_timezone="Europe/Berlin",
        )
    )
    user = User(
        discord_id=BIG,
        racetime_id="aB3dE6gH9jK2mN5p",
        racetime_name="Link#1234",
        access_token_encrypted=box.encrypt("access-token-plaintext"),
        refresh_token_encrypted=box.encrypt("refresh-token-plaintext"),
        token_expires_at=WHEN,
        timezone="Europe/Berlin",
    )
    bot = RacetimeBot(
        category="alttpr",
        display_name="ALttPR",
        client_id="client-id",
        client_secret_encrypted=box.encrypt("client-secret-plaintext"),
        status=BotStatus.CONNECTED,
        status_message="ok",
        last_connected_at=WHEN,
        last_status_check_at=WHEN,
    )
    keep(user, bot)
    await session.flush()
    assert user.id is not None and bot.id is not None
    keep(
        RacetimeBotStatusHistory(
            bot_id=bot.id,
            old_status=BotStatus.UNKNOWN,
            new_status=BotStatus.CONNECTED,
            status_message="connected",
            changed_at=WHEN,
        ),
        RacetimeBotGuild(bot_id=bot.id, guild_id=BIG),
    )
    incident = RacetimeIncident(
        bot_id=bot.id, subject=f"bot:{bot.id}", open_key=f"bot:{bot.id}", detail="refused",
        opened_at=WHEN,
    )
    keep(incident)
    await session.flush()
    assert incident.id is not None
    keep(
        RacetimeAlert(
            incident_id=incident.id, kind="opened", text="🔑 not working", sent_at=WHEN,
            attempts=2, last_error="owner:1: 503",
        )
    )
    tournament = Tournament(
        guild_id=BIG,
        name="Spring Cup",
        racetime_category="alttpr",
        racetime_goal="Beat the game",
        settings={"invitational": True, "start_delay": 15, "info_user": "Seed ✓"},
        created_by=user.id,
    )
    async_tournament = AsyncTournament(
        guild_id=BIG, name="Async Cup", racetime_category="alttpr", goal="Beat the game",
        reviewer_role_id=BIG,
    )
    keep(tournament, async_tournament)
    await session.flush()
    assert tournament.id is not None and async_tournament.id is not None
    match = Match(
        tournament_id=tournament.id, title="A vs B", scheduled_at=WHEN, created_by=user.id
    )
    pool = AsyncPool(tournament_id=async_tournament.id, name="Pool 1", description="Standard")
    keep(match, pool)
    await session.flush()
    assert match.id is not None and pool.id is not None
    live_race = AsyncLiveRace(
        tournament_id=async_tournament.id,
        pool_id=pool.id,
        scheduled_at=WHEN,
        racetime_slug="clever-link-1234",
        created_by=user.id,
        room_claim_epoch=2**40 + 1,
    )
    keep(
        MatchPlayer(
            match_id=match.id,
            user_id=user.id,
            place=1,
            finish_time=timedelta(hours=1, minutes=23, seconds=45, microseconds=678901),
            status="done",
        ),
        AsyncParticipant(tournament_id=async_tournament.id, user_id=user.id),
        live_race,
    )
    await session.flush()
    assert live_race.id is not None
    keep(
        RaceRoom(
            category="alttpr",
            slug="clever-link-1234",
            match_id=match.id,
            last_status="open",
            last_version=42,
            opened_by_us=True,
            last_race_data=RACE_DATA,
        ),
        RaceRoom(category="alttpr", slug="sneaky-zelda-5678", live_race_id=live_race.id),
        AsyncPoolRun(
            pool_id=pool.id, user_id=user.id, live_race_id=live_race.id, status="done",
            place=1, finish_time=timedelta(minutes=95, microseconds=5), event_id="e-1",
        ),
        MatchRoomClaim(
            match_id=match.id,
            state="opened",
            category="alttpr",
            slug="clever-link-1234",
            info="Cup - A vs B - Scheduled: 2026-11-26 12:00 UTC",
            reason="manual",
            leader_epoch=2**40,
            actor_user_id=user.id,
            attempts=2,
            last_error="racetime.gg had a server error",
            opened_at=WHEN,
        ),
        NotificationSubscription(user_id=user.id, guild_id=BIG, event_type="match_scheduled"),
        NotificationSubscription(
            user_id=user.id, guild_id=BIG, event_type="match_scheduled",
            tournament_id=tournament.id
        ),
        NotificationLog(
            user_id=user.id,
            guild_id=BIG,
            event_type="match_scheduled",
            event_id=f"match:{match.id}:scheduled",
            payload={"match_id": match.id, "when": WHEN.isoformat()},
            attempts=2,
            last_error="403 Forbidden",
            next_attempt_at=WHEN,
            sent_at=WHEN,
        ),
        AuditLog(actor_user_id=user.id, guild_id=BIG, action="match.create", details=RACE_DATA),
        AuditLog(actor_user_id=-1, action="room.open", details={}),
        AuditLog(actor_user_id=None, action="unknown.thing"),
        EventLogEntry(
            event_id="alttpr/clever-link-1234:42:RacetimeRaceStatusChangedEvent",
            kind="RacetimeRaceStatusChangedEvent",
            partition_key="room:alttpr/clever-link-1234",
            payload={"new_status": "finished", "racetime_version": 42},
            occurred_at=WHEN,
            delivered_at=WHEN,
        ),
        ParkedDelivery(
            seq=1, event_id="x:1", kind="RacetimeBotStatusChangedEvent", listener="l",
            error="RuntimeError: boom", attempts=5,
        ),
        ListenerReceipt(listener="results", event_id="x:1"),
        LinkState(state_hash="ab" * 32, discord_id=BIG, expires_at=WHEN, used_at=WHEN),
        ApiToken(
            guild_id=BIG, name="stream-overlay", token_hash="ab" * 32,
            created_by_discord_id=BIG, last_used_at=WHEN, revoked_at=WHEN,
        ),
        RoomSeed(
            category="alttpr", slug="clever-link-1234", match_id=match.id, preset="open",
            url="https://alttpr.com/h/abc", text="https://alttpr.com/h/abc (code: Bow/Bow)",
            code="Bow/Bow", rolls=2, locked=True, rolling_request="alttpr/x:chat:k1",
            rolled_by_discord_id=BIG, rolled_at=WHEN,
        ),
        FpaCall(
            request_id="alttpr/clever-link-1234:chat:k2", category="alttpr",
            slug="clever-link-1234", match_id=match.id, racetime_user_id="4BlRneEk9jxN6Qka",
            racetime_user_name="RacerOne", caller_discord_id=BIG, reason="game crashed",
            race_time_seconds=4925.5, called_at=WHEN, cleared_at=WHEN,
            cleared_by_discord_id=BIG,
        ),
        MatchDiscordEvent(match_id=match.id, guild_id=BIG, discord_event_id=BIG + 1,
                          phase="ended"),
        RoomBreaks(
            category="alttpr", slug="clever-link-1234", duration_seconds=300,
            every_seconds=9000, announced=4, set_by_discord_id=BIG,
        ),
        CalendarFeed(
            kind="tournament", guild_id=BIG, tournament_id=tournament.id,
            token_hash="cd" * 32, token_encrypted=box.encrypt("cal_secret"),
            created_by_discord_id=BIG, revoked_at=WHEN,
        ),
        CalendarFeed(
            kind="player", user_id=user.id, token_hash="ef" * 32,
            token_encrypted=box.encrypt("cal_other"), created_by_discord_id=BIG,
        ),
        CalendarMatchRevision(match_id=match.id, fingerprint="ab" * 32, sequence=3,
                              changed_at=WHEN),
        AsyncPoolSeed(
            pool_id=pool.id, position=1, seed="https://alttpr.com/h/abc",
            par_time=timedelta(hours=1, minutes=30), added_by_discord_id=BIG,
        ),
        MatchProposal(
            match_id=match.id, live_match_id=match.id, proposer_discord_id=BIG,
            proposed_at=WHEN, state="accepted", needs_approval=True, accepted_by=[str(BIG)],
            decided_by_discord_id=BIG, reason="restream", replaced_by=7,
        ),
    )
    await session.flush()
    seed = rows["async_pool_seeds"][0]
    assert isinstance(seed, AsyncPoolSeed) and seed.id is not None
    keep(
        AsyncRun(
            tournament_id=async_tournament.id, pool_id=pool.id, seed_id=seed.id,
            user_id=user.id, attempt=2, status="submitted", running_tournament_id=None,
            started_at=WHEN, deadline_at=WHEN + timedelta(hours=12), ended_at=WHEN,
            finish_time=timedelta(hours=1, minutes=2, seconds=3), vod_url="https://v.example/1",
            comment="gg", forfeit_reason=None, reattempt_allowed=True,
            reviewer_discord_id=2**62, reviewed_at=WHEN, review_reason="VOD cut",
            original_finish_time=timedelta(hours=1, minutes=3),
        ),
        LeadershipLease(
            epoch=2**40, holder="racedesk-0123456789abcdef", holder_name="host-a:4242",
            backend_pid=31337, acquired_at=WHEN, renewed_at=WHEN, trust_seconds=6.0,
            released_at=WHEN,
        ),
    )
    await session.flush()
    return rows


async def test_every_table_round_trips(
    db_sessionmaker: async_sessionmaker[AsyncSession], secret_box: SecretBox
) -> None:
    async with db_sessionmaker.begin() as session:
        rows = await _insert_one_of_everything(session, secret_box)
        expected = {
            table: [(type(row), _pk(row), row.model_dump()) for row in table_rows]
            for table, table_rows in rows.items()
        }
    assert set(expected) == set(db.models.metadata.tables), "a table is missing from the test"

    async with db_sessionmaker() as session:
        for table_rows in expected.values():
            for model, pk, values in table_rows:
                loaded = await session.get(model, pk)
                assert loaded is not None, (model, pk)
                assert loaded.model_dump() == values, model
                for name, value in loaded.model_dump().items():
                    if isinstance(value, datetime):
                        assert value.tzinfo is UTC, (model, name)

        user = (await session.execute(select(User))).scalar_one()
        assert user.discord_id == BIG
        assert user.token_expires_at == WHEN
        assert user.access_token_encrypted is not None
        assert secret_box.decrypt(user.access_token_encrypted) == "access-token-plaintext"
        assert user.refresh_token_encrypted is not None
        assert secret_box.decrypt(user.refresh_token_encrypted) == "refresh-token-plaintext"
        bot = (await session.execute(select(RacetimeBot))).scalar_one()
        assert secret_box.decrypt(bot.client_secret_encrypted) == "client-secret-plaintext"
        assert bot.status == BotStatus.CONNECTED
        room = (
            await session.execute(select(RaceRoom).where(RaceRoom.slug == "clever-link-1234"))
        ).scalar_one()
        assert room.last_race_data == RACE_DATA
        assert room.name == "alttpr/clever-link-1234"
        other_room = (
            await session.execute(select(RaceRoom).where(RaceRoom.slug == "sneaky-zelda-5678"))
        ).scalar_one()
        assert other_room.last_race_data is None

        # What is stored is ciphertext only.
        raw = (
            await session.execute(
                text(
                    "SELECT u.access_token_encrypted, u.refresh_token_encrypted, "
                    "b.client_secret_encrypted FROM users u, racetime_bots b"
                )
            )
        ).one()
        for stored, secret in zip(
            raw, ["access-token", "refresh-token", "client-secret"], strict=True
        ):
            assert secret.encode() not in bytes(stored)
        # SQL NULL, not JSON null, for a room without a snapshot.
        null_count = (
            await session.execute(
                text("SELECT count(*) FROM race_rooms WHERE last_race_data IS NULL")
            )
        ).scalar_one()
        assert null_count == 1


async def test_updated_at_moves_on_update(
    db_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with db_sessionmaker.begin() as session:
        user = User(discord_id=BIG)
        session.add(user)
    created = user.updated_at
    async with db_sessionmaker.begin() as session:
        loaded = await session.get(User, user.id)
        assert loaded is not None
        loaded.timezone = "UTC"
    async with db_sessionmaker() as session:
        reloaded = await session.get(User, user.id)
        assert reloaded is not None
        assert reloaded.updated_at > created
        assert reloaded.created_at == user.created_at


async def test_naive_datetime_is_rejected(
    db_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    with pytest.raises(StatementError) as excinfo:
        async with db_sessionmaker.begin() as session:
            session.add(User(discord_id=BIG, token_expires_at=datetime(2030, 1, 1)))
    assert isinstance(excinfo.value.orig, NaiveDatetimeError)


async def _setup_match(session: AsyncSession) -> Match:
    tournament = Tournament(guild_id=BIG, name="Cup", racetime_category="alttpr")
    session.add(tournament)
    await session.flush()
    assert tournament.id is not None
    match = Match(tournament_id=tournament.id, title="A vs B", scheduled_at=WHEN)
    session.add(match)
    await session.flush()
    return match


async def test_one_room_per_match(db_sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    async with db_sessionmaker.begin() as session:
        match = await _setup_match(session)
        session.add(RaceRoom(category="alttpr", slug="first-room-0001", match_id=match.id))
    with pytest.raises(IntegrityError):
        async with db_sessionmaker.begin() as session:
            session.add(RaceRoom(category="alttpr", slug="second-room-0002", match_id=match.id))


async def test_room_slug_unique_per_category(
    db_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with db_sessionmaker.begin() as session:
        session.add(RaceRoom(category="alttpr", slug="same-slug-0001"))
        session.add(RaceRoom(category="smr", slug="same-slug-0001"))
    with pytest.raises(IntegrityError):
        async with db_sessionmaker.begin() as session:
            session.add(RaceRoom(category="alttpr", slug="same-slug-0001"))


@pytest.mark.parametrize(
    ("make_first", "make_second"),
    [
        pytest.param(
            lambda uid: User(discord_id=BIG),
            lambda uid: User(discord_id=BIG),
            id="users.discord_id",
        ),
        pytest.param(
            lambda uid: MatchPlayer(match_id=uid["match"], user_id=uid["user"]),
            lambda uid: MatchPlayer(match_id=uid["match"], user_id=uid["user"]),
            id="match_players",
        ),
        pytest.param(
            lambda uid: NotificationSubscription(user_id=uid["user"], guild_id=BIG, event_type="x"),
            lambda uid: NotificationSubscription(user_id=uid["user"], guild_id=BIG, event_type="x"),
            id="subscription-all-tournaments",
        ),
        pytest.param(
            lambda uid: NotificationLog(user_id=uid["user"], event_type="x", event_id="e1"),
            lambda uid: NotificationLog(user_id=uid["user"], event_type="x", event_id="e1"),
            id="notification-per-user",
        ),
        pytest.param(
            lambda uid: NotificationLog(guild_id=BIG, event_type="x", event_id="e1"),
            lambda uid: NotificationLog(guild_id=BIG, event_type="x", event_id="e1"),
            id="notification-per-guild",
        ),
        pytest.param(
            lambda uid: Tournament(guild_id=BIG, name="Other", racetime_category="a"),
            lambda uid: Tournament(guild_id=BIG, name="Other", racetime_category="b"),
            id="tournament-name-per-guild",
        ),
    ],
)
async def test_unique_constraints(
    db_sessionmaker: async_sessionmaker[AsyncSession], make_first: Any, make_second: Any
) -> None:
    async with db_sessionmaker.begin() as session:
        user = User(discord_id=BIG + 10)
        session.add(user)
        match = await _setup_match(session)
        await session.flush()
        ids = {"user": user.id, "match": match.id}
        session.add(make_first(ids))
    with pytest.raises(IntegrityError):
        async with db_sessionmaker.begin() as session:
            session.add(make_second(ids))


async def test_invalid_status_is_rejected(
    db_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with db_sessionmaker.begin() as session:
        match = await _setup_match(session)
    with pytest.raises(IntegrityError):
        async with db_sessionmaker.begin() as session:
            loaded = await session.get(Match, match.id)
            assert loaded is not None
            loaded.status = "exploded"


async def test_deleting_a_match_frees_its_room_and_players(
    db_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with db_sessionmaker.begin() as session:
        match = await _setup_match(session)
        user = User(discord_id=BIG)
        session.add(user)
        await session.flush()
        assert user.id is not None and match.id is not None
        session.add(MatchPlayer(match_id=match.id, user_id=user.id))
        session.add(RaceRoom(category="alttpr", slug="room-0001", match_id=match.id))
    async with db_sessionmaker.begin() as session:
        await session.execute(text("DELETE FROM matches"))
    async with db_sessionmaker() as session:
        room = (await session.execute(select(RaceRoom))).scalar_one()
        assert room.match_id is None
        assert (await session.execute(select(MatchPlayer))).first() is None
