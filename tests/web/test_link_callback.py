"""The racetime.gg link flow over real HTTP, as a browser goes through it: the authorization
URL ``/link-racetime`` hands out, the fake racetime's approval (or refusal), the redirect to
RaceDesk's web server, the page the person sees, and the link stored (or not)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest

from core.accounts.linking import CALLBACK_PATH
from core.container import Services
from fake_racetime import FakeRacetimeServer
from tests.plugins.discord_bot import DiscordHarness
from tests.plugins.racetime_linking import callback_url

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
    linking_harness: DiscordHarness, fake_racetime: FakeRacetimeServer
) -> AsyncIterator[Browser]:
    async with aiohttp.ClientSession() as http:
        yield Browser(
            linking_harness.services, fake_racetime, http, callback_url(linking_harness)
        )


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
