"""Each command is answered once, keyed by its racetime message id: delivered again (a crash
before the listener's receipt), typed while RaceDesk was away (found with ``gethistory``), or
with the answer sent and the process gone before it was recorded (the same guid again, which
racetime drops)."""

from __future__ import annotations

import asyncio

from sqlalchemy import delete, select

from core.events import RacetimeChatCommandEvent
from core.events.codec import decode_event
from db.models import EventLogEntry, ListenerReceipt, RoomSeed
from db.secrets import SecretBox
from fake_racetime import FakeRacetimeServer
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
