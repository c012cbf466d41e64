"""``bot.py``'s arguments: the bot by default, the rehearsal (``--demo``) and the maintenance
commands; ``--config PATH`` goes before or after the command."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from core.config import DEFAULT_CONFIG_PATH


def config_option(parser: argparse.ArgumentParser, *, default: Any) -> None:
    """``--config``, before the command or after it (a command's copy keeps the first's)."""
    parser.add_argument(
        "--config", type=Path, default=default, metavar="PATH",
        help="path to config.toml (default: ./config.toml)",
    )


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bot.py", description="RaceDesk Discord bot")
    config_option(parser, default=DEFAULT_CONFIG_PATH)
    demo = parser.add_argument_group(
        "rehearsal", "RaceDesk's whole job offline: a fake racetime.gg, a simulated Discord server"
    )
    demo.add_argument("--demo", action="store_true", help="play the rehearsal and exit")
    demo.add_argument("--fast", action="store_true", help="with --demo: as fast as it can")
    demo.add_argument(
        "--keep-running", action="store_true",
        help="with --demo: leave the fake racetime server and the simulated server up",
    )
    demo.add_argument(
        "--data-dir", type=Path, help="with --demo: keep the database and log in this folder"
    )
    demo.add_argument(
        "--start-at", metavar="INSTANT",
        help="with --demo: play it as if it were INSTANT, e.g. 2026-03-29T00:30:00Z",
    )
    demo.add_argument(
        "--fake-racetime", metavar="URL",
        help="with --demo: use this running fake racetime server (python -m fake_racetime)",
    )
    sub = parser.add_subparsers(dest="action")

    def command(
        parent: argparse._SubParsersAction[argparse.ArgumentParser], name: str, summary: str
    ) -> argparse.ArgumentParser:
        added = parent.add_parser(name, help=summary, description=summary)
        config_option(added, default=argparse.SUPPRESS)
        return added

    command(sub, "run", "run the bot (the default)")
    db = command(sub, "db", "database maintenance")
    db_actions = db.add_subparsers(dest="db_action", required=True, metavar="ACTION")
    command(db_actions, "upgrade", "migrate the database to the newest schema")
    command(
        db_actions, "backup", "save the database to a new FILE (safe while RaceDesk runs)"
    ).add_argument("file", type=Path, metavar="FILE")
    command(
        db_actions, "restore", "restore FILE (from db backup) into a new, empty database"
    ).add_argument("file", type=Path, metavar="FILE")
    listing = command(sub, "commands", "list every slash command")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.add_argument("--markdown", action="store_true", help="the README's command table")
    command(sub, "generate-key", "print a new [security] secret_key")
    command(
        sub, "rotate-key",
        "re-encrypt every stored secret with [security] secret_key "
        "(after moving the former key to old_secret_keys)",
    )
    return parser.parse_args(argv)
