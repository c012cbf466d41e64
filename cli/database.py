"""``bot.py db upgrade|backup|restore``."""

from __future__ import annotations

import argparse

from core.config import load_database_settings
from core.startup_errors import database_step
from db.backup import backup, restore
from db.migrate import upgrade_to_head


async def database_command(args: argparse.Namespace) -> str:
    """``db upgrade``, ``db backup FILE`` or ``db restore FILE``; says what it did."""
    url = load_database_settings(args.config).url
    with database_step(url, args.config):
        if args.db_action == "backup":
            saved = await backup(url, args.file)
            return f"Backed up the database (schema revision {saved.revision}) to {args.file}."
        if args.db_action == "restore":
            restored = await restore(url, args.file)
            then = (
                "it is at the newest schema." if restored.at_head else
                "RaceDesk migrates it to the newest schema when it starts (or now: db upgrade)."
            )
            return f"Restored {args.file} (schema revision {restored.revision}); {then}"
        await upgrade_to_head(url)
        return "Database is at the newest schema."
