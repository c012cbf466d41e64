"""Each command is answered once, keyed by its racetime message id: delivered again (a crash
before the listener's receipt), typed while RaceDesk was away (found with ``gethistory``), or
with the answer sent and the process gone before it was recorded (the same guid again, which
racetime drops)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import delete, select

from core.events import RacetimeChatCommandEvent
from core.events.codec import decode_event
from db.models import EventLogEntry, ListenerReceipt, RoomSeed
from db.secrets import SecretBox
from fake_racetime import FakeRacetimeServer
from tests.redelivery.scenarios import durable_state, undelivered
from tests.redelivery.test_redelivery import logged_events
from tests.room_commands.scene import RoomScene, match_room, settle


async def logged_commands(scene: RoomScene) -> list[RacetimeChatCommandEvent]:
    async with scene.harness.services.sessionmaker() as session:
        rows = (await session.execute(
            select(EventLogEntry).where(EventLogEntry.kind == "RacetimeChatCommandEvent")
            .order_by(EventLogEntry.seq)  # type: ignore[arg-type]
        )).scalars().all()
    events = [decode_event(row.kind, row.payload) for row in rows]
    assert all(isinstance(e, RacetimeChatCommandEvent) for e in events)
    return events  # type: ignore[return-value]


async def forget_receipt(scene: RoomScene, event_id: str) -> None:
    """As if the process died after answering, before its receipt was committed."""
    async with scene.harness.services.sessionmaker.begin() as session:
        await session.execute(delete(ListenerReceipt).where(
            ListenerReceipt.listener == "room_commands", ListenerReceipt.event_id == event_id
        ))


async def test_a_command_delivered_again_is_answered_once(
    db_url: str, secret_box: SecretBox, fake_racetime: FakeRacetimeServer
) -> None:
    async with match_room(db_url, secret_box, fake_racetime) as scene:
        commands = scene.harness.services.room_commands.commands
        await scene.say("RacerOne", "!match")
        [event] = await logged_commands(scene)
        assert event.command == "match" and not event.from_history
        answered = len(scene.bot_messages())

        await commands.handle(event)  # the receipt is there: nothing happens
        await forget_receipt(scene, event.event_id)
        await commands.handle(event)  # answered again, with the same guid: racetime drops it
        await asyncio.sleep(0.2)
        assert len(scene.bot_messages()) == answered


async def test_a_seed_request_delivered_again_rolls_nothing_more(
    db_url: str, secret_box: SecretBox, fake_racetime: FakeRacetimeServer
) -> None:
    async with match_room(db_url, secret_box, fake_racetime) as scene:
        harness = scene.harness
        rolled = await scene.say("RacerOne", "!seed")
        [event] = await logged_commands(scene)
        await harness.notifications_settled()
        first_dms = len(harness.sim.sent())

        await forget_receipt(scene, event.event_id)
        await harness.services.room_commands.commands.handle(event)
        await harness.notifications_settled()
        await asyncio.sleep(0.2)
        assert [m.message for m in scene.bot_messages()][-1] == rolled
        assert len(harness.sim.sent()) == 0 and first_dms == 2
        async with harness.services.sessionmaker() as session:
            [seed] = (await session.execute(select(RoomSeed))).scalars().all()
        assert seed.rolls == 1 and seed.locked


async def test_a_command_typed_while_racedesk_was_away_is_answered_when_it_is_back(
    db_url: str, secret_box: SecretBox, fake_racetime: FakeRacetimeServer
) -> None:
    async with match_room(db_url, secret_box, fake_racetime) as scene:
        services = scene.harness.services
        await scene.say("RacerOne", "!match")
        await services.racetime_engine.stop()
        before = len(scene.bot_messages())
        await fake_racetime.racer(scene.slug, scene.racetime_id("RacerTwo")).say("!help")
        await fake_racetime.racer(scene.slug, scene.racetime_id("RacerOne")).say("hello")

        await services.racetime_engine.start()
        await settle(scene, lambda: len(scene.bot_messages()) > before)
        await asyncio.sleep(0.3)
        answers = [m.message for m in scene.bot_messages()[before:]]
        assert len(answers) == 1 and answers[0].startswith("RacerTwo: You can use !help")
        events = await logged_commands(scene)
        assert [(e.command, e.from_history) for e in events] == [
            ("match", False), ("help", True),
        ]


def _told(scene: RoomScene) -> list[tuple[str, str]]:
    """What RaceDesk sent on Discord since the last call: (where, title or text)."""
    return sorted(
        (getattr(m.channel, "name", None) or "DM",
         (m.embeds[0].title if m.embeds else m.content) or "")
        for m in scene.harness.sim.sent()
    )


@pytest.mark.parametrize("crash", [False, True], ids=["delivered twice", "crash before acks"])
async def test_every_event_of_a_room_s_commands_again_says_rolls_and_tells_once(
    db_url: str, secret_box: SecretBox, fake_racetime: FakeRacetimeServer, crash: bool
) -> None:
    """The redelivery scenario of issue 22's table for the room commands' listeners
    (``tests/redelivery/test_redelivery.py``, ``ROOM_COMMANDS``)."""
    async with match_room(db_url, secret_box, fake_racetime) as scene:
        harness = scene.harness
        services = harness.services
        with pytest.MonkeyPatch.context() as dying:
            if crash:
                dying.setattr(services.event_log, "acknowledge", lambda _seq: None)
            await scene.say("RacerOne", "!help")
            await scene.say("RacerTwo", "!seed hard")
            await scene.under_way()
            await scene.say("RacerOne", "!fpa lag")
            await harness.notifications_settled()
        told = _told(scene)
        assert ("staff", "⚖️ Winter Cup · Final: fair-play call") in told
        assert told.count(("DM", "🚪 Match seed")) == 2
        said = [m.message for m in scene.bot_messages()]
        state = await durable_state(services.sessionmaker)
        if crash:
            assert await undelivered(services.sessionmaker) > 0

        if crash:
            await services.dispatcher.start()  # what a start does with unacknowledged events
        else:
            services.dispatcher.publish(await logged_events(services.sessionmaker))
        await harness.notifications_settled()
        await asyncio.sleep(0.2)

        assert _told(scene) == [], "no DM or post again"
        assert [m.message for m in scene.bot_messages()] == said, "nothing said again"
        assert await durable_state(services.sessionmaker) == state
        async with services.sessionmaker() as session:
            [seed] = (await session.execute(select(RoomSeed))).scalars().all()
        assert seed.rolls == 1
        assert await undelivered(services.sessionmaker) == 0
        assert services.dispatcher.parked == 0
