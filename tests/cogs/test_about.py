"""The bot boots under dpytest and answers /about through the real CommandTree."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from discord import app_commands

from cogs._shared.database_away import DATABASE_AWAY
from cogs._shared.tree import APOLOGY
from cogs.about import format_uptime
from core.errors import UserFacingError
from tests.plugins.discord_bot import DiscordHarness


async def test_about_answers_with_version_uptime_and_health(
    discord_harness: DiscordHarness,
) -> None:
    result = await discord_harness.slash("about")
    reply = result.first
    assert reply.kind == "response" and reply.ephemeral
    embed = reply.embeds[0]
    assert embed.title == "RaceDesk"
    fields = {field.name: field.value for field in embed.fields}
    assert fields["Version"]
    assert fields["Uptime"] == "under a minute"
    assert "✅ Database:" in fields["Health"]
    assert "Events: 0 queued" in fields["Health"]
    assert "✅ racetime bots: none configured" in fields["Health"]


async def test_about_works_in_dms(discord_harness: DiscordHarness) -> None:
    result = await discord_harness.slash("about", in_dm=True)
    assert result.first.embeds[0].title == "RaceDesk"


async def test_user_facing_errors_become_short_ephemeral_replies(
    discord_harness: DiscordHarness,
) -> None:
    @app_commands.command(name="explode-politely", description="test")
    async def polite(interaction) -> None:  # type: ignore[no-untyped-def]
        raise UserFacingError("That match does not exist. Check the id with /match list.")

    discord_harness.bot.tree.add_command(polite)
    result = await discord_harness.slash("explode-politely")
    assert result.first.ephemeral
    assert result.first.content == "That match does not exist. Check the id with /match list."


async def test_unexpected_errors_are_logged_with_traceback_and_apologised_for(
    discord_harness: DiscordHarness, caplog: pytest.LogCaptureFixture
) -> None:
    @app_commands.command(name="explode", description="test")
    async def explode(interaction) -> None:  # type: ignore[no-untyped-def]
        raise RuntimeError("internal detail that users must not see")

    discord_harness.bot.tree.add_command(explode)
    with caplog.at_level(logging.ERROR, logger="cogs._shared.tree"):
        result = await discord_harness.slash("explode")
    assert result.first.ephemeral and result.first.content == APOLOGY
    assert "internal detail" not in result.text
    record = next(r for r in caplog.records if "Command /explode failed" in r.getMessage())
    assert record.exc_info and "internal detail" in str(record.exc_info[1])


async def test_check_failures_explain_themselves(discord_harness: DiscordHarness) -> None:
    @app_commands.command(name="admins-only", description="test")
    @app_commands.checks.has_permissions(ban_members=True)
    async def admins_only(interaction) -> None:  # type: ignore[no-untyped-def]
        await interaction.response.send_message("ran")

    discord_harness.bot.tree.add_command(admins_only)
    member = discord_harness.member(0)
    assert not discord_harness.channel.permissions_for(member).ban_members
    result = await discord_harness.slash("admins-only", member=member)
    assert result.first.ephemeral
    assert result.first.content == "You need the Ban Members permission to use this command."


async def test_options_are_parsed_by_the_tree(discord_harness: DiscordHarness) -> None:
    @app_commands.command(name="echo", description="test")
    async def echo(interaction, text: str, times: app_commands.Range[int, 1, 3]) -> None:  # type: ignore[no-untyped-def]
        await interaction.response.send_message(" ".join([text] * times))

    discord_harness.bot.tree.add_command(echo)
    assert (await discord_harness.slash("echo", text="Hi", times=2)).first.content == "Hi Hi"
    with pytest.raises(TypeError, match="no option"):
        await discord_harness.slash("echo", txt="Hi", times=2)


@pytest.mark.parametrize(
    ("uptime", "shown"),
    [(timedelta(seconds=59), "under a minute"), (timedelta(minutes=5, seconds=59), "5m"),
     (timedelta(hours=3, minutes=4), "3h 4m"), (timedelta(days=2, minutes=1), "2d 0h 1m")],
)
def test_uptime_reads_to_the_minute(uptime: timedelta, shown: str) -> None:
    assert format_uptime(uptime) == shown


async def test_while_the_database_is_away_commands_say_so_at_once_and_about_still_answers(
    discord_harness: DiscordHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    watch = discord_harness.services.database_watch

    async def no_answer() -> bool:  # the server is away (test_database_restart.py stops one)
        return False

    monkeypatch.setattr(watch, "ping", no_answer)
    assert await watch.confirm_outage(ConnectionRefusedError(111, "refused"))
    result = await discord_harness.slash("tournament list")
    assert result.first.ephemeral and result.first.content == DATABASE_AWAY
    about = await discord_harness.slash("about")
    fields = {field.name: field.value for field in about.first.embeds[0].fields}
    assert "Database: unreachable for" in fields["Health"] and "waits for it" in fields["Health"]
