"""The fake alttpr.com itself: its hooks for another process, and ``python -m fake_alttpr``."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import aiohttp

from core.seeds.alttpr import AlttprProvider
from fake_alttpr import FakeAlttpr

REPO = Path(__file__).resolve().parents[2]


async def test_the_hooks_work_over_http_too(fake_alttpr: FakeAlttpr) -> None:
    async with aiohttp.ClientSession(fake_alttpr.base_url) as http:
        async with http.post("/_test/fail", json={"count": 1, "status": 503}) as answer:
            assert answer.status == 200
        async with http.post("/api/randomizer", json={}) as answer:
            assert answer.status == 503
        async with http.post("/api/randomizer", json={"mode": "open"}) as answer:
            assert answer.status == 422
            body = await answer.json()
            assert body["message"] == "The given data was invalid."
            assert body["errors"]["glitches"] == ["The glitches field is required."]
        async with http.get("/_test/requests") as answer:
            logged = (await answer.json())["requests"]
        assert [(r["method"], r["path"]) for r in logged] == [
            ("POST", "/api/randomizer"), ("POST", "/api/randomizer"),
        ]
        async with http.post("/_test/reset") as answer:
            assert answer.status == 200
    assert fake_alttpr.requests == []


async def test_a_rolled_seeds_permalink_is_a_page(fake_alttpr: FakeAlttpr) -> None:
    seed = await AlttprProvider(fake_alttpr.base_url).roll("open")
    assert seed.url is not None
    async with aiohttp.ClientSession() as http, http.get(seed.url) as page:
        assert page.status == 200
        assert "ALttP Randomizer" in await page.text()
    assert fake_alttpr.request_count("/h/") == 1


async def test_python_m_fake_alttpr_serves_rolls() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "fake_alttpr", "--port", "0", "--seed", "3",
        cwd=REPO, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        assert process.stdout is not None
        async with asyncio.timeout(30):
            line = (await process.stdout.readline()).decode()
        assert line.startswith("fake alttpr.com listening on http://127.0.0.1:")
        url = line.rsplit(" ", 1)[1].strip()
        seed = await AlttprProvider(url).roll("standard")
        assert seed.url is not None and seed.url.startswith(url + "/h/")
    finally:
        process.terminate()
        await process.wait()
