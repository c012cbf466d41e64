"""/racetime through the real CommandTree, with the engine pointed at the fake racetime."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlmodel import select

from core.config import RacetimeSettings
from core.events import RacetimeRaceStatusChangedEvent
from core.identity import SYSTEM_USER_ID
from db.models import BotStatus, RacetimeBot
from db.queries.users import get_user_by_discord_id
from db.secrets import SecretBox
from racetime.fake_server import FakeRacetimeServer
from tests.plugins.discord_bot import DiscordHarness, running_harness
from tests.plugins.fake_racetime import ALTTPR_CLIENT_ID, ALTTPR_CLIENT_SECRET
from tests.plugins.racetime_engine import eventually

NOT_ALLOWED = "You need the Manage Server permission to use this command."


@pytest.fixture
async def harness(
    db_url: str, secret_box: SecretBox, fake_racetime: FakeRacetimeServer
) -> AsyncIterator[DiscordHarness]:
    racetime = RacetimeSettings(host=fake_racetime.host, scheme="http")
    async with running_harness(db_url, secret_box, racetime) as harness:
        yield harness


async def bots(harness: DiscordHarness) -> list[RacetimeBot]:
    async with harness.services.sessionmaker() as session:
        return list((await session.execute(select(RacetimeBot))).scalars())


async def test_members_without_manage_server_are_refused(harness: DiscordHarness) -> None:
    for command in ("racetime status", "racetime stop"):
        options = {"category": "alttpr"} if command.endswith("stop") else {}
        result = await harness.slash(command, member=harness.member(1), **options)
        assert result.first.ephemeral and result.first.content == NOT_ALLOWED


async def test_admins_see_status_but_only_owners_add_bots(harness: DiscordHarness) -> None:
    admin = await harness.member_with_permissions(0, manage_guild=True)
    status = await harness.slash("racetime status", member=admin)
    assert "No racetime bots yet" in status.text
    refused = await harness.slash(
        "racetime add", member=admin, category="alttpr", client_id="x", client_secret="y"
    )
    assert refused.first.content == "Only the bot's owners can manage racetime bots."
    assert await bots(harness) == []


async def test_an_owner_adds_a_bot_that_connects_and_can_be_stopped(
    harness: DiscordHarness,
) -> None:
    owner = harness.member(2)
    harness.make_owner(owner)
    added = await harness.slash(
        "racetime add",
        member=owner,
        category="ALTTPR",
        client_id=ALTTPR_CLIENT_ID,
        client_secret=ALTTPR_CLIENT_SECRET,
        display_name="ALttPR Randomizer",
    )
    assert added.first.ephemeral and "Added the `alttpr` bot" in added.text
    assert ALTTPR_CLIENT_SECRET not in added.text
    [row] = await bots(harness)
    assert row.category == "alttpr" and row.display_name == "ALttPR Randomizer"
    assert ALTTPR_CLIENT_SECRET.encode() not in row.client_secret_encrypted

    manager = harness.services.racetime
    await asyncio.wait_for(manager.bot("alttpr").wait_healthy(), 5)
    status = await harness.slash("racetime status", member=owner)
    assert "ALttPR Randomizer (`alttpr`)" in status.text and "Connected" in status.text
    assert "✅ racetime bots: 1/1 healthy" in (await harness.slash("about")).text

    again = await harness.slash(
        "racetime add", member=owner, category="alttpr", client_id="a", client_secret="b"
    )
    assert "already exists" in again.first.content

    stopped = await harness.slash("racetime stop", member=owner, category="alttpr")
    assert stopped.first.content == "Stopped the `alttpr` bot."
    await eventually(lambda: "alttpr" not in manager.bots)
    [row] = await bots(harness)
    assert row.status == BotStatus.DISCONNECTED and row.status_message == "Bot stopped manually"
    assert "⚠️ racetime bots: 0/1 healthy" in (await harness.slash("about")).text

    missing = await harness.slash("racetime stop", member=owner, category="alttpr")
    assert "No `alttpr` bot is running" in missing.first.content
    restarted = await harness.slash("racetime start", member=owner, category="alttpr")
    assert restarted.first.content == "Started the `alttpr` bot."
    await asyncio.wait_for(manager.bot("alttpr").wait_healthy(), 5)
    unknown = await harness.slash("racetime start", member=owner, category="smw")
    assert "There is no `smw` bot" in unknown.first.content

    audit = harness.services.audit
    await harness.services.dispatcher.drain()
    actions = [(e.action, e.details.get("category")) for e in await audit.entries("racetime_bot.")]
    assert [a for a in actions if a[0] != "racetime_bot.status_changed"] == [
        ("racetime_bot.added", "alttpr"),
        ("racetime_bot.stopped", "alttpr"),
        ("racetime_bot.started", "alttpr"),
    ]
    async with harness.services.sessionmaker() as session:
        owner_user = await get_user_by_discord_id(session, owner.id)
    assert owner_user is not None
    added = (await audit.entries("racetime_bot.added"))[0]
    assert added.actor_user_id == owner_user.id and added.guild_id == harness.guild.id
    assert ALTTPR_CLIENT_SECRET not in str(added.details)
    health = await audit.entries("racetime_bot.status_changed")
    assert health and all(e.actor_user_id == SYSTEM_USER_ID for e in health)
    assert (
        health[0].details["old_status"],
        health[0].details["new_status"],
    ) == ("UNKNOWN", "CONNECTED")


async def test_a_bad_category_gets_a_clear_message(harness: DiscordHarness) -> None:
    owner = harness.member(2)
    harness.make_owner(owner)
    result = await harness.slash(
        "racetime add",
        member=owner,
        category="alttpr/cool-doge-1234",
        client_id="a",
        client_secret="b",
    )
    assert result.first.content == "The category is the slug from its URL, e.g. `alttpr`."


async def test_status_shows_deliveries_parked_after_listener_failures(
    harness: DiscordHarness,
) -> None:
    admin = await harness.member_with_permissions(0, manage_guild=True)
    quiet = await harness.slash("racetime status", member=admin)
    assert "No parked deliveries." in quiet.first.embeds[0].footer.text

    services = harness.services

    async def broken(event: RacetimeRaceStatusChangedEvent) -> None:
        raise RuntimeError("results table is missing")

    services.dispatcher.subscribe(RacetimeRaceStatusChangedEvent, broken)
    await services.dispatcher.emit(
        RacetimeRaceStatusChangedEvent(
            category="alttpr", room_slug="odd-kirby-0001", room_name="alttpr/odd-kirby-0001",
            old_status="open", new_status="pending", racetime_version=3,
        )
    )
    await services.dispatcher.drain()
    status = await harness.slash("racetime status", member=admin)
    footer = status.first.embeds[0].footer.text or ""
    assert "Deliveries parked after repeated listener failures: 1" in footer
