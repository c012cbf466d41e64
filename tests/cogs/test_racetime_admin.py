"""/racetime through the real CommandTree, with the engine pointed at the fake racetime.

Credentials go through the modal as Discord would send them (a modal-submit interaction into
discord.py's view store); alerts are delivered by the real sender into the simulated server.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import discord
import pytest
from sqlmodel import col, select

from bot import build_services
from cogs._shared.racetime_bots.embeds import status_embed
from cogs._shared.tree import APOLOGY
from core.config import RacetimeSettings
from core.container import Services
from core.errors import UserFacingError
from core.events import RacetimeRaceStatusChangedEvent
from core.identity import SYSTEM_USER_ID
from core.leadership import LeadershipStatus, Role
from core.lifecycle import Lifecycle
from core.racetime_bots.admin import RacetimeOverview, category_errors_as_user_facing
from db.models import (
    BotStatus,
    RacetimeAlert,
    RacetimeBot,
    RacetimeBotGuild,
    RacetimeBotStatusHistory,
)
from db.queries.users import get_user_by_discord_id
from db.secrets import SecretBox
from fake_racetime import FakeRacetimeServer
from racetime.manager import UnknownCategoryError
from rehearsal.slash import SlashResult
from tests.plugins.discord_bot import DiscordHarness, running_harness
from tests.plugins.fake_racetime import (
    ALTTPR_CLIENT_ID,
    ALTTPR_CLIENT_SECRET,
    SMZ3_CLIENT_ID,
    SMZ3_CLIENT_SECRET,
)
from tests.plugins.faults import DatabaseFaults
from tests.plugins.racetime_engine import FAST, FAST_RETRY, eventually

NOT_ALLOWED = (
    "Only server admins (members with the Manage Server permission) and the bot's owners "
    "can do this."
)
OWNERS_ONLY = "Only the bot's owners can manage racetime bots."
ORGANIZERS_ONLY = (
    "Only organizers can do this: members with the Manage Server permission "
    "or the server's organizer role."
)
WRONG_SECRET = "alttpr-mistyped-secret-789"
REFUSED = "racetime.gg refused the bot credentials (token): invalid_client."


@pytest.fixture
def owner(harness: DiscordHarness) -> discord.Member:
    """Member 2, one of the bot's owners."""
    member = harness.member(2)
    harness.make_owner(member)
    return member


@pytest.fixture
async def harness(
    db_url: str, secret_box: SecretBox, fake_racetime: FakeRacetimeServer
) -> AsyncIterator[DiscordHarness]:
    racetime = RacetimeSettings(host=fake_racetime.host, scheme="http")
    async with running_harness(db_url, secret_box, racetime, bot_timings=FAST) as harness:
        yield harness


def answer(result: SlashResult) -> str:
    """What a deferred command finally said: its follow-up, after the ephemeral "thinking"."""
    assert [m.kind for m in result.messages] == ["defer", "followup"], result.messages
    assert all(m.ephemeral for m in result.messages)
    return result.messages[-1].text


async def bots(harness: DiscordHarness) -> list[RacetimeBot]:
    async with harness.services.sessionmaker() as session:
        return list((await session.execute(select(RacetimeBot))).scalars())


async def add_bot(
    harness: DiscordHarness,
    owner: discord.Member,
    category: str = "alttpr",
    client_id: str = ALTTPR_CLIENT_ID,
    client_secret: str = ALTTPR_CLIENT_SECRET,
    **options: str,
) -> str:
    """``/racetime bot add``, then the credentials through its modal; the final answer."""
    opened = await harness.slash(
        "racetime bot add", member=owner, options={"category": category, **options}
    )
    return await fill_in(harness, owner, opened, client_id, client_secret)


async def edit_bot(
    harness: DiscordHarness, owner: discord.Member, client_id: str, client_secret: str
) -> str:
    opened = await harness.slash("racetime bot edit", member=owner, category="alttpr")
    return await fill_in(harness, owner, opened, client_id, client_secret)


async def fill_in(
    harness: DiscordHarness,
    owner: discord.Member,
    opened: SlashResult,
    client_id: str,
    client_secret: str,
) -> str:
    """The owner fills in the credentials form a command opened; RaceDesk's final answer."""
    [modal] = opened.messages
    assert modal.kind == "modal" and list(modal.fields) == ["Client ID", "Client secret"]
    submitted = await harness.submit_modal(
        opened, {"Client ID": client_id, "Client secret": client_secret}, member=owner
    )
    return answer(submitted)


