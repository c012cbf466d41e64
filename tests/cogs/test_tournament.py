"""/tournament through the real CommandTree: who may use it, what each bad input is told,
the suggestions, and the audit rows behind every change."""

from __future__ import annotations

from collections.abc import AsyncIterator

import discord
import discord.ext.test as dpytest
import discord.ext.test.backend as dpytest_backend
import pytest

from core.access import Actor
from core.tournaments.tournaments import TournamentInfo
from db.models import GuildSettings, RacetimeBot, RacetimeBotGuild
from db.secrets import SecretBox
from tests.plugins.discord_bot import SET_UP_BY, DiscordHarness, running_harness

ORGANIZERS_ONLY = (
    "Only organizers can do this: members with the Manage Server permission "
    "or the server's organizer role."
)


@pytest.fixture
async def harness(db_url: str, secret_box: SecretBox) -> AsyncIterator[DiscordHarness]:
    async with running_harness(db_url, secret_box) as harness:
        async with harness.services.sessionmaker.begin() as session:
            for category in ("alttpr", "smz3"):
                bot = RacetimeBot(
                    category=category, display_name=category, client_id="id",
                    client_secret_encrypted=secret_box.encrypt("secret"),
                )
                session.add(bot)
                await session.flush()
                assert bot.id is not None
                if category == "alttpr":
                    session.add(RacetimeBotGuild(bot_id=bot.id, guild_id=harness.guild.id))
        yield harness


async def listed(harness: DiscordHarness) -> list[TournamentInfo]:
    """The server's active tournaments, as its admin lists them."""
    return await harness.services.tournaments.list_tournaments(
        harness.guild.id, actor=harness.set_up
    )


async def categories(harness: DiscordHarness) -> list[str]:
    """The racetime categories the server's tournaments may use."""
    return await harness.services.tournaments.categories_for(
        harness.guild.id, actor=harness.set_up
    )


async def organizer(harness: DiscordHarness, index: int = 2) -> discord.Member:
    return await harness.member_with_permissions(index, manage_guild=True)


async def create(harness: DiscordHarness, member: discord.Member, name: str = "Winter Cup",
                 **options: object) -> str:
    options.setdefault("category", "alttpr")
    result = await harness.slash(
        "tournament create", member=member, options={"name": name, **options}
    )
    return result.first.content or ""


# -- permissions -------------------------------------------------------------------------------


async def test_a_player_cannot_use_the_organizer_commands(harness: DiscordHarness) -> None:
    player = harness.member(0)
    boss = await organizer(harness)
    await create(harness, boss)
    for name, options in [
        ("tournament create", {"name": "Mine", "category": "alttpr"}),
        ("tournament settings", {"tournament": "Winter Cup", "auto_create_rooms": True}),
        ("tournament info", {"tournament": "Winter Cup"}),
        ("tournament list", {}),
        ("tournament archive", {"tournament": "Winter Cup"}),
    ]:
        refused = await harness.slash(name, member=player, options=options)
        assert refused.first.ephemeral
        assert refused.first.content == ORGANIZERS_ONLY, name
    tournaments = await listed(harness)
    assert [(t.name, t.settings.auto_create_rooms) for t in tournaments] == [("Winter Cup", False)]


async def test_manage_server_and_the_organizer_role_may_create(harness: DiscordHarness) -> None:
    boss = await organizer(harness)
    assert (await create(harness, boss)).startswith("Created **Winter Cup**.")

    member = harness.member(1)
    role = dpytest_backend.make_role("Organizers", harness.guild)
    await harness.slash("tournament roles", member=boss, organizer=role)
    await dpytest.add_role(member, role)
    member = harness.guild.get_member(member.id) or member
    assert (await create(harness, member, "Spring Cup")).startswith("Created **Spring Cup**.")
    names = [t.name for t in await listed(harness)]
    assert names == ["Spring Cup", "Winter Cup"]


