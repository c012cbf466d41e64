"""Issue 22's findings about who may do what, each as it was found: through the real command
tree, with two simulated servers where it takes two."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import discord
import discord.ext.test as dpytest
import discord.ext.test.backend as dpytest_backend
import pytest
from sqlmodel import select

from cogs._shared.racetime_bots.credentials_modal import CLIENT_ID_LABEL, CLIENT_SECRET_LABEL
from core.access import Actor
from core.config import RacetimeSettings
from core.errors import PermissionDeniedError
from db.models import RacetimeBot
from db.secrets import SecretBox
from fake_racetime import FakeRacetimeServer
from rehearsal.slash import SlashResult
from tests.plugins.discord_bot import SET_UP_BY, DiscordHarness, running_harness
from tests.plugins.fake_racetime import SMZ3_CLIENT_ID, SMZ3_CLIENT_SECRET
from tests.plugins.racetime_engine import FAST, eventually

OWNERS_ONLY = "Only the bot's owners can manage racetime bots."


@dataclass
class TwoServers:
    harness: DiscordHarness
    fake: FakeRacetimeServer
    other: discord.Guild
    their_admin: discord.Member
    match_id: int  # this server's, for a room


@pytest.fixture
async def harness(
    db_url: str, secret_box: SecretBox, fake_racetime: FakeRacetimeServer
) -> AsyncIterator[DiscordHarness]:
    racetime = RacetimeSettings(host=fake_racetime.host, scheme="http")
    async with running_harness(db_url, secret_box, racetime, bot_timings=FAST) as harness:
        yield harness


@pytest.fixture
async def two(harness: DiscordHarness, fake_racetime: FakeRacetimeServer) -> TwoServers:
    """The alttpr bot serves both servers, smz3 only this one; this server has a match."""
    services = harness.services
    users = fake_racetime.seed.users
    await harness.run_alttpr_bot({harness.member(0): (users["RacerOne"], "RacerOne#1234")})
    owner = Actor.user(SET_UP_BY)
    await services.racetime_admin.add_bot(
        category="smz3", client_id=SMZ3_CLIENT_ID, client_secret=SMZ3_CLIENT_SECRET,
        display_name="SMZ3", actor=owner, guild_id=harness.guild.id,
    )
    other = harness.sim.add_server("Other Server", ["TheirAdmin"])
    admins = dpytest_backend.make_role(
        "Admins", other, permissions=discord.Permissions(manage_guild=True).value
    )
    their_admin = next(m for m in other.members if m.name == "TheirAdmin")
    await dpytest.add_role(their_admin, admins)
    await services.racetime_admin.assign("alttpr", other.id, actor=owner)
    await services.tournaments.create(
        harness.guild.id, "Alpha Cup", category="alttpr", actor=harness.set_up
    )
    match = await services.matches.schedule(
        harness.guild.id, "Alpha Cup", [harness.member(0).id, harness.member(1).id],
        datetime.now(UTC).replace(microsecond=0) + timedelta(days=1), "Alpha Final",
        actor=harness.set_up, auto_create=False,
    )
    return TwoServers(harness, fake_racetime, other, other.get_member(their_admin.id)
                      or their_admin, match.id)


# -- one definition of a bot owner -------------------------------------------------------------


async def test_the_discord_applications_owner_is_no_bot_owner(harness: DiscordHarness) -> None:
    """discord.py's ``is_owner`` let the application's owner through /tournament allow-bot
    while the /racetime bot commands went by ``[discord] owner_ids``."""
    member = harness.member(0)
    harness.bot.owner_ids, harness.bot.owner_id = None, member.id  # as discord.py fills it
    refused = await harness.slash("tournament allow-bot", member=member, category="alttpr")
    assert refused.first.content == OWNERS_ONLY
    assert not await harness.bot.is_owner(member)


async def test_an_application_team_never_becomes_the_bot_owners(
    harness: DiscordHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With ``owner_ids`` empty (the default), discord.py's ``is_owner`` filled them with the
    application's team: after one /tournament allow-bot, the whole team passed every
    /racetime bot check and got the owners' alerts."""
    one, two = harness.member(0), harness.member(1)
    team = SimpleNamespace(members=[
        SimpleNamespace(id=member.id, role=discord.TeamMemberRole.admin) for member in (one, two)
    ])
    asked: list[bool] = []

    async def application_info() -> SimpleNamespace:  # Discord's answer, the outermost edge
        asked.append(True)
        return SimpleNamespace(team=team, owner=None)

    monkeypatch.setattr(harness.bot, "application_info", application_info)
    harness.bot.owner_ids = None  # [discord] owner_ids = [] (the default)
    for member in (one, two):
        refused = await harness.slash("tournament allow-bot", member=member, category="alttpr")
        assert refused.first.content == OWNERS_ONLY
    refused = await harness.slash("racetime bot add", member=two, category="smz3")
    assert refused.first.content == OWNERS_ONLY
    assert asked == []
    assert harness.services.access.owner_ids == frozenset()
    assert not harness.bot.owner_ids


# -- autocomplete asks too ---------------------------------------------------------------------


