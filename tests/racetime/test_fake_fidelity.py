"""The fake racetime server does what racetime-app's own server was seen doing (protocol §6).

Each test drives the fake over real sockets and HTTP, and would have failed against the fake
as it was before it learned the behaviour: ``pong`` before an action's broadcast, un-finish in
two broadcasts, equal versions with different payloads, ``race.split`` frames, the racebot's
adoption delay, disallowed settings dropped silently; and the ``/_test`` hooks other
processes use to produce hostile frames and token faults.
"""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
import websockets

from fake_racetime import FakeRacetimeServer, RaceActionError
from fake_racetime.server import CHANNEL_LAYER_DELAY
from tests.plugins.fake_racetime import ALTTPR_CLIENT_ID, BotSocket, seed_fake
from tests.racetime.test_fake_server import get_json, post, running_race, token_for

Connect = Callable[..., Awaitable[BotSocket]]
PERMISSION_DENIED = ["Permission denied. Check your authorization token."]


def types(frames: list[dict[str, Any]]) -> list[str]:
    return [f["type"] for f in frames]


def race_frames(frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [f["race"] for f in frames if f["type"] == "race.data"]


def statuses(race: dict[str, Any]) -> list[str]:
    return [e["status"]["value"] for e in race["entrants"]]


async def until(sock: BotSocket, kinds: set[str], wait: float = 2.0) -> list[dict[str, Any]]:
    """Frames up to and including the first of each type in ``kinds``."""
    got: list[dict[str, Any]] = []
    missing = set(kinds)
    while missing:
        frame = await sock.recv(wait)
        got.append(frame)
        missing.discard(frame["type"])
    return got


async def finished_race(fake: FakeRacetimeServer, sock_for: Connect) -> tuple[str, BotSocket]:
    """RacerOne done, RacerTwo forfeited, the race finished; a socket with nothing unread."""
    slug = await running_race(fake)
    sock = await sock_for(slug)
    users = fake.seed.users
    await fake.racer(slug, users["RacerOne"]).done()
    await fake.racer(slug, users["RacerTwo"]).forfeit()
    await sock.recv_status("finished")
    await sock.drain(0.05)
    return slug, sock


# -- 1. pong before the action's broadcast -------------------------------------------------------


async def test_pong_comes_before_the_broadcast_an_action_caused(
    fake_racetime: FakeRacetimeServer, connect_ws: Connect
) -> None:
    fake = fake_racetime
    users = fake.seed.users
    race = fake.open_race("alttpr", invitational=True, auto_start=False, streaming_required=False)
    sock = await connect_ws(race.slug, await token_for(fake))
    await fake.racer(race.slug, users["RacerTwo"]).request_invite()
    await sock.drain(0.05)

    async def act(action: str, data: Any = None) -> dict[str, Any]:
        """Send ``action`` and a ping; the pong must come first, then the new race."""
        version = fake.race(race.slug).version
        await sock.send(action, data)
        await sock.send("ping")
        frames = await until(sock, {"pong", "race.data", "race.renders"})
        assert types(frames)[0] == "pong", (action, types(frames))
        new = race_frames(frames)[0]
        assert new["version"] == version + 1, action
        return new

    assert statuses(await act("invite", {"user": users["RacerOne"]})) == ["invited", "requested"]
    await act("accept_request", {"user": users["RacerTwo"]})
    info = await act("setinfo", {"info_bot": "seed 1234"})
    assert info["info_bot"] == "seed 1234"
    assert (await act("make_open"))["status"]["value"] == "open"
    for name in ("RacerOne", "RacerTwo"):
        racer = fake.racer(race.slug, users[name])
        if name == "RacerOne":
            await racer.accept_invite()
        await racer.ready()
    await sock.drain(0.05)
    assert (await act("begin"))["status"]["value"] == "pending"
    assert (await act("cancel"))["status"]["value"] == "cancelled"


async def test_a_bot_message_also_comes_after_the_pong(
    fake_racetime: FakeRacetimeServer, connect_ws: Connect
) -> None:
    race = fake_racetime.open_race("alttpr")
    sock = await connect_ws(race.slug, await token_for(fake_racetime))
    await sock.send("message", {"message": "hello", "guid": "guid-1"})
    await sock.send("ping")
    assert types(await until(sock, {"pong", "chat.message"})) == ["pong", "chat.message"]


async def test_errors_stay_inline_before_the_pong(
    fake_racetime: FakeRacetimeServer, connect_ws: Connect
) -> None:
    race = fake_racetime.open_race("alttpr")
    sock = await connect_ws(race.slug, await token_for(fake_racetime))
    await sock.send("invite", {"user": "0000000000000000"})
    await sock.send("ping")
    frames = [await sock.recv(), await sock.recv()]
    assert types(frames) == ["error", "pong"]
    assert frames[0]["errors"] == ["No user found matching the given ID."]
    assert await sock.drain(CHANNEL_LAYER_DELAY * 2) == []


async def test_a_held_broadcast_goes_out_without_a_ping_and_keeps_the_room_in_order(
    fake_racetime: FakeRacetimeServer, connect_ws: Connect
) -> None:
    fake = fake_racetime
    race = fake.open_race("alttpr", streaming_required=False)
    sock = await connect_ws(race.slug, await token_for(fake))
    watcher = await connect_ws(race.slug, public=True)
    await sock.send("setinfo", {"info_bot": "from the bot"})  # no ping follows
    await sock.send("gethistory")  # answered inline, so the action has been applied
    assert (await sock.recv())["type"] == "chat.history"
    await fake.racer(race.slug, fake.seed.users["RacerOne"]).join()  # a later change
    for socket in (sock, watcher):
        frames = await until(socket, {"race.data"})
        frames += await socket.drain(CHANNEL_LAYER_DELAY * 2)
        versions = [r["version"] for r in race_frames(frames)]
        assert versions == [2, 3], versions  # the bot's change first, then the join
        assert race_frames(frames)[0]["info_bot"] == "from the bot"


# -- 2. un-finish is two broadcasts --------------------------------------------------------------


async def test_undone_in_a_finished_race_is_two_broadcasts(
    fake_racetime: FakeRacetimeServer, connect_ws: Connect
) -> None:
    fake = fake_racetime
    slug, sock = await finished_race(fake, connect_ws)
    version = fake.race(slug).version
    one = fake.seed.users["RacerOne"]
    await fake.racer(slug, one).undone()
    frames = await sock.drain(0.1)
    first, second = race_frames(frames)
    assert (first["version"], first["status"]["value"]) == (version + 1, "finished")
    assert statuses(first) == ["ready", "dnf"]
    assert (second["version"], second["status"]["value"]) == (version + 2, "in_progress")
    assert statuses(second) == ["in_progress", "dnf"]
    texts = [f["message"]["message_plain"] for f in frames if f["type"] == "chat.message"]
    assert texts[0].endswith("is no longer done.") and texts[1] == "Race timer restarted."
    assert types(frames) == ["race.split", *["chat.message", "race.data", "race.renders"] * 2]


async def test_unforfeit_in_a_finished_race_is_two_broadcasts(
    fake_racetime: FakeRacetimeServer, connect_ws: Connect
) -> None:
    fake = fake_racetime
    slug, sock = await finished_race(fake, connect_ws)
    version = fake.race(slug).version
    await fake.racer(slug, fake.seed.users["RacerTwo"]).unforfeit()
    first, second = race_frames(await sock.drain(0.1))
    assert (first["version"], first["status"]["value"]) == (version + 1, "finished")
    assert statuses(first) == ["done", "ready"]
    assert (second["version"], second["status"]["value"]) == (version + 2, "in_progress")
    assert statuses(second) == ["done", "in_progress"]


async def test_undone_while_running_stays_one_broadcast(
    fake_racetime: FakeRacetimeServer, connect_ws: Connect
) -> None:
    fake = fake_racetime
    slug = await running_race(fake)
    sock = await connect_ws(slug)
    one = fake.racer(slug, fake.seed.users["RacerOne"])
    await one.done()
    await sock.drain(0.05)
    await one.undone()
    (race,) = race_frames(await sock.drain(0.1))
    assert race["status"]["value"] == "in_progress"
    assert statuses(race) == ["in_progress", "in_progress"]


# -- 3. equal version, different payload ---------------------------------------------------------


async def test_a_stale_copy_repeats_the_version_with_other_content(
    fake_racetime: FakeRacetimeServer, connect_ws: Connect
) -> None:
    fake = fake_racetime
    slug, sock = await finished_race(fake, connect_ws)
    version = fake.race(slug).version
    latest = fake.race_data(slug)
    assert await fake.save_stale_copy(slug) == version
    assert fake.race_data(slug)["version"] == version  # what HTTP says, too
    stale = (await sock.recv_type("race.data"))["race"]
    assert stale["version"] == version
    assert stale != latest
    # The copy is the race as the broadcast before showed it: running, nobody left to run...
    assert stale["status"]["value"] == "in_progress"
    # ... so the racebot finishes it again, and that change reuses version + 1.
    again = await sock.recv_status("finished")
    assert again["version"] == again["race"]["version"] == version + 1


async def test_a_stale_copy_can_carry_any_change(
    fake_racetime: FakeRacetimeServer, connect_ws: Connect
) -> None:
    fake = fake_racetime
    slug, sock = await finished_race(fake, connect_ws)
    race = fake.race(slug)
    version = race.version
    await fake.save_stale_copy(slug, lambda now: setattr(race, "info_bot", "stale"))
    stale = (await sock.recv_type("race.data"))["race"]
    assert (stale["version"], stale["status"]["value"], stale["info_bot"]) == (
        version,
        "finished",
        "stale",
    )
    await fake.racer(slug, fake.seed.users["RacerOne"]).undone()
    assert race_frames(await sock.drain(0.1))[0]["version"] == version + 1


async def test_a_new_room_has_no_stale_copy(fake_racetime: FakeRacetimeServer) -> None:
    race = fake_racetime.open_race("alttpr")
    with pytest.raises(RaceActionError, match="no older copy"):
        await fake_racetime.save_stale_copy(race.slug)


# -- 4. race.split -------------------------------------------------------------------------------


async def test_undone_sends_a_split_first(
    fake_racetime: FakeRacetimeServer, connect_ws: Connect
) -> None:
    fake = fake_racetime
    slug, sock = await finished_race(fake, connect_ws)
    one = fake.seed.users["RacerOne"]
    await fake.racer(slug, one).undone()
    frames = await sock.drain(0.1)
    assert frames[0]["type"] == "race.split"
    assert frames[0]["split"] == {
        "split_name": "",
        "split_time": "-",
        "is_undo": True,
        "is_finish": True,
        "user_id": one,
    }
    assert types(frames).count("race.split") == 1


async def test_splits_from_a_timer_and_none_on_done_or_unforfeit(
    fake_racetime: FakeRacetimeServer, connect_ws: Connect
) -> None:
    fake = fake_racetime
    slug = await running_race(fake)
    sock = await connect_ws(slug)
    one = fake.racer(slug, fake.seed.users["RacerOne"])
    two = fake.racer(slug, fake.seed.users["RacerTwo"])
    await one.split("Eastern Palace", "P0DT00H00M05.100000S")
    split = (await sock.recv_type("race.split"))["split"]
    assert (split["split_name"], split["is_undo"], split["is_finish"]) == (
        "eastern palace",
        False,
        False,
    )
    with pytest.raises(RaceActionError, match="Split name must not be empty"):
        await one.split("")
    await one.done()  # racetime-app sends no split on done (only a timer's split does)
    await two.forfeit()
    await two.undone()  # "undone" of a forfeit is an unforfeit: no split either
    assert "race.split" not in types(await sock.drain(0.1))
    assert fake.race(slug).entrant(fake.users[fake.seed.users["RacerTwo"]]).dnf is False


async def test_a_refused_undone_still_sent_its_split(
    fake_racetime: FakeRacetimeServer, connect_ws: Connect
) -> None:
    fake = fake_racetime
    slug, sock = await finished_race(fake, connect_ws)
    await fake.advance(601)  # past the un-finish window
    await sock.drain(0.05)
    with pytest.raises(RaceActionError, match="undo your finish"):
        await fake.racer(slug, fake.seed.users["RacerOne"]).undone()
    assert types(await sock.drain(0.1)) == ["race.split"]


# -- 5. the racebot's adoption delay -------------------------------------------------------------


async def ready_two(fake: FakeRacetimeServer, slug: str) -> None:
    for name in ("RacerOne", "RacerTwo"):
        racer = fake.racer(slug, fake.seed.users[name])
        await racer.join()
        await racer.ready()


async def test_adoption_delay_holds_back_the_start_and_the_finish(
    fake_racetime: FakeRacetimeServer, connect_ws: Connect
) -> None:
    fake = fake_racetime
    delay = 0.4
    fake.set_adoption_delay(delay)
    race = fake.open_race("alttpr", streaming_required=False)
    sock = await connect_ws(race.slug)
    await ready_two(fake, race.slug)
    everyone_ready = time.monotonic()
    await asyncio.sleep(delay / 2)
    assert race.status == "open"
    await sock.recv_status("pending", wait=delay + 3)
    assert time.monotonic() - everyone_ready >= delay

    await fake.advance_to_start(race.slug)
    await fake.advance(6)
    for name in ("RacerOne", "RacerTwo"):
        await fake.racer(race.slug, fake.seed.users[name]).done()
    last_done = time.monotonic()
    await fake.tick()
    assert race.status == "in_progress"
    await sock.recv_status("finished", wait=delay + 3)
    assert time.monotonic() - last_done >= delay


async def test_adoption_delay_starts_over_when_someone_unreadies() -> None:
    async with FakeRacetimeServer(auto_tick=False, adoption_delay=0.2) as fake:
        seed_fake(fake)
        race = fake.open_race("alttpr", streaming_required=False)
        await ready_two(fake, race.slug)
        await fake.tick()  # the racebot sees everyone ready
        await asyncio.sleep(0.25)
        one = fake.racer(race.slug, fake.seed.users["RacerOne"])
        await one.unready()
        await fake.tick()  # ... and then not
        await one.ready()
        await fake.tick()
        assert race.status == "open"  # the delay counts from the last time it became due
        await asyncio.sleep(0.25)
        await fake.tick()
        assert race.status == "pending"


async def test_no_adoption_delay_by_default(fake_racetime: FakeRacetimeServer) -> None:
    assert fake_racetime.adoption_delay == 0
    race = fake_racetime.open_race("alttpr", streaming_required=False)
    await ready_two(fake_racetime, race.slug)
    await fake_racetime.tick()
    assert race.status == "pending"
    with pytest.raises(ValueError, match="negative"):
        fake_racetime.set_adoption_delay(-1)


def test_adoption_delay_from_the_command_line() -> None:
    """``--adoption-delay``: a race another process readies starts only that much later."""
    with subprocess.Popen(
        [sys.executable, "-m", "fake_racetime", "--port", "0", "--seed",
         "--adoption-delay", "0.5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as process:  # fmt: skip
        try:
            assert process.stdout is not None
            base = process.stdout.readline().strip().rsplit(" ", 1)[-1]
            users = [process.stdout.readline().split()[-1] for _ in range(5)][2:4]
            elapsed = asyncio.run(_time_to_pending(base, users))
            assert elapsed >= 0.5
        finally:
            process.terminate()
            process.wait(timeout=10)


async def _time_to_pending(base: str, users: list[str]) -> float:
    async with aiohttp.ClientSession() as s:
        race = {"category": "alttpr", "streaming_required": False}
        async with s.post(f"{base}/_test/races", json=race) as r:
            slug = (await r.json())["slug"]
        for user in users:
            for action in ("join", "ready"):
                async with s.post(f"{base}/_test/races/{slug}/racers/{user}/{action}") as r:
                    assert r.status == 200, await r.text()
        ready = time.monotonic()
        async with asyncio.timeout(10):
            while True:
                async with s.get(f"{base}/alttpr/{slug}/data") as r:
                    if (await r.json())["status"]["value"] == "pending":
                        return time.monotonic() - ready
                await asyncio.sleep(0.02)


# -- 6. settings the category does not allow -----------------------------------------------------


async def test_disallowed_settings_are_dropped_silently(
    fake_racetime: FakeRacetimeServer,
) -> None:
    fake = fake_racetime
    token = await token_for(fake)
    form = {"goal": "Beat the game", "hide_entrants": "true", "partitionable": "true"}
    status, body, headers = await post(fake, "/o/alttpr/startrace", form, token)
    assert (status, body) == (201, "")
    _, data = await get_json(fake, headers["Location"] + "/data")
    assert data["hide_entrants"] is False
    race = fake.race(headers["Location"])
    assert (race.hide_entrants, race.partitionable) == (False, False)
    status, _, _ = await post(fake, f"/o/alttpr/{race.slug}/edit", form, token)
    assert status == 200
    assert (race.hide_entrants, race.partitionable) == (False, False)


async def test_allowed_settings_take(fake_racetime: FakeRacetimeServer) -> None:
    fake = fake_racetime
    fake.add_category("hidden", allow_hide_entrants=True, allow_partitionable=True)
    fake.seed_bot("hidden", "hidden-client", "hidden-secret")
    form = {"grant_type": "client_credentials", "client_id": "hidden-client",
            "client_secret": "hidden-secret"}  # fmt: skip
    async with aiohttp.ClientSession() as s, s.post(fake.base_url + "/o/token", data=form) as r:
        token = (await r.json())["access_token"]
    start = {"goal": "Beat the game", "hide_entrants": "true", "partitionable": "true"}
    status, _, headers = await post(fake, "/o/hidden/startrace", start, token)
    assert status == 201
    race = fake.race(headers["Location"])
    assert (race.hide_entrants, race.partitionable) == (True, True)


# -- 7. the /_test API ---------------------------------------------------------------------------


async def test_raw_frames_of_any_kind_reach_the_room(
    fake_racetime: FakeRacetimeServer, connect_ws: Connect
) -> None:
    fake = fake_racetime
    race = fake.open_race("alttpr")
    other = fake.open_race("alttpr")
    sock = await connect_ws(race.slug)
    url = f"{fake.base_url}/_test/races/{race.slug}/frame"
    async with aiohttp.ClientSession() as s:
        async with s.post(url, json={"frame": {"type": "race.data", "race": None}}) as r:
            assert r.status == 200
        assert await sock.recv() == {"type": "race.data", "race": None}
        async with s.post(url, json={"text": "{not json"}) as r:
            assert r.status == 200
        assert await sock.ws.recv() == "{not json"
        async with s.post(url, data=b"raw \x00 body", headers={"Content-Type": "text/plain"}) as r:
            assert r.status == 200
        assert await sock.ws.recv() == "raw \x00 body"
        # Another room's race.data, on this room's socket: the engine must ignore it.
        async with s.post(url, json={"race_of": other.slug}) as r:
            assert r.status == 200
        injected = await sock.recv()
        assert injected["race"]["name"] == other.name
        assert injected["version"] == other.version
        bare = {"type": "race.data", "race": {"name": other.name}, "version": 2**62}
        async with s.post(url, json=bare) as r:  # not a wrapper: the body is the frame
            assert r.status == 200
        assert await sock.recv() == bare
        async with s.post(url, json={"race_of": "no-such-race-0000"}) as r:
            assert r.status == 404
        async with s.post(f"{fake.base_url}/_test/races/nope-nope-0000/frame", json={}) as r:
            assert r.status == 404


async def test_a_huge_frame_can_be_sent(
    fake_racetime: FakeRacetimeServer, connect_ws: Connect
) -> None:
    fake = fake_racetime
    race = fake.open_race("alttpr")
    frame = fake.race_data_frame(race.slug)
    entrant = {"user": {"id": "x" * 16}, "status": {"value": "ready"}, "pad": "p" * 600}
    frame["race"]["entrants"] = [entrant] * 8000  # about 5 MB
    text = json.dumps(frame)
    assert len(text) > 4 * 1024 * 1024
    ws = await websockets.connect(f"{fake.ws_base}/ws/o/bot/{race.slug}", max_size=len(text) + 1024)
    try:
        await ws.recv()
        await ws.recv()
        async with (
            aiohttp.ClientSession() as s,
            s.post(
                f"{fake.base_url}/_test/races/{race.slug}/frame",
                data=io.BytesIO(text.encode()),
                headers={"Content-Type": "text/plain"},
            ) as r,
        ):
            assert (await r.json())["bytes"] == len(text)
        assert await ws.recv() == text
    finally:
        await ws.close()


async def test_a_revoked_token_is_refused_everywhere_it_worked(
    fake_racetime: FakeRacetimeServer, connect_ws: Connect
) -> None:
    fake = fake_racetime
    race = fake.open_race("alttpr")
    token = await token_for(fake)
    other = await token_for(fake)
    sock = await connect_ws(race.slug, token)
    assert (await get_json(fake, "/o/alttpr/data", token))[0] == 200
    async with (
        aiohttp.ClientSession() as s,
        s.post(f"{fake.base_url}/_test/tokens/revoke", json={"token": token}) as r,
    ):
        assert await r.json() == {"revoked": 1}
    assert await get_json(fake, "/o/alttpr/data", token) == (403, "")
    start = await post(fake, "/o/alttpr/startrace", {"goal": "Beat the game"}, token)
    assert start[:2] == (403, "")
    await sock.send("make_invitational")
    assert (await sock.recv())["errors"] == PERMISSION_DENIED
    # The socket is accepted all the same (racetime checks tokens per action).
    again = await connect_ws(race.slug, token)
    await again.send("ping")
    assert (await again.recv())["type"] == "pong"
    assert (await get_json(fake, "/o/alttpr/data", other))[0] == 200  # only that one
    assert fake.revoke_tokens(client_id=ALTTPR_CLIENT_ID) == 2
    assert (await get_json(fake, "/o/alttpr/data", other))[0] == 403


async def test_token_lifetime_account_deletion_and_adoption_delay_over_http(
    fake_racetime: FakeRacetimeServer, connect_ws: Connect
) -> None:
    fake = fake_racetime
    race = fake.open_race("alttpr", streaming_required=False)
    uid = fake.seed.users["RacerOne"]
    await fake.racer(race.slug, uid).join()
    sock = await connect_ws(race.slug)
    base = f"{fake.base_url}/_test"
    form = {"grant_type": "client_credentials", "client_id": ALTTPR_CLIENT_ID,
            "client_secret": fake.seed.client_secret}  # fmt: skip
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{base}/tokens/lifetime", json={"seconds": 300}) as r:
            assert r.status == 200
        async with s.post(fake.base_url + "/o/token", data=form) as r:
            assert (await r.json())["expires_in"] == 300
        async with s.post(f"{base}/tokens/lifetime", json={"seconds": 0}) as r:
            assert r.status == 422
        async with s.post(f"{base}/users/{uid}/delete") as r:
            assert r.status == 200
        assert (await sock.recv_type("race.data"))["race"]["entrants"][0]["user"] is None
        async with s.post(f"{base}/users/0000000000000000/delete") as r:
            assert r.status == 404
        async with s.post(f"{base}/adoption-delay", json={"seconds": 4.5}) as r:
            assert r.status == 200
        assert fake.adoption_delay == 4.5
        async with s.post(f"{base}/adoption-delay", json={"seconds": -1}) as r:
            assert r.status == 422


async def test_stale_copy_over_http(fake_racetime: FakeRacetimeServer, connect_ws: Connect) -> None:
    fake = fake_racetime
    slug, sock = await finished_race(fake, connect_ws)
    version = fake.race(slug).version
    url = f"{fake.base_url}/_test/races/{slug}/stale-copy"
    async with aiohttp.ClientSession() as s:
        async with s.post(url, json={"set": {"info_bot": "old", "ranked": False}}) as r:
            assert await r.json() == {"version": version}
        stale = (await sock.recv_type("race.data"))["race"]
        assert (stale["version"], stale["info_bot"], stale["ranked"]) == (version, "old", False)
        for bad in ({"set": {"entrants": []}}, {"set": {"status": "bogus"}}, {"set": []}):
            async with s.post(url, json=bad) as r:
                assert r.status == 422, bad
        fresh = fake.open_race("alttpr")
        async with s.post(f"{fake.base_url}/_test/races/{fresh.slug}/stale-copy") as r:
            assert r.status == 422


async def test_split_over_http(fake_racetime: FakeRacetimeServer, connect_ws: Connect) -> None:
    fake = fake_racetime
    slug = await running_race(fake)
    sock = await connect_ws(slug)
    uid = fake.seed.users["RacerOne"]
    url = f"{fake.base_url}/_test/races/{slug}/racers/{uid}/split"
    async with aiohttp.ClientSession() as s:
        body = {"split": "Done", "time": "P0DT00H00M07.000000S", "is_finish": True}
        async with s.post(url, json=body) as r:
            assert r.status == 200
        async with s.post(url, json={}) as r:
            assert (await r.json())["errors"] == ["Split name must not be empty"]
    assert (await sock.recv_type("race.split"))["split"] == {
        "split_name": "done",
        "split_time": "P0DT00H00M07.000000S",
        "is_undo": False,
        "is_finish": True,
        "user_id": uid,
    }
