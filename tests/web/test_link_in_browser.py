"""Linking a racetime.gg account in a real browser: a person clicks /link-racetime's button
and lands on RaceDesk's page saying they are linked.

The other link tests follow the redirects with aiohttp; this one hands the button's URL to
headless Chromium, driven by selenium, so what a person's browser does is what is tested:
the fake racetime's ``/o/authorize`` (RacerOne signed in, approving) redirects the browser
to RaceDesk's web server, whose callback page it renders. Every piece is the real one
(``linking_harness``): the slash command through the CommandTree, the fake racetime and
RaceDesk's web server over loopback sockets, the LinkService and the database. Selenium
blocks, so its calls run in a thread while the servers keep serving in the test's loop.

It needs Debian's ``chromium`` and ``chromium-driver`` (``make browser`` installs them;
``.ci/run`` does). Where they are absent (no apt, no network) or selenium cannot start the
browser, the test skips and says which; it never downloads a browser of its own.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.wait import WebDriverWait

from fake_racetime import FakeRacetimeServer
from tests.plugins.discord_bot import DiscordHarness
from tests.plugins.racetime_linking import callback_url
from tests.web.browser import PAGE_SECONDS

pytestmark = pytest.mark.browser  # the browser: ``chromium`` (tests/web/browser.py)

@dataclass(frozen=True)
class Page:
    """Where the browser ended and what it shows there."""

    url: str
    title: str
    heading: str
    message: str


def click_through(driver: WebDriver, url: str, landing: str) -> Page:
    """Open ``url`` (as clicking the button does) and wait until the browser shows the page
    at ``landing``, after every redirect."""
    driver.get(url)
    WebDriverWait(driver, PAGE_SECONDS).until(
        expected_conditions.all_of(
            expected_conditions.url_contains(landing),
            expected_conditions.presence_of_element_located((By.ID, "message")),
        )
    )
    return Page(
        url=driver.current_url,
        title=driver.title,
        heading=driver.find_element(By.ID, "outcome").text,
        message=driver.find_element(By.ID, "message").text,
    )


async def press_link_button(harness: DiscordHarness, chromium: WebDriver) -> Page:
    """The first member runs /link-racetime and opens its button in the browser."""
    reply = await harness.slash("link-racetime", member=harness.member(0))
    callback = callback_url(harness)
    return await asyncio.to_thread(click_through, chromium, reply.first.link_url, callback)


async def test_a_person_who_clicks_through_lands_on_the_success_page_and_is_linked(
    chromium: WebDriver, linking_harness: DiscordHarness, fake_racetime: FakeRacetimeServer
) -> None:
    page = await press_link_button(linking_harness, chromium)

    assert page.url.startswith(callback_url(linking_harness) + "?"), page.url
    link = await linking_harness.services.linking.link_of(linking_harness.member(0).id)
    assert link is not None and link.racetime_id == fake_racetime.seed.users["RacerOne"]
    assert page.title == "✅ Linked · RaceDesk"
    assert page.heading == "✅ Linked"
    assert f"linked to the racetime.gg account {link.racetime_name}." in page.message


async def test_a_person_who_declines_sees_why_and_nothing_is_stored(
    chromium: WebDriver, linking_harness: DiscordHarness, fake_racetime: FakeRacetimeServer
) -> None:
    fake_racetime.deny_authorization()

    page = await press_link_button(linking_harness, chromium)

    assert page.url.startswith(callback_url(linking_harness) + "?"), page.url
    assert (page.title, page.heading) == ("Not linked · RaceDesk", "Not linked")
    assert "You did not authorize RaceDesk on racetime.gg" in page.message
    assert "/link-racetime" in page.message
    assert await linking_harness.services.linking.link_of(linking_harness.member(0).id) is None
