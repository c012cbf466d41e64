"""Headless Chromium for the browser tests, as the ``chromium`` fixture (tests/web/conftest.py).

It needs Debian's ``chromium`` and ``chromium-driver`` (``make browser`` installs them;
``.ci/run`` does). Where they are absent (no apt, no network) or selenium cannot start the
browser, a test that asks for it skips and says which; it never downloads a browser of its
own. Selenium blocks, so its calls run in a thread while the servers keep serving in the
test's loop.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
PAGE_SECONDS = 15.0
# Where browser tests save screenshots for a person to look at (.ci/run lists them):
# $RACEDESK_SCREENSHOTS, else data/screenshots/ in the repository (ignored by git).
SCREENSHOTS = Path(
    os.environ.get("RACEDESK_SCREENSHOTS")
    or Path(__file__).resolve().parent.parent.parent / "data" / "screenshots"
)


def start_chromium() -> WebDriver:
    options = Options()
    options.binary_location = str(CHROMIUM)
    # --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    # A driver path of our own: selenium then skips Selenium Manager (no download).
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(PAGE_SECONDS)
    return driver


@pytest.fixture
async def chromium() -> AsyncIterator[WebDriver]:
    """Headless Chromium (asked for first in the tests, so a skip starts nothing else)."""
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.is_file()]
    if missing:
        pytest.skip(
            f"no browser to drive: {' and '.join(missing)} missing "
            "(`make browser` installs Debian's chromium and chromium-driver)"
        )
    try:
        driver = await asyncio.to_thread(start_chromium)
    except WebDriverException as error:
        pytest.skip(f"selenium could not start {CHROMIUM}: {error.msg or error}")
    try:
        yield driver
    finally:
        await asyncio.to_thread(driver.quit)
