"""Public tournament pages over real HTTP, then in a real headless browser: the page is
opened, its content checked, and screenshots saved for a person to look at
(``public-page-phone.png``, ``public-page-desktop.png`` with scripts off,
``public-index-phone.png``, ``public-async-phone.png``, ``public-async-desktop.png`` with
scripts off, in ``tests.web.browser.SCREENSHOTS``: ``data/screenshots/`` unless
``$RACEDESK_SCREENSHOTS`` says otherwise; ``.ci/run`` lists them).

The server is RaceDesk's own (``bot.build_services`` and ``bot.web_server``, as in
production) on a free port, over the database the pages' scenes fill (tests/pages/scene.py,
tests/pages/async_scene.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from bot import build_services, web_server
from core.config import RacetimeSettings, WebSettings
from core.lifecycle import Lifecycle
from db.secrets import SecretBox
from tests.pages.async_scene import ASYNC, LIVE_SLUG, AsyncScene, build_async_scene
from tests.pages.scene import BY_BOSS, GUILD, MARKUP, OTHER_GUILD, RACETIME, Scene, build_scene
from tests.web.browser import PAGE_SECONDS, SCREENSHOTS


@dataclass
class Served:
    url: str
    scene: Scene
    asyncs: AsyncScene
    http: aiohttp.ClientSession

    async def get(self, path: str) -> tuple[int, str, aiohttp.typedefs.LooseHeaders]:
        async with self.http.get(self.url + path) as response:
            return response.status, await response.text(), response.headers


@pytest.fixture
async def served(db_url: str, secret_box: SecretBox) -> AsyncIterator[Served]:
    services = build_services(
        database_url=db_url, secret_box=secret_box,
        racetime=RacetimeSettings(host=RACETIME.removeprefix("https://")),
    )
    async with Lifecycle() as lifecycle:
        await services.start(lifecycle, racetime_engine=False)
        scene = await build_scene(services.sessionmaker, secret_box)
        asyncs = await build_async_scene(services.sessionmaker)
        server = web_server(services, WebSettings(bind_port=0), lambda: True)
        await lifecycle.add("web server", server.start, server.stop)
        async with aiohttp.ClientSession() as http:
            yield Served(server.url, scene, asyncs, http)


# -- over HTTP ---------------------------------------------------------------------------------


async def test_a_public_page_is_html_anyone_may_read(served: Served) -> None:
    status, body, headers = await served.get(f"/t/{GUILD}/{served.scene.cup_id}")
    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["Cache-Control"] == "public, max-age=60"
    assert "script-src 'sha256-" in headers["Content-Security-Policy"]
    assert "<h1 id=\"name\">Winter Cup</h1>" in body
    assert "Semi-final 1" in body and "racetime.gg room" in body
    assert MARKUP not in body and "Bob&lt;script&gt;" in body

    status, body, _ = await served.get(f"/t/{GUILD}/winter-cup")
    assert status == 200 and "Winter Cup" in body


async def test_the_index_links_each_public_tournament(served: Served) -> None:
    status, body, headers = await served.get(f"/t/{GUILD}")
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    assert f'href="/t/{GUILD}/{served.scene.cup_id}"' in body
    assert f'<span class="tag">async</span><a href="/t/{GUILD}/async/{served.asyncs.winter_id}"' \
        in body
    assert "Secret Cup" not in body and "Secret Async" not in body


async def test_an_async_tournaments_page_is_html_anyone_may_read(served: Served) -> None:
    status, body, headers = await served.get(f"/t/{GUILD}/async/{served.asyncs.winter_id}")
    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["Cache-Control"] == "public, max-age=60"
    assert "script-src 'sha256-" in headers["Content-Security-Policy"]
    assert f'<h1 id="name">{ASYNC}</h1>' in body
    assert "Upcoming live races" in body and f"{RACETIME}/alttpr/{LIVE_SLUG}" in body
    assert "Ada#0001" in body and "Player 2" in body
    assert MARKUP not in body and "Bob&lt;script&gt;" in body

    for segment in ("winter-async", f"{served.asyncs.winter_id}-winter-async"):
        status, body, _ = await served.get(f"/t/{GUILD}/async/{segment}")
        assert status == 200 and f'<h1 id="name">{ASYNC}</h1>' in body, segment


async def test_private_unknown_and_others_async_tournaments_are_the_same_404(
    served: Served,
) -> None:
    asyncs = served.asyncs
    _, expected, _ = await served.get("/t/x/y/z")
    for path in (
        f"/t/{GUILD}/async/{asyncs.private_id}", f"/t/{GUILD}/async/secret-async",
        f"/t/{GUILD}/async/424242", f"/t/{GUILD}/async/{asyncs.theirs_id}",
        f"/t/{OTHER_GUILD}/async/{asyncs.winter_id}", f"/t/{GUILD}/async/",
        f"/t/{GUILD}/async", f"/t/{GUILD}/async/{MARKUP}", f"/t/{GUILD}/async/1/more",
        f"/t/{GUILD}/async/99999999999", f"/t/{10**19}/async/1",
    ):
        status, body, headers = await served.get(path)
        assert status == 404, path
        assert headers["Cache-Control"] == "no-cache"
        assert body == expected, path
    await asyncs.asyncs.set_public(GUILD, "Secret Async", True, actor=BY_BOSS)
    status, _, _ = await served.get(f"/t/{GUILD}/async/{asyncs.private_id}")
    assert status == 200


async def test_private_unknown_and_others_tournaments_are_the_same_404(served: Served) -> None:
    scene = served.scene
    bodies = set()
    for path in (
        f"/t/{GUILD}/{scene.private_id}", f"/t/{GUILD}/secret-cup", f"/t/{GUILD}/424242",
        f"/t/{OTHER_GUILD}/{scene.cup_id}", "/t/333", f"/t/{GUILD}/{MARKUP}",
        f"/t/{GUILD}/99999999999", f"/t/{10**19}", f"/t/{10**19}/1", "/t/", "/t/x/y/z",
    ):
        status, body, headers = await served.get(path)
        assert status == 404, path
        assert headers["Content-Type"] == "text/html; charset=utf-8"
        assert headers["Cache-Control"] == "no-cache"
        bodies.add(body)
    assert len(bodies) == 1 and "There is no public tournament at this address" in bodies.pop()
    await scene.tournaments.update_settings(GUILD, "Secret Cup", actor=BY_BOSS, public=True)
    status, _, _ = await served.get(f"/t/{GUILD}/{scene.private_id}")
    assert status == 200


# -- in the browser ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Seen:
    title: str
    name: str
    upcoming: list[str]
    results: str
    first_time: str
    first_time_class: str
    room_link: str


def look(driver: WebDriver, url: str, screenshot: str, width: int, height: int) -> Seen:
    driver.set_window_size(width, height)
    driver.get(url)
    upcoming = driver.find_element(By.ID, "upcoming")
    first_time = upcoming.find_element(By.TAG_NAME, "time")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    assert driver.save_screenshot(str(SCREENSHOTS / screenshot))
    return Seen(
        title=driver.title,
        name=driver.find_element(By.ID, "name").text,
        upcoming=[li.find_element(By.CLASS_NAME, "title").text
                  for li in upcoming.find_elements(By.CSS_SELECTOR, "li.match")],
        results=driver.find_element(By.ID, "results").text,
        first_time=first_time.text,
        first_time_class=first_time.get_attribute("class") or "",
        room_link=driver.find_element(By.LINK_TEXT, "racetime.gg room").get_attribute("href")
        or "",
    )


@pytest.mark.browser
async def test_the_page_in_a_browser_shows_the_readers_time_and_reads_without_scripts(
    chromium: WebDriver, served: Served
) -> None:
    url = f"{served.url}/t/{GUILD}/{served.scene.cup_id}"
    chromium.set_page_load_timeout(PAGE_SECONDS)
    # The reader is in Tokyo (UTC+9): the Semi-final at 12:00 UTC is 21:00 there.
    await asyncio.to_thread(
        chromium.execute_cdp_cmd, "Emulation.setTimezoneOverride", {"timezoneId": "Asia/Tokyo"}
    )
    phone = await asyncio.to_thread(look, chromium, url, "public-page-phone.png", 390, 844)

    assert phone.title == "Winter Cup · RaceDesk"
    assert phone.name == "Winter Cup"
    assert phone.upcoming == ["Semi-final 1", "Final"]
    assert "Bob<script>alert(1)</script>" in phone.results  # the name, as text
    assert "1:39:58" in phone.results and "1:42:07" in phone.results
    assert phone.room_link == f"{RACETIME}/alttpr/clever-link-1234"
    assert phone.first_time_class == "local"
    assert "9:00" in phone.first_time or "21:00" in phone.first_time, phone.first_time
    assert "UTC" not in phone.first_time

    await asyncio.to_thread(
        chromium.execute_cdp_cmd, "Emulation.setScriptExecutionDisabled", {"value": True}
    )
    desktop = await asyncio.to_thread(look, chromium, url, "public-page-desktop.png", 1280, 900)
    assert desktop.first_time == "Fri 27 Nov 2026, 12:00 UTC"  # no script: UTC, still readable
    assert desktop.upcoming == phone.upcoming
    assert "Thu 26 Nov 2026, 15:00 UTC" in desktop.results and "1:39:58" in desktop.results


@pytest.mark.browser
async def test_a_private_tournament_is_not_found_in_the_browser(
    chromium: WebDriver, served: Served
) -> None:
    url = f"{served.url}/t/{GUILD}/{served.scene.private_id}"

    def open_it() -> tuple[str, str]:
        chromium.get(url)
        return chromium.title, chromium.find_element(By.TAG_NAME, "body").text

    title, text = await asyncio.to_thread(open_it)
    assert title == "Not found · RaceDesk"
    assert "There is no public tournament at this address" in text
    assert "Hidden match" not in text and "Secret Cup" not in text


@pytest.mark.browser
async def test_the_servers_index_in_a_browser_links_its_public_tournaments(
    chromium: WebDriver, served: Served
) -> None:
    def open_index() -> tuple[list[str], str]:
        chromium.set_window_size(390, 844)
        chromium.get(f"{served.url}/t/{GUILD}")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        assert chromium.save_screenshot(str(SCREENSHOTS / "public-index-phone.png"))
        links = chromium.find_elements(By.CSS_SELECTOR, "#tournaments a")
        names = [link.text for link in links]
        links[0].click()
        return names, chromium.find_element(By.ID, "name").text

    names, landed = await asyncio.to_thread(open_index)
    assert names == [ASYNC, "Winter Cup"] and landed == ASYNC


@dataclass(frozen=True)
class SeenAsync:
    title: str
    name: str
    upcoming: list[str]
    first_time: str
    first_time_class: str
    room_link: str
    overall: list[list[str]]
    pools: list[str]
    score: str
    take_part: str


def look_async(driver: WebDriver, url: str, screenshot: str, width: int, height: int) -> SeenAsync:
    driver.set_window_size(width, height)
    driver.get(url)
    upcoming = driver.find_element(By.ID, "upcoming")
    first_time = upcoming.find_element(By.TAG_NAME, "time")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    assert driver.save_screenshot(str(SCREENSHOTS / screenshot))
    board = driver.find_element(By.ID, "board-overall")
    return SeenAsync(
        title=driver.title,
        name=driver.find_element(By.ID, "name").text,
        upcoming=[li.find_element(By.CLASS_NAME, "title").text
                  for li in upcoming.find_elements(By.CSS_SELECTOR, "li.match")],
        first_time=first_time.text,
        first_time_class=first_time.get_attribute("class") or "",
        room_link=driver.find_element(By.ID, "live").find_element(
            By.LINK_TEXT, "racetime.gg room"
        ).get_attribute("href") or "",
        overall=[[cell.text for cell in row.find_elements(By.TAG_NAME, "td")]
                 for row in board.find_elements(By.CSS_SELECTOR, "tbody tr")],
        pools=[li.text for li in driver.find_elements(By.CSS_SELECTOR, "#pools li")],
        score=driver.find_element(By.ID, "score").text,
        take_part=driver.find_element(By.ID, "take-part").text,
    )


@pytest.mark.browser
async def test_the_async_page_in_a_browser_shows_races_and_leaderboards(
    chromium: WebDriver, served: Served
) -> None:
    url = f"{served.url}/t/{GUILD}/async/{served.asyncs.winter_id}"
    chromium.set_page_load_timeout(PAGE_SECONDS)
    # The reader is in Tokyo (UTC+9): the live race at 12:00 UTC is 21:00 there.
    await asyncio.to_thread(
        chromium.execute_cdp_cmd, "Emulation.setTimezoneOverride", {"timezoneId": "Asia/Tokyo"}
    )
    phone = await asyncio.to_thread(look_async, chromium, url, "public-async-phone.png", 390, 844)

    assert phone.title == f"{ASYNC} · RaceDesk"
    assert phone.name == ASYNC
    assert phone.upcoming == [f"Live race #{served.asyncs.upcoming_id} · Pool A"]
    assert phone.first_time_class == "local"
    assert "9:00" in phone.first_time or "21:00" in phone.first_time, phone.first_time
    assert phone.room_link == f"{RACETIME}/alttpr/{LIVE_SLUG}"
    assert phone.overall == [
        ["1", "Ada#0001", "200.00", "2"],
        ["2", "Bob<script>alert(1)</script>", "105.00", "1"],  # the name, as text
        ["3", "Player 2", "88.89", "1"],
        ["3", "Player 4", "88.89", "1"],
    ]
    assert phone.pools == ["Pool A: Open mode seeds", "Pool B"]
    assert phone.score.startswith("Each run scores 100 × (2 − time ÷ par)")  # noqa: RUF001
    assert f"/async join tournament:{ASYNC}" in phone.take_part

    await asyncio.to_thread(
        chromium.execute_cdp_cmd, "Emulation.setScriptExecutionDisabled", {"value": True}
    )
    desktop = await asyncio.to_thread(
        look_async, chromium, url, "public-async-desktop.png", 1280, 900
    )
    assert desktop.first_time == "Fri 27 Nov 2026, 12:00 UTC"  # no script: UTC, still readable
    assert desktop.overall == phone.overall

