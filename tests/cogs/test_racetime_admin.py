"""/racetime through the real CommandTree, with the engine pointed at the fake racetime."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import discord
import pytest
from sqlmodel import select

from bot import build_services
from core.config import RacetimeSettings
from core.errors import UserFacingError
from core.events import RacetimeRaceStatusChangedEvent
from core.identity import SYSTEM_USER_ID
from core.lifecycle import Lifecycle
from core.services.container import Services
from core.services.racetime_admin import category_errors_as_user_facing
from db.models import BotStatus, RacetimeBot
from db.queries.users import get_user_by_discord_id
from db.secrets import SecretBox
from racetime.fake_server import FakeRacetimeServer
from racetime.manager import UnknownCategoryError
from rehearsal.slash import SlashResult
from tests.plugins.discord_bot import DiscordHarness, running_harness
from tests.plugins.fake_racetime import (
    ALTTPR_CLIENT_ID,
    ALTTPR_CLIENT_SECRET,
    SMZ3_CLIENT_ID,
    SMZ3_CLIENT_SECRET,
)
from tests.plugins.racetime_engine import FAST_RETRY, eventually

NOT_ALLOWED = "You need the Manage Server permission to use this command."
OWNERS_ONLY = "Only the bot's owners can manage racetime bots."


@pytest.fixture
async def harness(
    db_url: str, secret_box: SecretBox, fake_racetime: FakeRacetimeServer
) -> AsyncIterator[DiscordHarness]:
    racetime = RacetimeSettings(host=fake_racetime.host, scheme="http")
    async with running_harness(db_url, secret_box, racetime) as harness:
        yield harness


def answer(result: SlashResult) -> str:
    """What a deferred command finally said: its follow-up, after the ephemeral "thinking"."""
    assert [m.kind for m in result.messages] == ["defer", "followup"], result.messages
    assert all(m.ephemeral for m in result.messages)
    return result.messages[-1].text


async def bots(harness: DiscordHarness) -> list[RacetimeBot]:
    async with harness.services.sessionmaker() as session:
        return list((await session.execute(select(RacetimeBot))).scalars())


async def test_members_without_manage_server_are_refused(harness: DiscordHarness) -> None:
    status = await harness.slash("racetime status", member=harness.member(1))
    assert status.first.ephemeral and status.first.content == NOT_ALLOWED
    stop = await harness.slash("racetime stop", member=harness.member(1), category="alttpr")
    assert stop.first.ephemeral and stop.first.content == OWNERS_ONLY


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
    assert answer(stopped).startswith("Stopped the `alttpr` bot.")
    await eventually(lambda: "alttpr" not in manager.bots)
    [row] = await bots(harness)
    assert row.status == BotStatus.DISCONNECTED and row.status_message == "Bot stopped manually"
    assert "Stopped by an owner" in (await harness.slash("racetime status", member=owner)).text
    assert "✅ racetime bots: 1 stopped by an owner" in (await harness.slash("about")).text

    again_stopped = await harness.slash("racetime stop", member=owner, category="alttpr")
    assert "The `alttpr` bot is already stopped" in again_stopped.text
    restarted = await harness.slash("racetime start", member=owner, category="alttpr")
    assert answer(restarted).startswith("Started the `alttpr` bot.")
    await asyncio.wait_for(manager.bot("alttpr").wait_healthy(), 5)
    unknown = await harness.slash("racetime start", member=owner, category="smw")
    assert "There is no `smw` bot. Add it with `/racetime add`" in unknown.text

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


@asynccontextmanager
async def restarted(
    db_url: str, secret_box: SecretBox, fake: FakeRacetimeServer
) -> AsyncIterator[Services]:
    """RaceDesk's services started again on the same database, as after a restart."""
    services = build_services(
        database_url=db_url,
        secret_box=secret_box,
        racetime=RacetimeSettings(host=fake.host, scheme="http"),
        listener_retry=FAST_RETRY,
    )
    async with Lifecycle() as lifecycle:
        await services.start(lifecycle)
        yield services


async def add_alttpr(harness: DiscordHarness, owner: discord.Member) -> None:
    added = await harness.slash(
        "racetime add",
        member=owner,
        category="alttpr",
        client_id=ALTTPR_CLIENT_ID,
        client_secret=ALTTPR_CLIENT_SECRET,
    )
    assert "Added the `alttpr` bot" in added.text
    await asyncio.wait_for(harness.services.racetime.bot("alttpr").wait_healthy(), 5)


