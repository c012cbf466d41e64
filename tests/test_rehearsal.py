"""``python bot.py --demo``: the rehearsal runs as a program, and says which step failed."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path

import aiohttp

from fake_racetime import FakeRacetimeServer
from rehearsal.scenes import SCENES
from rehearsal.scenes import admin as admin_scene
from rehearsal.scenes import api as api_scene
from rehearsal.scenes import live_race as live_race_scene
from rehearsal.scenes import metrics as metrics_scene
from rehearsal.scenes import notifications as notifications_scene
from rehearsal.scenes import tournament as tournament_scene
from rehearsal.stage import Scene
from tests.plugins.rehearsal import FAST_RUN_SECONDS, FastRun

REPO = Path(__file__).resolve().parents[1]

# Every step of today's scenes, as the timeline reports it once it happened.
STEPS = [
    "Ada (a bot owner) adds the alttpr category bot",
    "the bot connects to racetime.gg",
    "Grace (a server admin) sees it connected in /racetime status",
    "RacerOne joins and is reported",
    "RacerThree readies up",
    "everyone is ready: racetime counts down, then the race starts",
    "RacerOne finishes",
    "RacerTwo forfeits",
    "RacerThree finishes",
    "the race finishes",
    "the racers finish while RaceDesk is away",
    "RaceDesk is back and reports both results and the finish, once",
    "RacerOne turns 'Match scheduled' off with /notifications settings",
    "Grace (an organizer) makes #race-notices the fallback channel",
    "RacerTwo does not accept DMs from RaceDesk",
    "Ada (a bot owner) lets this server use the alttpr bot",
    "Grace creates Winter Cup, whose rooms moderators open",
    "Grace schedules a match for all three: RacerThree gets a DM, RacerTwo's goes to "
    "#race-notices, RacerOne gets none",
    "Grace opens the race room with /open-room: RacerOne and RacerThree get a DM with the "
    "room's link, RacerTwo a post in #race-notices",
    "RacerTwo sees in /notifications history why DMs fell back",
    "Grace creates Spring Cup: rooms open by themselves, 30 minutes ahead",
    "RacerOne links their racetime.gg account with /link-racetime",
    "RacerTwo links their racetime.gg account with /link-racetime",
    "Grace schedules the Final: its room falls due 3 s from now",
    "the scheduler opens the room on time and invites both players",
    "the race starts; RacerOne finishes",
    "RacerTwo finishes: the results land on the match and in #results",
    "Grace makes Ada a moderator",
    "Grace schedules a second match, its room to be opened by hand",
    "Ada previews the room with /open-room: RacerThree has not linked racetime.gg",
    "Ada confirms: the room opens, RacerOne is invited",
    "Grace gives Spring Cup's organizers a #staff channel",
    "RacerFour, new on racetime.gg and with no Twitch connected, links their account",
    "Grace schedules the Qualifier, RacerOne vs RacerFour",
    "Ada opens the room: racetime.gg will not let RacerFour in; RacerFour is told why, and so "
    "is #staff",
    "RacerFour sees it in /match info",
    "Grace (a server admin) sends racetime alerts to #racedesk-admin",
    "Ada adds the smz3 bot with a mistyped secret: racetime.gg refuses it (Auth failed, with "
    "its reason); one alert in #racedesk-admin",
    "Grace sees it in /racetime bot list",
    "Ada fixes the credentials with /racetime bot edit: the recovery is announced in "
    "#racedesk-admin, and nothing more",
    "Grace creates the async tournament Winter Async and its Pool A",
    "RacerOne joins Winter Async",
    "RacerTwo joins Winter Async",
    "Grace schedules a live race of Pool A: its room falls due 3 s from now; both players "
    "are told",
    "the scheduler opens the room 15 minutes ahead and invites both",
    "the race starts; RacerTwo forfeits",
    "RacerOne finishes: the runs are recorded and both players get the results",
    "RacerOne asks /about and sees RaceDesk healthy",
    "/metrics is fetched and a few of its series shown",
]


def part_of(out: str, scene: Scene) -> str:
    """The part of the timeline that ``scene`` printed."""
    number = SCENES.index(scene) + 1
    start = out.index(f"== Scene {number}:")
    end = out.find(f"== Scene {number + 1}:", start)
    return out[start:end if end != -1 else None]


async def demo(*args: str, cwd: Path = REPO) -> tuple[int, str]:
    """Run ``bot.py --demo --fast ...`` and return its exit code and its stdout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RACEDESK_")}
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(REPO / "bot.py"), "--demo", "--fast", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env=env, cwd=cwd,
    )
    out, _ = await asyncio.wait_for(process.communicate(), FAST_RUN_SECONDS)
    assert process.returncode is not None
    return process.returncode, out.decode()