async def alerts_sent(harness: DiscordHarness) -> list[discord.Message]:
    """Every status change delivered to the listeners and every queued alert sent; the
    channel posts and DMs RaceDesk sent since the last look."""
    await harness.services.dispatcher.drain()

    async def unsent() -> int:
        async with harness.services.sessionmaker() as session:
            rows = await session.execute(
                select(RacetimeAlert.id).where(col(RacetimeAlert.sent_at).is_(None))
            )
            return len(rows.all())

    async with asyncio.timeout(5):
        while await unsent():  # noqa: ASYNC110 - sent by the alerts' own task
            await asyncio.sleep(0.01)
    return harness.sim.sent()


def titled(messages: list[discord.Message], title: str) -> list[discord.Message]:
    return [m for m in messages if m.embeds and m.embeds[0].title == title]


async def alerts_channel(harness: DiscordHarness, admin: discord.Member) -> discord.TextChannel:
    channel = harness.sim.add_text_channel("racedesk-admin")
    result = await harness.slash("racetime alerts channel", member=admin, channel=channel)
    assert "now go to #racedesk-admin" in result.text
    return channel


# -- permissions ------------------------------------------------------------------------------


async def test_each_command_checks_its_audience(harness: DiscordHarness) -> None:
    member = harness.member(1)
    admin = await harness.member_with_permissions(0, manage_guild=True)
    for command, options in [
        ("racetime bot add", {"category": "alttpr"}),
        ("racetime bot edit", {"category": "alttpr"}),
        ("racetime bot remove", {"category": "alttpr"}),
        ("racetime bot start", {"category": "alttpr"}),
        ("racetime bot stop", {"category": "alttpr"}),
        ("racetime bot restart", {"category": "alttpr"}),
        ("racetime bot assign", {"category": "alttpr"}),
        ("racetime bot unassign", {"category": "alttpr"}),
    ]:
        for who in (member, admin):
            refused = await harness.slash(command, member=who, **options)
            assert [m.kind for m in refused.messages] == ["response"], command
            assert refused.first.ephemeral and refused.first.content == OWNERS_ONLY, command
    for command in ("racetime status", "racetime alerts channel"):
        refused = await harness.slash(command, member=member)
        assert refused.first.ephemeral and refused.first.content == NOT_ALLOWED
    organizers: list[tuple[str, dict[str, str]]] = [
        ("racetime bot list", {}), ("racetime bot history", {"category": "x"})
    ]
    for command, options in organizers:
        refused = await harness.slash(command, member=member, **options)
        assert refused.first.ephemeral and refused.first.content == ORGANIZERS_ONLY
    assert "No racetime bot serves this server" in (
        await harness.slash("racetime status", member=admin)
    ).text
    # The Discord application's owner is no bot owner unless the config names them.
    harness.bot.owner_ids, harness.bot.owner_id = None, member.id
    assert not await harness.bot.is_owner(member)
    refused = await harness.slash("racetime bot add", member=member, category="alttpr")
    assert refused.first.content == OWNERS_ONLY
    assert await bots(harness) == []


