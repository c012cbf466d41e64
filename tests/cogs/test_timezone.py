"""/timezone through the real CommandTree: a player's zone, the server's default, who may set
it, the suggestions, and the zone a typed time is then read in."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import discord
from discord import app_commands

from cogs._shared.time_option import When
from core.times.formatting import local_text, plain_text, weekday_text
from core.times.parsing import accepted_formats, example_time, parse_time, show_time
from core.times.suggestions import upcoming
from tests.clock_messages import clock_read_around
from tests.plugins.discord_bot import DiscordHarness

BERLIN = ZoneInfo("Europe/Berlin")

ORGANIZERS_ONLY = (
    "Only organizers can do this: members with the Manage Server permission "
    "or the server's organizer role."
)


async def organizer(harness: DiscordHarness, index: int = 2) -> discord.Member:
    return await harness.member_with_permissions(index, manage_guild=True)


async def test_a_player_sets_their_zone_and_typed_times_follow_it(
    discord_harness: DiscordHarness,
) -> None:
    harness = discord_harness
    player = harness.member(0)
    async with clock_read_around() as now:
        result = await harness.slash("timezone set", member=player, zone="europe/berlin")
    answer = result.first
    assert answer.ephemeral
    assert answer.content in now.either(
        lambda at: f"Your timezone is now **Europe/Berlin**: it is {local_text(at, BERLIN)} "
        f"there. Times you type as `{plain_text(example_time(at, BERLIN), BERLIN)}` are read "
        "in it, in every server."
    )
    zone = await harness.services.timezones.timezone_for(player.id, harness.guild.id)
    assert zone == BERLIN
    assert parse_time("2026-12-01 19:00", zone, now=now.after) == datetime(
        2026, 12, 1, 18, 0, tzinfo=UTC
    )


async def test_an_unknown_zone_is_refused_with_an_example(discord_harness: DiscordHarness) -> None:
    harness = discord_harness
    result = await harness.slash("timezone set", member=harness.member(0), zone="Mars/Base")
    assert result.first.content == (
        "`Mars/Base` is not a timezone RaceDesk knows. Use an IANA name such as "
        "`Europe/Berlin`, `America/New_York` or `UTC` (the suggestions list them)."
    )
    assert await harness.services.timezones.user_timezone(harness.member(0).id) is None


async def test_show_tells_which_zone_is_used(discord_harness: DiscordHarness) -> None:
    harness = discord_harness
    player = harness.member(0)
    before = await harness.slash("timezone show", member=player)
    assert "Your timezone: not set (`/timezone set` chooses one)" in before.text
    assert "This server's default: **UTC**" in before.text
    assert "Your typed times are read in **UTC**" in before.text

    await harness.slash("timezone server", member=await organizer(harness), zone="Asia/Tokyo")
    server = await harness.slash("timezone show", member=player)
    assert "This server's default: **Asia/Tokyo**" in server.text
    assert "Your typed times are read in **Asia/Tokyo**" in server.text

    await harness.slash("timezone set", member=player, zone="America/Chicago")
    own = await harness.slash("timezone show", member=player)
    assert "Your timezone: **America/Chicago**" in own.text
    assert "Your typed times are read in **America/Chicago**" in own.text


async def test_only_organizers_set_the_server_zone_and_it_is_audited(
    discord_harness: DiscordHarness,
) -> None:
    harness = discord_harness
    refused = await harness.slash("timezone server", member=harness.member(0), zone="Asia/Tokyo")
    assert refused.first.content == ORGANIZERS_ONLY
    assert await harness.services.timezones.server_timezone(harness.guild.id) == "UTC"

    boss = await organizer(harness)
    done = await harness.slash("timezone server", member=boss, zone="asia/tokyo")
    assert (done.first.content or "").startswith(
        f"{harness.guild.name}'s default timezone is now **Asia/Tokyo** (it is "
    )
    bad = await harness.slash("timezone server", member=boss, zone="Tokio")
    assert (bad.first.content or "").startswith("`Tokio` is not a timezone RaceDesk knows.")
    assert await harness.services.timezones.server_timezone(harness.guild.id) == "Asia/Tokyo"
    [entry] = await harness.services.audit.entries("timezone.server")
    assert entry.details == {"old": "UTC", "new": "Asia/Tokyo"}
    assert entry.guild_id == harness.guild.id


async def test_zones_are_suggested_by_substring_at_most_25(
    discord_harness: DiscordHarness,
) -> None:
    harness = discord_harness
    player = harness.member(0)
    berlin = await harness.autocomplete("timezone set", "zone", "berl", member=player)
    assert [(c.name, c.value) for c in berlin] == [("Europe/Berlin", "Europe/Berlin")]
    york = await harness.autocomplete("timezone set", "zone", "york", member=player)
    assert "America/New_York" in [c.value for c in york]
    many = await harness.autocomplete("timezone set", "zone", "america", member=player)
    assert len(many) == 25
    assert all("america" in c.value.lower() for c in many)
    boss = await organizer(harness)
    server = await harness.autocomplete("timezone server", "zone", "tokyo", member=boss)
    assert [c.value for c in server] == ["Asia/Tokyo"]


# -- the When option ---------------------------------------------------------------------------


def add_when_command(harness: DiscordHarness) -> None:
    """A command of this test only, so the option is exercised through the real tree."""

    @app_commands.command(name="when-echo", description="Echo a time")
    @app_commands.describe(when="A time")
    async def when_echo(interaction: discord.Interaction, when: When) -> None:
        await interaction.response.send_message(show_time(when), ephemeral=True)

    harness.bot.tree.add_command(when_echo)


async def test_a_when_option_is_read_in_the_members_zone(
    discord_harness: DiscordHarness,
) -> None:
    harness = discord_harness
    add_when_command(harness)
    player = harness.member(0)
    stamp = int(datetime(2026, 12, 1, 19, 0, tzinfo=UTC).timestamp())
    utc = await harness.slash("when-echo", member=player, when="2026-12-01 19:00")
    assert utc.first.content == f"<t:{stamp}:F> (<t:{stamp}:R>)"
    await harness.slash("timezone set", member=player, zone="Europe/Berlin")
    berlin = await harness.slash("when-echo", member=player, when="2026-12-01 19:00")
    assert berlin.first.content == f"<t:{stamp - 3600}:F> (<t:{stamp - 3600}:R>)"
    stamped = await harness.slash("when-echo", member=player, when=f"<t:{stamp}:R>")
    assert stamped.first.content == f"<t:{stamp}:F> (<t:{stamp}:R>)"


async def test_a_bad_when_option_gets_the_formats(discord_harness: DiscordHarness) -> None:
    harness = discord_harness
    add_when_command(harness)
    async with clock_read_around() as now:
        result = await harness.slash("when-echo", member=harness.member(0), when="next friday")
    assert result.first.ephemeral
    assert result.first.content in now.either(
        lambda at: "`next friday` is not a time RaceDesk can read. "
        + accepted_formats(at, ZoneInfo("UTC"))
    )
    await harness.slash("timezone set", member=harness.member(0), zone="Europe/Paris")
    gap = await harness.slash("when-echo", member=harness.member(0), when="2026-03-29 02:30")
    assert gap.first.content == (
        "`2026-03-29 02:30` does not exist in Europe/Paris: the clocks skip that hour for "
        "daylight saving time. Pick another time, e.g. `2026-03-29 03:30`."
    )


def last_sunday_of_october(year: int) -> date:
    """When Europe's clocks go back (02:00-03:00 happens twice in Berlin)."""
    end = date(year, 10, 31)
    return end - timedelta(days=(end.weekday() + 1) % 7)


