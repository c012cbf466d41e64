"""``/profile calendar`` and ``/tournament calendar`` through the real CommandTree, with
RaceDesk's web server running: the URL each hands out (ephemeral) is a working feed, shown
again when asked again, replaced by ``reset:True``."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta

import aiohttp
import icalendar
import pytest

from core.access.rules import ORGANIZERS_ONLY
from db.secrets import SecretBox
from tests.plugins.discord_bot import DiscordHarness, running_harness

FEED = re.compile(r"<(http://127\.0\.0\.1:\d+/calendars/(?:player|tournament)/cal_[\w-]+\.ics)>")


@pytest.fixture
async def harness(
    db_url: str, secret_box: SecretBox, unused_tcp_port: int
) -> AsyncIterator[DiscordHarness]:
    async with running_harness(db_url, secret_box, web_port=unused_tcp_port) as harness:
        await harness.assign_bot("alttpr", secret_box)
        await harness.services.tournaments.create(
            harness.guild.id, "Winter Cup", category="alttpr", actor=harness.set_up
        )
        yield harness


def url_in(text: str) -> str:
    [url] = FEED.findall(text)
    return url


async def fetch(url: str) -> tuple[int, bytes]:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        return response.status, await response.read()


async def test_profile_calendar_gives_a_players_private_feed(harness: DiscordHarness) -> None:
    player, opponent = harness.member(0), harness.member(1)
    when = harness.services.clock.now().replace(microsecond=0) + timedelta(days=1)
    match = await harness.services.matches.schedule(
        harness.guild.id, "Winter Cup", [player.id, opponent.id], when, "Final",
        actor=harness.set_up,
    )
    first = await harness.slash("profile calendar", member=player)
    assert first.first.ephemeral
    assert "Keep it private" in first.first.text and "reset:True" in first.first.text
    url = url_in(first.first.text)
    status, body = await fetch(url)
    assert status == 200
    [event] = icalendar.Calendar.from_ical(body).walk("VEVENT")
    assert str(event["UID"]) == f"match-{match.id}@127.0.0.1"
    assert event.decoded("DTSTART") == when

    again = await harness.slash("profile calendar", member=player)
    assert url_in(again.first.text) == url  # the same feed, shown again
    theirs = await harness.slash("profile calendar", member=opponent)
    assert url_in(theirs.first.text) != url

    reset = await harness.slash("profile calendar", member=player, reset=True)
    assert "old address no longer works" in reset.first.text
    new = url_in(reset.first.text)
    assert new != url
    assert (await fetch(url))[0] == 404
    assert (await fetch(new))[0] == 200


async def test_tournament_calendar_is_for_organizers(harness: DiscordHarness) -> None:
    admin = await harness.member_with_permissions(1, manage_guild=True)
    refused = await harness.slash(
        "tournament calendar", member=harness.member(0), tournament="Winter Cup"
    )
    assert refused.first.text.startswith(ORGANIZERS_ONLY)
    suggested = await harness.autocomplete("tournament calendar", "tournament", "win",
                                           member=admin)
    assert [choice.value for choice in suggested] == ["Winter Cup"]
    shown = await harness.slash("tournament calendar", member=admin, tournament="winter cup")
    assert shown.first.ephemeral
    assert "**Winter Cup**" in shown.first.text
    url = url_in(shown.first.text)
    status, body = await fetch(url)
    assert status == 200
    assert str(icalendar.Calendar.from_ical(body)["X-WR-CALNAME"]) == "RaceDesk · Winter Cup"
    reset = await harness.slash("tournament calendar", member=admin, tournament="Winter Cup",
                                reset=True)
    assert (await fetch(url))[0] == 404
    assert (await fetch(url_in(reset.first.text)))[0] == 200
    missing = await harness.slash("tournament calendar", member=admin, tournament="Nope")
    assert not FEED.search(missing.text)
