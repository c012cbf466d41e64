"""/open-room through the real CommandTree, its Confirm and Cancel buttons, and the room service
behind them against the fake racetime server over real sockets (SQLite, or PostgreSQL with
RACEDESK_TEST_DB=postgres)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import discord
import discord.ext.test as dpytest
import discord.ext.test.backend as dpytest_backend
import pytest
from sqlmodel import select

from cogs._shared.permissions import actor_of_user
from core.access import Actor
from core.config import RacetimeSettings
from core.events import RacetimeRoomCreatedEvent, RacetimeRoomOpenedEvent, decode_event
from db.models import EventLogEntry
from db.queries.users import get_user_by_discord_id
from db.secrets import SecretBox
from fake_racetime import FakeRacetimeServer
from rehearsal.slash import BotMessage, SlashResult
from tests.plugins.discord_bot import SET_UP_BY, DiscordHarness, running_harness

MODERATORS_ONLY = (
    "Only moderators can do this: members with the Manage Server permission, "
    "the server's moderator role or its organizer role."
)
CATEGORY = "alttpr"
STRANGER = 1_234_567_890_123_456_789  # a player who is not a member here and never linked


@dataclass
class Scene:
    harness: DiscordHarness
    fake: FakeRacetimeServer
    match_id: int
    ada: discord.Member  # linked as RacerOne
    bob: discord.Member  # linked as RacerTwo
    moderator: discord.Member  # has the server's moderator role


@pytest.fixture
async def scene(
    db_url: str, secret_box: SecretBox, fake_racetime: FakeRacetimeServer
) -> AsyncIterator[Scene]:
    """A running alttpr bot allowed here, a tournament, a match of two linked members and
    one unlinked player, and a moderator role held by member 2."""
    racetime = RacetimeSettings(host=fake_racetime.host, scheme="http")
    async with running_harness(db_url, secret_box, racetime) as harness:
        services = harness.services
        guild_id = harness.guild.id
        ada, bob = harness.member(0), harness.member(1)
        users = fake_racetime.seed.users
        await harness.run_alttpr_bot({
            ada: (users["RacerOne"], "RacerOne#1234"), bob: (users["RacerTwo"], "RacerTwo#5678"),
        })
        await services.tournaments.create(
            guild_id, "Winter Cup", category=CATEGORY, actor=harness.set_up,
            default_goal="All dungeons",
        )
        match = await services.matches.schedule(
            guild_id, "Winter Cup", [ada.id, bob.id, STRANGER],
            datetime.now(UTC).replace(microsecond=0) + timedelta(days=1), "Semi-final",
            actor=harness.set_up,
        )
        role = dpytest_backend.make_role("Race mods", harness.guild)
        await dpytest.add_role(harness.member(2), role)
        await harness.set_roles(moderator=role)
        moderator = harness.guild.get_member(harness.member(2).id)
        assert moderator is not None
        yield Scene(harness, fake_racetime, match.id, ada, bob, moderator)


def rooms_on_fake(scene: Scene) -> list[str]:
    return [r.slug for r in scene.fake.races.values() if r.category.slug == CATEGORY]


async def logged_openings(scene: Scene) -> list[RacetimeRoomOpenedEvent]:
    async with scene.harness.services.sessionmaker() as session:
        rows = await session.execute(
            select(EventLogEntry).where(EventLogEntry.kind == RacetimeRoomOpenedEvent.__name__)
        )
        events = [decode_event(row.kind, row.payload) for row in rows.scalars()]
    return [e for e in events if isinstance(e, RacetimeRoomOpenedEvent)]


async def user_id_of(scene: Scene, member: discord.abc.User) -> int:
    async with scene.harness.services.sessionmaker() as session:
        user = await get_user_by_discord_id(session, member.id)
    assert user is not None and user.id is not None
    return user.id


async def preview(
    scene: Scene, member: discord.Member | None = None, match: str | None = None
) -> SlashResult:
    return await scene.harness.slash(
        "open-room", member=member or scene.moderator, match=match or str(scene.match_id)
    )


def buttons(message: BotMessage) -> dict[str, bool]:
    """Label -> disabled, for the buttons under a message."""
    return {c["label"]: bool(c.get("disabled")) for c in message.buttons}


def final(result: SlashResult) -> BotMessage:
    """What a pressed Confirm finally shows: the preview edited in place, then edited again."""
    assert [m.kind for m in result.messages] == ["update", "edit"], result.messages
    return result.messages[-1]


# -- who may ------------------------------------------------------------------------------------


async def test_a_player_is_refused_and_nothing_is_opened(scene: Scene) -> None:
    refused = await preview(scene, member=scene.ada)
    assert refused.first.ephemeral
    assert refused.first.content == MODERATORS_ONLY
    assert refused.first.components == []
    assert rooms_on_fake(scene) == []


async def test_the_moderator_role_and_manage_server_may_preview(scene: Scene) -> None:
    by_role = await preview(scene)
    assert by_role.first.ephemeral
    assert by_role.first.embeds[0].title == f"Open the room of match #{scene.match_id}?"
    admin = await scene.harness.member_with_permissions(1, manage_guild=True)
    by_admin = await preview(scene, member=admin)
    assert by_admin.first.embeds[0].title == f"Open the room of match #{scene.match_id}?"
    assert buttons(by_admin.first) == {"Confirm": False, "Cancel": False}


async def test_the_organizer_role_may_open_rooms_too(scene: Scene) -> None:
    harness = scene.harness
    role = dpytest_backend.make_role("Organizers", harness.guild)
    await dpytest.add_role(scene.bob, role)
    await harness.set_roles(organizer=role)
    organizer = harness.guild.get_member(scene.bob.id)
    assert organizer is not None
    shown = await preview(scene, member=organizer)
    assert shown.first.embeds[0].title == f"Open the room of match #{scene.match_id}?"


# -- the preview ---------------------------------------------------------------------------------


async def test_the_preview_shows_the_room_and_who_is_and_is_not_invited(scene: Scene) -> None:
    shown = (await preview(scene)).first
    embed = shown.embeds[0]
    fields = {f.name: f.value for f in embed.fields}
    assert "**Semi-final** · Winter Cup" in (embed.description or "")
    assert ":F> (<t:" in (embed.description or "")
    assert fields["Goal"] == "All dungeons"
    assert "Invitational: on" in fields["Room settings"]
    assert "Streaming required: on" in fields["Room settings"]
    assert "Start delay: 15 s" in fields["Room settings"]
    assert fields["Invited (2)"] == (
        f"<@{scene.ada.id}> as `RacerOne#1234`\n<@{scene.bob.id}> as `RacerTwo#5678`"
    )
    unlinked = fields["Not linked, not invited (1)"]
    assert f"<@{STRANGER}>" in unlinked and "`/link-racetime`" in unlinked
    assert "⚠️ Warning" not in fields
    assert buttons(shown) == {"Confirm": False, "Cancel": False}
    assert rooms_on_fake(scene) == [], "a preview opens nothing"


async def test_autocomplete_offers_only_matches_without_a_room(scene: Scene) -> None:
    harness = scene.harness
    choices = await harness.autocomplete("open-room", "match", "", member=scene.moderator)
    assert [c.value for c in choices] == [str(scene.match_id)]
    await harness.services.open_room.open(
        harness.guild.id, scene.match_id, actor=actor_of_user(scene.moderator)
    )
    assert await harness.autocomplete("open-room", "match", "", member=scene.moderator) == []


async def test_a_match_of_an_archived_tournament_is_neither_offered_nor_opened(
    scene: Scene,
) -> None:
    harness = scene.harness
    await harness.services.tournaments.archive(harness.guild.id, "Winter Cup", actor=harness.set_up)
    assert await harness.autocomplete("open-room", "match", "", member=scene.moderator) == []
    refused = await preview(scene)
    assert refused.first.ephemeral
    assert refused.first.content.startswith(
        "**Winter Cup** is archived, so its matches get no room."
    )
    assert refused.first.components == []
    assert rooms_on_fake(scene) == []


# -- confirm and cancel ----------------------------------------------------------------------------


async def test_confirm_opens_one_room_with_the_moderators_user_id(scene: Scene) -> None:
    shown = (await preview(scene)).first
    pressed = await scene.harness.press(shown, "Confirm", member=scene.moderator)
    [slug] = rooms_on_fake(scene)
    url = f"{scene.fake.base_url}/{CATEGORY}/{slug}"
    answer = final(pressed)
    assert answer.content is not None
    assert answer.content.startswith(f"✅ Opened the room of match #{scene.match_id}: {url}")
    assert "Invited on racetime.gg: 2 player(s)." in answer.content
    assert f"<@{STRANGER}>" in answer.content
    assert answer.embeds == [] and answer.components == []

    [opened] = await logged_openings(scene)
    assert opened.user_id == await user_id_of(scene, scene.moderator)
    assert (opened.match_id, opened.room_slug, opened.room_url) == (scene.match_id, slug, url)
    services = scene.harness.services
    async with services.sessionmaker() as session:
        created = await session.execute(
            select(EventLogEntry).where(
                EventLogEntry.kind == RacetimeRoomCreatedEvent.__name__
            )
        )
        assert created.first() is None, "a moderator's room is not the scheduler's"
    [audited] = await services.audit.entries("match.open_room")
    assert audited.actor_user_id == opened.user_id and audited.guild_id == scene.harness.guild.id
    assert audited.details == {"match_id": scene.match_id, "room": f"{CATEGORY}/{slug}"}
    await services.dispatcher.drain()

    again = await scene.harness.press(shown, "Confirm", member=scene.moderator)
    assert again.messages == [], "a pressed preview answers nothing more, as on Discord"
    assert len(rooms_on_fake(scene)) == 1


async def test_a_second_moderator_confirming_gets_the_existing_room(scene: Scene) -> None:
    admin = await scene.harness.member_with_permissions(1, manage_guild=True)
    first = (await preview(scene)).first
    second = (await preview(scene, member=admin)).first
    opened = final(await scene.harness.press(first, "Confirm", member=scene.moderator))
    late = final(await scene.harness.press(second, "Confirm", member=admin))
    [slug] = rooms_on_fake(scene)
    url = f"{scene.fake.base_url}/{CATEGORY}/{slug}"
    assert opened.content is not None and url in opened.content
    assert late.content == (
        f"Match #{scene.match_id} already has a room, so nothing new was opened: {url}"
    )
    assert len(await logged_openings(scene)) == 1
    assert len(await scene.harness.services.audit.entries("match.open_room")) == 1

    shown = (await preview(scene, member=admin)).first
    fields = {f.name: f.value for f in shown.embeds[0].fields}
    assert fields["⚠️ Warning"] == f"This match already has a room: {url}"
    assert buttons(shown) == {"Confirm": True, "Cancel": False}
    await scene.harness.services.dispatcher.drain()


async def test_two_moderators_confirming_at_once_get_one_room(scene: Scene) -> None:
    admin = await scene.harness.member_with_permissions(1, manage_guild=True)
    first = (await preview(scene)).first
    second = (await preview(scene, member=admin)).first
    answers = await asyncio.gather(
        scene.harness.press(first, "Confirm", member=scene.moderator),
        scene.harness.press(second, "Confirm", member=admin),
    )
    [slug] = rooms_on_fake(scene)
    texts = sorted(final(a).content or "" for a in answers)
    assert sum(t.startswith("✅ Opened the room") for t in texts) == 1, texts
    loser = next(t for t in texts if not t.startswith("✅"))
    assert loser.startswith((f"Match #{scene.match_id} already has a room",
                             f"Match #{scene.match_id}'s room is being opened right now"))
    assert len(await logged_openings(scene)) == 1
    assert slug
    await scene.harness.services.dispatcher.drain()


async def test_cancel_opens_nothing(scene: Scene) -> None:
    shown = (await preview(scene)).first
    [cancelled] = (await scene.harness.press(shown, "Cancel", member=scene.moderator)).messages
    assert cancelled.kind == "update"
    assert cancelled.content is not None and cancelled.content.startswith("Nothing opened")
    assert cancelled.embeds == [] and cancelled.components == []
    assert rooms_on_fake(scene) == []
    assert await logged_openings(scene) == []
    late = await scene.harness.press(shown, "Confirm", member=scene.moderator)
    assert late.messages == []
    assert rooms_on_fake(scene) == []


async def test_someone_else_cannot_press_the_buttons(scene: Scene) -> None:
    admin = await scene.harness.member_with_permissions(1, manage_guild=True)
    shown = (await preview(scene)).first
    for label, member in (("Confirm", scene.ada), ("Cancel", admin)):
        [refused] = (await scene.harness.press(shown, label, member=member)).messages
        assert refused.kind == "response" and refused.ephemeral
        assert refused.content == (
            f"This preview is {scene.moderator.display_name}'s. Moderators can run "
            "`/open-room` themselves."
        )
    assert rooms_on_fake(scene) == []
    still = await scene.harness.press(shown, "Cancel", member=scene.moderator)
    assert (still.first.content or "").startswith("Nothing opened")


# -- bad matches ---------------------------------------------------------------------------------


async def test_an_unknown_or_another_servers_match_gets_a_clear_message(scene: Scene) -> None:
    services = scene.harness.services
    there = Actor.server_admin(SET_UP_BY, 987654321987654321)
    await services.tournaments.allow_bot(987654321987654321, CATEGORY, actor=there)
    other = await services.tournaments.create(
        987654321987654321, "Other Cup", category=CATEGORY, actor=there
    )
    assert other.name == "Other Cup"
    elsewhere = await services.matches.schedule(
        987654321987654321, "Other Cup", [scene.ada.id, scene.bob.id],
        datetime.now(UTC).replace(microsecond=0) + timedelta(days=1), "Their final",
        actor=there,
    )
    for match_id in (elsewhere.id, 999_999):
        refused = await preview(scene, match=str(match_id))
        assert refused.first.ephemeral and refused.first.components == []
        assert refused.first.content == (
            f"There is no match #{match_id} in this server. Pick one from the suggestions; "
            "`/match list` shows the upcoming ones."
        )
    choices = await scene.harness.autocomplete("open-room", "match", "", member=scene.moderator)
    assert [c.value for c in choices] == [str(scene.match_id)]
    nonsense = await preview(scene, match="the final")
    assert "`the final` is not a match" in (nonsense.first.content or "")
    assert rooms_on_fake(scene) == []


async def test_a_cancelled_match_is_refused_with_its_message(scene: Scene) -> None:
    harness = scene.harness
    expected = (
        f"Match #{scene.match_id} is cancelled, so it gets no room. Schedule a new match with "
        "`/match schedule` if it is to be played after all."
    )
    shown = (await preview(scene)).first  # before the cancellation
    await harness.services.matches.cancel(
        harness.guild.id, scene.match_id, "Venue lost", actor=harness.set_up
    )
    assert final(await harness.press(shown, "Confirm", member=scene.moderator)).content == (
        expected
    )
    after = (await preview(scene)).first
    fields = {f.name: f.value for f in after.embeds[0].fields}
    assert fields["⚠️ Warning"] == expected
    assert buttons(after) == {"Confirm": True, "Cancel": False}
    assert rooms_on_fake(scene) == []
    assert await harness.autocomplete("open-room", "match", "", member=scene.moderator) == []


# -- when opening fails --------------------------------------------------------------------------


async def test_a_refused_opening_says_why_and_confirm_tries_again(scene: Scene) -> None:
    harness = scene.harness
    scene.fake.fail_next(1, status=422, path_prefix=f"/o/{CATEGORY}/startrace")
    shown = (await preview(scene)).first
    failed = final(await harness.press(shown, "Confirm", member=scene.moderator)).content or ""
    assert failed.startswith(f"❌ Could not open the room of match #{scene.match_id}: ")
    assert failed.endswith(
        "Check the category's bot with `/racetime status`, then try `/open-room` again."
    )
    assert rooms_on_fake(scene) == []

    choices = await harness.autocomplete("open-room", "match", "", member=scene.moderator)
    assert [c.value for c in choices] == [str(scene.match_id)], "a failed opening may be retried"
    again = (await preview(scene)).first
    fields = {f.name: f.value for f in again.embeds[0].fields}
    assert fields["⚠️ Warning"].startswith("Opening this match's room failed: ")
    assert fields["⚠️ Warning"].endswith("Confirm tries again.")
    assert buttons(again) == {"Confirm": False, "Cancel": False}
    opened = final(await harness.press(again, "Confirm", member=scene.moderator)).content or ""
    [slug] = rooms_on_fake(scene)
    assert opened.startswith(f"✅ Opened the room of match #{scene.match_id}: ")
    assert slug in opened
    assert len(await logged_openings(scene)) == 1
    await harness.services.dispatcher.drain()


async def test_without_a_running_bot_confirm_says_what_to_do(scene: Scene) -> None:
    harness = scene.harness
    shown = (await preview(scene)).first
    await harness.services.racetime_engine.stop_bot(CATEGORY)
    answer = final(await harness.press(shown, "Confirm", member=scene.moderator)).content
    assert answer == (
        f"No racetime bot is running for category '{CATEGORY}'. "
        "See /racetime status; a bot owner can add one with /racetime bot add."
    )
    assert rooms_on_fake(scene) == []
    assert await logged_openings(scene) == []