async def test_only_manage_server_sets_the_roles_and_it_is_audited(
    harness: DiscordHarness,
) -> None:
    organizers = dpytest_backend.make_role("Organizers", harness.guild)
    moderators = dpytest_backend.make_role("Moderators", harness.guild)
    member = harness.member(1)
    await harness.slash("tournament roles", member=await organizer(harness), organizer=organizers)
    await dpytest.add_role(member, organizers)
    member = harness.guild.get_member(member.id) or member
    refused = await harness.slash("tournament roles", member=member, moderator=moderators)
    assert refused.first.content == (
        "Only server admins can do this: members with the Manage Server permission."
    )

    boss = await organizer(harness)
    shown = await harness.slash("tournament roles", member=boss, moderator=moderators)
    assert shown.first.content == (
        "Updated the server's roles.\n"
        f"**Organizer role:** <@&{organizers.id}> (create and configure tournaments)\n"
        f"**Moderator role:** <@&{moderators.id}> (run matches and open rooms)\n"
        "Members with Manage Server can always do both. Discord shows the organizers' and "
        "moderators' commands only to them until these roles are allowed in Server Settings → "
        "Integrations → RaceDesk."
    )
    assert (await harness.services.access.roles(harness.guild.id)).moderator_role_id == (
        moderators.id
    )
    cleared = await harness.slash("tournament roles", member=boss, clear="moderator")
    assert "**Moderator role:** none" in (cleared.first.content or "")
    both = await harness.slash("tournament roles", member=boss, organizer=organizers,
                               clear="both")
    assert both.first.content == "Either set or clear the organizer role, not both in one command."
    entries = await harness.services.audit.entries("tournament.roles")
    assert [e.details for e in entries] == [
        {"organizer_role_id": str(organizers.id)},  # snowflakes as text in JSON
        {"moderator_role_id": str(moderators.id)},
        {"moderator_role_id": None},
    ]


async def test_only_bot_owners_allow_a_bot(harness: DiscordHarness) -> None:
    boss = await organizer(harness)
    refused = await harness.slash("tournament allow-bot", member=boss, category="smz3")
    assert refused.first.content == "Only the bot's owners can manage racetime bots."
    assert await categories(harness) == ["alttpr"]
    harness.make_owner(boss)
    allowed = await harness.slash("tournament allow-bot", member=boss, category="smz3")
    assert allowed.first.content == (
        f"Tournaments in {harness.guild.name} can now use the `smz3` bot."
    )
    assert "could already use `smz3`" in (
        await harness.slash("tournament allow-bot", member=boss, category="smz3")
    ).text
    unknown = await harness.slash("tournament allow-bot", member=boss, category="zelda")
    assert unknown.first.content == (
        "There is no `zelda` bot. Add it with `/racetime bot add`; `/racetime bot list` lists them."
    )
    assert await categories(harness) == [
        "alttpr", "smz3",
    ]
    assert len(await harness.services.audit.entries("tournament.bot_allowed")) == 1


async def test_the_commands_only_work_in_a_server(harness: DiscordHarness) -> None:
    result = await harness.slash("tournament list", member=harness.member(0), in_dm=True)
    assert result.first.content == "This command only works in a server, not in DMs."


# -- create and its bad inputs -----------------------------------------------------------------


async def test_create_echoes_every_setting_and_is_audited(harness: DiscordHarness) -> None:
    boss = await organizer(harness)
    channel = harness.channel
    result = await harness.slash(
        "tournament create", member=boss, options={"name": "Winter Cup"}, category="alttpr",
        auto_create_rooms=True, room_open_minutes_before=45, default_goal="Beat the game",
        announcement_channel=channel,
    )
    assert result.first.ephemeral
    assert result.first.content == (
        "Created **Winter Cup**. Its settings:\n"
        "**racetime category:** `alttpr`\n"
        "**Auto-create rooms:** on\n"
        "**Rooms open:** 45 minutes before the match\n"
        "**Require racetime link:** off\n"
        "**Default goal:** `Beat the game`\n"
        f"**Announcement channel:** <#{channel.id}>\n"
        "**Results channel:** none\n"
        "**Staff channel:** the announcement channel\n"
        "**Streaming required:** on\n"
        "**Who schedules matches:** organizers only\n"
        "**Reminders:** 30 minutes before the match\n"
        "**Reminder channel:** none\n"
        "**Discord events:** off\n"
        "**Public page:** off\n"
        "Change them with `/tournament settings tournament:Winter Cup`."
    )
    [entry] = await harness.services.audit.entries("tournament.create")
    assert entry.guild_id == harness.guild.id
    assert entry.details["settings"]["room_open_minutes_before"] == 45


@pytest.mark.parametrize("minutes", [10, 121])
async def test_open_minutes_out_of_range_are_refused_with_the_range(
    harness: DiscordHarness, minutes: int
) -> None:
    answer = await create(harness, await organizer(harness), room_open_minutes_before=minutes)
    assert answer == (
        "Rooms can open 30 to 120 minutes before a match (default 60); "
        f"{minutes} is outside that range."
    )
    assert await listed(harness) == []


async def test_a_duplicate_name_is_refused(harness: DiscordHarness) -> None:
    boss = await organizer(harness)
    await create(harness, boss)
    assert await create(harness, boss, "winter cup") == (
        "This server already has a tournament called **winter cup** (names ignore case, and "
        "archived tournaments keep theirs). Choose another name."
    )


async def test_a_bot_not_assigned_to_the_server_is_refused(harness: DiscordHarness) -> None:
    answer = await create(harness, await organizer(harness), category="smz3")
    assert answer == (
        "`smz3` is not a racetime category bot of this server (or it is stopped). "
        "Choose one of: `alttpr`."
    )


