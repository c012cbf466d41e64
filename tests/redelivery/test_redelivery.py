"""Redelivery for every listener that records or emits (issue 22).

Delivery is at least once: an event whose acknowledgement did not reach the database is
delivered again, with the same ``event_id``. Every listener the real wiring subscribes is in
:data:`LISTENERS`, with the event that drives it, what it records or emits and what makes a
repeat do nothing; a listener added to the wiring without an entry fails
:func:`test_every_wired_listener_is_in_the_table`.

Each scenario (``scenarios.py``; the two that need the fake racetime server are in
``test_racetime_listeners.py``) runs through ``bot.py``'s services and every cog on a real
database, three ways:

* every event in the log delivered a second time by the dispatcher (same seq, same id);
* the process records, then "dies" before its acknowledgements are committed, and delivery
  resumes from the log (:meth:`EventDispatcher.start`, what a start does);
* without Discord: a first process (``build_services``) whose event log never commits an
  acknowledgement, dropped, and a second process on the same database that redelivers.

The durable state (event log, notification outbox, results, runs, incidents, alerts,
receipts) and the Discord posts and DMs must be what one delivery made. The last tests remove
a guard and check that the same comparison then fails, so the checks above can fail.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from bot import build_services
from core.event_store import exactly_once as exactly_once_module
from core.event_store.sent_once import SentOnce
from core.events import Event, LoggedEvent
from core.events.codec import decode_event
from core.lifecycle import Lifecycle
from core.live_races import results as live_race_results
from db.models import EventLogEntry
from db.secrets import SecretBox
from tests.plugins.discord_bot import DiscordHarness
from tests.plugins.racetime_engine import FAST_RETRY, eventually
from tests.redelivery.scenarios import (
    SCENARIOS,
    DurableState,
    Place,
    Scenario,
    durable_state,
    undelivered,
)


@dataclass(frozen=True, slots=True)
class Listener:
    """One subscription of the real wiring and what a repeat of its event must not repeat."""

    events: frozenset[str]  # the event kinds it is subscribed to
    effect: str  # what it records or emits ("nothing durable: ..." when it does not)
    guard: str  # what makes a repeat do nothing
    scenario: str  # the scenario that delivers its event again


def _kinds(*names: str) -> frozenset[str]:
    return frozenset(names)


MATCH_RESULT = "a match finishes"
MATCH_LIFE = "a match is scheduled, moved, gets a room, a refused invite, a problem, is cancelled"
LIVE_RACE = "a live race is scheduled, opens, starts and finishes"
LIVE_ROOM_CANCELLED = "a live race's room is cancelled on racetime"
BOT = "a racetime bot fails and recovers"
LINK = "a player links racetime, then must link again"
ON_DISCORD = "a match is a Discord event: scheduled, moved, its room opens"
MATCH_REMINDED = "a match's players are reminded before it starts"
PROPOSAL = "a player proposes a time, the other declines"
# In test_racetime_listeners.py: the fake racetime server, a live race's room.
STRANGER = "a stranger asks to join a live race's room"
MATCH_ROOM = "a match room opens with a player racetime refuses"
# In tests/room_commands/test_exactly_once.py: commands typed in a match's room.
ROOM_COMMANDS = "racers type !help, !seed and !fpa in a match room"


def _notifications(kind: str, event: str, scenario: str) -> tuple[str, Listener]:
    return f"exactly_once[notifications.{kind}]", Listener(
        _kinds(event), "notification_log rows, one per recipient",
        "receipt (exactly_once); rows unique per (event_id, user_id)", scenario,
    )


# Subscription name (as the dispatcher reports it) -> the listener.
LISTENERS: dict[str, Listener] = {
    "exactly_once[match-results]": Listener(
        _kinds("RacetimeRaceStatusChangedEvent"),
        "match players' places, times and statuses; the match's status; emits "
        "MatchResultEvent (random id) or MatchRoomProblemEvent",
        "receipt (exactly_once_emitting): rows, receipt and events in one transaction",
        MATCH_RESULT,
    ),
    "exactly_once[live-race-status]": Listener(
        _kinds("RacetimeRaceStatusChangedEvent"),
        "async_pool_runs rows; the live race's status; emits AsyncLiveRaceStarted/Finished/"
        "CancelledEvent (ids derived from the room event)",
        "receipt (exactly_once_emitting); derived event ids",
        LIVE_RACE,
    ),
    **dict([
        _notifications("match_scheduled", "MatchScheduledEvent", MATCH_LIFE),
        _notifications("match_rescheduled", "MatchRescheduledEvent", MATCH_LIFE),
        _notifications("match_cancelled", "MatchCancelledEvent", MATCH_LIFE),
        _notifications("match_room_opened", "RoomForMatchEvent", MATCH_LIFE),
        _notifications("match_room_opened.not_invited", "MatchInviteRefusedEvent", MATCH_LIFE),
        _notifications("match_result", "MatchResultEvent", MATCH_RESULT),
        _notifications("live_race_scheduled", "AsyncLiveRaceCreatedEvent", LIVE_RACE),
        _notifications("live_race_room_opened", "AsyncLiveRaceRoomOpenedEvent", LIVE_RACE),
        _notifications("live_race_started", "AsyncLiveRaceStartedEvent", LIVE_RACE),
        _notifications("live_race_finished", "AsyncLiveRaceFinishedEvent", LIVE_RACE),
        _notifications("live_race_cancelled", "AsyncLiveRaceCancelledEvent",
                       LIVE_ROOM_CANCELLED),
        _notifications("match_seed", "RoomSeedRolledEvent", ROOM_COMMANDS),
        _notifications("match_reminder", "MatchReminderEvent", MATCH_REMINDED),
    ]),
    "RoomCommands.handle": Listener(
        _kinds("RacetimeChatCommandEvent"),
        "an answer in the room's chat; what the command does: a room_seeds row rolled (emits "
        "RoomSeedRolledEvent), a fpa_calls row (emits FpaCalledEvent), a room_breaks row",
        "receipt after the answer (SentOnce 'room_commands'); the answer's guid, which "
        "racetime drops when repeated; a seed's request id and a call's unique request_id",
        ROOM_COMMANDS,
    ),
    "RoomCommands.pin_seed_button": Listener(
        _kinds("RoomForMatchEvent"),
        "a pinned 'Roll seed' message in the room's chat",
        "receipt after the message (SentOnce 'room_commands.seed_button'); its guid",
        ROOM_COMMANDS,
    ),
    "BotAlertService.subscribe.<locals>.listener": Listener(
        _kinds("RacetimeBotStatusChangedEvent"),
        "racetime_incidents opened or resolved, racetime_alerts queued",
        "receipt (exactly_once); one open incident per subject (open_key)",
        BOT,
    ),
    "AnnouncementsCog.announce": Listener(
        _kinds("RoomForMatchEvent", "MatchResultEvent", "MatchRoomProblemEvent",
               "MatchInviteRefusedEvent", "FpaCalledEvent", "MatchReminderEvent"),
        "a post in the tournament's announcement, results, staff or reminder channel",
        "receipt after the post (SentOnce 'announcements'); a nonce Discord dedupes by",
        MATCH_RESULT,  # and MATCH_LIFE
    ),
    "DiscordEventsCog.on_match_event": Listener(
        _kinds("MatchScheduledEvent", "MatchRescheduledEvent", "MatchCancelledEvent",
               "RoomForMatchEvent", "MatchResultEvent"),
        "the match's Discord scheduled event (created, edited, cancelled or ended); its id "
        "and phase in match_discord_events",
        "receipt after the change (SentOnce 'discord-events'); the Discord event's id kept "
        "per match (a repeat edits it); one made before a crash found by its description",
        ON_DISCORD,
    ),
    "LinkingCog.tell": Listener(
        _kinds("RacetimeAccountLinkedEvent", "RacetimeLinkNeedsReauthorizationEvent"),
        "a DM to the player",
        "receipt after the DM (SentOnce 'link-dms'); a nonce Discord dedupes by",
        LINK,
    ),
    "ScheduleCog.tell": Listener(
        _kinds("MatchTimeProposedEvent", "MatchProposalDeclinedEvent",
               "MatchProposalRejectedEvent"),
        "a DM to each player a proposal asks (Accept / Decline buttons), or a post in the "
        "fallback channel; a DM to the proposer when declined or rejected",
        "receipt per event and player after the DM (SentOnce 'proposal-dms'); a nonce Discord "
        "dedupes by",
        PROPOSAL,
    ),
    "LiveRaceRooms._on_entrant": Listener(
        _kinds("RacetimeEntrantJoinedEvent", "RacetimeEntrantStatusChangedEvent"),
        "a racetime chat message telling a non-participant their result will not count; "
        "accepts an eligible participant's join request (racetime ignores a repeat)",
        "receipt after the message (SentOnce 'live-race-entrants')",
        STRANGER,
    ),
    "LiveRaceRooms._on_bot_joined": Listener(
        _kinds("RacetimeBotJoinedRaceEvent"),
        "nothing durable: invites the eligible participants racetime does not show yet",
        "reads racetime's entrants first: an invite racetime shows is not repeated",
        STRANGER,
    ),
    "MatchRoomService._on_bot_joined": Listener(
        _kinds("RacetimeBotJoinedRaceEvent"),
        "invites the linked players racetime does not show yet; player invite_error; emits "
        "MatchInviteRefusedEvent and the room's opened event",
        "the claim's announced_at and the opened event's stable id; MatchInviteRefusedEvent's "
        "stable id (the log skips a repeat); racetime's entrants read before inviting",
        MATCH_ROOM,
    ),
    "MatchRoomService._on_entrant": Listener(
        _kinds("RacetimeEntrantJoinedEvent", "RacetimeEntrantStatusChangedEvent"),
        "nothing durable: accepts a linked player's join request on racetime",
        "racetime refuses to accept a request twice (the entrant is no longer 'requested')",
        MATCH_ROOM,
    ),
    "MatchRoomService._on_linked": Listener(
        _kinds("RacetimeAccountLinkedEvent"),
        "nothing durable of its own: reconciles the player's waiting match rooms (see "
        "MatchRoomService._on_bot_joined); in the link scenario no room waits",
        "as MatchRoomService._on_bot_joined",
        LINK,
    ),
    "MatchScheduler._on_match_event": Listener(
        _kinds("MatchScheduledEvent", "MatchRescheduledEvent", "MatchCancelledEvent"),
        "nothing durable: re-plans the match's in-memory room job (replaced by id)",
        "the job id is the match's: a repeat replaces the same job",
        MATCH_LIFE,
    ),
    "ReminderScheduler._on_match_event": Listener(
        _kinds("MatchScheduledEvent", "MatchRescheduledEvent", "MatchCancelledEvent"),
        "nothing durable: re-plans the match's in-memory reminder job (replaced by id); the "
        "reminder itself is MatchReminderEvent, whose id is the match and its time",
        "the job id is the match's: a repeat replaces the same job",
        MATCH_LIFE,
    ),
    "LiveRaceScheduler._on_live_race_event": Listener(
        _kinds("AsyncLiveRaceCreatedEvent", "AsyncLiveRaceCancelledEvent"),
        "nothing durable: re-plans the live race's in-memory room job (replaced by id)",
        "the job id is the live race's: a repeat replaces the same job",
        LIVE_RACE,
    ),
}


def all_event_types(base: type[Event] = Event) -> Iterator[type[Event]]:
    for sub in base.__subclasses__():
        yield sub
        yield from all_event_types(sub)


def wired_listeners(harness: DiscordHarness) -> dict[str, set[str]]:
    """Every subscription of the running bot (services and cogs): name -> event kinds."""
    wired: dict[str, set[str]] = {}
    for event_type in set(all_event_types()):
        for group in harness.services.dispatcher.listeners_for(event_type):
            for subscription in group:
                wired.setdefault(subscription.name, set()).add(subscription.event_type.__name__)
    return wired


async def test_every_wired_listener_is_in_the_table(discord_harness: DiscordHarness) -> None:
    wired = wired_listeners(discord_harness)
    missing = sorted(set(wired) - set(LISTENERS))
    assert not missing, (
        f"listeners without a redelivery entry in LISTENERS: {missing}; add each with the event "
        "that drives it, what it records or emits, its guard and a scenario that delivers its "
        "event twice (tests/redelivery/scenarios.py)"
    )
    assert sorted(set(LISTENERS) - set(wired)) == [], "entries for listeners no longer wired"
    for name, listener in LISTENERS.items():
        assert set(listener.events) == wired[name], name


def test_every_listener_has_a_scenario_that_delivers_its_events_again() -> None:
    names = {scenario.name for scenario in SCENARIOS} | {STRANGER, MATCH_ROOM, ROOM_COMMANDS}
    for name, listener in LISTENERS.items():
        assert listener.scenario in names, name


# -- delivering twice ------------------------------------------------------------------------


def _place(harness: DiscordHarness) -> Place:
    return Place(harness.guild.id, harness.channel.id, (harness.member(0).id, harness.member(1).id))


async def logged_events(sessionmaker: async_sessionmaker[AsyncSession]) -> list[LoggedEvent]:
    """Every event in the log, as the dispatcher gets it from the log (seq and event)."""
    async with sessionmaker() as session:
        rows = (await session.execute(
            select(EventLogEntry).order_by(col(EventLogEntry.seq))
        )).scalars().all()
    return [LoggedEvent(row.seq, decode_event(row.kind, row.payload))  # type: ignore[arg-type]
            for row in rows]


@dataclass(frozen=True, slots=True)
class TwoDeliveries:
    first: DurableState
    again: DurableState
    posts_first: int
    posts_again: int


async def first_delivery(
    harness: DiscordHarness, scenario: Scenario
) -> tuple[DurableState, int]:
    services = harness.services
    events = await scenario.setup(services.sessionmaker, _place(harness))
    await services.dispatcher.emit(*events)
    await services.dispatcher.drain()
    return await durable_state(services.sessionmaker), len(harness.sim.sent())


async def deliver_twice(harness: DiscordHarness, scenario: Scenario) -> TwoDeliveries:
    """The scenario's events (and every event they led to), then each of them again: the
    dispatcher gets the logged events a second time, same seq and ``event_id``."""
    services = harness.services
    first, posts = await first_delivery(harness, scenario)
    services.dispatcher.publish(await logged_events(services.sessionmaker))
    await services.dispatcher.drain()
    again = await durable_state(services.sessionmaker)
    return TwoDeliveries(first, again, posts, len(harness.sim.sent()))


def _check_first(scenario: Scenario, first: DurableState, posts: int) -> None:
    scenario.expect(first)
    assert scenario.receipts <= first.receipt_names(), "the scenario reached its listeners"
    assert posts == scenario.posts


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
async def test_every_event_delivered_twice_records_and_sends_once(
    discord_harness: DiscordHarness, scenario: Scenario
) -> None:
    run = await deliver_twice(discord_harness, scenario)
    _check_first(scenario, run.first, run.posts_first)
    assert run.again == run.first, "the repeat recorded or emitted something"
    assert run.posts_again == 0, "the repeat posted or sent a DM again"
    assert discord_harness.services.dispatcher.parked == 0


# -- dying between the record and the acknowledgement -----------------------------------------


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
async def test_a_crash_before_the_acknowledgements_records_and_sends_once(
    discord_harness: DiscordHarness, scenario: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every listener records (and posts), then the process dies before its
    acknowledgements are committed: delivery resumes from the log, as at a start."""
    services = discord_harness.services
    with monkeypatch.context() as dying:
        dying.setattr(services.event_log, "acknowledge", lambda _seq: None)
        first, posts = await first_delivery(discord_harness, scenario)
    _check_first(scenario, first, posts)
    logged = sum(first.events.values())
    assert await undelivered(services.sessionmaker) == logged, "nothing was acknowledged"

    await services.dispatcher.start()  # reads back what the log holds unacknowledged
    await services.dispatcher.drain()

    assert services.dispatcher.delivered == 2 * logged, "every event was delivered again"
    assert await durable_state(services.sessionmaker) == first
    assert discord_harness.sim.sent() == [], "nothing posted or sent again"
    assert await undelivered(services.sessionmaker) == 0
    assert services.dispatcher.parked == 0