def test_the_rehearsal_plays_every_scene_and_exits_0(
    fast_rehearsal: FastRun,
) -> None:
    done, cwd = fast_rehearsal
    code, out = done.returncode, done.stdout
    assert code == 0, out
    for number, scene in enumerate(SCENES, start=1):
        assert f"== Scene {number}: {scene.title}" in out
    for step in STEPS:
        assert f"✓          {step}" in out, step
    assert "Race alttpr/" in out and "status changed: in_progress -> finished" in out
    assert "RacerOne   presses [Match scheduled]" in out
    notifications = part_of(out, notifications_scene.SCENE)
    assert notifications.count("DM to RacerThree") == 2
    assert notifications.count("DM to RacerOne") == 1
    assert "DM to RacerTwo" not in out
    assert notifications.count("#race-notices: @RacerTwo, ") == 2, "RacerTwo's, there"
    tournament = part_of(out, tournament_scene.SCENE)
    assert "/racetime/callback: ✅ Linked" in tournament
    assert "DM to RacerOne: ✅ Your Discord account is now linked to racetime.gg" in tournament
    assert "#announcements: @RacerOne @RacerTwo" in tournament
    assert "🏁 Spring Cup · Final: results" in tournament
    assert "1. @RacerOne 1:37:21.3" in tournament and "2. @RacerTwo 1:39:44.8" in tournament
    assert "Ada: ✅ Opened the room of match #3: http://127.0.0.1:" in tournament
    assert "[🚪 Open the race room → http://127.0.0.1:" in out
    metrics = part_of(out, metrics_scene.SCENE)
    assert 'racedesk_racetime_bot_status{category="alttpr",status="connected"} 1' in metrics
    live_race = part_of(out, live_race_scene.SCENE)
    for title in ("📅 Live race scheduled", "🚪 Live race room opened", "✅ Live race finished"):
        assert live_race.count(f"┌ {title}") == 2, title  # RacerOne's DM, RacerTwo's post
    assert "1 of 2 finished: 1. RacerOne 1:36:50.1" in live_race
    assert f"✓ All {len(SCENES)} scenes played" in out
    assert "Client secret:••••••" in out, "a secret is never shown, not even a made-up one"
    api = part_of(out, api_scene.SCENE)
    assert "→ sheet: HTTP 401" in api and "→ sheet: HTTP 201" in api
    assert api.count('"room_slug"') == 3, "the second POST and the GET answer the same room"
    assert "rd_••••••" in api, "the token's reply is shown, the token masked"
    assert re.search(r"rd_(?!•)[\w-]{8,}", out) is None, "an API token is never shown"
    admin = part_of(out, admin_scene.SCENE)
    assert admin.count("#racedesk-admin:") == 2, "one alert, one recovery"
    assert "invalid_client" in admin
    assert os.listdir(cwd) == [], "nothing written outside its temporary folder"


async def test_a_step_that_does_not_happen_stops_the_rehearsal_and_is_named(
    fake_racetime: FakeRacetimeServer,
) -> None:
    fake_racetime.fail_next(1000, status=401, path_prefix="/o/token")  # credentials refused
    code, out = await demo("--fake-racetime", fake_racetime.base_url)
    assert code == 1, out
    assert 'The rehearsal stopped at the step "the bot connects to racetime.gg"' in out
    assert "Expected: the bot's status to become CONNECTED" in out
    assert "UNKNOWN -> AUTH_FAILED" in out
    assert "Scene 2" not in out


async def test_data_dir_keeps_the_database_and_the_log(tmp_path: Path) -> None:
    code, out = await demo("--data-dir", str(tmp_path / "kept"))
    assert code == 0, out
    assert sorted(os.listdir(tmp_path / "kept")) == [
        "racedesk.sqlite3", "rehearsal.log",
    ]


async def test_keep_running_stays_up_and_what_it_prints_works_as_written(
    tmp_path: Path,
) -> None:
    """The banner's addresses, token and racer ids are the ones to use: RaceDesk's health and
    API answer with them, and a room opened as shown takes the racer shown."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RACEDESK_")}
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(REPO / "bot.py"), "--demo", "--fast", "--keep-running",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env=env, cwd=tmp_path,
    )
    assert process.stdout is not None
    banner: list[str] = []
    async with asyncio.timeout(FAST_RUN_SECONDS):
        while not banner or not banner[-1].startswith("  Every /_test route"):
            line = (await process.stdout.readline()).decode()
            assert line, "the rehearsal ended instead of staying up"
            if line.startswith("Still running") or banner:
                banner.append(line.rstrip())
    text = "\n".join(banner)
    web = re.search(r"RaceDesk's web server is at (http://\S+)", text)
    racetime = re.search(r"The fake racetime server is at (http://[^\s:]+:\d+)", text)
    token = re.search(r"Bearer (rd_\S+)'", text)
    racer = re.search(r"/racers/(\w{16})/join", text)
    assert web and racetime and token and racer, text
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{web[1]}/healthz") as answer:
            assert answer.status == 200
            assert (await answer.json())["status"] == "ok"
        api = f"{web[1]}/api/matches/4/racetime-room"
        async with http.get(api, headers={"Authorization": f"Bearer {token[1]}"}) as answer:
            assert answer.status == 200, await answer.text()
            assert (await answer.json())["has_room"] is True
        async with http.post(f"{racetime[1]}/_test/races", json={"category": "alttpr"}) as made:
            slug = (await made.json())["slug"]
        joined = f"{racetime[1]}/_test/races/{slug}/racers/{racer[1]}/join"
        async with http.post(joined, json={}) as answer:
            assert answer.status < 400, await answer.text()
        async with http.get(f"{racetime[1]}/alttpr/{slug}/data") as answer:
            assert [e["user"]["id"] for e in (await answer.json())["entrants"]] == [racer[1]]
    process.send_signal(signal.SIGINT)
    assert await asyncio.wait_for(process.wait(), 30) == 0
