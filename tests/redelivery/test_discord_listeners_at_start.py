"""The Discord side's listeners (announcements, link DMs) hear every event, though they
subscribe only once the bot has logged in and unsubscribe when it closes.

``run_bot`` starts the services (event delivery, which at once redelivers what a crash left
unacknowledged, and the racetime engine, which reports what rooms did while RaceDesk was down)
before Discord's login, where the cogs subscribe. Found by the redelivery tests: an event
delivered in between was acknowledged without them and never posted. ``start_with_discord``
reserves their events (``EventDispatcher.reserve``): those wait for the login, or at shutdown
for the next start.
"""

from __future__ import annotations

import asyncio

from discord.ext import commands

from bot import DISCORD_SIDE_EVENTS, RaceDeskBot, build_services, start_with_discord
from core.event_store.event_log import DatabaseEventLog
from core.events import (
    EventDispatcher,
    MatchResultEvent,
    RacetimeAccountLinkedEvent,
    RacetimeRaceStatusChangedEvent,
)
from core.lifecycle import Lifecycle
from db.secrets import SecretBox
from rehearsal.guild import SimulatedGuild, member_intents
from tests.core.sample_events import NO_WAIT, status
from tests.plugins.discord_bot import DiscordHarness
from tests.plugins.racetime_engine import FAST_RETRY, eventually
from tests.redelivery.scenarios import SCENARIOS, Place, durable_state, undelivered
from tests.redelivery.test_redelivery import all_event_types

GUILD, CHANNEL, PLAYERS = 920_000_000_000_000_001, 920_000_000_000_000_002, (9201, 9202)


async def test_every_event_a_cog_listens_to_waits_for_the_cogs(
    discord_harness: DiscordHarness,
) -> None:
    """A cog that subscribes a listener to a new kind of event must add it to
    ``bot.DISCORD_SIDE_EVENTS``, or that kind is delivered before the login without it."""
    dispatcher = discord_harness.services.dispatcher
    cog_events = {
        subscription.event_type
        for kind in all_event_types()
        for group in dispatcher.listeners_for(kind)
        for subscription in group
        if isinstance(getattr(subscription.handler, "__self__", None), commands.Cog)
    }
    assert cog_events == set(DISCORD_SIDE_EVENTS)


async def test_a_result_left_unannounced_by_a_crash_is_announced_after_the_restart(
    db_url: str, secret_box: SecretBox
) -> None:
    [finishes] = [s for s in SCENARIOS if s.name == "a match finishes"]
    first = build_services(database_url=db_url, secret_box=secret_box, listener_retry=FAST_RETRY)
    events = await finishes.setup(first.sessionmaker, Place(GUILD, CHANNEL, PLAYERS))
    await first.dispatcher.emit(*events)
    await eventually(lambda: first.dispatcher.pending == 0)
    [(_, result_id)] = [
        key for key in (await durable_state(first.sessionmaker)).events
        if key[0] == "MatchResultEvent"
    ]
    await first.racetime_client.close()
    await first.dispose_engines()  # died before the announcement (no Discord side ran)

    second = build_services(database_url=db_url, secret_box=secret_box, listener_retry=FAST_RETRY)
    bot = RaceDeskBot(second, intents=member_intents())
    sim = SimulatedGuild(bot)
    async with Lifecycle() as lifecycle:
        await start_with_discord(second, bot, lifecycle, racetime_engine=False)  # as run_bot
        # While Discord's login is under way: the room's event is delivered again (a
        # repeat, recording nothing), the result waits for the cogs.
        await eventually(lambda: second.dispatcher.delivered == 1)
        assert second.dispatcher.pending == 1, "the result waits for the cogs"
        try:
            await sim.start()  # logged in: the cogs are loaded, then setup_hook's last steps
            for step in bot.after_login:
                await step()
            await second.dispatcher.drain()
            receipts = (await durable_state(second.sessionmaker)).receipts
            # The announcements' receipt: posted, or the channel found gone (this one is).
            assert ("announcements", result_id) in receipts, "the results were never announced"
        finally:
            await sim.close()


async def test_an_event_for_reserved_listeners_waits_and_the_rest_of_the_log_goes_on(
    db_sessionmaker: object,
) -> None:
    event_log = DatabaseEventLog(db_sessionmaker, ack_delay=0.01)  # type: ignore[arg-type]
    dispatcher = EventDispatcher(event_log, retry=NO_WAIT)
    heard: list[str] = []

    async def record(event: object) -> None:
        heard.append(type(event).__name__)

    ready = dispatcher.reserve(MatchResultEvent, RacetimeAccountLinkedEvent)
    dispatcher.subscribe(RacetimeRaceStatusChangedEvent, record)
    await event_log.start()
    try:
        result = MatchResultEvent(match_id=1, tournament_id=1, summary="1. Ada")
        await dispatcher.emit(result, status("room-a"))
        await eventually(lambda: heard == ["RacetimeRaceStatusChangedEvent"])
        assert dispatcher.pending == 1, "the result waits"
        dispatcher.subscribe(MatchResultEvent, record)  # the late listener
        ready()
        async with asyncio.timeout(10):
            await dispatcher.drain()
        assert heard == ["RacetimeRaceStatusChangedEvent", "MatchResultEvent"]
    finally:
        await dispatcher.close()
        await event_log.close()


async def test_at_shutdown_an_event_for_reserved_listeners_is_left_for_the_next_start(
    db_sessionmaker: object,
) -> None:
    event_log = DatabaseEventLog(db_sessionmaker, ack_delay=0.01)  # type: ignore[arg-type]
    dispatcher = EventDispatcher(event_log, retry=NO_WAIT)
    dispatcher.reserve(MatchResultEvent)  # the listeners left (Discord closed first)
    await event_log.start()
    await dispatcher.emit(MatchResultEvent(match_id=1, tournament_id=1, summary="1. Ada"))
    async with asyncio.timeout(10):
        await dispatcher.close()  # does not wait for listeners that are gone
    await event_log.close()
    assert await undelivered(db_sessionmaker) == 1  # type: ignore[arg-type]
