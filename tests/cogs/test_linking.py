"""/link-racetime and /unlink-racetime through the real CommandTree: the button leads to
racetime.gg's authorization (the fake server over real HTTP, followed as a browser would),
the link lands, and the player gets one confirmation DM."""

from __future__ import annotations

from typing import cast
from urllib.parse import parse_qs, urlsplit

import aiohttp
import discord
import discord.ext.test as dpytest
import discord.ext.test.backend as dpytest_backend
from sqlmodel import select

from cogs.linking import LinkingCog
from core.events import decode_event
from db.models import EventLogEntry
from db.queries.users import get_user_by_discord_id
from db.secrets import SecretBox
from fake_racetime import FakeRacetimeServer
from tests.plugins.discord_bot import DiscordHarness, running_harness
from tests.plugins.racetime_linking import callback_url


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
    url = result.first.link_url
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
    callback = await follow(harness, reply.first.link_url)
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


async def link(harness: DiscordHarness, player: discord.Member) -> None:
    """Link ``player`` as the fake racetime's approved user, through the button."""
    started = await harness.slash("link-racetime", member=player)
    callback = await follow(harness, started.first.link_url)
    outcome = await harness.services.linking.complete_link(callback["state"],
                                                           code=callback["code"])
    assert outcome.ok, outcome.message


async def test_profile_shows_the_link_and_the_timezone_to_anyone(
    linking_harness: DiscordHarness, fake_racetime: FakeRacetimeServer
) -> None:
    harness = linking_harness
    player, opponent = harness.member(0), harness.member(1)
    await link(harness, player)
    info = await harness.services.linking.link_of(player.id)
    assert info is not None

    for asker in (player, opponent):
        shown = await harness.slash(
            "profile show", member=asker, options=None if asker is player else {"member": player}
        )
        assert shown.first.ephemeral
        [embed] = shown.first.embeds
        fields = {f.name: f.value for f in embed.fields}
        assert fields["racetime.gg"] == (
            f"[{info.racetime_name}]({fake_racetime.base_url}/user/{info.racetime_id})"
        )
        assert fields["Timezone"] == "`UTC` (the server's; `/timezone set` chooses one)"

    await harness.slash("timezone set", member=player, zone="Europe/Berlin")
    own = await harness.slash("profile show", member=player)
    assert {f.name: f.value for f in own.first.embeds[0].fields}["Timezone"] == (
        "`Europe/Berlin`"
    )
    unlinked = await harness.slash("profile show", member=player, options={"member": opponent})
    assert {f.name: f.value for f in unlinked.first.embeds[0].fields}["racetime.gg"] == (
        "Not linked. `/link-racetime` links a racetime.gg account."
    )


async def test_whois_is_for_moderators_and_shows_the_links_details(
    linking_harness: DiscordHarness,
) -> None:
    harness = linking_harness
    player, someone = harness.member(0), harness.member(1)
    await link(harness, player)
    info = await harness.services.linking.link_of(player.id)
    assert info is not None and info.token_expires_at is not None

    refused = await harness.slash("racetime whois", member=someone, options={"member": player})
    assert refused.first.ephemeral
    assert refused.first.content.startswith("Only moderators can do this")

    role = dpytest_backend.make_role("Race mods", harness.guild)
    await dpytest.add_role(someone, role)
    await harness.set_roles(moderator=role)
    moderator = harness.guild.get_member(someone.id)
    shown = await harness.slash("racetime whois", member=moderator, options={"member": player})
    assert shown.first.ephemeral
    value = {f.name: f.value for f in shown.first.embeds[0].fields}["racetime.gg"]
    assert value.splitlines() == [
        f"[{info.racetime_name}]({info.profile_url})",
        f"racetime user id: `{info.racetime_id}`",
        f"Access token expires <t:{int(info.token_expires_at.timestamp())}:R> (renewed when used)",
    ]


async def test_whois_says_when_a_link_needs_authorizing_again(
    linking_harness: DiscordHarness,
) -> None:
    harness = linking_harness
    player = harness.member(0)
    await link(harness, player)
    async with harness.services.sessionmaker.begin() as session:
        user = await get_user_by_discord_id(session, player.id)
        assert user is not None
        # What a refused refresh leaves (see LinkService._refresh_refused).
        user.access_token_encrypted = user.refresh_token_encrypted = None
        user.token_expires_at = None
    admin = await harness.member_with_permissions(1, manage_guild=True)
    shown = await harness.slash("racetime whois", member=admin, options={"member": player})
    value = {f.name: f.value for f in shown.first.embeds[0].fields}["racetime.gg"]
    assert value.splitlines()[-1] == (
        "⚠️ racetime.gg no longer accepts RaceDesk's access: `/link-racetime` renews it."
    )