CORE_SCENARIOS = [s for s in SCENARIOS if not s.discord]
GUILD, CHANNEL, PLAYERS = 910_000_000_000_000_001, 910_000_000_000_000_002, (9101, 9102)


@pytest.mark.parametrize("scenario", CORE_SCENARIOS, ids=[s.name for s in CORE_SCENARIOS])
async def test_a_process_that_dies_before_its_acknowledgements_is_redelivered_once(
    db_url: str, secret_box: SecretBox, scenario: Scenario
) -> None:
    """Two processes on one database, wired by ``bot.build_services``: the first records and
    dies with its acknowledgements only in memory (its event log never runs its writer); the
    second starts, gets every event again, and records nothing more."""
    first = build_services(database_url=db_url, secret_box=secret_box, listener_retry=FAST_RETRY)
    events = await scenario.setup(first.sessionmaker, Place(GUILD, CHANNEL, PLAYERS))
    await first.dispatcher.emit(*events)
    await eventually(lambda: first.dispatcher.pending == 0)
    crashed = await durable_state(first.sessionmaker)
    scenario.expect(crashed)
    logged = sum(crashed.events.values())
    assert await undelivered(first.sessionmaker) == logged
    await first.racetime_client.close()
    await first.dispose_engines()  # gone: nothing of it is stopped in order

    second = build_services(database_url=db_url, secret_box=secret_box, listener_retry=FAST_RETRY)
    async with Lifecycle() as lifecycle:
        await second.start(lifecycle, racetime_engine=False)
        await second.dispatcher.drain()
        assert second.dispatcher.delivered == logged, "every event was delivered again"
        assert await durable_state(second.sessionmaker) == crashed
        assert await undelivered(second.sessionmaker) == 0
        assert second.dispatcher.parked == 0


