"""What each redelivery test sets up and delivers, and the durable state it compares.

A scenario writes the rows a listener reads (a tournament, a match, a room's final snapshot,
a live race, a racetime bot, a linked player) and returns the events that drive the
listeners, as the engine, the services and the linking flow emit them. Every listener
downstream runs too: a finished race's ``MatchResultEvent`` reaches the notification listener
and the announcements, which is where a doubled result would show.

:func:`durable_state` reads everything a listener records or emits (the event log, the
notification outbox, results, runs, incidents and alerts, receipts), so a test compares the
state after the first delivery with the state after the repeat, whatever the listener.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from core.events import (
    AsyncLiveRaceCreatedEvent,
    AsyncLiveRaceRoomOpenedEvent,
    Event,
    MatchCancelledEvent,
    MatchInviteRefusedEvent,
    MatchProposalDeclinedEvent,
    MatchReminderEvent,
    MatchRescheduledEvent,
    MatchRoomProblemEvent,
    MatchScheduledEvent,
    MatchTimeProposedEvent,
    RacetimeAccountLinkedEvent,
    RacetimeBotStatusChangedEvent,
    RacetimeLinkNeedsReauthorizationEvent,
    RacetimeRaceStatusChangedEvent,
    RacetimeRoomOpenedEvent,
)
from core.identity import SYSTEM_USER_ID
from core.notifications.kinds import NotificationType
from core.racetime_bots.alerts import RECEIPTS
from db.models import (
    AsyncLiveRace,
    AsyncParticipant,
    AsyncPoolRun,
    AsyncTournament,
    BotStatus,
    EventLogEntry,
    ListenerReceipt,
    Match,
    MatchDiscordEvent,
    MatchPlayer,
    MatchProposal,
    NotificationLog,
    NotificationSubscription,
    RaceRoom,
    RacetimeAlert,
    RacetimeBot,
    RacetimeIncident,
    Tournament,
    User,
)
from db.secrets import SecretBox
from tests.racetime import frames

CATEGORY = str(frames.CATEGORY["slug"])  # the category the room snapshots are of
WHEN = datetime(2030, 5, 4, 18, 0, tzinfo=UTC)
RACERS = (frames.user(1, name="Ada"), frames.user(2, name="Bob"))


@dataclass(frozen=True, slots=True)
class Place:
    """Where a scenario's rows point: the server, a channel, two members' Discord ids."""

    guild_id: int
    channel_id: int
    discord_ids: tuple[int, int]


# Receipts kept by delivery loops that run beside event delivery, whenever they get to it (the
# racetime alerts' sender): not a listener's effect, and not in step with the dispatcher.
NOT_LISTENERS = frozenset({RECEIPTS})


@dataclass(frozen=True, slots=True)
class DurableState:
    """Everything a listener records or emits, in a form two reads can be compared in."""

    events: Counter[tuple[str, str]]  # (kind, event_id) -> rows in the event log
    notifications: Counter[tuple[str, str, int | None]]  # (type, event id, user) -> rows
    results: tuple[tuple[int, str, int | None, bool], ...]  # match players
    runs: tuple[tuple[int, int, str, int | None], ...]  # (row id, user, status, place)
    incidents: tuple[tuple[int, str, bool], ...]  # (row id, subject, resolved)
    alerts: tuple[tuple[int, int, str], ...]  # (row id, incident, kind)
    receipts: Counter[tuple[str, str]]  # (listener, event id)
    # (match, Discord event id, phase): a second Discord event for a match changes the id
    discord_events: tuple[tuple[int, int, str], ...] = ()

    def kinds(self) -> Counter[str]:
        return Counter(kind for kind, _ in self.events.elements())

    def notified(self) -> Counter[str]:
        return Counter(kind for kind, _, _ in self.notifications.elements())

    def receipt_names(self) -> set[str]:
        return {listener for listener, _ in self.receipts}


async def durable_state(sessionmaker: async_sessionmaker[AsyncSession]) -> DurableState:
    async with sessionmaker() as session:
        events = (await session.execute(select(EventLogEntry.kind, EventLogEntry.event_id))).all()
        notifications = (await session.execute(select(
            NotificationLog.event_type, NotificationLog.event_id, NotificationLog.user_id
        ))).all()
        players = (await session.execute(select(
            MatchPlayer.id, MatchPlayer.status, MatchPlayer.place, MatchPlayer.finish_time
        ).order_by(col(MatchPlayer.id)))).all()
        runs = (await session.execute(select(
            AsyncPoolRun.id, AsyncPoolRun.user_id, AsyncPoolRun.status, AsyncPoolRun.place
        ).order_by(col(AsyncPoolRun.id)))).all()
        incidents = (await session.execute(select(
            RacetimeIncident.id, RacetimeIncident.subject, RacetimeIncident.resolved_at
        ).order_by(col(RacetimeIncident.id)))).all()
        alerts = (await session.execute(select(
            RacetimeAlert.id, RacetimeAlert.incident_id, RacetimeAlert.kind
        ).order_by(col(RacetimeAlert.id)))).all()
        receipts = (await session.execute(
            select(ListenerReceipt.listener, ListenerReceipt.event_id)
        )).all()
        discord_events = (await session.execute(select(
            MatchDiscordEvent.match_id, MatchDiscordEvent.discord_event_id,
            MatchDiscordEvent.phase,
        ).order_by(col(MatchDiscordEvent.match_id)))).all()
    return DurableState(
        events=Counter((kind, event_id) for kind, event_id in events),
        notifications=Counter((t, e, u) for t, e, u in notifications),
        results=tuple((i, s, p, t is not None) for i, s, p, t in players),
        runs=tuple((i, u, s, p) for i, u, s, p in runs),
        incidents=tuple((i, s, r is not None) for i, s, r in incidents),
        alerts=tuple((i, n, k) for i, n, k in alerts),
        receipts=Counter(
            (listener, e) for listener, e in receipts if listener not in NOT_LISTENERS
        ),
        discord_events=tuple((m, d, p) for m, d, p in discord_events),
    )


async def undelivered(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    """Events in the log that no process has acknowledged."""
    async with sessionmaker() as session:
        rows = await session.execute(
            select(EventLogEntry.seq).where(col(EventLogEntry.delivered_at).is_(None))
        )
        return len(rows.all())


# -- the scenarios -------------------------------------------------------------------------------


Setup = Callable[[async_sessionmaker[AsyncSession], Place], Awaitable[list[Event]]]


@dataclass(frozen=True, slots=True)
class Scenario:
    """Rows, the events that drive the listeners, and what must be there once afterwards."""

    name: str
    setup: Setup
    expect: Callable[[DurableState], None]
    posts: int = 0  # Discord messages (posts and DMs) the first delivery makes
    discord: bool = False  # needs the Discord side (the cogs' listeners) to mean anything
    receipts: frozenset[str] = field(default_factory=frozenset)  # listeners it must reach


async def _players(session: AsyncSession, place: Place) -> list[User]:
    users = [
        User(discord_id=discord_id, racetime_id=racer["id"], racetime_name=racer["name"])
        for discord_id, racer in zip(place.discord_ids, RACERS, strict=True)
    ]
    session.add_all(users)
    await session.flush()
    return users


def _finished_race(slug: str, version: int) -> dict[str, object]:
    started = frames.BASE_TIME + timedelta(minutes=5)
    return frames.race(
        version=version, status_value="finished", slug=slug, started_at=started,
        ended_at=started + timedelta(hours=2),
        entrants=[
            frames.entrant(RACERS[0], "done", place=1, finish_time=timedelta(hours=1, seconds=7),
                           started_at=started),
            frames.entrant(RACERS[1], "dnf"),
        ],
    )


async def _match(
    session: AsyncSession, place: Place, *, title: str
) -> tuple[Tournament, Match, list[User]]:
    tournament = Tournament(
        guild_id=place.guild_id, name=f"Cup {title}", racetime_category=CATEGORY,
        settings={"announcement_channel_id": place.channel_id,
                  "results_channel_id": place.channel_id},
    )
    session.add(tournament)
    await session.flush()
    assert tournament.id is not None
    match = Match(tournament_id=tournament.id, title=title, scheduled_at=WHEN)
    session.add(match)
    await session.flush()
    users = await _players(session, place)
    session.add_all(MatchPlayer(match_id=match.id, user_id=user.id) for user in users)
    return tournament, match, users


def _status(slug: str, old: str | None, new: str, version: int, **target: int) -> Event:
    return RacetimeRaceStatusChangedEvent(
        category=CATEGORY, room_slug=slug, room_name=f"{CATEGORY}/{slug}", old_status=old,
        new_status=new, racetime_version=version, user_id=SYSTEM_USER_ID, **target,
    )


async def _match_finishes(
    sessionmaker: async_sessionmaker[AsyncSession], place: Place
) -> list[Event]:
    slug = "final-wolf-1001"
    async with sessionmaker.begin() as session:
        _, match, _ = await _match(session, place, title="Final")
        assert match.id is not None
        match.status = "in_progress"
        session.add(RaceRoom(category=CATEGORY, slug=slug, match_id=match.id,
                             last_status="finished", last_version=9, is_active=False,
                             last_race_data=_finished_race(slug, 9)))
        match_id = match.id
    return [_status(slug, "in_progress", "finished", 9, match_id=match_id)]


def _expect_match_finishes(state: DurableState) -> None:
    assert state.kinds()["MatchResultEvent"] == 1, "one result event for one finished race"
    assert state.notified() == Counter({"MATCH_RESULT": 2}), "each player told once"
    assert [(s, p, t) for _, s, p, t in state.results] == [
        ("done", 1, True), ("dnf", None, False)
    ]


async def _match_life(
    sessionmaker: async_sessionmaker[AsyncSession], place: Place
) -> list[Event]:
    slug = "semi-wolf-2002"
    async with sessionmaker.begin() as session:
        tournament, match, (_ada, bob) = await _match(session, place, title="Semi")
        assert tournament.id is not None and match.id is not None and bob.id is not None
        ids = {"match_id": match.id, "tournament_id": tournament.id}
    url = f"https://racetime.gg/{CATEGORY}/{slug}"
    return [
        MatchScheduledEvent(**ids, scheduled_at=WHEN, user_id=SYSTEM_USER_ID),
        MatchRescheduledEvent(**ids, old_scheduled_at=WHEN, scheduled_at=WHEN + timedelta(hours=1),
                              user_id=SYSTEM_USER_ID),
        RacetimeRoomOpenedEvent(**ids, category=CATEGORY, room_slug=slug, room_url=url,
                                invited_count=1, player_count=2, not_invited=(bob.id,),
                                user_id=SYSTEM_USER_ID),
        MatchInviteRefusedEvent(**ids, player_user_id=bob.id, racetime_user_id=RACERS[1]["id"],
                                racetime_name="Bob", category=CATEGORY, room_slug=slug,
                                room_url=url, reason="Streaming is required.",
                                advice="Connect Twitch.", user_id=SYSTEM_USER_ID),
        MatchRoomProblemEvent(**ids, problem="racetime.gg said no.", user_id=SYSTEM_USER_ID),
        MatchCancelledEvent(**ids, reason="Called off.", user_id=SYSTEM_USER_ID),
    ]


def _expect_match_life(state: DurableState) -> None:
    assert state.notified() == Counter({
        "MATCH_SCHEDULED": 2, "MATCH_RESCHEDULED": 2, "MATCH_CANCELLED": 2,
        # Ada's "room opened", and Bob's "racetime would not let you in".
        "MATCH_ROOM_OPENED": 2,
    })


async def _match_on_discord(
    sessionmaker: async_sessionmaker[AsyncSession], place: Place
) -> list[Event]:
    slug = "cal-wolf-5005"
    # Discord takes events that start in the future only: a time ahead of whatever today is
    # (CI moves the clock to 2040), not the scenarios' fixed WHEN.
    first = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)
    moved = first + timedelta(hours=1)
    async with sessionmaker.begin() as session:
        tournament, match, _ = await _match(session, place, title="Calendar")
        assert tournament.id is not None and match.id is not None
        tournament.settings = {"discord_events": True}
        match.scheduled_at = moved  # where the reschedule left it
        ids = {"match_id": match.id, "tournament_id": tournament.id}
    url = f"https://racetime.gg/{CATEGORY}/{slug}"
    return [
        MatchScheduledEvent(**ids, scheduled_at=first, user_id=SYSTEM_USER_ID),
        MatchRescheduledEvent(**ids, old_scheduled_at=first, scheduled_at=moved,
                              user_id=SYSTEM_USER_ID),
        RacetimeRoomOpenedEvent(**ids, category=CATEGORY, room_slug=slug, room_url=url,
                                invited_count=2, player_count=2, user_id=SYSTEM_USER_ID),
    ]


def _expect_match_on_discord(state: DurableState) -> None:
    assert [phase for _, _, phase in state.discord_events] == ["scheduled"], "one event"


async def _match_reminded(
    sessionmaker: async_sessionmaker[AsyncSession], place: Place
) -> list[Event]:
    async with sessionmaker.begin() as session:
        tournament, match, _ = await _match(session, place, title="Quarter")
        tournament.settings = {**(tournament.settings or {}),
                               "reminder_channel_id": str(place.channel_id)}
        assert tournament.id is not None and match.id is not None
        ids = {"match_id": match.id, "tournament_id": tournament.id}
    # As the reminder scheduler emits it at the tournament's minute.
    return [MatchReminderEvent(**ids, scheduled_at=WHEN, minutes=30, user_id=SYSTEM_USER_ID)]


def _expect_match_reminded(state: DurableState) -> None:
    assert state.notified() == Counter({"MATCH_REMINDER": 2}), "each player reminded once"


async def _live_race(
    session: AsyncSession, place: Place, name: str, slug: str, race_data: dict[str, object]
) -> AsyncLiveRace:
    tournament = AsyncTournament(guild_id=place.guild_id, name=name, racetime_category=CATEGORY)
    session.add(tournament)
    await session.flush()
    assert tournament.id is not None
    users = await _players(session, place)
    session.add_all(AsyncParticipant(tournament_id=tournament.id, user_id=u.id) for u in users)
    session.add_all(  # off by default: asked for, so that its listener has rows to write
        NotificationSubscription(user_id=u.id, guild_id=place.guild_id, enabled=True,
                                 event_type=NotificationType.LIVE_RACE_STARTED.value)
        for u in users
    )
    race = AsyncLiveRace(tournament_id=tournament.id, scheduled_at=WHEN, status="room_open",
                         racetime_slug=slug)
    session.add(race)
    await session.flush()
    status = str(race_data["status"]["value"])  # type: ignore[index]
    session.add(RaceRoom(category=CATEGORY, slug=slug, live_race_id=race.id, last_status=status,
                         last_version=int(race_data["version"]),  # type: ignore[call-overload]
                         is_active=False, last_race_data=race_data))
    return race


async def _live_race_runs(
    sessionmaker: async_sessionmaker[AsyncSession], place: Place
) -> list[Event]:
    slug = "live-wolf-3003"
    async with sessionmaker.begin() as session:
        race = await _live_race(session, place, "Async Cup", slug, _finished_race(slug, 9))
        assert race.id is not None
        ids = {"live_race_id": race.id, "tournament_id": race.tournament_id,
               "scheduled_at": WHEN}
    return [
        AsyncLiveRaceCreatedEvent(**ids, participant_count=2, user_id=SYSTEM_USER_ID),
        AsyncLiveRaceRoomOpenedEvent(**ids, room_slug=slug, user_id=SYSTEM_USER_ID,
                                     room_url=f"https://racetime.gg/{CATEGORY}/{slug}"),
        _status(slug, "open", "in_progress", 5, live_race_id=ids["live_race_id"]),
        _status(slug, "in_progress", "finished", 9, live_race_id=ids["live_race_id"]),
    ]


def _expect_live_race_runs(state: DurableState) -> None:
    assert [(status, place) for _, _, status, place in state.runs] == [("done", 1), ("dnf", None)]
    assert state.kinds()["AsyncLiveRaceStartedEvent"] == 1
    assert state.kinds()["AsyncLiveRaceFinishedEvent"] == 1
    assert state.notified() == Counter({
        "LIVE_RACE_SCHEDULED": 2, "LIVE_RACE_ROOM_OPENED": 2, "LIVE_RACE_STARTED": 2,
        "LIVE_RACE_FINISHED": 2,
    }), state.notified()


async def _live_room_cancelled(
    sessionmaker: async_sessionmaker[AsyncSession], place: Place
) -> list[Event]:
    slug = "gone-wolf-4004"
    snapshot = frames.race(version=4, status_value="cancelled", slug=slug, entrants=[],
                           cancelled_at=frames.BASE_TIME + timedelta(minutes=3))
    async with sessionmaker.begin() as session:
        race = await _live_race(session, place, "Async Cup", slug, snapshot)
        assert race.id is not None
        race_id = race.id
    return [_status(slug, "open", "cancelled", 4, live_race_id=race_id)]


def _expect_live_room_cancelled(state: DurableState) -> None:
    assert state.kinds()["AsyncLiveRaceCancelledEvent"] == 1
    assert state.notified() == Counter({"LIVE_RACE_CANCELLED": 2})


async def _bot_fails_and_recovers(
    sessionmaker: async_sessionmaker[AsyncSession], place: Place
) -> list[Event]:
    async with sessionmaker.begin() as session:
        bot = RacetimeBot(category=CATEGORY, display_name="Test Game", client_id="id",
                          client_secret_encrypted=SecretBox(SecretBox.generate_key()).encrypt("s"))
        session.add(bot)
        await session.flush()
        assert bot.id is not None
        bot_id = bot.id
    connected, failed = int(BotStatus.CONNECTED), int(BotStatus.AUTH_FAILED)
    return [
        RacetimeBotStatusChangedEvent(bot_id=bot_id, category=CATEGORY, old_status=connected,
                                      new_status=failed, status_message="invalid_client"),
        RacetimeBotStatusChangedEvent(bot_id=bot_id, category=CATEGORY, old_status=failed,
                                      new_status=connected),
    ]


def _expect_bot_fails_and_recovers(state: DurableState) -> None:
    assert [(subject, resolved) for _, subject, resolved in state.incidents] == [
        ("bot:1", True)
    ], "one incident, resolved"
    assert [kind for _, _, kind in state.alerts] == ["opened", "resolved"]


async def _player_links(
    sessionmaker: async_sessionmaker[AsyncSession], place: Place
) -> list[Event]:
    async with sessionmaker.begin() as session:
        ada, _ = await _players(session, place)
        assert ada.id is not None
        user_id = ada.id
    who = {"discord_user_id": place.discord_ids[0], "racetime_id": RACERS[0]["id"]}
    return [
        RacetimeAccountLinkedEvent(**who, racetime_name="Ada", user_id=user_id),
        RacetimeLinkNeedsReauthorizationEvent(**who, user_id=user_id),
    ]


async def _time_proposed_and_declined(
    sessionmaker: async_sessionmaker[AsyncSession], place: Place
) -> list[Event]:
    async with sessionmaker.begin() as session:
        tournament, match, users = await _match(session, place, title="Proposed")
        tournament.settings = {**tournament.settings, "scheduling": "players"}
        match.scheduled_at = None
        await session.flush()
        assert match.id is not None
        proposal = MatchProposal(match_id=match.id, live_match_id=match.id,
                                 proposer_discord_id=place.discord_ids[0], proposed_at=WHEN)
        session.add(proposal)
        await session.flush()
        assert proposal.id is not None
        fields = {"match_id": match.id, "tournament_id": tournament.id or 0,
                  "proposal_id": proposal.id, "proposed_at": WHEN}
        ada, bob = place.discord_ids
        user_ids = [user.id for user in users]
    return [
        MatchTimeProposedEvent(**fields, actor_discord_id=ada, ask=(bob,), user_id=user_ids[0]),
        MatchProposalDeclinedEvent(**fields, actor_discord_id=bob, proposer_discord_id=ada,
                                   user_id=user_ids[1]),
    ]


def _expect_proposal_dms(state: DurableState) -> None:
    assert not state.notifications
    assert state.kinds() == Counter({"MatchTimeProposedEvent": 1,
                                     "MatchProposalDeclinedEvent": 1})
    assert Counter(name for name, _ in state.receipts.elements()) == Counter(
        {"proposal-dms": 2}
    ), "one receipt per event and player told"


def _expect_nothing_in_the_database(state: DurableState) -> None:
    assert not state.notifications and not state.results


SCENARIOS = [
    Scenario(
        "a match finishes", _match_finishes, _expect_match_finishes, posts=1,
        receipts=frozenset({"match-results", "notifications.match_result", "announcements"}),
    ),
    Scenario(
        "a match is scheduled, moved, gets a room, a refused invite, a problem, is cancelled",
        _match_life, _expect_match_life, posts=3,
        receipts=frozenset({
            "notifications.match_scheduled", "notifications.match_rescheduled",
            "notifications.match_room_opened", "notifications.match_room_opened.not_invited",
            "notifications.match_cancelled", "announcements",
        }),
    ),
    Scenario(
        "a match is a Discord event: scheduled, moved, its room opens", _match_on_discord,
        _expect_match_on_discord, discord=True, receipts=frozenset({"discord-events"}),
    ),
    Scenario(
        "a match's players are reminded before it starts", _match_reminded,
        _expect_match_reminded, posts=1,
        receipts=frozenset({"notifications.match_reminder", "announcements"}),
    ),
    Scenario(
        "a live race is scheduled, opens, starts and finishes", _live_race_runs,
        _expect_live_race_runs,
        receipts=frozenset({
            "live-race-status", "notifications.live_race_scheduled",
            "notifications.live_race_room_opened", "notifications.live_race_started",
            "notifications.live_race_finished",
        }),
    ),
    Scenario(
        "a live race's room is cancelled on racetime", _live_room_cancelled,
        _expect_live_room_cancelled,
        receipts=frozenset({"live-race-status", "notifications.live_race_cancelled"}),
    ),
    Scenario(
        "a racetime bot fails and recovers", _bot_fails_and_recovers,
        _expect_bot_fails_and_recovers, receipts=frozenset({"racetime_bot_alerts"}),
    ),
    Scenario(
        "a player links racetime, then must link again", _player_links,
        _expect_nothing_in_the_database, posts=2, discord=True,
        receipts=frozenset({"link-dms"}),
    ),
    Scenario(
        "a player proposes a time, the other declines", _time_proposed_and_declined,
        _expect_proposal_dms, posts=2, discord=True,
        receipts=frozenset({"proposal-dms"}),
    ),
]
