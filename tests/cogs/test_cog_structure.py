"""Structural checks over every registered command, and the README's generated table."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from discord import app_commands

from cli.command_table import describe_commands, format_command_table
from tests.plugins.discord_bot import DiscordHarness

REPO = Path(__file__).resolve().parents[2]
TABLE_START = "<!-- commands:start -->"
TABLE_END = "<!-- commands:end -->"


async def test_every_command_and_option_is_described(discord_harness: DiscordHarness) -> None:
    names: set[str] = set()
    for command in discord_harness.bot.tree.walk_commands():
        assert command.qualified_name not in names, f"duplicate /{command.qualified_name}"
        names.add(command.qualified_name)
        assert command.description and command.description != "…", command.qualified_name
        assert len(command.description) <= 100
        if isinstance(command, app_commands.Command):
            for parameter in command.parameters:
                assert parameter.description and parameter.description != "…", (
                    f"/{command.qualified_name} option {parameter.name} has no description"
                )
    assert "about" in names


async def test_the_readme_command_table_is_generated_from_the_tree(
    discord_harness: DiscordHarness,
) -> None:
    readme = (REPO / "README.md").read_text()
    table = readme.split(TABLE_START)[1].split(TABLE_END)[0].strip()
    expected = format_command_table(describe_commands(discord_harness.bot.tree))
    assert table == expected, "README is stale: run `python bot.py commands --markdown`"


def test_commands_lists_every_command_as_json() -> None:
    import json

    result = subprocess.run(
        [sys.executable, str(REPO / "bot.py"), "commands", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        cwd=REPO,
    )
    rows = {row["command"]: row for row in json.loads(result.stdout)}
    about = rows["/about"]
    assert about["audience"] == "everyone"
    assert about["options"] == []
    # What Discord hides each command behind (null: every member sees it). A top-level
    # command's applies to its subcommands: /match lists its everyone's subcommands too.
    assert about["default_permissions"] is None
    assert rows["/tournament create"]["default_permissions"] == ["manage_guild"]
    assert rows["/racetime whois"]["default_permissions"] == ["manage_guild"]
    assert rows["/open-room"]["default_permissions"] == ["manage_guild"]
    assert rows["/match schedule"]["default_permissions"] is None
    hidden = {name for name, row in rows.items() if row["default_permissions"]}
    assert all(rows[name]["audience"] != "everyone" for name in hidden)


@pytest.mark.parametrize(
    ("command", "options"),
    [
        ("notifications history", {}),
        ("tournament list", {}),
        ("match list", {}),
        ("timezone show", {}),
        ("api-token list", {}),
        ("open-room", {"match": "1"}),
    ],
)
async def test_every_server_only_command_tells_a_dm_where_it_works(
    discord_harness: DiscordHarness, command: str, options: dict[str, str]
) -> None:
    result = await discord_harness.slash(command, in_dm=True, options=options)
    assert result.first.content == "This command only works in a server, not in DMs."