# -- settings, info, list, archive -------------------------------------------------------------


async def test_settings_without_options_show_the_settings(harness: DiscordHarness) -> None:
    boss = await organizer(harness)
    await create(harness, boss)
    shown = await harness.slash("tournament settings", member=boss, tournament="Winter Cup")
    embed = shown.first.embeds[0]
    assert embed.title == "🏆 Winter Cup"
    assert "**Rooms open:** 60 minutes before the match" in (embed.description or "")
    assert "**Auto-create rooms:** off" in (embed.description or "")
    assert shown.first.ephemeral


async def test_settings_echo_what_changed_and_are_audited(harness: DiscordHarness) -> None:
    boss = await organizer(harness)
    await create(harness, boss, default_goal="Beat the game")
    changed = await harness.slash(
        "tournament settings", member=boss, tournament="winter cup",
        room_open_minutes_before=90, require_racetime_link=True, results_channel=harness.channel,
    )
    assert changed.first.content == (
        "Updated **Winter Cup**:\n"
        "**Rooms open:** 60 minutes before the match → 90 minutes before the match\n"
        "**Require racetime link:** off → on\n"
        f"**Results channel:** none → <#{harness.channel.id}>"
    )
    cleared = await harness.slash(
        "tournament settings", member=boss, tournament="Winter Cup", clear="default_goal"
    )
    assert cleared.first.content == (
        "Updated **Winter Cup**:\n**Default goal:** `Beat the game` → none"
    )
    same = await harness.slash(
        "tournament settings", member=boss, tournament="Winter Cup", room_open_minutes_before=90
    )
    assert same.first.content == "Nothing changed: **Winter Cup** already had those settings."
    entries = await harness.services.audit.entries("tournament.settings")
    assert [sorted(e.details["changed"]) for e in entries] == [
        ["require_racetime_link", "results_channel_id", "room_open_minutes_before"],
        ["default_goal"],
    ]


async def test_bad_settings_get_their_messages(harness: DiscordHarness) -> None:
    boss = await organizer(harness)
    await create(harness, boss)
    cases = [
        ({"tournament": "Winter Cup", "room_open_minutes_before": 29},
         "Rooms can open 30 to 120 minutes before a match (default 60); "
         "29 is outside that range."),
        ({"tournament": "Winter Cup", "category": "smz3"},
         "`smz3` is not a racetime category bot of this server (or it is stopped). "
         "Choose one of: `alttpr`."),
        ({"tournament": "Winter Cup", "default_goal": "x", "clear": "default_goal"},
         "Either set or clear the default goal, not both in one command."),
        ({"tournament": "Autumn Cup", "auto_create_rooms": True},
         "There is no tournament called `Autumn Cup` in this server. `/tournament list` shows "
         "them; `/tournament create` makes one."),
    ]
    for options, message in cases:
        result = await harness.slash("tournament settings", member=boss, **options)
        assert result.first.content == message
    settings = (await harness.services.tournaments.get(harness.guild.id, "Winter Cup")).settings
    assert settings.room_open_minutes_before == 60 and settings.default_goal is None


async def test_info_list_and_archive(harness: DiscordHarness) -> None:
    boss = await organizer(harness)
    await create(harness, boss, auto_create_rooms=True)
    await create(harness, boss, "Spring Cup")
    listed = await harness.slash("tournament list", member=boss)
    embed = listed.first.embeds[0]
    assert [(f.name, f.value) for f in embed.fields] == [
        ("Spring Cup", "`alttpr` · rooms opened by hand"),
        ("Winter Cup", "`alttpr` · rooms open 60 min before"),
    ]
    archived = await harness.slash("tournament archive", member=boss, tournament="spring cup")
    assert archived.first.content == (
        "Archived **Spring Cup**. It no longer appears in `/tournament list` or the "
        "suggestions; `/tournament info` still shows it."
    )
    listed = await harness.slash("tournament list", member=boss)
    assert [f.name for f in listed.first.embeds[0].fields] == ["Winter Cup"]
    everything = await harness.slash("tournament list", member=boss, archived=True)
    assert [f.name for f in everything.first.embeds[0].fields] == [
        "Winter Cup", "Spring Cup (archived)",
    ]
    info = await harness.slash("tournament info", member=boss, tournament="Spring Cup")
    status = info.first.embeds[0].fields[0]
    assert (status.name, status.value) == ("Status", "archived")
    again = await harness.slash("tournament archive", member=boss, tournament="Spring Cup")
    assert again.first.content == "**Spring Cup** is already archived."
    changed = await harness.slash(
        "tournament settings", member=boss, tournament="Spring Cup", auto_create_rooms=True
    )
    assert changed.first.content == (
        "**Spring Cup** is archived, so it can no longer be changed. "
        "`/tournament info` still shows it."
    )
    missing = await harness.slash("tournament info", member=boss, tournament="Nope")
    assert missing.first.content.startswith("There is no tournament called `Nope`")  # type: ignore[union-attr]
    assert [e.details["name"] for e in await harness.services.audit.entries(
        "tournament.archive"
    )] == ["Spring Cup"]