async def test_the_when_option_suggests_the_next_evenings_in_the_members_zone(
    discord_harness: DiscordHarness,
) -> None:
    harness = discord_harness
    add_when_command(harness)
    player = harness.member(0)
    await harness.services.timezones.set_user_timezone(player.id, "Europe/Berlin")
    async with clock_read_around() as now:
        choices = await harness.autocomplete("when-echo", "when", "", member=player)
    shown = [(c.name, c.value) for c in choices]
    assert shown in now.either(
        lambda at: [
            (weekday_text(when, BERLIN), when.astimezone(BERLIN).isoformat())
            for when in upcoming(at, BERLIN)
        ]
    )
    assert 7 <= len(shown) <= 8
    assert all(name.endswith(" 19:00 Europe/Berlin") for name, _ in shown)
    # Picking one gives that instant, and its name typed back reads the same.
    name, value = shown[0]
    picked = await harness.slash("when-echo", member=player, when=value)
    typed = await harness.slash("when-echo", member=player, when=name)
    assert picked.first.content == typed.first.content
    assert picked.first.content == show_time(datetime.fromisoformat(value))


async def test_the_when_option_reads_back_what_is_typed(
    discord_harness: DiscordHarness,
) -> None:
    harness = discord_harness
    add_when_command(harness)
    player = harness.member(0)
    await harness.services.timezones.set_user_timezone(player.id, "Europe/Berlin")
    next_year = datetime.now(UTC).year + 1

    async def suggested(typed: str) -> list[tuple[str, str]]:
        choices = await harness.autocomplete("when-echo", "when", typed, member=player)
        return [(c.name, c.value) for c in choices]

    summer = datetime(next_year, 7, 1, 18, tzinfo=UTC)  # 20:00 in Berlin
    assert await suggested(f"{next_year}-07-01 20:00") == [
        (weekday_text(summer, BERLIN), f"{next_year}-07-01T20:00:00+02:00")
    ]
    assert await suggested(f"{next_year}-07-01 20:00 UTC") == [
        (weekday_text(summer + timedelta(hours=2), BERLIN), f"{next_year}-07-01T22:00:00+02:00")
    ]
    assert await suggested("2026-12-01 19:00") == [
        ("Tue 1 Dec 2026 19:00 Europe/Berlin is in the past", "2026-12-01T19:00:00+01:00")
    ]
    autumn = last_sunday_of_october(next_year)
    twice = await suggested(f"{autumn} 02:30")
    day = f"Sun {autumn.day} Oct {next_year} 02:30"
    assert twice == [
        (f"{day} UTC+02:00", f"{autumn}T02:30:00+02:00"),
        (f"{day} UTC+01:00", f"{autumn}T02:30:00+01:00"),
    ]
    for name, value in twice:  # each name, typed back, is that reading
        assert parse_time(name, BERLIN, now=summer) == datetime.fromisoformat(value)
    unread = await suggested("next fri")
    assert unread[0][1] == "next fri"
    assert unread[0][0].startswith("Not a time yet: type e.g. ")
    assert unread[0][0].endswith("(a date and time in Europe/Berlin), or pick one below")
    assert [name for name, _ in unread[1:]] == [name for name, _ in await suggested("")]


async def test_every_when_option_suggests_times(discord_harness: DiscordHarness) -> None:
    harness = discord_harness
    boss = await organizer(harness)
    for command in ("match schedule", "match reschedule", "liverace create"):
        choices = await harness.autocomplete(command, "when", "", member=boss)
        assert choices and all(c.name.endswith(" 19:00 UTC") for c in choices), command
