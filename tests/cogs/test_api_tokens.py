"""/api-token through the real CommandTree (dpytest) on the real database: the token is shown
once, ephemerally; listing never shows it; revoking stops it working; players are refused."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import discord
import pytest

from core.access.rules import ORGANIZERS_ONLY
from db.secrets import SecretBox
from tests.plugins.discord_bot import DiscordHarness, running_harness

TOKEN = re.compile(r"rd_[A-Za-z0-9_-]{40,}")


@pytest.fixture
async def harness(db_url: str, secret_box: SecretBox) -> AsyncIterator[DiscordHarness]:
    async with running_harness(db_url, secret_box) as harness:
        yield harness


async def organizer(harness: DiscordHarness) -> discord.Member:
    return await harness.member_with_permissions(1, manage_guild=True)


async def test_create_shows_the_token_once_and_it_works(harness: DiscordHarness) -> None:
    admin = await organizer(harness)
    created = await harness.slash(
        "api-token create", member=admin, options={"name": "stream-overlay"}
    )
    assert created.first.ephemeral
    shown = TOKEN.findall(created.first.text)
    assert len(shown) == 1
    assert "shown only this once" in created.first.text and "secret" in created.first.text
    token = await harness.services.api_tokens.authenticate(shown[0])
    assert token is not None
    assert (token.name, token.guild_id) == ("stream-overlay", harness.guild.id)

    listed = await harness.slash("api-token list", member=admin)
    assert listed.first.ephemeral
    assert "stream-overlay" in listed.first.text
    assert f"<@{admin.id}>" in listed.first.text
    assert "rd_" not in listed.first.text and shown[0] not in listed.first.text

    duplicate = await harness.slash(
        "api-token create", member=admin, options={"name": "Stream-Overlay"}
    )
    assert "already has a token" in duplicate.first.text
    assert not TOKEN.search(duplicate.first.text)


async def test_revoke_suggests_the_names_and_stops_the_token(harness: DiscordHarness) -> None:
    admin = await organizer(harness)
    created = await harness.slash("api-token create", member=admin, options={"name": "ci"})
    await harness.slash("api-token create", member=admin, options={"name": "overlay"})
    plaintext = TOKEN.findall(created.first.text)[0]
    choices = await harness.autocomplete("api-token revoke", "name", "c", member=admin)
    assert [choice.value for choice in choices] == ["ci"]

    revoked = await harness.slash("api-token revoke", member=admin, options={"name": "ci"})
    assert revoked.first.ephemeral
    assert "revoked" in revoked.first.text
    assert await harness.services.api_tokens.authenticate(plaintext) is None
    listed = await harness.slash("api-token list", member=admin)
    assert "**overlay**" in listed.first.text and "**ci**" not in listed.first.text
    again = await harness.slash("api-token revoke", member=admin, options={"name": "ci"})
    assert "no token called **ci**" in again.first.text
    actions = [e.action for e in await harness.services.audit.entries("api_token.")]
    assert actions == ["api_token.create", "api_token.create", "api_token.revoke"]


async def test_a_player_is_refused(harness: DiscordHarness) -> None:
    player = harness.member(0)
    for command, options in (
        ("api-token create", {"name": "mine"}),
        ("api-token list", {}),
        ("api-token revoke", {"name": "mine"}),
    ):
        refused = await harness.slash(command, member=player, options=options)
        assert refused.first.ephemeral
        assert refused.first.content == ORGANIZERS_ONLY, command
    tokens = harness.services.api_tokens
    assert await tokens.list_tokens(harness.guild.id, actor=harness.set_up) == []


async def test_an_empty_list_says_how_to_make_one(harness: DiscordHarness) -> None:
    listed = await harness.slash("api-token list", member=await organizer(harness))
    assert "no API tokens" in listed.first.text
