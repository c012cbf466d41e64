"""``python bot.py``'s entry: one of the commands, or the bot. A deployment mistake ends with
one line saying what to change, and status 2; never a traceback."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence

from cli.arguments import parse_args
from cli.command_table import print_commands
from cli.database import database_command
from cli.keys import rotate_key
from cli.rehearse import rehearse
from core import event_loop
from core.config import ConfigError, load_settings
from core.startup_errors import StartupError
from db.backup import BackupError
from db.secrets import SecretBox, SecretKeyError


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.demo:
        return rehearse(args)
    action = args.action or "run"
    try:
        if action == "generate-key":
            print(SecretBox.generate_key())
            return 0
        if action == "commands":
            print_commands(args)
            return 0
        if action == "rotate-key":
            return asyncio.run(rotate_key(args.config))
        if action == "db":
            print(asyncio.run(database_command(args)))
            return 0
        from bot import run_bot  # the composition root

        return event_loop.run(run_bot(load_settings(args.config), args.config))
    except (ConfigError, SecretKeyError, StartupError, BackupError) as error:
        # One line (one per problem in the file) that says what to change; no traceback.
        print(str(error), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
