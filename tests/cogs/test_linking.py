"""/link-racetime and /unlink-racetime through the real CommandTree: the button leads to
racetime.gg's authorization (the fake server over real HTTP, followed as a browser would),
the link lands, and the player gets one confirmation DM."""

from __future__ import annotations

from typing import cast
from urllib.parse import parse_qs, urlsplit

import aiohttp
import discord
from sqlmodel import select

from cogs.linking import LinkingCog
from core.events import decode_event
from db.models import EventLogEntry
from db.secrets import SecretBox
from racetime.fake_server import FakeRacetimeServer
from tests.plugins.discord_bot import DiscordHarness, running_harness
from tests.plugins.racetime_linking import button_url, callback_url


async def follow(harness: DiscordHarness, url: str) -> dict[str, str]:
    """What a browser would do: open the authorization URL and read where racetime sends it
    back (the callback's query)."""
    async with aiohttp.ClientSession() as http, http.get(url, allow_redirects=False) as answer:
        assert answer.status == 302, await answer.text()
        location = answer.headers["Location"]
    assert location.startswith(callback_url(harness))
    return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}


async def test_the_button_links_the_account_and_the_player_gets_one_dm(
    linking_harness: DiscordHarness, fake_racetime: FakeRacetimeServer
) -> None:
    harness = linking_harness
    player = harness.member(0)
    result = await harness.slash("link-racetime", member=player)

    assert result.first.ephemeral
    [embed] = result.first.embeds
    assert embed.title == "🔗 Link your racetime.gg account"
    url = button_url(result.first)
    assert url.startswith(f"{fake_racetime.base_url}/o/authorize?")
    callback = await follow(harness, url)
    outcome = await harness.services.linking.complete_link(
        callback["state"], code=callback.get("code")
    )
    assert outcome.ok and outcome.discord_user_id == player.id
    await harness.services.dispatcher.drain()

    [dm] = harness.sim.sent()
    assert isinstance(dm.channel, discord.DMChannel)
    assert dm.channel.recipient is not None and dm.channel.recipient.id == player.id
    assert dm.content.startswith("✅ Your Discord account is now linked to racetime.gg as `")
    link = await harness.services.linking.link_of(player.id)
    assert link is not None and link.racetime_id == fake_racetime.seed.users["RacerOne"]

    # The event delivered again (after a crash, the dispatcher hands the cog the same event)
    # sends nothing more.
    async with harness.services.sessionmaker() as session:
        rows = await session.execute(
            select(EventLogEntry).where(EventLogEntry.kind == "RacetimeAccountLinkedEvent")
        )
        [linked] = [decode_event(row.kind, row.payload) for row in rows.scalars()]
    cog = cast("LinkingCog", harness.bot.get_cog("LinkingCog"))
    await cog.tell(linked)
    assert harness.sim.sent() == []

    again = await harness.slash("link-racetime", member=player)
    [embed] = again.first.embeds
    assert [(f.name, f.value) for f in embed.fields] == [
        ("Linked now", f"`{link.racetime_name}`: linking again replaces it.")
    ]


async def test_unlink_removes_the_link_and_says_how_to_link_again(
    linking_harness: DiscordHarness,
) -> None:
    harness = linking_harness
    player = harness.member(0)
    nothing = await harness.slash("unlink-racetime", member=player)
    assert "link" in nothing.first.content.lower()
    assert await harness.services.linking.link_of(player.id) is None

    reply = await harness.slash("link-racetime", member=player)
    callback = await follow(harness, button_url(reply.first))
    assert (await harness.services.linking.complete_link(callback["state"],
                                                         code=callback["code"])).ok
    removed = await harness.slash("unlink-racetime", member=player)
    assert removed.first.content.startswith("Unlinked racetime.gg account `")
    assert "`/link-racetime` links an account again" in removed.first.content
    assert await harness.services.linking.link_of(player.id) is None


async def test_without_racetime_oauth_configured_linking_says_so(
    db_url: str, secret_box: SecretBox
) -> None:
    async with running_harness(db_url, secret_box) as harness:
        result = await harness.slash("link-racetime", member=harness.member(0))
    assert result.first.ephemeral
    assert "oauth" in result.first.content.lower() or "not set up" in result.first.content