async def test_an_empty_list_says_how_to_start(harness: DiscordHarness) -> None:
    listed = await harness.slash("tournament list", member=await organizer(harness))
    assert listed.first.embeds[0].description == "None yet. Create one with `/tournament create`."


# -- autocomplete ------------------------------------------------------------------------------


async def test_tournament_names_are_suggested_by_substring_active_only(
    harness: DiscordHarness,
) -> None:
    boss = await organizer(harness)
    for name in ("Winter Cup", "Spring Cup", "Summer League"):
        await create(harness, boss, name)
    await harness.slash("tournament archive", member=boss, tournament="Spring Cup")
    for command in ("tournament settings", "tournament info", "tournament archive"):
        choices = await harness.autocomplete(command, "tournament", "cup", member=boss)
        assert [(c.name, c.value) for c in choices] == [("Winter Cup", "Winter Cup")], command
    everything = await harness.autocomplete("tournament info", "tournament", "", member=boss)
    assert [c.name for c in everything] == ["Summer League", "Winter Cup"]


async def test_another_servers_tournaments_are_not_suggested(harness: DiscordHarness) -> None:
    service = harness.services.tournaments
    other = harness.guild.id + 1
    async with harness.services.sessionmaker.begin() as session:
        session.add(GuildSettings(guild_id=other))
    there = Actor.server_admin(SET_UP_BY, other)
    await service.allow_bot(other, "alttpr", actor=there)
    await service.create(other, "Elsewhere Cup", category="alttpr", actor=there)
    choices = await harness.autocomplete(
        "tournament info", "tournament", "", member=await organizer(harness)
    )
    assert choices == []


async def test_categories_are_suggested_from_the_servers_bots(harness: DiscordHarness) -> None:
    boss = await organizer(harness)
    choices = await harness.autocomplete("tournament create", "category", "", member=boss)
    assert [c.value for c in choices] == ["alttpr"]
    assert await harness.autocomplete("tournament create", "category", "sm", member=boss) == []


async def test_scheduling_reminders_and_discord_events_are_settings(
    harness: DiscordHarness,
) -> None:
    boss = await organizer(harness)
    await create(harness, boss)
    changed = await harness.slash(
        "tournament settings", member=boss, tournament="Winter Cup", scheduling="approval",
        reminder_minutes=15, reminder_channel=harness.channel, discord_events=True,
    )
    assert changed.first.content == (
        "Updated **Winter Cup**:\n"
        "**Who schedules matches:** organizers only → players propose, organizers approve\n"
        "**Reminders:** 30 minutes before the match → 15 minutes before the match\n"
        f"**Reminder channel:** none → <#{harness.channel.id}>\n"
        "**Discord events:** off → on"
    )
    refused = await harness.slash("tournament settings", member=boss, tournament="Winter Cup",
                                  reminder_minutes=2)
    assert refused.first.content == (
        "Reminders come 5 to 1440 minutes before a match (default 30); 2 is outside that range."
    )


async def test_a_public_tournament_shows_organizers_its_page(harness: DiscordHarness) -> None:
    boss = await organizer(harness)
    await create(harness, boss)
    info = await harness.slash("tournament info", member=boss, tournament="Winter Cup")
    assert "**Public page:** off" in (info.first.embeds[0].description or "")
    assert "Public page" not in [f.name for f in info.first.embeds[0].fields]

    changed = await harness.slash(
        "tournament settings", member=boss, tournament="Winter Cup", public=True
    )
    tournament = (await listed(harness))[0]
    page = harness.services.pages.page_url(harness.guild.id, tournament.id)
    assert page.endswith(f"/t/{harness.guild.id}/{tournament.id}")
    assert changed.first.content == (
        "Updated **Winter Cup**:\n**Public page:** off → on\n"
        f"Its page, for anyone: {page}"
    )
    info = await harness.slash("tournament info", member=boss, tournament="Winter Cup")
    fields = {f.name: f.value for f in info.first.embeds[0].fields}
    assert fields["Public page"] == page
    assert await harness.services.pages.page(harness.guild.id, str(tournament.id)) is not None

    hidden = await harness.slash(
        "tournament settings", member=boss, tournament="Winter Cup", public=False
    )
    assert hidden.first.content == "Updated **Winter Cup**:\n**Public page:** on → off"
    assert await harness.services.pages.page(harness.guild.id, str(tournament.id)) is None