async def test_api_token_names_are_suggested_only_to_those_who_may_list_them(
    harness: DiscordHarness,
) -> None:
    await harness.services.api_tokens.create(
        harness.guild.id, "stream-overlay", actor=harness.set_up
    )
    member = harness.member(0)
    assert await harness.autocomplete("api-token revoke", "name", "", member=member) == []
    organizer = await harness.member_with_permissions(1, manage_guild=True)
    choices = await harness.autocomplete("api-token revoke", "name", "", member=organizer)
    assert [c.name for c in choices] == ["stream-overlay"]
    listed = await harness.slash("api-token list", member=member)
    assert listed.first.content is not None and "stream-overlay" not in listed.text
    with pytest.raises(PermissionDeniedError):
        await harness.services.api_tokens.suggest(
            harness.guild.id, "", actor=Actor.member(member.id, harness.guild.id)
        )


# -- every view is of one server ---------------------------------------------------------------


async def test_racetime_status_shows_this_servers_bots_and_rooms_only(two: TwoServers) -> None:
    harness = two.harness
    admin = await harness.member_with_permissions(2, manage_guild=True)
    opening = await harness.services.open_room.open(
        harness.guild.id, two.match_id, actor=harness.set_up
    )
    assert opening.ok, opening
    room = f"alttpr/{opening.slug}"
    await eventually(lambda: harness.services.racetime_engine.bot("alttpr").rooms.get(opening.slug)
                     is not None)
    two.fake.fail_next(100_000, status=503, path_prefix=f"/ws/o/bot/{opening.slug}")
    await two.fake.drop_sockets(opening.slug or "")
    connection = harness.services.racetime_engine.bot("alttpr").rooms[opening.slug or ""]
    await eventually(lambda: not connection.is_connected)

    ours = await harness.slash("racetime status", member=admin)
    fields = {f.name: f.value for f in ours.first.embeds[0].fields}
    assert fields["Rooms reconnecting"] == f"1: `{room}`"
    assert "Connected: 2" in fields["Bots"]  # alttpr and smz3 serve this server

    theirs = await harness.slash("racetime status", member=two.their_admin)
    fields = {f.name: f.value for f in theirs.first.embeds[0].fields}
    assert "Connected: 1" in fields["Bots"]  # alttpr only: smz3 is not theirs
    assert fields["Rooms reconnecting"] == "0" and room not in theirs.text
    refused = await harness.slash("racetime status", member=two.their_admin, every_server=True)
    assert refused.first.content == (
        "Only the bot's owners can see every server's racetime bots and rooms."
    )

    harness.make_owner(admin)
    everything = await harness.slash("racetime status", member=admin, every_server=True)
    assert everything.first.embeds[0].title == "racetime.gg health: every server"
    assert room in everything.text


async def test_a_shared_bots_rooms_are_counted_for_their_own_server(two: TwoServers) -> None:
    harness = two.harness
    opening = await harness.services.open_room.open(
        harness.guild.id, two.match_id, actor=harness.set_up
    )
    assert opening.ok
    await eventually(lambda: harness.services.racetime_engine.bot("alttpr").rooms.get(opening.slug)
                     is not None)

    def watched(result: SlashResult) -> str:
        [embed] = [e for e in result.first.embeds if "alttpr" in (e.title or "")]
        return {f.name: f.value for f in embed.fields}["Rooms watched"]

    admin = await harness.member_with_permissions(2, manage_guild=True)
    assert watched(await harness.slash("racetime bot list", member=admin)) == "1"
    assert watched(await harness.slash("racetime bot list", member=two.their_admin)) == "0"


# -- buttons and forms ask again when pressed --------------------------------------------------


async def test_confirm_asks_the_policy_again_when_pressed(two: TwoServers) -> None:
    harness = two.harness
    moderators = dpytest_backend.make_role("Moderators", harness.guild)
    moderator = harness.member(2)
    await dpytest.add_role(moderator, moderators)
    await harness.set_roles(moderator=moderators)
    moderator = harness.guild.get_member(moderator.id) or moderator
    preview = await harness.slash("open-room", member=moderator, match=str(two.match_id))
    assert preview.first.embeds, preview.text
    await harness.services.access.set_roles(
        harness.set_up, harness.guild.id, {"moderator_role_id": None}
    )  # no longer a moderator when they press
    pressed = await harness.press(preview.first, "Confirm", member=moderator)
    assert pressed.messages[-1].content == (
        "Only moderators can do this: members with the Manage Server permission, "
        "the server's moderator role or its organizer role."
    )
    assert [r for r in two.fake.races.values() if r.category.slug == "alttpr"] == []


async def test_the_credentials_form_asks_the_policy_again_when_submitted(
    harness: DiscordHarness,
) -> None:
    owner = harness.member(2)
    harness.make_owner(owner)
    form = await harness.slash("racetime bot add", member=owner, category="smz3")
    assert form.first.kind == "modal"
    harness.sim.make_owner()  # the config changed: no longer an owner when they submit
    submitted = await harness.submit_modal(
        form, {CLIENT_ID_LABEL: SMZ3_CLIENT_ID, CLIENT_SECRET_LABEL: SMZ3_CLIENT_SECRET},
        member=owner,
    )
    assert submitted.messages[-1].content == OWNERS_ONLY
    async with harness.services.sessionmaker() as session:
        added = await session.execute(select(RacetimeBot).where(RacetimeBot.category == "smz3"))
        assert added.scalars().all() == []
