"""Hearing a room's chat: commands become events once, across reconnects, restarts and the
history racetime sends on request; the engine against the fake server over real sockets,
with a real database."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from sqlmodel import select

from core.events import RacetimeChatCommandEvent
from db.models import EventLogEntry, RaceRoom
from fake_racetime.server import Received
from fake_racetime.state import RaceActionError
from racetime.connection import RoomConnection
from racetime.errors import RacetimeActionError
from tests.plugins.racetime_engine import EngineEnv, eventually
from tests.racetime.engine_helpers import CATEGORY, add_alttpr_bot, started, watched_race


def commands(env: EngineEnv, slug: str) -> list[RacetimeChatCommandEvent]:
    return [e for e in env.of(RacetimeChatCommandEvent) if e.room_slug == slug]


async def caught_up(room: RoomConnection) -> None:
    await asyncio.wait_for(room.wait_connected(), 5)
    await eventually(lambda: room.chat_caught_up)


async def stored_position(env: EngineEnv, slug: str) -> str | None:
    await env.event_log.flush()
    async with env.sessionmaker() as session:
        row = (await session.execute(select(RaceRoom).where(RaceRoom.slug == slug))).scalar_one()
        return row.last_chat_message_id


def history_requests(env: EngineEnv, slug: str) -> list[Received]:
    return env.fake.received_actions(slug, "gethistory")


def user_message(message_id: str, text: str, user_id: str, **extra: Any) -> dict[str, Any]:
    """A ``chat.message`` frame from a person, as racetime sends it (for injected frames)."""
    message = {
        "id": message_id,
        "user": {"id": user_id, "full_name": "Stranger#0001", "name": "Stranger"},
        "bot": None,
        "direct_to": None,
        "posted_at": "2099-01-01T00:00:00.000000+00:00",
        "message": text,
        "message_plain": text,
        "highlight": False,
        "is_dm": False,
        "is_bot": False,
        "is_monitor": False,
        "is_system": False,
        "is_pinned": False,
        "delay": 0,
        "actions": {},
    }
    message.update(extra)
    return {"type": "chat.message", "date": "2099-01-01T00:00:00+00:00", "message": message}


async def test_a_live_command_is_one_event_with_the_linked_user_or_none(
    engine_env: EngineEnv,
) -> None:
    env, fake = engine_env, engine_env.fake
    one, two = fake.seed.users["RacerOne"], fake.seed.users["RacerTwo"]
    linked = await env.link(one, discord_id=111111111111111111)
    _manager, race, room = await watched_race(env)
    await caught_up(room)
    assert [r.data for r in history_requests(env, race.slug)] == [None]  # nothing handled yet

    first = await fake.racer(race.slug, one).say("!Seed  Open Standard")
    second = await fake.racer(race.slug, two).say("!help")
    await eventually(lambda: len(commands(env, race.slug)) == 2)
    await env.dispatcher.drain()

    seed, help_ = commands(env, race.slug)
    assert (seed.command, seed.text, seed.user_id) == ("seed", "!Seed  Open Standard", linked)
    assert (seed.message_id, seed.racetime_user_id, seed.from_history) == (first.id, one, False)
    assert seed.event_id == f"{CATEGORY}/{race.slug}:chat:{first.id}"
    assert seed.racetime_user_name is not None and seed.racetime_user_name.startswith("RacerOne")
    assert seed.posted_at == first.posted_at and seed.occurred_at == first.posted_at
    assert (help_.command, help_.user_id, help_.racetime_user_id) == ("help", None, two)
    assert help_.room_name == race.name and help_.category == CATEGORY
    assert await stored_position(env, race.slug) == second.id


async def test_a_user_who_links_after_a_command_is_known_at_the_next(
    engine_env: EngineEnv,
) -> None:
    env, fake = engine_env, engine_env.fake
    one = fake.seed.users["RacerOne"]
    _manager, race, room = await watched_race(env)
    await caught_up(room)
    await fake.racer(race.slug, one).say("!seed")
    await eventually(lambda: len(commands(env, race.slug)) == 1)
    linked = await env.link(one, discord_id=222222222222222222)
    await fake.racer(race.slug, one).say("!seed")
    await eventually(lambda: len(commands(env, race.slug)) == 2)
    assert [e.user_id for e in commands(env, race.slug)] == [None, linked]


async def test_bot_system_dm_and_other_messages_are_no_commands_but_move_the_position(
    engine_env: EngineEnv,
) -> None:
    env, fake = engine_env, engine_env.fake
    one, two = fake.seed.users["RacerOne"], fake.seed.users["RacerTwo"]
    _manager, race, room = await watched_race(env)
    await caught_up(room)
    racer = fake.racer(race.slug, one)
    await racer.say("hello !seed")
    await racer.say("!")
    with pytest.raises(RaceActionError, match="required"):
        await racer.say("   ")  # racetime strips a message, then requires it
    await room.send_message("!seed from the bot")
    await room.send_message("!seed in a DM", direct_to=two)
    await racer.join()  # a system message: "RacerOne joins."
    await fake.inject_frame(race.slug, user_message("dmDmDmDmDmDm0001", "!seed", two, is_dm=True))
    await fake.inject_frame(
        race.slug, user_message("sysSysSys0000001", "!seed", two, is_system=True, user=None)
    )
    last = await racer.say("the end")
    await eventually(lambda: room.chat_position == last.id)
    await env.dispatcher.drain()
    assert commands(env, race.slug) == []
    assert await stored_position(env, race.slug) == last.id


async def test_a_command_typed_while_disconnected_is_found_in_the_history_once(
    engine_env: EngineEnv,
) -> None:
    env, fake = engine_env, engine_env.fake
    one = fake.seed.users["RacerOne"]
    _manager, race, room = await watched_race(env)
    await caught_up(room)
    before = await fake.racer(race.slug, one).say("before the drop")
    await eventually(lambda: room.chat_position == before.id)
    connects = room.connect_count

    # The socket drops and the next handshakes fail: the command comes while we are away.
    fake.fail_next(3, status=503, path_prefix=f"/ws/o/bot/{race.slug}")
    await fake.drop_sockets(race.slug)
    typed = await fake.racer(race.slug, one).say("!seed while away")
    await eventually(lambda: room.connect_count > connects and room.chat_caught_up)
    await eventually(lambda: len(commands(env, race.slug)) == 1)
    await env.dispatcher.drain()

    [event] = commands(env, race.slug)
    assert (event.message_id, event.from_history, event.command) == (typed.id, True, "seed")
    assert history_requests(env, race.slug)[-1].data == {"last_message": before.id}
    assert await stored_position(env, race.slug) == typed.id


async def test_the_position_survives_a_restart(engine_env: EngineEnv) -> None:
    env, fake = engine_env, engine_env.fake
    one, two = fake.seed.users["RacerOne"], fake.seed.users["RacerTwo"]
    manager, race, room = await watched_race(env)
    await caught_up(room)
    seen = await fake.racer(race.slug, one).say("!seed")
    await eventually(lambda: len(commands(env, race.slug)) == 1)
    await manager.stop()
    assert await stored_position(env, race.slug) == seen.id

    missed = await fake.racer(race.slug, two).say("!match")
    env.events.clear()
    restarted = await started(env)
    await eventually(lambda: race.slug in restarted.bot(CATEGORY).rooms)
    await caught_up(restarted.bot(CATEGORY).rooms[race.slug])
    await eventually(lambda: len(commands(env, race.slug)) == 1)
    await env.dispatcher.drain()

    assert history_requests(env, race.slug)[-1].data == {"last_message": seen.id}
    [event] = commands(env, race.slug)  # the first command is not handled again
    assert (event.message_id, event.from_history) == (missed.id, True)
    assert await stored_position(env, race.slug) == missed.id


async def test_a_command_seen_live_and_in_the_history_is_one_event(
    engine_env: EngineEnv,
) -> None:
    env, fake = engine_env, engine_env.fake
    one = fake.seed.users["RacerOne"]
    _manager, race, room = await watched_race(env)
    await caught_up(room)
    fake.set_history_delay(0.5)  # the next answer is read after what is typed meanwhile
    connects = room.connect_count
    await fake.drop_sockets(race.slug)
    await eventually(lambda: len(history_requests(env, race.slug)) == 2)
    typed = await fake.racer(race.slug, one).say("!seed")  # live first, then in the history
    await eventually(lambda: room.connect_count > connects and room.chat_caught_up)
    await eventually(lambda: len(commands(env, race.slug)) >= 1)
    await asyncio.sleep(0.2)
    await env.dispatcher.drain()

    [event] = commands(env, race.slug)
    assert (event.message_id, event.from_history) == (typed.id, True)
    await env.event_log.flush()
    async with env.sessionmaker() as session:
        logged = (
            await session.execute(
                select(EventLogEntry).where(EventLogEntry.event_id == event.event_id)
            )
        ).scalars().all()
    assert len(logged) == 1


async def test_live_messages_before_the_history_answer_are_handled_after_it_in_order(
    engine_env: EngineEnv,
) -> None:
    env, fake = engine_env, engine_env.fake
    one, two = fake.seed.users["RacerOne"], fake.seed.users["RacerTwo"]
    _manager, race, room = await watched_race(env)
    await caught_up(room)
    await fake.racer(race.slug, one).say("up to here")
    await eventually(lambda: room.chat_position is not None)
    fake.fail_next(2, status=503, path_prefix=f"/ws/o/bot/{race.slug}")
    await fake.drop_sockets(race.slug)
    away = await fake.racer(race.slug, one).say("!seed typed while away")
    fake.set_history_delay(0.5)
    await eventually(lambda: len(history_requests(env, race.slug)) == 2)
    # Frames racetime sends live before its history answer (not in the history).
    for n in range(3):
        await fake.inject_frame(race.slug, user_message(f"liveLiveLive000{n}", f"!live{n}", two))
    await eventually(lambda: len(commands(env, race.slug)) == 4)
    await env.dispatcher.drain()

    got = [(e.command, e.from_history) for e in commands(env, race.slug)]
    assert got == [("seed", True), ("live0", False), ("live1", False), ("live2", False)]
    assert commands(env, race.slug)[0].message_id == away.id
    assert await stored_position(env, race.slug) == "liveLiveLive0002"


async def test_a_room_someone_else_opened_ignores_history_from_before_it_was_watched(
    engine_env: EngineEnv,
) -> None:
    env, fake = engine_env, engine_env.fake
    one = fake.seed.users["RacerOne"]
    race = fake.open_race(CATEGORY)
    old = await fake.racer(race.slug, one).say("!seed before RaceDesk came")
    await add_alttpr_bot(env)
    manager = await started(env)
    room = await manager.room(race.name)
    await caught_up(room)
    later = await fake.racer(race.slug, one).say("!seed after")
    await eventually(lambda: len(commands(env, race.slug)) == 1)
    await env.dispatcher.drain()
    assert [e.message_id for e in commands(env, race.slug)] == [later.id]
    assert old.id != later.id


async def test_a_room_we_opened_handles_its_whole_history(engine_env: EngineEnv) -> None:
    env, fake = engine_env, engine_env.fake
    one = fake.seed.users["RacerOne"]
    race = fake.open_race(CATEGORY)
    await env.store.record_room(CATEGORY, race.slug, opened_by_us=True)
    typed = await fake.racer(race.slug, one).say("!seed before we connected")
    await add_alttpr_bot(env)
    manager = await started(env)
    await eventually(lambda: race.slug in manager.bot(CATEGORY).rooms)
    await caught_up(manager.bot(CATEGORY).rooms[race.slug])
    await eventually(lambda: len(commands(env, race.slug)) == 1)
    [event] = commands(env, race.slug)
    assert (event.message_id, event.from_history) == (typed.id, True)


HOSTILE: list[Any] = [
    {"type": "chat.message"},
    {"type": "chat.message", "message": "not a dict"},
    {"type": "chat.message", "message": {"id": 5, "user": 7, "message": ["!seed"]}},
    {"type": "chat.message", "message": {"id": "x" * 10_000, "message": "!seed"}},
    user_message("badUserId0000001", "!seed", "../../etc"),
    user_message("intTime000000001", "!seed", "AAAAAAAAAAAAAAAA", posted_at=12),
    user_message("notATime00000001", "!seed", "AAAAAAAAAAAAAAAA", posted_at="yesterday"),
    user_message("hugeHugeHuge0001", "!seed " + "x" * 2_000_000, "AAAAAAAAAAAAAAAA"),
    {"type": "chat.history", "messages": [user_message("unasked000000001", "!seed", "A" * 16)]},
    {"type": "chat.history", "messages": "nope"},
    "{not json",
    json.dumps({"type": "chat.message", "message": None}),
]


async def test_hostile_chat_frames_do_not_break_the_room(engine_env: EngineEnv) -> None:
    env, fake = engine_env, engine_env.fake
    one = fake.seed.users["RacerOne"]
    _manager, race, room = await watched_race(env)
    await caught_up(room)
    connects = room.connect_count
    for frame in HOSTILE:
        await fake.inject_frame(race.slug, frame)
    real = await fake.racer(race.slug, one).say("!seed")
    # Both commands (the odd time's, then the real one): the first may be delivered before
    # the room has read the second frame.
    await eventually(lambda: len(commands(env, race.slug)) >= 2)
    await env.dispatcher.drain()
    got = commands(env, race.slug)
    # A time that is not one is no reason to ignore a person's command: it happened now.
    assert [e.message_id for e in got] == ["notATime00000001", real.id]
    assert got[0].posted_at is None and got[0].occurred_at.tzinfo is not None
    assert room.connect_count == connects and room.is_connected


async def test_a_history_with_odd_messages_keeps_the_good_ones(engine_env: EngineEnv) -> None:
    env, fake = engine_env, engine_env.fake
    two = fake.seed.users["RacerTwo"]
    _manager, race, room = await watched_race(env)
    await caught_up(room)
    fake.set_history_delay(1.0)
    await fake.drop_sockets(race.slug)
    await eventually(lambda: len(history_requests(env, race.slug)) == 2)
    good = user_message("goodGoodGood0001", "!seed", two)["message"]
    odd: list[Any] = [5, "x", {"id": "oddOddOdd0000001", "user": "nobody"}, good, None]
    await fake.inject_frame(race.slug, {"type": "chat.history", "messages": odd})
    await eventually(lambda: len(commands(env, race.slug)) == 1)
    [event] = commands(env, race.slug)
    assert (event.message_id, event.from_history) == ("goodGoodGood0001", True)


async def test_send_message_reaches_racetime_as_it_stores_it(engine_env: EngineEnv) -> None:
    env, fake = engine_env, engine_env.fake
    two = fake.seed.users["RacerTwo"]
    _manager, race, room = await watched_race(env)
    actions = {
        "Roll seed": {
            "message": "!seed ${preset}",
            "submit": "Roll",
            "survey": [
                {"name": "preset", "label": "Preset", "type": "select",
                 "options": {"open": "Open", "standard": "Standard"}},
            ],
            "help": "Roll the tournament's seed",
        },
        "Rules": {"url": "https://example.org/rules"},
    }
    await room.send_message("Ready to roll", pinned=True, actions=actions, guid="answer-1")
    await room.send_message("Ready to roll", pinned=True, actions=actions, guid="answer-1")
    await room.send_message("Your seed: ...", direct_to=two)
    messages = [m for m in fake.race(race.slug).messages if m.bot is not None]
    assert [(m.message, m.pinned, m.direct_to) for m in messages] == [
        ("Ready to roll", True, None),  # the repeated guid was dropped
        ("Your seed: ...", False, fake.users[two]),
    ]
    assert messages[0].actions == actions and messages[1].actions == {}
    sent = [r.data for r in fake.received_actions(race.slug, "message")]
    assert sent[0] == {"message": "Ready to roll", "direct_to": None, "actions": actions,
                       "pinned": True, "guid": "answer-1"}
    assert sent[2]["guid"] != sent[0]["guid"]

    await room.unpin_message(messages[0].id)
    assert messages[0].pinned is False
    await room.pin_message(messages[0].id)
    assert messages[0].pinned is True
    with pytest.raises(RacetimeActionError, match="Could not find a message"):
        await room.pin_message("nosuchmessage000")
    with pytest.raises(RacetimeActionError, match="at most 1000 characters"):
        await room.send_message("x" * 1001)  # the text is racetime's to refuse, as before


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"direct_to": "AAAAAAAAAAAAAAAA", "pinned": True}, "direct message"),
        ({"direct_to": "AAAAAAAAAAAAAAAA", "actions": {"A": {"message": "!a"}}}, "direct"),
        ({"actions": {str(n): {"message": "!a"} for n in range(5)}}, "at most 4"),
        ({"guid": "Not-Lower"}, "guid"),
        ({"actions": {"A": {"submit": "x"}}}, "needs a 'message'"),
        ({"actions": {"A": {"url": "https://x", "message": "y"}}}, "unknown keys"),
    ],
)
async def test_send_message_refuses_what_racetime_refuses(
    engine_env: EngineEnv, kwargs: dict[str, Any], error: str
) -> None:
    _manager, race, room = await watched_race(engine_env)
    with pytest.raises(ValueError, match=error):
        await room.send_message("hi", **kwargs)
    assert engine_env.fake.received_actions(race.slug, "message") == []


async def test_a_clicked_action_is_the_clicker_s_command(engine_env: EngineEnv) -> None:
    env, fake = engine_env, engine_env.fake
    one = fake.seed.users["RacerOne"]
    linked = await env.link(one, discord_id=333333333333333333)
    _manager, race, room = await watched_race(env)
    await caught_up(room)
    actions = {
        "Roll seed": {
            "message": "!seed ${preset} ${spoiler}",
            "survey": [
                {"name": "preset", "type": "select",
                 "options": {"open": "Open", "standard": "Standard"}},
                {"name": "spoiler", "type": "bool", "label": "Spoiler"},
            ],
        }
    }
    await room.send_message("Roll here", actions=actions)
    bot_message = next(m for m in fake.race(race.slug).messages if m.bot is not None)
    posted = await fake.racer(race.slug, one).click(
        bot_message.id, "Roll seed", {"preset": "standard", "spoiler": True}
    )
    assert posted.message == "!seed standard spoiler"
    await eventually(lambda: len(commands(env, race.slug)) == 1)
    [event] = commands(env, race.slug)
    assert (event.command, event.text, event.user_id) == ("seed", "!seed standard spoiler", linked)