async def test_a_stopped_bot_stays_stopped_after_a_restart_until_started(
    harness: DiscordHarness,
    db_url: str,
    secret_box: SecretBox,
    fake_racetime: FakeRacetimeServer,
) -> None:
    owner = harness.member(2)
    harness.make_owner(owner)
    await add_alttpr(harness, owner)

    stopped = await harness.slash("racetime stop", member=owner, category="alttpr")
    assert "It stays stopped, also after a restart" in answer(stopped)
    [row] = await bots(harness)
    assert row.is_active is False
    async with restarted(db_url, secret_box, fake_racetime) as services:
        assert services.racetime.bots == {}, "a stopped bot was started again at start-up"
    status = await harness.slash("racetime status", member=owner)
    assert "Running: no" in status.text and "Stopped by an owner" in status.text

    started = await harness.slash("racetime start", member=owner, category="alttpr")
    assert answer(started).startswith("Started the `alttpr` bot.")
    [row] = await bots(harness)
    assert row.is_active is True
    async with restarted(db_url, secret_box, fake_racetime) as services:
        assert list(services.racetime.bots) == ["alttpr"]
        await asyncio.wait_for(services.racetime.bot("alttpr").wait_healthy(), 5)
    status = await harness.slash("racetime status", member=owner)
    assert "Stopped by an owner" not in status.text

    await harness.services.dispatcher.drain()
    actions = [e.action for e in await harness.services.audit.entries("racetime_bot.st")]
    assert actions.count("racetime_bot.stopped") == 1
    assert actions.count("racetime_bot.started") == 1


async def test_stop_and_start_defer_and_answer_errors_in_the_follow_up(
    harness: DiscordHarness,
) -> None:
    owner = harness.member(2)
    harness.make_owner(owner)
    for command in ("racetime stop", "racetime start"):
        missing = await harness.slash(command, member=owner, category="smw")
        assert answer(missing) == (
            "There is no `smw` bot. Add it with `/racetime add`; `/racetime status` lists them."
        )
        # A refusal comes before the work and needs no defer.
        refused = await harness.slash(command, member=harness.member(1), category="smw")
        assert [m.kind for m in refused.messages] == ["response"]
        assert refused.first.ephemeral and refused.first.content == OWNERS_ONLY


async def test_a_bot_whose_secret_cannot_be_decrypted_does_not_stop_the_others(
    harness: DiscordHarness,
    db_url: str,
    secret_box: SecretBox,
    fake_racetime: FakeRacetimeServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    owner = harness.member(2)
    harness.make_owner(owner)
    await add_alttpr(harness, owner)
    other_key = SecretBox.generate_key()
    async with harness.services.sessionmaker.begin() as session:
        session.add(
            RacetimeBot(
                category="smz3",
                display_name="SMZ3",
                client_id=SMZ3_CLIENT_ID,
                client_secret_encrypted=SecretBox(other_key).encrypt(SMZ3_CLIENT_SECRET),
            )
        )

    with caplog.at_level(logging.ERROR, logger="core.services.racetime_bots"):
        async with restarted(db_url, secret_box, fake_racetime) as services:
            assert list(services.racetime.bots) == ["alttpr"]
            await asyncio.wait_for(services.racetime.bot("alttpr").wait_healthy(), 5)
    [record] = [r for r in caplog.records if "smz3" in r.getMessage()]
    assert "cannot be decrypted" in record.getMessage() and "rotate-key" in record.getMessage()
    assert SMZ3_CLIENT_SECRET not in caplog.text and other_key not in caplog.text

    status = (await harness.slash("racetime status", member=owner)).first.embeds[0]
    fields = {field.name: field.value or "" for field in status.fields}
    assert "Cannot decrypt its client secret" not in fields["alttpr (`alttpr`)"]
    assert (
        "Cannot decrypt its client secret: was the secret key changed? "
        "See `python bot.py rotate-key`"
    ) in fields["SMZ3 (`smz3`)"]

    start = await harness.slash("racetime start", member=owner, category="smz3")
    assert "The `smz3` bot's client secret cannot be decrypted" in answer(start)
    assert "smz3" not in harness.services.racetime.bots

    # With the old key gone for good, adding the bot again replaces its credentials.
    readded = await harness.slash(
        "racetime add",
        member=owner,
        category="smz3",
        client_id=SMZ3_CLIENT_ID,
        client_secret=SMZ3_CLIENT_SECRET,
    )
    assert "Added the `smz3` bot" in readded.text
    await asyncio.wait_for(harness.services.racetime.bot("smz3").wait_healthy(), 5)
    status = await harness.slash("racetime status", member=owner)
    assert "Cannot decrypt" not in status.text
    [smz3] = [b for b in await bots(harness) if b.category == "smz3"]
    assert secret_box.decrypt(smz3.client_secret_encrypted) == SMZ3_CLIENT_SECRET
    [audit] = [
        e
        for e in await harness.services.audit.entries("racetime_bot.added")
        if e.details["category"] == "smz3"
    ]
    assert audit.details["replaced_unreadable_secret"] is True


def test_an_unknown_category_from_the_engine_becomes_a_message_an_admin_can_act_on() -> None:
    with pytest.raises(UserFacingError) as caught, category_errors_as_user_facing():
        raise UnknownCategoryError("smw")
    message = caught.value.message
    assert "`smw`" in message and "`/racetime add`" in message and "`/racetime status`" in message
    assert "/racetime bot add" not in message
