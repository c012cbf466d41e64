"""``python -m bench.chat_engine``: RaceDesk answering race-room chat, SIGKILLed on request.

The services are built as ``bot.py`` builds them (``bot.build_services``, the fake's
``RacetimeSettings``) on a SQLite file that the driver set up (``bench.chat_setup``: migrated,
the bot's credentials encrypted with the key in ``$RACEDESK_CHAT_ENGINE_KEY``, a tournament
with template seeds, a match), and run under a :class:`~core.lifecycle.Lifecycle` with the
racetime engine, without Discord. ``--open-match ID`` (repeatable) opens the match's room
first, as ``/open-room`` does (the system asks); later runs find it among the rooms to resume.

The kill points are hooks wrapped around three methods, in this process only (installed
before the services are built, since the dispatcher keeps the bound listener):

- ``RoomCommands.handle`` notes the guid each command's answer will carry;
- ``RoomConnection.send_message`` with such a guid is an *answer*: ``--die-before-answer N``
  SIGKILLs the process before the N-th answer of this run is sent (its command is in the
  event log, the listener is about to answer); every answer sent (racetime took it: the
  connection waits for the pong of the ping that follows it) prints ``ANSWERED <event_id>``;
- ``SentOnce.record`` of the answers' receipts: ``--die-after-answer N`` SIGKILLs it after
  the N-th answer of this run was sent, before its receipt is recorded;
- ``RoomSeeds.roll``: ``--die-after-roll N`` SIGKILLs it once the N-th seed of this run is
  rolled and stored (its ``RoomSeedRolledEvent`` with it), before the answer is sent.

Markers on stdout, one line each: ``ROOM <match_id> <slug>`` (the match's room is open),
``READY <t>`` (services started), ``ANSWERED <event_id>``, ``ROLLED <event_id>``,
``DYING <t> <where> <event_id>`` and ``STOPPED`` (orderly shutdown done). ``<t>`` is
``time.monotonic()``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.chat_setup import ANSWER_RECEIPT, KEY_ENV
from bench.crash_engine import die, marker
from bot import build_services
from core.access import Actor
from core.config import RacetimeSettings
from core.container import Services
from core.event_store.sent_once import SentOnce
from core.events import RacetimeChatCommandEvent
from core.lifecycle import Lifecycle
from core.room_commands.seeds import RollResult, RoomSeeds
from core.room_commands.service import RECEIPT, RoomCommands
from core.sending import nonce_for
from db.secrets import SecretBox
from racetime.category_bot import BotTimings
from racetime.connection import RoomConnection

log = logging.getLogger("bench.chat_engine")

START_TIMEOUT = 30.0
assert RECEIPT == ANSWER_RECEIPT  # the driver reads the receipts by this name


def _wrap(owner: type, name: str, make: Callable[[Any], Any]) -> None:
    """Replace ``owner.name`` with ``make(original)`` (this process only)."""
    setattr(owner, name, make(getattr(owner, name)))


@dataclass
class KillHooks:
    """Where this run SIGKILLs itself (0: never), and what it counted on the way."""

    before_answer: int = 0
    after_answer: int = 0
    after_roll: int = 0
    guids: dict[str, str] = field(default_factory=dict)  # answer guid -> event id
    answered: set[str] = field(default_factory=set)
    answers_begun: int = 0
    receipts: int = 0
    rolls: int = 0

    def install(self) -> None:
        _wrap(RoomCommands, "handle", self._handle)
        _wrap(RoomConnection, "send_message", self._send_message)
        _wrap(SentOnce, "record", self._record)
        _wrap(RoomSeeds, "roll", self._roll)

    def _handle(self, original: Any) -> Any:
        async def handle(commands: RoomCommands, event: RacetimeChatCommandEvent) -> None:
            self.guids[nonce_for(f"answer:{event.event_id}")] = event.event_id
            await original(commands, event)

        return handle

    def _send_message(self, original: Any) -> Any:
        async def send_message(room: RoomConnection, message: str, **options: Any) -> None:
            event_id = self.guids.get(options.get("guid") or "")
            if event_id is None:
                await original(room, message, **options)
                return
            self.answers_begun += 1
            if self.answers_begun == self.before_answer:
                die(f"before-answer {event_id}")
            await original(room, message, **options)
            self.answered.add(event_id)
            marker(f"ANSWERED {event_id}")

        return send_message

    def _record(self, original: Any) -> Any:
        async def record(sent_once: SentOnce, event_id: str) -> None:
            if sent_once.name == RECEIPT and event_id in self.answered:
                self.receipts += 1
                if self.receipts == self.after_answer:
                    die(f"after-answer {event_id}")
            await original(sent_once, event_id)

        return record

    def _roll(self, original: Any) -> Any:
        async def roll(seeds: RoomSeeds, *args: Any, **options: Any) -> RollResult:
            result: RollResult = await original(seeds, *args, **options)
            if not result.again:
                request = options.get("request_id", "?")
                self.rolls += 1
                marker(f"ROLLED {request}")
                if self.rolls == self.after_roll:
                    die(f"after-roll {request}")
            return result

        return roll


async def open_match_rooms(services: Services, args: argparse.Namespace) -> None:
    """Open the matches' rooms through the services, as the system (``/open-room``'s path)."""
    async with asyncio.timeout(START_TIMEOUT):
        await services.racetime_engine.bot(args.category).wait_healthy()
    for match_id in args.open_match:
        opening = await services.open_room.open(args.guild_id, match_id, actor=Actor.system())
        marker(f"ROOM {match_id} {opening.slug}")


async def run(args: argparse.Namespace) -> int:
    key = os.environ.get(KEY_ENV)
    if not key:
        print(f"{KEY_ENV} must hold the key the bot's secret was encrypted with", file=sys.stderr)
        return 2
    KillHooks(args.die_before_answer, args.die_after_answer, args.die_after_roll).install()
    services = build_services(
        database_url=f"sqlite+aiosqlite:///{Path(args.db)}",
        secret_box=SecretBox(key),
        racetime=RacetimeSettings(host=args.host, scheme="http", request_timeout_seconds=5),
        bot_timings=BotTimings(scan_interval=args.scan_interval),
    )
    async with Lifecycle() as lifecycle:
        lifecycle.handle_signals()
        await services.start(lifecycle)
        if args.open_match:
            await open_match_rooms(services, args)
        marker(f"READY {time.monotonic():.6f}")
        await lifecycle.wait_for_stop()
    marker("STOPPED")
    return 0


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.chat_engine")
    parser.add_argument("--db", required=True, help="SQLite file set up by bench.chat_setup")
    parser.add_argument("--host", required=True, help="the fake racetime server, host:port")
    parser.add_argument("--category", default="alttpr")
    parser.add_argument("--guild-id", type=int, default=0)
    parser.add_argument("--open-match", type=int, action="append", default=[],
                        metavar="MATCH_ID", help="open this match's room first (repeatable)")
    parser.add_argument("--scan-interval", type=float, default=5.0)
    parser.add_argument("--die-before-answer", type=int, default=0, metavar="N")
    parser.add_argument("--die-after-answer", type=int, default=0, metavar="N")
    parser.add_argument("--die-after-roll", type=int, default=0, metavar="N")
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(
        level=args.log_level, stream=sys.stderr,
        format="%(asctime)s %(process)d %(levelname)s %(name)s %(message)s",
    )
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
