"""The fake racetime server against the protocol doc and the captured real payloads."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import re
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import websockets
from racetime_bot import Bot, RaceHandler

from fake_racetime import FakeRacetimeServer, RaceActionError
from fake_racetime.server import CLIENT_TAG_HEADER
from tests.plugins.fake_racetime import (
    ALTTPR_CLIENT_ID,
    ALTTPR_CLIENT_SECRET,
    BotSocket,
    ThreadedFakeRacetime,
)

FIXTURES = Path(__file__).parent.parent.parent.parent / "shared" / "fixtures" / "racetime"
if not FIXTURES.is_dir():
    FIXTURES = Path("/work/shared/fixtures/racetime")

DURATION = re.compile(r"^-?P\d+DT\d{2}H\d{2}M\d{2}(\.\d{6})?S$")
DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$")
ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{6})?\+00:00$")
FORM = "application/x-www-form-urlencoded"


def load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


def key_shape(value: Any) -> Any:
    """The keys at every level (lists reduced to their first element's shape)."""
    if isinstance(value, dict):
        return {k: key_shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [key_shape(value[0])] if value else []
    return None


def same_keys(ours: Any, theirs: Any, path: str = "") -> None:
    if isinstance(theirs, dict):
        assert isinstance(ours, dict), path
        assert set(ours) == set(theirs), (path, set(ours) ^ set(theirs))
        for k in theirs:
            if theirs[k] is not None and ours[k] is not None:
                same_keys(ours[k], theirs[k], f"{path}.{k}")
    elif isinstance(theirs, list) and theirs and ours:
        same_keys(ours[0], theirs[0], path + "[0]")


async def token_for(fake: FakeRacetimeServer, scope: str | None = None) -> str:
    form = {
        "grant_type": "client_credentials",
        "client_id": ALTTPR_CLIENT_ID,
        "client_secret": ALTTPR_CLIENT_SECRET,
    }
    if scope:
        form["scope"] = scope
    async with aiohttp.ClientSession() as s, s.post(fake.base_url + "/o/token", data=form) as r:
        assert r.status == 200
        return (await r.json())["access_token"]


async def post(fake: FakeRacetimeServer, path: str, form: Any, token: str | None = None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        aiohttp.ClientSession() as s,
        s.post(fake.base_url + path, data=form, headers=headers, allow_redirects=False) as r,
    ):
        return r.status, await r.text(), dict(r.headers)


async def get_json(fake: FakeRacetimeServer, path: str, token: str | None = None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession() as s, s.get(fake.base_url + path, headers=headers) as r:
        body = await r.text()
        return r.status, (json.loads(body) if r.content_type == "application/json" else body)


async def running_race(fake: FakeRacetimeServer, **settings: Any) -> str:
    """A race with RacerOne and RacerTwo, in progress and 6 s old."""
    race = fake.open_race("alttpr", streaming_required=False, **settings)
    for name in ("RacerOne", "RacerTwo"):
        racer = fake.racer(race.slug, fake.seed.users[name])
        await racer.join()
        await racer.ready()
    await fake.tick()
    await fake.advance_to_start(race.slug)
    await fake.advance(6)
    assert race.status == "in_progress"
    return race.slug


# -- OAuth token ---------------------------------------------------------------------------------


async def test_token_form_basic_and_errors(fake_racetime: FakeRacetimeServer) -> None:
    url = fake_racetime.base_url + "/o/token"
    good = {
        "grant_type": "client_credentials",
        "client_id": ALTTPR_CLIENT_ID,
        "client_secret": ALTTPR_CLIENT_SECRET,
    }
    async with aiohttp.ClientSession() as s:
        async with s.post(url, data=good) as r:
            body = await r.json()
            assert r.status == 200
            assert body["expires_in"] == 36000
            assert body["token_type"] == "Bearer"
            assert body["scope"] == "read chat_message race_action create_race"
        basic = base64.b64encode(f"{ALTTPR_CLIENT_ID}:{ALTTPR_CLIENT_SECRET}".encode()).decode()
        headers = {"Authorization": f"Basic {basic}"}
        async with s.post(url, data={"grant_type": "client_credentials"}, headers=headers) as r:
            assert r.status == 200
        async with s.post(url, data={**good, "client_secret": "wrong"}) as r:
            assert r.status == 401
            assert await r.json() == {"error": "invalid_client"}
        async with s.post(url, json=good) as r:
            assert r.status == 400
            assert await r.json() == {"error": "unsupported_grant_type"}
        async with s.post(url) as r:
            assert r.status == 400
        async with s.get(url) as r:
            assert r.status == 405
        async with s.post(url, data={**good, "scope": "read"}) as r:
            assert (await r.json())["scope"] == "read"


async def test_older_tokens_stay_valid(fake_racetime: FakeRacetimeServer) -> None:
    first = await token_for(fake_racetime)
    await token_for(fake_racetime)
    status, _ = await get_json(fake_racetime, "/o/alttpr/data", first)
    assert status == 200


# -- category and race data ----------------------------------------------------------------------


async def test_category_data_public_and_bot(fake_racetime: FakeRacetimeServer) -> None:
    listed = fake_racetime.open_race("alttpr")
    unlisted = fake_racetime.open_race("alttpr", unlisted=True)
    done = fake_racetime.open_race("alttpr")
    await fake_racetime.apply(done, lambda now: done.cancel(now))
    token = await token_for(fake_racetime)

    status, public = await get_json(fake_racetime, "/alttpr/data")
    assert status == 200
    assert [r["name"] for r in public["current_races"]] == [listed.name]
    assert set(public) == {
        "name", "short_name", "slug", "url", "data_url", "image", "info",
        "streaming_required", "owners", "moderators", "goals", "current_races", "emotes",
    }  # fmt: skip
    summary = public["current_races"][0]
    assert set(summary) == {
        "name", "status", "url", "data_url", "goal", "info", "entrants_count",
        "entrants_count_finished", "entrants_count_inactive", "opened_at", "started_at",
        "time_limit", "opened_by_bot",
    }  # fmt: skip
    assert summary["time_limit"] == "P1DT00H00M00S"
    assert DATETIME.match(summary["opened_at"])

    status, private = await get_json(fake_racetime, "/o/alttpr/data", token)
    assert status == 200
    assert {r["name"] for r in private["current_races"]} == {listed.name, unlisted.name}

    assert (await get_json(fake_racetime, "/o/alttpr/data"))[0] == 403
    assert (await get_json(fake_racetime, "/o/smz3/data", token))[0] == 403
    fake_racetime.set_bot_active(ALTTPR_CLIENT_ID, False)
    assert (await get_json(fake_racetime, "/o/alttpr/data", token))[0] == 403
    assert (await get_json(fake_racetime, "/nope/data"))[0] == 404


async def test_http_race_data_matches_fixture(fake_racetime: FakeRacetimeServer) -> None:
    fixture = load("http_race_data_invitational_unlisted.json")
    race = fake_racetime.open_race(
        "alttpr",
        custom_goal="Any% custom",
        invitational=True,
        unlisted=True,
        info_user="user info",
        info_bot="bot info",
    )
    status, data = await get_json(fake_racetime, f"/alttpr/{race.slug}/data")
    assert status == 200
    same_keys(data, fixture)
    assert list(data) == list(fixture)  # same key order as Django's as_dict
    assert data["info"] == "user info\nbot info"
    assert data["opened_by"] is None
    assert data["opened_by_bot"] == "TestBot"
    assert data["status"]["value"] == "invitational"
    assert data["recordable"] is False
    assert re.match(r"^[a-z]+-[a-z]+-\d{4}$", data["slug"])
    for key in ("start_delay", "time_limit", "chat_message_delay"):
        assert DURATION.match(data[key]), key
    assert DATETIME.match(data["opened_at"])
    assert (await get_json(fake_racetime, f"/smz3/{race.slug}/data"))[0] == 404
    assert (await get_json(fake_racetime, "/alttpr/no-such-race-1234/data"))[0] == 404


async def test_ws_frames_match_fixtures(fake_racetime: FakeRacetimeServer, connect_ws: Any) -> None:
    slug = await running_race(fake_racetime)
    sock: BotSocket = await connect_ws(slug)
    race_frame, renders = sock.frames
    assert race_frame["type"] == "race.data"
    assert renders["type"] == "race.renders"
    assert set(renders["renders"]) == {"entrants", "intro", "status", "streams"}
    assert renders["version"] == race_frame["version"] == race_frame["race"]["version"]
    same_keys(race_frame, load("ws_race_data_in_progress.json"))
    assert ISO.match(race_frame["date"])

    one = fake_racetime.racer(slug, fake_racetime.seed.users["RacerOne"])
    two = fake_racetime.racer(slug, fake_racetime.seed.users["RacerTwo"])
    await one.done()
    chat = await sock.recv_type("chat.message")
    same_keys(chat, load("ws_chat_message_user.json"))
    assert chat["message"]["is_system"] is True
    assert chat["message"]["is_monitor"] is None
    assert chat["message"]["message_plain"].startswith("RacerOne")
    assert "##" not in chat["message"]["message_plain"]
    assert ISO.match(chat["message"]["posted_at"])
    await two.forfeit()
    finished = await sock.recv_status("finished")
    fixture = load("ws_race_data_finished.json")
    same_keys(finished, fixture)
    ours, theirs = finished["race"]["entrants"], fixture["race"]["entrants"]
    assert [e["status"]["value"] for e in ours] == ["done", "dnf"]
    assert [e["actions"] for e in ours] == [e["actions"] for e in theirs]
    assert DURATION.match(ours[0]["finish_time"])
    assert ours[0]["place"] == 1
    assert ours[0]["place_ordinal"] == "1st"
    assert DATETIME.match(ours[0]["finished_at"])
    race = finished["race"]
    assert (race["entrants_count"], race["entrants_count_finished"]) == (2, 1)
    assert race["entrants_count_inactive"] == 1
    messages = [f["message"]["message"] for f in sock.frames if f["type"] == "chat.message"]
    assert messages[-1].startswith("Race finished in 0:00:06")

    user_msg = await one.say("hi all")
    said = await sock.recv_type("chat.message")
    same_keys(said, load("ws_chat_message_user.json"))
    assert (said["message"]["id"], said["message"]["is_monitor"]) == (user_msg.id, False)


async def test_open_and_pending_frames_match_fixtures(
    fake_racetime: FakeRacetimeServer, connect_ws: Any
) -> None:
    race = fake_racetime.open_race("alttpr", streaming_required=False, auto_start=False)
    sock: BotSocket = await connect_ws(race.slug)
    users = fake_racetime.seed.users
    for name in ("RacerOne", "RacerTwo"):
        await fake_racetime.racer(race.slug, users[name]).join()
        await fake_racetime.racer(race.slug, users[name]).ready()
    ready = sock.frames[-1]
    await sock.drain(0.05)
    open_frame = [f for f in sock.frames if f["type"] == "race.data"][-1]
    same_keys(open_frame, load("ws_race_data_open.json"))
    assert [e["actions"] for e in open_frame["race"]["entrants"]] == [["unready", "leave"]] * 2
    del ready
    race.auto_start = True
    await fake_racetime.tick()
    pending = await sock.recv_status("pending")
    same_keys(pending, load("ws_race_data_pending.json"))
    assert [e["actions"] for e in pending["race"]["entrants"]] == [[], []]
    assert DATETIME.match(pending["race"]["started_at"])


# -- startrace and edit --------------------------------------------------------------------------


async def test_startrace_defaults_and_django_booleans(fake_racetime: FakeRacetimeServer) -> None:
    token = await token_for(fake_racetime)
    form = {"goal": "Beat the game", "auto_start": "0", "unlisted": "no", "ranked": "False",
            "allow_comments": "", "hide_comments": "off", "start_delay": "10"}  # fmt: skip
    status, body, headers = await post(fake_racetime, "/o/alttpr/startrace", form, token)
    assert (status, body) == (201, "")
    location = headers["Location"]
    assert re.match(r"^/alttpr/[a-z]+-[a-z]+-\d{4}$", location)
    _, data = await get_json(fake_racetime, location + "/data")
    assert data["auto_start"] is True  # "0" is True for Django
    assert data["unlisted"] is True  # so is "no"
    assert data["hide_comments"] is True  # and "off"
    assert data["ranked"] is False
    assert data["allow_comments"] is False
    assert data["streaming_required"] is True  # omitted -> model default
    assert data["time_limit"] == "P1DT00H00M00S"
    assert data["start_delay"] == "P0DT00H00M10S"
    assert data["info_user"] == data["info_bot"] == ""
    assert data["status"]["value"] == "open"
    assert data["opened_by"] is None
    assert data["opened_by_bot"] == "TestBot"
    race = fake_racetime.race(location)
    assert race.messages[0].message == "Race opened automatically by TestBot"


async def test_startrace_errors(fake_racetime: FakeRacetimeServer) -> None:
    token = await token_for(fake_racetime)
    path = "/o/alttpr/startrace"
    status, body, _ = await post(fake_racetime, path, {}, token)
    assert status == 422
    assert json.loads(body) == {"errors": {"__all__": ["You need to set a goal for this race."]}}
    both = {"goal": "Beat the game", "custom_goal": "x"}
    status, body, _ = await post(fake_racetime, path, both, token)
    assert json.loads(body) == {"errors": {"__all__": ["The race must only have one goal."]}}
    bad = {"goal": "Beat the game", "start_delay": "5", "time_limit": "73"}
    status, body, _ = await post(fake_racetime, path, bad, token)
    assert json.loads(body) == {
        "errors": {
            "start_delay": ["Ensure this value is greater than or equal to 0:00:10."],
            "time_limit": ["Ensure this value is less than or equal to 3 days, 0:00:00."],
        }
    }
    long = {"custom_goal": "g" * 256, "chat_message_delay": "91"}
    status, body, _ = await post(fake_racetime, path, long, token)
    assert json.loads(body)["errors"] == {
        "custom_goal": ["Ensure this value has at most 255 characters (it has 256)."],
        "chat_message_delay": ["Ensure this value is less than or equal to 0:01:30."],
    }
    # A JSON body is ignored, exactly like request.POST.
    async with (
        aiohttp.ClientSession() as s,
        s.post(
            fake_racetime.base_url + path,
            json={"goal": "Beat the game"},
            headers={"Authorization": f"Bearer {token}"},
        ) as r,
    ):
        assert r.status == 422
    read_only = await token_for(fake_racetime, scope="read")
    assert (await post(fake_racetime, path, {"goal": "Beat the game"}, read_only))[0] == 403
    assert (await post(fake_racetime, path, {"goal": "Beat the game"}))[0] == 403
    assert (await post(fake_racetime, path, {"goal": "Beat the game"}, "bogus"))[0] == 403
    assert (await post(fake_racetime, "/o/nope/startrace", {"goal": "x"}, token))[0] == 404
    assert (await post(fake_racetime, "/o/smz3/startrace", {"goal": "x"}, token))[0] == 403


async def test_edit_resets_omitted_fields(fake_racetime: FakeRacetimeServer) -> None:
    token = await token_for(fake_racetime)
    form = {"goal": "Beat the game", "info_user": "keep me", "streaming_required": "false"}
    _, _, headers = await post(fake_racetime, "/o/alttpr/startrace", form, token)
    slug = headers["Location"].rsplit("/", 1)[1]
    status, body, _ = await post(
        fake_racetime, f"/o/alttpr/{slug}/edit", {"goal": "Any% NMG"}, token
    )
    assert (status, body) == (200, "")
    _, data = await get_json(fake_racetime, f"/alttpr/{slug}/data")
    assert data["goal"] == {"name": "Any% NMG", "custom": False}
    assert data["info_user"] == ""  # wiped: omitted means model default
    assert data["streaming_required"] is True
    bad = {"goal": "Any% NMG", "start_delay": "61"}
    assert (await post(fake_racetime, f"/o/alttpr/{slug}/edit", bad, token))[0] == 422
    race = fake_racetime.race(slug)
    await fake_racetime.apply(race, lambda now: race.cancel(now))
    assert (await post(fake_racetime, f"/o/alttpr/{slug}/edit", {"goal": "x"}, token))[0] == 403


# -- the bot websocket ---------------------------------------------------------------------------


async def test_ws_refuses_unknown_room(fake_racetime: FakeRacetimeServer) -> None:
    with pytest.raises(websockets.exceptions.InvalidMessage):
        await websockets.connect(fake_racetime.ws_base + "/ws/o/bot/no-such-race-0001")


async def test_ws_basics_and_auth(fake_racetime: FakeRacetimeServer, connect_ws: Any) -> None:
    race = fake_racetime.open_race("alttpr")
    token = await token_for(fake_racetime)
    anon: BotSocket = await connect_ws(race.slug)  # accepted without any token
    await anon.send("ping")
    assert (await anon.recv())["type"] == "pong"
    await anon.ws.send("{not json")
    assert (await anon.recv())["errors"] == [
        "Unable to process that message (encountered invalid or possibly corrupted data). "
        "Sorry about that."
    ]
    await anon.send("authenticate", {"token": token})
    assert (await anon.recv())["errors"] == [
        "Action is missing or not recognised. Check your input and try again."
    ]
    await anon.send("make_invitational")
    assert (await anon.recv())["errors"] == ["Permission denied. Check your authorization token."]
    await anon.send("getrace")
    assert [(await anon.recv())["type"], (await anon.recv())["type"]] == [
        "race.data",
        "race.renders",
    ]
    await anon.send("gethistory")
    history = await anon.recv()
    assert history["type"] == "chat.history"
    assert history["messages"][0]["message"] == "Race opened automatically by TestBot"

    # ?token= works; the token captured at connect is checked on every action, expiry included.
    ws = await websockets.connect(f"{fake_racetime.ws_base}/ws/o/bot/{race.slug}?token={token}")
    sock = BotSocket(ws)
    await sock.drain(0.05)
    await sock.send("make_invitational")
    assert (await sock.recv())["message"]["message"].endswith("sets the race to be invite only.")
    fake_racetime.expire_tokens(ALTTPR_CLIENT_ID)
    await sock.drain(0.05)
    await sock.send("make_open")
    assert (await sock.recv())["errors"] == ["Permission denied. Check your authorization token."]
    await ws.close()

    other = fake_racetime.open_race("smz3")  # a token of another category's bot is refused
    fresh = await token_for(fake_racetime)
    foreign: BotSocket = await connect_ws(other.slug, fresh)
    await foreign.send("make_invitational")
    assert (await foreign.recv())["errors"] == [
        "Permission denied. Check your authorization token."
    ]


async def test_token_expires_by_clock(fake_racetime: FakeRacetimeServer, connect_ws: Any) -> None:
    race = fake_racetime.open_race("alttpr")
    sock: BotSocket = await connect_ws(race.slug, await token_for(fake_racetime))
    await fake_racetime.advance(36001)
    await sock.send("make_invitational")
    assert (await sock.recv_type("error"))["errors"] == [
        "Permission denied. Check your authorization token."
    ]


async def test_ws_message_rules(fake_racetime: FakeRacetimeServer, connect_ws: Any) -> None:
    race = fake_racetime.open_race("alttpr")
    sock: BotSocket = await connect_ws(race.slug, await token_for(fake_racetime))
    await sock.send("message", {"message": "hello"})
    assert (await sock.recv())["errors"] == [
        "Bad request, no GUID supplied. A unique string is required to prevent duplicate messaging."
    ]
    await sock.send("message", {"message": "hello", "guid": "abc-1"})
    frame = await sock.recv()
    assert frame["type"] == "chat.message"
    msg = frame["message"]
    assert (msg["bot"], msg["user"], msg["is_bot"], msg["is_monitor"]) == (
        "TestBot",
        None,
        True,
        None,
    )
    await sock.send("message", {"message": "hello again", "guid": "abc-1"})  # duplicate
    assert await sock.drain(0.1) == []
    await sock.send("message", {"message": "x" * 1001, "guid": "abc-2"})
    assert (await sock.recv())["errors"] == [
        "message: Ensure this value has at most 1000 characters (it has 1001)."
    ]
    actions = {f"a{i}": {"message": "!x"} for i in range(5)}
    await sock.send("message", {"message": "too many", "guid": "abc-3", "actions": actions})
    assert (await sock.recv())["type"] == "error"
    await sock.send("pin_message", {"message": msg["id"]})
    pin = await sock.recv()
    assert (pin["type"], pin["message"]["is_pinned"]) == ("chat.pin", True)
    await sock.send("unpin_message", {"message": msg["id"]})
    assert (await sock.recv())["type"] == "chat.unpin"
    await sock.send("pin_message", {"message": "nope"})
    assert (await sock.recv())["errors"] == ["Could not find a message with that ID."]
    version = race.version
    await sock.send("setmeta", {"round": 3})
    assert await sock.drain(0.1) == []  # no broadcast
    assert race.version == version + 1
    assert fake_racetime.race_data(race.slug)["bot_meta"] == {"round": 3}
    await sock.send("setmeta", {"blob": "x" * 3000})
    assert (await sock.recv())["errors"] == ["Data provided is too large to save."]
    await sock.send("setinfo", {"info_bot": "Seed: ABC"})
    frames = await sock.drain()
    assert [f["type"] for f in frames] == ["chat.message", "race.data", "race.renders"]
    assert frames[0]["message"]["message_plain"] == "TestBot updated the race information."
    assert frames[1]["race"]["info_bot"] == "Seed: ABC"
    assert frames[1]["version"] == version + 2


async def test_ws_entrant_actions(fake_racetime: FakeRacetimeServer, connect_ws: Any) -> None:
    users = fake_racetime.seed.users
    one, two, three = users["RacerOne"], users["RacerTwo"], users["RacerThree"]
    race = fake_racetime.open_race("alttpr", invitational=True, auto_start=False)
    sock: BotSocket = await connect_ws(race.slug, await token_for(fake_racetime))

    async def expect_error(action: str, user: str, text: str) -> None:
        await sock.send(action, {"user": user})
        assert (await sock.recv_type("error"))["errors"] == [text]

    await expect_error("invite", "0000000000000000", "No user found matching the given ID.")
    await sock.send("invite", {"user": one})
    assert (await sock.recv_status("invitational"))["race"]["entrants"][0]["status"]["value"] == (
        "invited"
    )
    full = fake_racetime.users[one].full_name
    await expect_error("invite", one, f"{full} is already an entrant.")
    await expect_error("accept_request", three, "Specified user is not a race entrant.")
    await fake_racetime.racer(race.slug, one).accept_invite()
    await fake_racetime.racer(race.slug, two).request_invite()
    await expect_error(
        "accept_request", one, "This user has not requested to join this race. Refresh to continue."
    )
    await sock.send("accept_request", {"user": two})
    await sock.drain()
    statuses = [e["status"]["value"] for e in fake_racetime.race_data(race.slug)["entrants"]]
    assert statuses == ["not_ready", "not_ready"]
    await expect_error(
        "force_unready",
        one,
        "You cannot force this entrant to unready at this time. Refresh to continue.",
    )
    await expect_error("add_monitor", three, "Specified user is not a race entrant.")
    await sock.send("add_monitor", {"user": one})
    assert (await sock.recv_status("invitational"))["race"]["monitors"][0]["id"] == one
    await sock.send("begin")
    assert (await sock.recv_type("error"))["errors"] == ["Race cannot be started yet."]
    await sock.send("make_open")
    await sock.send("make_open")
    assert (await sock.recv_type("error"))["errors"] == ["Race is not an invitational."]
    await fake_racetime.racer(race.slug, three).join()
    await fake_racetime.racer(race.slug, one).ready()
    await fake_racetime.racer(race.slug, two).ready()
    await sock.send("force_unready", {"user": two})
    await sock.drain()
    await fake_racetime.racer(race.slug, two).ready()
    await sock.drain()
    await sock.send("begin")  # RacerThree is not ready: removed
    frames = await sock.drain()
    texts = [f["message"]["message_plain"] for f in frames if f["type"] == "chat.message"]
    assert texts[0].endswith("is removed from the race.")
    assert "has initiated the race" in texts[1]
    pending = [f for f in frames if f["type"] == "race.data"][-1]["race"]
    assert pending["status"]["value"] == "pending"
    assert len(pending["entrants"]) == 2
    await expect_error(
        "remove_entrant", one, "You cannot remove this entrant at this time. Refresh to continue."
    )
    await sock.send("cancel")
    cancelled = (await sock.recv_status("cancelled"))["race"]
    assert [e["status"]["value"] for e in cancelled["entrants"]] == ["dnf", "dnf"]
    assert cancelled["ended_at"] is not None
    await sock.send("cancel")
    assert (await sock.recv_type("error"))["errors"] == [
        "Cannot cancel a race that is in cancelled state."
    ]


# -- the race state machine ----------------------------------------------------------------------


async def test_full_race_flow(fake_racetime: FakeRacetimeServer, connect_ws: Any) -> None:
    users = fake_racetime.seed.users
    race = fake_racetime.open_race("alttpr", streaming_required=False, start_delay=_s(10))
    sock: BotSocket = await connect_ws(race.slug)
    one = fake_racetime.racer(race.slug, users["RacerOne"])
    two = fake_racetime.racer(race.slug, users["RacerTwo"])
    await one.join()
    await two.join()
    await one.ready()
    await two.ready()
    pending = await sock.recv_status("pending")  # auto-start by the ticker
    texts = [f["message"]["message"] for f in sock.frames if f["type"] == "chat.message"]
    assert texts[-2:] == ["Everyone is ready. The race will begin in 10 seconds!", "10\u2026"]
    started = pending["race"]["started_at"]
    assert started > pending["race"]["opened_at"]
    with pytest.raises(RaceActionError):
        await one.leave()
    await fake_racetime.advance(10.01)
    await sock.recv_status("in_progress")
    texts = [f["message"]["message"] for f in sock.frames if f["type"] == "chat.message"]
    assert "10\u2026" in texts
    assert texts[-1] == "The race has begun! Good luck and have fun."
    with pytest.raises(RaceActionError, match="finish this early"):
        await one.done()
    await fake_racetime.advance(5)
    await one.done()
    await two.forfeit()
    await sock.recv_status("finished")
    # un-finish within 10 minutes reopens the race
    await one.undone()
    frames = await sock.drain()
    texts = [f["message"]["message"] for f in frames if f["type"] == "chat.message"]
    assert texts == ["RacerOne#" + fake_racetime.users[users["RacerOne"]].discriminator
                     + " is no longer done.", "Race timer restarted."]  # fmt: skip
    assert race.status == "in_progress"
    await one.done()
    await fake_racetime.tick()
    assert race.status == "finished"
    await fake_racetime.advance(601)
    with pytest.raises(RaceActionError):
        await two.unforfeit()


async def test_all_forfeit_cancels(fake_racetime: FakeRacetimeServer) -> None:
    slug = await running_race(fake_racetime)
    for name in ("RacerOne", "RacerTwo"):
        await fake_racetime.racer(slug, fake_racetime.seed.users[name]).forfeit()
    await fake_racetime.tick()
    race = fake_racetime.race(slug)
    assert race.status == "cancelled"
    assert (
        race.messages[-1].message == "This race has been cancelled due to all entrants forfeiting."
    )
    await fake_racetime.racer(slug, fake_racetime.seed.users["RacerOne"]).unforfeit()
    assert race.status == "in_progress"


async def test_entrant_order_and_counts(fake_racetime: FakeRacetimeServer) -> None:
    users = fake_racetime.seed.users
    extra = fake_racetime.add_user("Latecomer")
    race = fake_racetime.open_race("alttpr", streaming_required=False, auto_start=False)
    for name in ("RacerOne", "RacerTwo", "RacerThree"):
        await fake_racetime.racer(race.slug, users[name]).join()
    await fake_racetime.racer(race.slug, users["RacerThree"]).ready()
    await fake_racetime.apply(
        race,
        lambda now: race.invite(fake_racetime.users[extra], "Bot", now, active_elsewhere=False),
    )
    data = fake_racetime.race_data(race.slug)
    assert [e["status"]["value"] for e in data["entrants"]] == [
        "ready", "not_ready", "not_ready", "invited",
    ]  # fmt: skip
    assert data["entrants_count"] == 3
    assert data["entrants"][-1]["actions"] == ["accept_invite", "decline_invite"]


# -- test hooks -----------------------------------------------------------------------------------


async def test_drop_sockets_gives_connection_closed_error(
    fake_racetime: FakeRacetimeServer, connect_ws: Any
) -> None:
    race = fake_racetime.open_race("alttpr")
    sock: BotSocket = await connect_ws(race.slug)
    assert await fake_racetime.drop_sockets(race.slug) == 1
    with pytest.raises(websockets.exceptions.ConnectionClosedError):
        await sock.ws.recv()


async def test_fail_delay_and_count(fake_racetime: FakeRacetimeServer) -> None:
    fake_racetime.fail_next(2, status=502, path_prefix="/alttpr/")
    assert (await get_json(fake_racetime, "/alttpr/data"))[0] == 502
    assert (await get_json(fake_racetime, "/smz3/data"))[0] == 200  # other prefix untouched
    assert (await get_json(fake_racetime, "/alttpr/data"))[0] == 502
    assert (await get_json(fake_racetime, "/alttpr/data"))[0] == 200
    assert fake_racetime.request_count("/alttpr/") == 3
    fake_racetime.delay(0.2, "/smz3/")
    loop = asyncio.get_running_loop()
    start = loop.time()
    await get_json(fake_racetime, "/smz3/data")
    assert loop.time() - start >= 0.2
    fake_racetime.delay(0)


async def test_request_log(fake_racetime: FakeRacetimeServer) -> None:
    """Off by default; on, each request's wall-clock arrival (before an injected delay), its
    status and the room a startrace opened."""
    fake = fake_racetime
    assert fake.request_log is None
    token = await token_for(fake)  # the token request itself is not kept
    fake.enable_request_log()
    fake.delay(0.2, "/o/alttpr/startrace", count=1)
    before = time.time()
    status, _, headers = await post(fake, "/o/alttpr/startrace", {"goal": "Beat the game"}, token)
    answered = time.time()
    assert (await get_json(fake, "/alttpr/data"))[0] == 200
    log = fake.request_log
    assert log is not None
    assert [(r.method, r.path, r.status) for r in log] == [
        ("POST", "/o/alttpr/startrace", 201),
        ("GET", "/alttpr/data", 200),
    ]
    assert log[0].location == headers["Location"] and status == 201
    assert before <= log[0].at <= answered - 0.2  # arrival, not the delayed handling
    assert log[1].location is None and log[0].at <= log[1].at
    assert log[0].as_dict()["location"] == headers["Location"]
    assert log[0].client is None
    fake.enable_request_log(False)
    assert fake.request_log is None


async def test_the_request_log_names_the_client_that_tagged_its_requests(
    fake_racetime: FakeRacetimeServer,
) -> None:
    """Several clients of one fake (RaceDesk processes taking over from one another) are told
    apart by the header a harness adds to each one's requests."""
    fake = fake_racetime
    fake.enable_request_log()
    async with (
        aiohttp.ClientSession(headers={CLIENT_TAG_HEADER: "desk-2"}) as session,
        session.get(fake.base_url + "/alttpr/data") as response,
    ):
        assert response.status == 200
    assert (await get_json(fake, "/alttpr/data"))[0] == 200
    log = fake.request_log
    assert log is not None
    assert [(r.path, r.client) for r in log] == [("/alttpr/data", "desk-2"),
                                                 ("/alttpr/data", None)]
    assert log[0].as_dict()["client"] == "desk-2"


async def test_the_request_log_keeps_websocket_actions_that_change_something(
    fake_racetime: FakeRacetimeServer,
) -> None:
    fake = fake_racetime
    race = fake.open_race("alttpr", streaming_required=False)
    headers = {"Authorization": f"Bearer {await token_for(fake)}", CLIENT_TAG_HEADER: "desk-3"}
    fake.enable_request_log()
    async with (
        aiohttp.ClientSession(headers=headers) as session,
        session.ws_connect(f"{fake.base_url}/ws/o/bot/{race.slug}") as ws,
    ):
        for action in ("ping", "getrace", "message", "ping"):
            body = {"message": "hi", "guid": "g1"} if action == "message" else None
            await ws.send_json({"action": action, "data": body})
        pongs = 0
        async with asyncio.timeout(5):
            while pongs < 2:  # actions are handled in order: the message was, by the second
                pongs += (await ws.receive_json())["type"] == "pong"
    log = fake.request_log
    assert log is not None
    assert [(r.method, r.path, r.client) for r in log] == [
        ("GET", f"/ws/o/bot/{race.slug}", "desk-3"),
        ("WS", f"/ws/{race.slug}/message", "desk-3"),
    ]


async def test_inject_and_delete_user(fake_racetime: FakeRacetimeServer, connect_ws: Any) -> None:
    race = fake_racetime.open_race("alttpr", streaming_required=False)
    uid = fake_racetime.seed.users["RacerOne"]
    await fake_racetime.racer(race.slug, uid).join()
    sock: BotSocket = await connect_ws(race.slug)
    await fake_racetime.inject_frame(race.slug, {"type": "surprise", "x": 1})
    assert (await sock.recv()) == {"type": "surprise", "x": 1}
    await fake_racetime.inject_race_keys(race.slug, {"new_key": [1]})
    assert (await sock.recv_type("race.data"))["race"]["new_key"] == [1]
    await fake_racetime.delete_user(uid)
    assert (await sock.recv_type("race.data"))["race"]["entrants"][0]["user"] is None


async def test_public_socket_is_read_only(
    fake_racetime: FakeRacetimeServer, connect_ws: Any
) -> None:
    race = fake_racetime.open_race("alttpr")
    sock: BotSocket = await connect_ws(race.slug, public=True)
    await sock.send("make_invitational")
    assert await sock.drain(0.1) == []
    await fake_racetime.racer(race.slug, fake_racetime.seed.users["RacerOne"]).join()
    assert [f["type"] for f in await sock.drain()] == ["chat.message", "race.data", "race.renders"]


async def test_http_test_api(fake_racetime: FakeRacetimeServer) -> None:
    base = fake_racetime.base_url
    async with aiohttp.ClientSession() as s:
        async with s.post(base + "/_test/users", json={"name": "Remote", "stream_live": True}) as r:
            uid = (await r.json())["id"]
            assert len(uid) == 16
        async with s.post(
            base + "/_test/races", json={"category": "alttpr", "streaming_required": False}
        ) as r:
            slug = (await r.json())["slug"]
        async with s.post(f"{base}/_test/races/{slug}/racers/{uid}/join") as r:
            assert r.status == 200
        async with s.post(f"{base}/_test/races/{slug}/racers/{uid}/join") as r:
            assert (await r.json())["errors"] == ["You are not eligible to join this race."]
        async with s.post(base + "/_test/fail", json={"n": 1, "status": 500}) as r:
            assert r.status == 200
        async with s.get(f"{base}/alttpr/{slug}/data") as r:
            assert r.status == 500
        async with s.get(base + "/_test/requests", params={"path_prefix": "/alttpr/"}) as r:
            assert (await r.json())["count"] == 1
    assert fake_racetime.race(slug).entrants[0].user.id == uid


async def test_broadcast_log(fake_racetime: FakeRacetimeServer, connect_ws: Any) -> None:
    """Off by default; on, every race.data frame sent, with the bot sockets that got it."""
    fake = fake_racetime
    race = fake.open_race("alttpr", streaming_required=False)
    one = fake.seed.users["RacerOne"]
    assert fake.broadcast_log is None
    await fake.racer(race.slug, one).join()  # v2, not kept
    fake.enable_broadcast_log()
    before = time.monotonic()
    await fake.racer(race.slug, one).ready()  # v3, to nobody
    bot: BotSocket = await connect_ws(race.slug, await token_for(fake))
    await connect_ws(race.slug, public=True)  # a public socket is not a bot
    await fake.racer(race.slug, one).unready()  # v4
    await bot.drain(0.05)
    await bot.send("getrace")
    await bot.recv_type("race.data")

    log = fake.broadcast_log
    assert log is not None
    assert [(b.reason, b.version, b.bot_sockets) for b in log] == [
        ("change", 3, 0),
        ("connect", 3, 1),
        ("connect", 3, 0),
        ("change", 4, 1),
        ("getrace", 4, 1),
    ]
    assert (log[0].slug, log[0].status) == (race.slug, "open")
    assert log[0].entrants == ((one, "ready", None),)
    assert log[3].entrants == ((one, "not_ready", None),)
    times = [b.at for b in log]
    assert before <= times[0] and times == sorted(times) and times[-1] <= time.monotonic()

    async with aiohttp.ClientSession() as s:
        async with s.get(fake.base_url + "/_test/broadcasts", params={"since": "3"}) as r:
            assert await r.json() == {"enabled": True, "broadcasts": [b.as_dict() for b in log[3:]]}
        async with s.post(fake.base_url + "/_test/broadcasts", json={"enabled": False}) as r:
            assert r.status == 200
        async with s.get(fake.base_url + "/_test/broadcasts") as r:
            assert await r.json() == {"enabled": False, "broadcasts": []}
    assert fake.broadcast_log is None


# -- the real racetime-bot library ---------------------------------------------------------------


class RecordingHandler(RaceHandler):
    seen: list[dict[str, Any]]

    async def begin(self) -> None:
        self.seen = []
        await self.send_message("Hello from the bot")
        await self.set_bot_raceinfo("Seed: XYZ")

    async def race_data(self, data: dict[str, Any]) -> None:
        await super().race_data(data)
        self.seen.append(data)


class RecordingBot(Bot):
    racetime_secure = False

    def get_handler_class(self) -> type[RaceHandler]:
        return RecordingHandler


async def test_real_racetime_bot_library(threaded_fake_racetime: ThreadedFakeRacetime) -> None:
    fake = threaded_fake_racetime.server
    RecordingBot.racetime_host = fake.host
    log = logging.getLogger("tests.racetime.bot")
    bot = RecordingBot("alttpr", ALTTPR_CLIENT_ID, ALTTPR_CLIENT_SECRET, log)  # sync authorize
    assert bot.reauthorize_every == 36000
    race = await threaded_fake_racetime.acall(lambda: _open(fake))
    async with aiohttp.ClientSession() as s, s.get(fake.base_url + f"/{race}/data") as r:
        race_data = await r.json()
    handler = bot.create_handler(race_data)
    task = asyncio.create_task(handler.handle())
    slug = race_data["slug"]
    for _ in range(100):
        if fake.race(slug).info_bot == "Seed: XYZ" and len(handler.seen) >= 2:
            break
        await asyncio.sleep(0.02)
    assert fake.race(slug).info_bot == "Seed: XYZ"
    assert any(
        m.message == "Hello from the bot" and m.bot == "TestBot" for m in fake.race(slug).messages
    )
    assert handler.data["info_bot"] == "Seed: XYZ"

    # A rejected action kills the default handler (racetime-bot's error() raises).
    await handler.invite_user("0000000000000000")
    with pytest.raises(Exception, match="No user found"):
        await asyncio.wait_for(task, 2)

    # A dropped socket ends handle() with ConnectionClosedError.
    handler2 = bot.create_handler(race_data)
    task2 = asyncio.create_task(handler2.handle())
    for _ in range(100):
        if fake.socket_count(slug):
            break
        await asyncio.sleep(0.02)
    await threaded_fake_racetime.acall(lambda: fake.drop_sockets(slug))
    with pytest.raises(websockets.exceptions.ConnectionClosedError):
        await asyncio.wait_for(task2, 2)


async def _open(fake: FakeRacetimeServer) -> str:
    return fake.open_race("alttpr", streaming_required=False).name


def _s(seconds: int) -> timedelta:
    return timedelta(seconds=seconds)