async def test_organizers_see_the_bots_of_their_server_and_owners_see_all(
    harness: DiscordHarness, owner: discord.Member
) -> None:
    assert "✅ Added the `alttpr` bot" in await add_bot(harness, owner, name="ALttPR")
    assert "✅ Added the `smz3` bot" in await add_bot(
        harness, owner, "smz3", SMZ3_CLIENT_ID, SMZ3_CLIENT_SECRET
    )
    unassigned = await harness.slash("racetime bot unassign", member=owner, category="smz3")
    assert unassigned.text == "The `smz3` bot no longer serves this server."
    again = await harness.slash("racetime bot unassign", member=owner, category="smz3")
    assert again.text == "The `smz3` bot did not serve this server."
    elsewhere = await harness.slash(
        "racetime bot assign", member=owner, category="smz3", server_id="123456789012345678"
    )
    assert elsewhere.text == "The `smz3` bot now serves server 123456789012345678."

    organizer = await harness.member_with_permissions(0, manage_guild=True)
    seen = await harness.slash("racetime bot list", member=organizer)
    assert [e.title for e in seen.first.embeds] == ["ALttPR (`alttpr`) · Active"]
    [embed] = seen.first.embeds
    assert embed.description == "✅ **Connected**"
    assert embed.colour == discord.Colour.green()
    fields = {f.name: f.value for f in embed.fields}
    assert fields["Last connected"].startswith("<t:") and "Servers" not in fields
    hidden = await harness.slash("racetime bot history", member=organizer, category="smz3")
    assert "There is no `smz3` bot" in hidden.text

    here = await harness.slash("racetime bot list", member=owner)
    assert [e.title for e in here.first.embeds] == ["ALttPR (`alttpr`) · Active"]
    refused = await harness.slash("racetime bot list", member=organizer, every_server=True)
    assert refused.first.content == (
        "Only the bot's owners can see every server's racetime bots and rooms."
    )
    everything = await harness.slash("racetime bot list", member=owner, every_server=True)
    titles = [e.title for e in everything.first.embeds]
    assert titles == ["ALttPR (`alttpr`) · Active", "smz3 (`smz3`) · Active"]
    assert {f.name: f.value for f in everything.first.embeds[1].fields}["Servers"] == "1"
    history = await harness.slash("racetime bot history", member=owner, category="smz3")
    assert "❔ → ✅ **Connected**" in history.text
    async with harness.services.sessionmaker() as session:
        rows = await session.execute(select(RacetimeBotGuild.guild_id))
        assert sorted(rows.scalars()) == sorted([harness.guild.id, 123456789012345678])


# -- credentials ------------------------------------------------------------------------------


