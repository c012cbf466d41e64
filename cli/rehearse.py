"""``bot.py --demo``: the rehearsal, with the composition root's services and bot."""

from __future__ import annotations

import argparse
import asyncio
import sys

# In the repository, not in the installed package (pyproject.toml); dpytest (discord.ext.test)
# comes with the dev extra.
DEVELOPER_TOOLS = ("rehearsal", "fake_racetime", "discord.ext.test")


def rehearse(args: argparse.Namespace) -> int:
    """``--demo``: the rehearsal, with this composition root's services and bot."""
    from bot import RaceDeskBot, build_services, web_server

    try:  # a developer tool: in a clone, not in an installed RaceDesk
        from rehearsal.runner import RehearsalOptions, run_rehearsal
        from rehearsal.start_at import StartAtError, parse_start_at, started_at
    except ModuleNotFoundError as missing:
        if not (missing.name or "").startswith(DEVELOPER_TOOLS):
            raise
        print(
            "The rehearsal (--demo) is a developer tool and is not installed with RaceDesk: "
            "run it from a clone of the repository with `make demo`.",
            file=sys.stderr,
        )
        return 2

    try:
        start_at = parse_start_at(args.start_at) if args.start_at else None
    except StartAtError as error:
        print(error, file=sys.stderr)
        return 2
    options = RehearsalOptions(
        fast=args.fast,
        keep_running=args.keep_running,
        data_dir=args.data_dir,
        fake_racetime_url=args.fake_racetime,
        start_at=start_at,
    )
    try:
        with started_at(start_at):
            return asyncio.run(
                run_rehearsal(
                    options, build_services=build_services, make_bot=RaceDeskBot,
                    make_web_server=web_server,
                )
            )
    except KeyboardInterrupt:
        return 130