# -- the checks above can fail -----------------------------------------------------------------


async def _always_new(*_args: object) -> bool:
    return True


async def test_without_the_receipt_a_repeated_finish_records_a_second_result(
    discord_harness: DiscordHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``exactly_once_emitting`` without its receipt check: the repeat emits a second
    ``MatchResultEvent`` under a new id, so the players are told twice and #results gets a
    second post: the comparison of the redelivery test fails."""
    monkeypatch.setattr(exactly_once_module, "claim_receipt", _always_new)
    [scenario] = [s for s in SCENARIOS if s.name == MATCH_RESULT]
    run = await deliver_twice(discord_harness, scenario)
    assert run.again.kinds()["MatchResultEvent"] == 2
    assert run.again.notified()["MATCH_RESULT"] == 4
    assert run.posts_again == 1


async def test_without_the_receipt_a_repeated_bot_failure_opens_a_second_incident(
    discord_harness: DiscordHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(exactly_once_module, "claim_receipt", _always_new)
    [scenario] = [s for s in SCENARIOS if s.name == BOT]
    run = await deliver_twice(discord_harness, scenario)
    assert len(run.again.incidents) == 2 and len(run.again.alerts) == 4


async def test_without_the_receipt_and_the_derived_ids_a_repeated_live_race_finish_is_told_again(
    discord_harness: DiscordHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Live race results have two guards: the receipt, and event ids derived from the room
    event (the runs are rewritten from the room's final state, so they come out the same).
    Without both, the repeat emits a second ``AsyncLiveRaceFinishedEvent``."""
    monkeypatch.setattr(exactly_once_module, "claim_receipt", _always_new)
    monkeypatch.setattr(live_race_results, "derived_id", lambda *_args: uuid.uuid4().hex)
    [scenario] = [s for s in SCENARIOS if s.name == LIVE_RACE]
    run = await deliver_twice(discord_harness, scenario)
    assert run.again.kinds()["AsyncLiveRaceFinishedEvent"] == 2
    assert run.again.notified()["LIVE_RACE_FINISHED"] == 4


async def _never_done(_self: SentOnce, _event_id: str) -> bool:
    return False


@pytest.mark.parametrize("name", [MATCH_RESULT, LINK, PROPOSAL])
async def test_without_the_sent_receipt_a_repeat_posts_again(
    discord_harness: DiscordHarness, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setattr(SentOnce, "done", _never_done)
    [scenario] = [s for s in SCENARIOS if s.name == name]
    run = await deliver_twice(discord_harness, scenario)
    assert run.posts_again == scenario.posts
