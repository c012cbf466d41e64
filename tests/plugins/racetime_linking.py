"""Account linking end to end: RaceDesk's OAuth application on the fake racetime.gg, and the
bot with its web server, where racetime sends people back to.

- ``link_app(fake, redirect_uri)``: registers the application and makes ``/o/authorize``
  approve as RacerOne (``fake.deny_authorization()`` turns that into a refusal); returns the
  ``LinkSettings`` RaceDesk is configured with.
- ``linking_harness``: the ``discord_harness`` with linking configured against
  ``fake_racetime`` and RaceDesk's web server on a free port (``.web_url``), so the callback
  is served for real; ``callback_url(harness)`` is where racetime sends people back to.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from core.accounts.linking import CALLBACK_PATH, LinkSettings
from core.config import RacetimeSettings
from db.secrets import SecretBox
from fake_racetime import FakeRacetimeServer
from tests.plugins.discord_bot import DiscordHarness, running_harness

APP_ID, APP_SECRET = "racedesk-web", "racedesk-web-secret"


def link_app(fake: FakeRacetimeServer, redirect_uri: str) -> LinkSettings:
    """RaceDesk's OAuth application on ``fake``, approved by RacerOne when they are asked."""
    fake.register_oauth_app(APP_ID, APP_SECRET, [redirect_uri])
    fake.authorize_as(fake.seed.users["RacerOne"])
    return LinkSettings(APP_ID, APP_SECRET, redirect_uri)


def callback_url(harness: DiscordHarness) -> str:
    assert harness.web_url is not None, "start the harness with web_port"
    return harness.web_url + CALLBACK_PATH


@pytest.fixture
async def linking_harness(
    db_url: str, secret_box: SecretBox, fake_racetime: FakeRacetimeServer, unused_tcp_port: int
) -> AsyncIterator[DiscordHarness]:
    linking = link_app(fake_racetime, f"http://127.0.0.1:{unused_tcp_port}{CALLBACK_PATH}")
    async with running_harness(
        db_url, secret_box, RacetimeSettings(host=fake_racetime.host, scheme="http"),
        linking=linking, web_port=unused_tcp_port,
    ) as harness:
        harness.sim.sent()
        yield harness
