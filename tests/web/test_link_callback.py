"""The racetime.gg link flow over real HTTP, as a browser goes through it: the authorization
URL ``/link-racetime`` hands out, the fake racetime's approval (or refusal), the redirect to
RaceDesk's web server, the page the person sees, and the link stored (or not)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest

from bot import build_services, web_server
from core.config import RacetimeSettings, WebSettings
from core.lifecycle import Lifecycle
from core.services.container import Services
from core.services.linking import CALLBACK_PATH, LinkSettings
from db.secrets import SecretBox
from racetime.fake_server import FakeRacetimeServer
from tests.plugins.racetime_engine import FAST_RETRY

APP_ID, APP_SECRET = "racedesk-web", "racedesk-web-secret"
PLAYER = 555_555_555_555_555_551


@dataclass
class Browser:
    services: Services
    fake: FakeRacetimeServer
    http: aiohttp.ClientSession
    callback_url: str

    async def link(self, discord_id: int = PLAYER) -> tuple[int, str]:
        """Open the link from /link-racetime and follow every redirect; the final page."""
        start = await self.services.linking.start_link(discord_id)
        async with self.http.get(start.url) as page:
            assert page.url.path == CALLBACK_PATH, page.url
            return page.status, await page.text()


@pytest.fixture
async def browser(
    db_url: str, secret_box: SecretBox, fake_racetime: FakeRacetimeServer, unused_tcp_port: int
) -> AsyncIterator[Browser]:
    redirect = f"http://127.0.0.1:{unused_tcp_port}{CALLBACK_PATH}"
    fake_racetime.register_oauth_app(APP_ID, APP_SECRET, [redirect])
    fake_racetime.authorize_as(fake_racetime.seed.users["RacerOne"])
    services = build_services(
        database_url=db_url, secret_box=secret_box, listener_retry=FAST_RETRY,
        racetime=RacetimeSettings(host=fake_racetime.host, scheme="http"),
        linking=LinkSettings(APP_ID, APP_SECRET, redirect),
    )
    async with Lifecycle() as lifecycle:
        await services.start(lifecycle, racetime_engine=False)
        server = web_server(services, WebSettings(bind_port=unused_tcp_port), lambda: True)
        await lifecycle.add("web server", server.start, server.stop)
        async with aiohttp.ClientSession() as http:
            yield Browser(services, fake_racetime, http, redirect)


async def test_a_person_who_approves_lands_on_a_success_page_and_is_linked(
    browser: Browser,
) -> None:
    status, page = await browser.link()

    assert status == 200
    assert '<h1 id="outcome">✅ Linked</h1>' in page
    link = await browser.services.linking.link_of(PLAYER)
    assert link is not None and link.racetime_id == browser.fake.seed.users["RacerOne"]
    assert link.racetime_name in page


async def test_a_person_who_declines_is_told_and_nothing_is_stored(browser: Browser) -> None:
    browser.fake.deny_authorization()

    status, page = await browser.link()

    assert status == 400
    assert '<h1 id="outcome">Not linked</h1>' in page
    assert "/link-racetime" in page
    assert await browser.services.linking.link_of(PLAYER) is None


async def test_a_callback_opened_twice_links_once_and_says_so_the_second_time(
    browser: Browser,
) -> None:
    start = await browser.services.linking.start_link(PLAYER)
    async with browser.http.get(start.url, allow_redirects=False) as approval:
        callback = approval.headers["Location"]
    async with browser.http.get(callback) as first:
        assert first.status == 200
    async with browser.http.get(callback) as second:
        assert second.status == 400
        page = await second.text()

    assert "used" in page.lower()
    assert await browser.services.linking.link_of(PLAYER) is not None


async def test_a_forged_callback_is_refused_plainly_and_escaped(browser: Browser) -> None:
    forged = f"{browser.callback_url}?state=nope&error=<script>alert(1)</script>"
    async with browser.http.get(forged) as page:
        assert page.status == 400
        text = await page.text()

    assert "<script>" not in text
    assert await browser.services.linking.link_of(PLAYER) is None