async def test_an_owner_adds_a_bot_through_the_modal_and_the_secret_is_never_shown(
    harness: DiscordHarness, owner: discord.Member, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    opened = await harness.slash(
        "racetime bot add", member=owner,
        options={"category": "ALTTPR", "name": "ALttPR Randomizer"},
    )
    assert [m.kind for m in opened.messages] == ["modal"]
    assert opened.first.content == "racetime bot alttpr: credentials"
    # Somebody else cannot submit the owner's form.
    intruder = await harness.submit_modal(
        opened, {"Client ID": "x", "Client secret": "y"}, member=harness.member(1)
    )
    assert intruder.messages == []
    submitted = await harness.submit_modal(
        opened,
        {"Client ID": ALTTPR_CLIENT_ID, "Client secret": ALTTPR_CLIENT_SECRET},
        member=owner,
    )
    assert answer(submitted) == "✅ Added the `alttpr` bot: it is connected to racetime.gg."
    [row] = await bots(harness)
    assert row.category == "alttpr" and row.display_name == "ALttPR Randomizer"
    assert row.status == BotStatus.CONNECTED
    assert ALTTPR_CLIENT_SECRET.encode() not in row.client_secret_encrypted

    # No form to fill in for nothing: a second bot for the category is refused first.
    again = await harness.slash("racetime bot add", member=owner, category="alttpr")
    assert [m.kind for m in again.messages] == ["response"]
    assert again.text == (
        "A bot for `alttpr` already exists; `/racetime bot list` shows it, "
        "`/racetime bot edit` changes its credentials."
    )
    missing = await harness.slash("racetime bot edit", member=owner, category="smw")
    assert [m.kind for m in missing.messages] == ["response"]
    assert "There is no `smw` bot" in missing.text
    listed = await harness.slash("racetime bot list", member=owner)
    status = await harness.slash("racetime status", member=owner)
    messages = [opened, submitted, again, listed, status]
    await harness.services.dispatcher.drain()
    audit = await harness.services.audit.entries("racetime_bot.")
    assert all(ALTTPR_CLIENT_SECRET not in result.text for result in messages)
    assert all(ALTTPR_CLIENT_SECRET not in str(entry.details) for entry in audit)
    assert all(
        ALTTPR_CLIENT_SECRET not in f"{m.content} {[e.to_dict() for e in m.embeds]}"
        for m in harness.sim.sent()
    )
    assert ALTTPR_CLIENT_SECRET not in caplog.text
    assert ALTTPR_CLIENT_ID in str(audit[0].details), "the client id is audited, the secret not"
    async with harness.services.sessionmaker() as session:
        owner_user = await get_user_by_discord_id(session, owner.id)
    assert owner_user is not None
    added = (await harness.services.audit.entries("racetime_bot.added"))[0]
    assert added.actor_user_id == owner_user.id and added.guild_id == harness.guild.id


async def test_a_failure_after_the_form_is_an_apology_and_a_log_without_the_secret(
    harness: DiscordHarness, owner: discord.Member, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    faults = DatabaseFaults(harness.services.engine)
    try:
        faults.fail(r"INSERT INTO racetime_bots")
        opened = await harness.slash("racetime bot add", member=owner, category="alttpr")
        failed = await harness.submit_modal(
            opened,
            {"Client ID": ALTTPR_CLIENT_ID, "Client secret": ALTTPR_CLIENT_SECRET},
            member=owner,
        )
    finally:
        faults.close()
    assert answer(failed) == APOLOGY
    [logged] = [r for r in caplog.records if r.getMessage().startswith("Command /? failed")]
    assert logged.exc_info is not None and "OperationalError" in caplog.text
    assert ALTTPR_CLIENT_SECRET not in caplog.text
    assert await bots(harness) == []


async def test_wrong_credentials_show_auth_failed_with_racetimes_reason_until_edited(
    harness: DiscordHarness, owner: discord.Member, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    admin = await harness.member_with_permissions(0, manage_guild=True)
    channel = await alerts_channel(harness, admin)

    added = await add_bot(harness, owner, client_secret=WRONG_SECRET)
    assert added == (
        f"🔑 Added the `alttpr` bot, but racetime.gg refused its credentials: {REFUSED} "
        "Check them on racetime.gg and give them again with "
        "`/racetime bot edit category:alttpr`."
    )
    listed = (await harness.slash("racetime bot list", member=admin)).first.embeds[0]
    assert listed.description == f"🔑 **Auth failed**: {REFUSED}"
    assert listed.colour == discord.Colour.red()
    assert {f.name: f.value for f in listed.fields}["Last connected"] == "never"
    [alert] = titled(await alerts_sent(harness), "racetime alert")
    assert alert.channel.id == channel.id
    assert alert.embeds[0].description == (
        "🔑 The racetime bot **alttpr** (`alttpr`) is not working: **Auth failed**: "
        f"{REFUSED} A bot owner can give it new credentials with `/racetime bot edit`."
    )

    fixed = await edit_bot(harness, owner, ALTTPR_CLIENT_ID, ALTTPR_CLIENT_SECRET)
    assert fixed == (
        "✅ Updated the credentials of the `alttpr` bot: it is connected to racetime.gg."
    )
    sent = await alerts_sent(harness)
    assert titled(sent, "racetime alert") == []
    [recovered] = titled(sent, "racetime recovered")
    assert recovered.channel.id == channel.id
    assert "is connected again" in (recovered.embeds[0].description or "")
    history = await harness.slash("racetime bot history", member=admin, category="alttpr")
    text = history.text
    assert text.index("☁️ → ✅ **Connected**") < text.index("🔑 → ☁️ **Disconnected**")
    assert f"❔ → 🔑 **Auth failed**: {REFUSED}" in text
    assert WRONG_SECRET not in caplog.text and ALTTPR_CLIENT_SECRET not in caplog.text
    changed = await harness.services.audit.entries("racetime_bot.credentials_changed")
    assert len(changed) == 1 and WRONG_SECRET not in str(changed[0].details)


async def test_an_outage_and_its_recovery_are_one_alert_and_one_recovery_message(
    harness: DiscordHarness, owner: discord.Member, fake_racetime: FakeRacetimeServer
) -> None:
    admin = await harness.member_with_permissions(0, manage_guild=True)
    await alerts_channel(harness, admin)
    await add_bot(harness, owner)
    assert await alerts_sent(harness) == []

    fake_racetime.fail_next(100_000, status=503)
    bot = harness.services.racetime_engine.bot("alttpr")
    await eventually(lambda: bot.status == BotStatus.CONNECTION_ERROR)
    failed_so_far = fake_racetime.request_count("/o/")
    await eventually(lambda: fake_racetime.request_count("/o/") >= failed_so_far + 3)  # retries
    fake_racetime.clear_faults()
    await asyncio.wait_for(bot.wait_healthy(), 5)

    sent = await alerts_sent(harness)
    [alert] = titled(sent, "racetime alert")
    assert "**Connection error**: racetime.gg had a server error" in (
        alert.embeds[0].description or ""
    )
    assert len(titled(sent, "racetime recovered")) == 1 and len(sent) == 2
    status = await harness.slash("racetime status", member=admin)
    assert "✅ Connected: 1" in status.text


async def test_alerts_go_to_the_owners_by_dm_where_no_admin_channel_is_set(
    harness: DiscordHarness, owner: discord.Member
) -> None:
    await add_bot(harness, owner, client_secret=WRONG_SECRET)
    [dm] = titled(await alerts_sent(harness), "racetime alert")
    assert isinstance(dm.channel, discord.DMChannel) and dm.channel.recipient == owner


# -- running ----------------------------------------------------------------------------------


async def test_stop_start_restart_and_remove(
    harness: DiscordHarness, owner: discord.Member
) -> None:
    await add_bot(harness, owner)
    manager = harness.services.racetime_engine

    stopped = await harness.slash("racetime bot stop", member=owner, category="alttpr")
    assert answer(stopped).startswith("Stopped the `alttpr` bot.")
    assert "alttpr" not in manager.bots
    [row] = await bots(harness)
    assert row.status == BotStatus.DISCONNECTED and row.status_message == "Bot stopped manually"
    listed = (
        await harness.slash("racetime bot list", member=owner, every_server=True)
    ).first.embeds[0]
    assert listed.title == "alttpr (`alttpr`) · Inactive"
    assert listed.description == "☁️ **Disconnected**: Bot stopped manually"
    assert listed.colour == discord.Colour.gold()
    again = await harness.slash("racetime bot stop", member=owner, category="alttpr")
    assert "The `alttpr` bot is already stopped" in answer(again)

    started = await harness.slash("racetime bot start", member=owner, category="alttpr")
    assert answer(started) == "✅ Started the `alttpr` bot: it is connected to racetime.gg."
    restarted = await harness.slash("racetime bot restart", member=owner, category="alttpr")
    assert answer(restarted) == "✅ Restarted the `alttpr` bot: it is connected to racetime.gg."
    unknown = await harness.slash("racetime bot start", member=owner, category="smw")
    assert "There is no `smw` bot. A bot owner can add it with `/racetime bot add`" in answer(
        unknown
    )
    # Stopping a bot on purpose is no incident.
    assert titled(await alerts_sent(harness), "racetime alert") == []

    removed = await harness.slash("racetime bot remove", member=owner, category="alttpr")
    assert answer(removed) == "Removed the `alttpr` bot and its credentials."
    assert await bots(harness) == [] and "alttpr" not in manager.bots
    async with harness.services.sessionmaker() as session:
        for table in (RacetimeBotStatusHistory, RacetimeBotGuild):
            assert (await session.execute(select(table))).first() is None, table

    await harness.services.dispatcher.drain()
    actions = [e.action for e in await harness.services.audit.entries("racetime_bot.")]
    assert [a for a in actions if a != "racetime_bot.status_changed"] == [
        "racetime_bot.added",
        "racetime_bot.stopped",
        "racetime_bot.started",
        "racetime_bot.restarted",
        "racetime_bot.removed",
    ]
    health = await harness.services.audit.entries("racetime_bot.status_changed")
    assert health and all(e.actor_user_id == SYSTEM_USER_ID for e in health)


async def test_a_bad_category_gets_a_clear_message(
    harness: DiscordHarness, owner: discord.Member
) -> None:
    result = await harness.slash(
        "racetime bot add", member=owner, category="alttpr/cool-doge-1234"
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


async def test_status_counts_rooms_connected_reconnecting_and_not_handled(
    harness: DiscordHarness, owner: discord.Member, fake_racetime: FakeRacetimeServer
) -> None:
    await add_bot(harness, owner)
    manager = harness.services.racetime_engine
    race = fake_racetime.open_race("alttpr", goal="Beat the game")
    connection = await manager.room(race.name)
    await asyncio.wait_for(connection.wait_connected(), 5)
    # A room the database says is active that no connection handles.
    await harness.services.room_store.record_room("alttpr", "gone-room-0001", opened_by_us=True)
    # Neither room is a match's or a live race's: only the bot owners' every-server view has
    # them (tests/cogs/test_access_scope.py: a server sees its own rooms).
    status = await harness.slash("racetime status", member=owner, every_server=True)
    fields = {f.name: f.value for f in status.first.embeds[0].fields}
    assert fields["Rooms connected"] == "1"
    assert fields["Rooms reconnecting"] == "0"
    assert fields["Rooms not handled"] == "1: `alttpr/gone-room-0001`"
    assert status.first.embeds[0].colour == discord.Colour.red()


# -- restarts and unreadable secrets ----------------------------------------------------------


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


async def test_a_stopped_bot_stays_stopped_after_a_restart_until_started(
    harness: DiscordHarness, owner: discord.Member,
    db_url: str,
    secret_box: SecretBox,
    fake_racetime: FakeRacetimeServer,
) -> None:
    await add_bot(harness, owner)

    stopped = await harness.slash("racetime bot stop", member=owner, category="alttpr")
    assert "It stays stopped, also after a restart" in answer(stopped)
    [row] = await bots(harness)
    assert row.is_active is False
    async with restarted(db_url, secret_box, fake_racetime) as services:
        assert services.racetime_engine.bots == {}, "a stopped bot was started again at start-up"

    started = await harness.slash("racetime bot start", member=owner, category="alttpr")
    assert answer(started).startswith("✅ Started the `alttpr` bot")
    [row] = await bots(harness)
    assert row.is_active is True
    async with restarted(db_url, secret_box, fake_racetime) as services:
        assert list(services.racetime_engine.bots) == ["alttpr"]
        await asyncio.wait_for(services.racetime_engine.bot("alttpr").wait_healthy(), 5)


async def test_a_bot_whose_secret_cannot_be_decrypted_does_not_stop_the_others(
    harness: DiscordHarness, owner: discord.Member,
    db_url: str,
    secret_box: SecretBox,
    fake_racetime: FakeRacetimeServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await add_bot(harness, owner)
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

    with caplog.at_level(logging.ERROR, logger="core.racetime_bots.bots"):
        async with restarted(db_url, secret_box, fake_racetime) as services:
            assert list(services.racetime_engine.bots) == ["alttpr"]
            await asyncio.wait_for(services.racetime_engine.bot("alttpr").wait_healthy(), 5)
    [record] = [r for r in caplog.records if "smz3" in r.getMessage()]
    assert "cannot be decrypted" in record.getMessage() and "rotate-key" in record.getMessage()
    assert SMZ3_CLIENT_SECRET not in caplog.text and other_key not in caplog.text

    listed = (
        await harness.slash("racetime bot list", member=owner, every_server=True)
    ).first.embeds
    notes = {e.title: {f.name: f.value for f in e.fields} for e in listed}
    assert "Credentials" not in notes["alttpr (`alttpr`) · Active"]
    assert (notes["SMZ3 (`smz3`) · Active"]["Credentials"] or "").startswith(
        "🔒 Cannot decrypt its client secret: was the secret key changed?"
    )

    start = await harness.slash("racetime bot start", member=owner, category="smz3")
    assert "The `smz3` bot's client secret cannot be decrypted" in answer(start)
    assert "smz3" not in harness.services.racetime_engine.bots

    # With the old key gone for good, adding the bot again replaces its credentials.
    readded = await add_bot(harness, owner, "smz3", SMZ3_CLIENT_ID, SMZ3_CLIENT_SECRET)
    assert readded.startswith("✅ Added the `smz3` bot")
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
    assert "`smw`" in message and "`/racetime bot add`" in message
    assert "`/racetime bot list`" in message


async def test_status_says_who_leads_only_when_several_processes_share_the_database(
    harness: DiscordHarness,
) -> None:
    admin = await harness.member_with_permissions(0, manage_guild=True)
    alone = await harness.slash("racetime status", member=admin)
    assert "Leader" not in {f.name for f in alone.first.embeds[0].fields}

    # With [ha], the process that answers leads (a standby has no Discord connection).
    leading = status_embed(RacetimeOverview(
        bots=[], events_pending=0, deliveries_parked=0,
        leadership=LeadershipStatus(Role.LEADER, 4, "host-a:1234"),
    ))
    fields = {f.name: f.value for f in leading.fields}
    assert fields["Leader"] == "host-a:1234 (epoch 4); any other process stands by"
