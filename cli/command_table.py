"""``bot.py commands``: every slash command with its options, audience and the Discord
permissions it is hidden behind (also the README's command table)."""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from discord import app_commands

from cogs._shared.permissions import audience_of, permission_names
from core.lifecycle import Lifecycle
from db.secrets import SecretBox


def describe_commands(tree: app_commands.CommandTree) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for command in tree.walk_commands():
        if isinstance(command, app_commands.Group):
            continue
        rows.append(
            {
                "command": f"/{command.qualified_name}",
                "description": command.description,
                "audience": audience_of(command),
                # What Discord hides it behind: its top-level command's (Discord applies that
                # to every subcommand); null: every member sees it.
                "default_permissions": permission_names(
                    (command.root_parent or command).default_permissions
                ),
                "guild_only": bool(
                    command.guild_only or getattr(command.root_parent, "guild_only", False)
                ),
                "options": [
                    {
                        "name": parameter.name,
                        "type": parameter.type.name,
                        "required": parameter.required,
                        "description": parameter.description,
                    }
                    for parameter in command.parameters
                ],
            }
        )
    return sorted(rows, key=lambda row: row["command"])


def format_command_table(rows: list[dict[str, Any]]) -> str:
    lines = ["| Command | Options | Who | What it does |", "| --- | --- | --- | --- |"]
    for row in rows:
        options = " ".join(
            f"`{o['name']}`" if o["required"] else f"`[{o['name']}]`" for o in row["options"]
        )
        lines.append(
            f"| `{row['command']}` | {options or '—'} | {row['audience']} | {row['description']} |"
        )
    return "\n".join(lines)


async def registered_commands() -> list[dict[str, Any]]:
    from bot import RaceDeskBot, build_services  # the composition root builds what is listed

    services = build_services(
        database_url="sqlite+aiosqlite:///:memory:", secret_box=SecretBox(SecretBox.generate_key())
    )
    async with Lifecycle() as lifecycle:
        await lifecycle.add("database", None, services.dispose_engines)
        bot = RaceDeskBot(services)
        await lifecycle.add("discord", bot.load_cogs, bot.close)
        return describe_commands(bot.tree)


def print_commands(args: argparse.Namespace) -> None:
    rows = asyncio.run(registered_commands())
    if args.json:
        print(json.dumps(rows, indent=2))
    elif args.markdown:
        print(format_command_table(rows))
    else:
        for row in rows:
            options = ", ".join(o["name"] + ("" if o["required"] else "?") for o in row["options"])
            print(f"{row['command']:<28} {row['audience']:<26} {options}")
