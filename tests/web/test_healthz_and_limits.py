"""``/healthz`` and the per-token rate limit, over real HTTP on the real database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest

from db.models import BotStatus
from db.secrets import SecretBox
from fake_racetime import FakeRacetimeServer
from tests.web.scene import BY_ORGANIZER, GUILD, ApiScene, api_scene

LIMIT = 3


@pytest.fixture
async def scene(
    db_url: str, secret_box: SecretBox, fake_racetime: FakeRacetimeServer
) -> AsyncIterator[ApiScene]:
    async with api_scene(db_url, secret_box, fake_racetime, requests_per_minute=LIMIT) as scene:
        yield scene


def checks_of(body: dict[str, object]) -> dict[str, bool]:
    checks = body["checks"]
    assert isinstance(checks, list)
    return {check["name"]: check["ok"] for check in checks}


async def test_healthz_is_200_when_discord_and_the_bots_are_healthy(scene: ApiScene) -> None:
    status, body, _ = await scene.call("GET", "/healthz", headers={})
    assert status == 200, body
    assert body["status"] == "ok"
    assert checks_of(body) == {
        "Discord": True, "Database": True, "Events": True, "racetime bots": True,
    }


async def test_healthz_is_503_while_discord_is_down(scene: ApiScene) -> None:
    scene.discord_up[0] = False
    status, body, _ = await scene.call("GET", "/healthz", headers={})
    assert (status, body["status"]) == (503, "unhealthy")
    assert checks_of(body)["Discord"] is False
    scene.discord_up[0] = True
    status, _, _ = await scene.call("GET", "/healthz", headers={})
    assert status == 200


async def test_healthz_is_503_when_an_active_racetime_bot_is_unhealthy(scene: ApiScene) -> None:
    await scene.services.bot_status.update_bot_status(
        scene.bot_id, BotStatus.AUTH_FAILED, "racetime refused the client secret"
    )
    status, body, _ = await scene.call("GET", "/healthz", headers={})
    assert status == 503
    assert checks_of(body) == {
        "Discord": True, "Database": True, "Events": True, "racetime bots": False,
    }


async def test_over_the_limit_is_429_with_retry_after_per_token(scene: ApiScene) -> None:
    for _ in range(LIMIT):
        status, _, _ = await scene.call("GET", scene.room_path())
        assert status == 200
    status, body, headers = await scene.call("POST", scene.room_path())
    assert (status, body["error"]) == (429, "rate_limited")
    assert 1 <= int(headers["Retry-After"]) <= 60
    assert scene.rooms_on_fake() == []
    # Another token of the server has its own allowance; refused calls are not audited.
    other = await scene.services.api_tokens.create(GUILD, "other", actor=BY_ORGANIZER)
    status, _, _ = await scene.call("GET", scene.room_path(), token=other.plaintext)
    assert status == 200
    audited = await scene.services.audit.entries("api.")
    assert [e.details["status"] for e in audited] == [200] * (LIMIT + 1)


async def test_the_lifecycle_stops_the_web_server(
    db_url: str, secret_box: SecretBox, fake_racetime: FakeRacetimeServer
) -> None:
    async with api_scene(db_url, secret_box, fake_racetime) as scene:
        url = scene.url("/healthz")
        assert scene.server.port > 0
        status, _, _ = await scene.call("GET", "/healthz", headers={})
        assert status == 200
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.ClientConnectionError):
            async with http.get(url):
                pass


async def test_while_the_database_is_away_the_api_answers_503_at_once_and_healthz_says_why(
    scene: ApiScene, monkeypatch: pytest.MonkeyPatch
) -> None:
    watch = scene.services.database_watch

    async def no_answer() -> bool:  # the server is away (tests/core/test_database_restart.py
        watch.last_error = "ConnectionRefusedError: [Errno 111]"  # stops a real one)
        return False

    monkeypatch.setattr(watch, "ping", no_answer)
    assert await watch.confirm_outage(ConnectionRefusedError(111, "refused"))
    status, body, headers = await scene.call("GET", scene.room_path())
    assert (status, body["error"]) == (503, "database_unavailable"), body
    assert headers["Retry-After"] == "5"
    assert "nothing was changed" in body["message"]
    status, body, _ = await scene.call("GET", "/healthz", headers={})
    assert status == 503 and checks_of(body)["Database"] is False
    database = next(check for check in body["checks"] if check["name"] == "Database")
    assert "unreachable for" in database["detail"] and "RaceDesk waits" in database["detail"]
    monkeypatch.undo()
    # Its next ping (every second while away) finds it back.
    await asyncio.wait_for(watch.wait_until_up(), 30)
    status, _, _ = await scene.call("GET", scene.room_path())
    assert status != 503
