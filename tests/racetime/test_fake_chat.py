"""The fake racetime server's chat, as racetime-app does it: ``gethistory`` and
``last_message``, pinned messages last, the message delay, people's chat rules, message
actions clicked as the site posts them, and the ``/_test`` endpoints that drive them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import aiohttp
import pytest

from fake_racetime import FakeRacetimeServer, RaceActionError
from fake_racetime.chat import clicked_text
from fake_racetime.models import ChatMessage
from tests.plugins.fake_racetime import BotSocket
from tests.racetime.test_fake_server import token_for

Connect = Callable[..., Awaitable[BotSocket]]


async def history(sock: BotSocket, last: str | None = None) -> list[dict[str, Any]]:
    await sock.send("gethistory", None if last is None else {"last_message": last})
    frame = await sock.recv_type("chat.history")
    return list(frame["messages"])


async def bot_socket(fake: FakeRacetimeServer, connect_ws: Connect, slug: str) -> BotSocket:
    return await connect_ws(slug, await token_for(fake))


async def test_gethistory_sends_what_came_after_last_message(
    fake_racetime: FakeRacetimeServer, connect_ws: Connect
) -> None:
    fake = fake_racetime
    one = fake.seed.users["RacerOne"]
    race = fake.open_race("alttpr")
    sock = await bot_socket(fake, connect_ws, race.slug)
    racer = fake.racer(race.slug, one)
    first, second, third = [await racer.say(f"message {n}") for n in range(3)]
    everything = [m["message"] for m in await history(sock)]
    opened = "Race opened automatically by TestBot"
    assert everything == [opened, *(f"message {n}" for n in range(3))]
    assert [m["id"] for m in await history(sock, first.id)] == [second.id, third.id]
    assert await history(sock, third.id) == []
    # racetime compares keys: an id it cannot decode is "from the start"; another room's
    # message still has its place in the one table.
    assert len(await history(sock, "notAMessageId000")) == 4
    other = fake.open_race("alttpr")
    later = await fake.racer(other.slug, one).say("elsewhere")
    assert await history(sock, later.id) == []


async def test_gethistory_sends_the_last_100_then_the_pinned_ones(
    fake_racetime: FakeRacetimeServer, connect_ws: Connect
) -> None:
    fake = fake_racetime
    one = fake.seed.users["RacerOne"]
    race = fake.open_race("alttpr")
    sock = await bot_socket(fake, connect_ws, race.slug)
    await sock.send("message", {"message": "Pinned early", "pinned": True, "guid": "p-1"})
    for n in range(110):
        race.messages.append(
            ChatMessage(id=f"bulk{n:012d}", posted_at=fake.clock.now(), message=f"m{n}",
                        user=fake.users[one])
        )
    got = await history(sock)
    assert len(got) == 101
    assert got[0]["message"] == "m10" and got[99]["message"] == "m109"
    assert (got[100]["message"], got[100]["is_pinned"]) == ("Pinned early", True)


async def test_a_message_carries_the_delay_racetime_gives_it_and_is_sent_at_once(
    fake_racetime: FakeRacetimeServer, connect_ws: Connect
) -> None:
    fake = fake_racetime
    one, two = fake.seed.users["RacerOne"], fake.seed.users["RacerTwo"]
    race = fake.open_race("alttpr", chat_message_delay=timedelta(seconds=30))
    race.monitors.append(fake.users[two])
    sock = await bot_socket(fake, connect_ws, race.slug)
    await fake.racer(race.slug, one).say("from a racer")
    racer_frame = await sock.recv_type("chat.message", wait=0.5)  # not held back 30 s
    await fake.racer(race.slug, two).say("from a monitor")
    monitor_frame = await sock.recv_type("chat.message", wait=0.5)
    await sock.send("message", {"message": "from the bot", "guid": "b-1"})
    bot_frame = await sock.recv_type("chat.message", wait=0.5)
    assert [f["message"]["delay"] for f in (racer_frame, monitor_frame, bot_frame)] == [30, 0, 0]
    assert [f["message"]["is_monitor"] for f in (racer_frame, monitor_frame, bot_frame)] == [
        False, True, None
    ]
    # Computed when sent: the same message in the history after the delay changed.
    race.chat_message_delay = timedelta(seconds=5)
    delays = {m["message"]: m["delay"] for m in await history(sock)}
    assert delays["from a racer"] == 5 and delays["from a monitor"] == 0


async def test_people_are_refused_as_racetime_refuses_them(
    fake_racetime: FakeRacetimeServer,
) -> None:
    fake = fake_racetime
    one, two = fake.seed.users["RacerOne"], fake.seed.users["RacerTwo"]
    race = fake.open_race("alttpr", allow_prerace_chat=False)
    with pytest.raises(RaceActionError, match="prior to the race"):
        await fake.racer(race.slug, one).say("hi")
    race.allow_prerace_chat = True
    with pytest.raises(RaceActionError, match="at most 1000 characters"):
        await fake.racer(race.slug, one).say("x" * 1001)
    assert (await fake.racer(race.slug, one).say("  padded  ")).message == "padded"
    for n in range(10):
        await fake.racer(race.slug, two).say(f"spam {n}")
    await fake.racer(race.slug, two).say("eleventh")
    with pytest.raises(RaceActionError, match="chatting too much"):
        await fake.racer(race.slug, two).say("twelfth")
    message = await fake.racer(race.slug, one).post("once", guid="same-guid")
    assert message is not None
    assert await fake.racer(race.slug, one).post("once", guid="same-guid") is None


def test_a_click_posts_what_the_site_posts() -> None:
    from datetime import UTC, datetime

    actions: dict[str, object] = {
        "Plain": {"message": "!help"},
        "Survey": {
            "message": "!seed ${preset} ${name} ${spoiler} ${race} ${preset}",
            "survey": [
                {"name": "spoiler", "type": "bool", "default": True},
                {"name": "preset", "type": "select", "options": {"open": "O", "std": "S"}},
                {"name": "name", "type": "input", "default": "anon"},
                {"name": "race", "type": "radio", "options": {"a": "A", "b": "B"}},
            ],
        },
        "Link": {"url": "https://example.org"},
    }
    message = ChatMessage(
        id="m" * 16, posted_at=datetime(2026, 12, 6, tzinfo=UTC), message="x", bot="TestBot",
        actions=actions,
    )
    assert clicked_text(message, "Plain", None) == "!help"
    # Defaults fill what is not answered; an unchosen radio stays as typed; only the first
    # ${preset} is filled (JavaScript's replace with a string).
    assert clicked_text(message, "Survey", {}) == "!seed open anon spoiler ${race} ${preset}"
    assert (
        clicked_text(message, "Survey", {"preset": "std", "name": "a$$b", "spoiler": False,
                                         "race": "b"})
        == "!seed std a$b  b ${preset}"
    )
    with pytest.raises(RaceActionError, match="link"):
        clicked_text(message, "Link", None)
    with pytest.raises(RaceActionError, match="no action"):
        clicked_text(message, "Nope", None)


async def test_the_test_endpoints_say_click_and_received(
    fake_racetime: FakeRacetimeServer, connect_ws: Connect
) -> None:
    fake = fake_racetime
    one = fake.seed.users["RacerOne"]
    race = fake.open_race("alttpr")
    sock = await bot_socket(fake, connect_ws, race.slug)
    await sock.send("message", {
        "message": "Roll", "guid": "roll-1",
        "actions": {"Roll": {"message": "!seed ${p}", "survey": [
            {"name": "p", "type": "select", "options": {"open": "Open", "std": "Std"}}]}},
    })
    bot_message = (await sock.recv_type("chat.message"))["message"]
    await sock.send("gethistory", {"last_message": bot_message["id"]})
    base = f"{fake.base_url}/_test/races/{race.slug}"
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{base}/racers/{one}/say", json={"text": "!help"}) as response:
            assert response.status == 201
            said = await response.json()
        async with http.post(
            f"{base}/racers/{one}/click",
            json={"message": bot_message["id"], "label": "Roll", "values": {"p": "std"}},
        ) as response:
            assert response.status == 201
            clicked = await response.json()
        async with http.post(f"{base}/racers/{one}/say", json={"text": " "}) as response:
            assert (response.status, await response.json()) == (
                422, {"errors": ["message: This field is required."]}
            )
        async with http.post(f"{base}/racers/nobody/say", json={"text": "hi"}) as response:
            assert response.status == 404
        async with http.post(
            f"{base}/racers/{one}/click", json={"message": said["id"], "label": "Roll"}
        ) as response:
            assert response.status == 422  # a person's message has no actions
        async with http.get(f"{base}/received") as response:
            received = await response.json()
        async with http.post(f"{fake.base_url}/_test/history-delay", json={"seconds": -1}) as r:
            assert r.status == 422
    texts = [m.message for m in race.messages if m.user is not None]
    assert texts == ["!help", "!seed std"] and clicked["message"] == "!seed std"
    assert said["id"] == race.messages[-2].id and clicked["id"] == race.messages[-1].id
    assert [(r["socket"], r["action"]) for r in received] == [
        ("bot", "message"), ("bot", "gethistory")
    ]
    assert received[1]["data"] == {"last_message": bot_message["id"]}


async def test_bot_message_errors_are_racetime_s(
    fake_racetime: FakeRacetimeServer, connect_ws: Connect
) -> None:
    fake = fake_racetime
    race = fake.open_race("alttpr")
    sock = await bot_socket(fake, connect_ws, race.slug)
    five = {str(n): {"message": "!x"} for n in range(5)}
    await sock.send("message", {"message": "m", "guid": "g-1", "actions": five})
    assert (await sock.recv_type("error"))["errors"] == [
        "actions: A message may only have up to 4 actions."
    ]
    await sock.send("message", {"message": "m", "guid": "g-2", "direct_to": "nobody"})
    assert (await sock.recv_type("error"))["errors"] == ["direct_to: Unrecognised user"]
    # Pinning what is already pinned sends nothing.
    await sock.send("message", {"message": "pin me", "guid": "g-3", "pinned": True})
    pinned = (await sock.recv_type("chat.message"))["message"]
    await sock.send("pin_message", {"message": pinned["id"]})
    await sock.send("ping")
    assert [f["type"] for f in await sock.drain(0.1)] == ["pong"]
