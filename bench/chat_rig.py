"""Driving ``bench.chat_engine`` processes against a fake racetime server in this process.

Shared by ``tests/room_commands/test_sigkill.py`` and ``bench.chat_crash``: the engine's
database set up (``bench.chat_setup``), engines started, left to kill themselves, restarted;
racers typing commands in the match's room; and the room's answers counted against what was
typed. An answer is RaceDesk's message starting with ``<racer>: `` whose text says which
command it answers (:func:`answer_kind`); every command typed must have exactly one.

Waiting is on conditions (stdout markers, the fake's room, rows), never on time alone.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from bench.chat_setup import KEY_ENV, TOURNAMENT, ChatDb, ChatSetup, Player, set_up_matches
from bench.crash import EngineProcess
from core.clock import SystemClock
from db.secrets import SecretBox
from fake_racetime import FakeRacetimeServer

WITHIN = 30.0  # generous: a loaded machine starts a Python process slowly

ANSWER_KINDS = (
    ("help", "You can use "),
    ("seed", "here is the seed ("),
    ("fpa", "the fair-play agreement is for a race under way"),
    ("match", f"{TOURNAMENT} · "),
)
"""How an answer's text (after ``<racer>: ``) begins, by the command it answers; the
commands typed are these, in a room whose race has not started."""


def answer_kind(text: str) -> str:
    for command, start in ANSWER_KINDS:
        if text.startswith(start):
            return command
    return "?"


async def until(check: Callable[[], bool | Awaitable[bool]], within: float = WITHIN) -> None:
    """Poll ``check`` (state of another process) until it holds, for at most ``within`` s."""
    deadline = time.monotonic() + within
    while True:
        done = check()
        if inspect.isawaitable(done):
            done = await done
        if done:
            return
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out waiting for {check}")
        await asyncio.sleep(0.02)


@dataclass(frozen=True, slots=True)
class Said:
    room: str  # slug
    racer: str
    command: str
    event_id: str


@dataclass(frozen=True, slots=True)
class Verdict:
    commands: int
    answers: int
    lost: int  # commands without their answer
    answered_twice: int  # answers beyond one per command
    unknown: int  # RaceDesk answers that answer no command typed


@dataclass
class ChatRig:
    """Engines on one SQLite file in ``workdir``, answering in match rooms of ``fake``."""

    fake: FakeRacetimeServer
    workdir: Path
    category: str
    client_id: str
    client_secret: str
    racers: Sequence[str]  # racetime user names; the match's players
    log_level: str = "WARNING"
    db: ChatDb = field(init=False)
    key: str = field(init=False, default_factory=SecretBox.generate_key)
    setup: ChatSetup | None = None
    slugs: list[str] = field(default_factory=list)  # the matches' rooms, in match order
    engines: list[EngineProcess] = field(default_factory=list)
    said: list[Said] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.db = ChatDb(self.workdir / "chat-engine.sqlite3")

    def user_id(self, name: str) -> str:
        return next(user.id for user in self.fake.users.values() if user.name == name)

    async def set_up(self, matches: int = 1) -> ChatSetup:
        players = [Player(self.user_id(name), f"{name}#1234") for name in self.racers]
        self.setup = await set_up_matches(
            f"sqlite+aiosqlite:///{self.db.path}", SecretBox(self.key),
            category=self.category, client_id=self.client_id,
            client_secret=self.client_secret, players=players,
            scheduled_at=SystemClock().now().replace(microsecond=0) + timedelta(days=1),
            matches=matches,
        )
        return self.setup

    # -- engines ---------------------------------------------------------------------------

    async def start(self, *options: str) -> EngineProcess:
        """Start an engine (``options``: its kill points) and wait until it is up (or has
        already killed itself, catching up on what it missed)."""
        args = [
            "--db", str(self.db.path), "--host", self.fake.host, "--category", self.category,
            "--log-level", self.log_level,
        ]
        engine = EngineProcess(
            args, self.log_path(len(self.engines)), module="bench.chat_engine",
            env={KEY_ENV: self.key},
        )
        self.engines.append(engine)
        await engine.start(*options)
        up = await engine.wait_for(
            lambda: bool(engine.markers("READY") or engine.markers("DYING")), WITHIN
        )
        if not up:
            raise RuntimeError(f"the engine did not start:\n{self.log_tail()}")
        return engine

    async def open_rooms(self, *options: str) -> EngineProcess:
        """The first engine: it opens the matches' rooms; the players accept its invites."""
        assert self.setup is not None, "set_up first"
        opening = [
            word for match_id in self.setup.match_ids
            for word in ("--open-match", str(match_id))
        ]
        engine = await self.start("--guild-id", str(self.setup.guild_id), *opening, *options)
        self.slugs = [slug for _match_id, slug in engine.markers("ROOM")]
        if len(self.slugs) != len(self.setup.match_ids):
            raise RuntimeError(f"the engine opened {self.slugs}:\n{self.log_tail()}")
        users = [self.fake.users[self.user_id(name)] for name in self.racers]
        for slug in self.slugs:
            await until(functools.partial(self._all_invited, slug))
            for user in users:
                await self.fake.racer(slug, user.id).accept_invite()
        return engine

    def _all_invited(self, slug: str) -> bool:
        race = self.fake.race(slug)
        return all(
            (entrant := race.entrant(self.fake.users[self.user_id(name)])) is not None
            and entrant.state == "invited"
            for name in self.racers
        )

    async def died(self, engine: EngineProcess) -> list[str]:
        """Wait for an engine that kills itself to do so; its ``DYING`` marker's words."""
        if await engine.wait(within=WITHIN) is None:
            raise RuntimeError(f"the engine did not die:\n{self.log_tail()}")
        dying = engine.markers("DYING")
        if not dying:
            raise RuntimeError(f"the engine died without saying so:\n{self.log_tail()}")
        engine.note_death()
        return dying[-1][1:]

    def answered_by(self, engine: EngineProcess) -> list[str]:
        return [words[0] for words in engine.markers("ANSWERED")]

    def log_path(self, n: int) -> Path:
        return self.workdir / f"chat-engine-{n}.log"

    def log_tail(self) -> str:
        path = self.log_path(len(self.engines) - 1)
        return path.read_text()[-3000:] if path.exists() else ""

    async def stop(self) -> None:
        """SIGKILL whatever engine still runs (a failed run's clean-up)."""
        for engine in self.engines:
            if engine.alive:
                await engine.kill()

    # -- the room --------------------------------------------------------------------------

    async def say(self, racer: str, text: str, room: int = 0) -> Said:
        """``racer`` types ``text`` (a command of :data:`ANSWER_KINDS`) in the ``room``-th
        match's room."""
        slug = self.slugs[room]
        message = await self.fake.racer(slug, self.user_id(racer)).say(text)
        said = Said(slug, racer, text.split()[0].lstrip("!"),
                    f"{self.category}/{slug}:chat:{message.id}")
        self.said.append(said)
        return said

    def answers(self) -> list[tuple[str, str, str]]:
        """RaceDesk's answers in the rooms so far: (room, racer, command answered)."""
        found = []
        for slug in self.slugs:
            for message in self.fake.race(slug).messages:
                if not message.bot or message.is_system:
                    continue
                racer, sep, text = message.message.partition(": ")
                if sep and racer in self.racers:
                    found.append((slug, racer, answer_kind(text)))
        return found

    def verdict(self) -> Verdict:
        typed = Counter((s.room, s.racer, s.command) for s in self.said)
        answered = Counter(self.answers())
        return Verdict(
            commands=len(self.said),
            answers=sum(answered.values()),
            lost=sum((typed - answered).values()),
            answered_twice=sum(
                count - typed[key] for key, count in answered.items() if key in typed
                and count > typed[key]
            ),
            unknown=sum(count for key, count in answered.items() if key not in typed),
        )

    async def unrecorded(self) -> int:
        """Commands typed whose answer's receipt is not recorded yet: the next engine sends
        each of them an answer (racetime drops the ones it had already) before any other."""
        return sum((Counter(s.event_id for s in self.said) - await self.db.receipts()).values())

    def all_answered(self) -> bool:
        verdict = self.verdict()
        return verdict.lost == 0 and verdict.answers >= verdict.commands

    async def settled(self) -> bool:
        """Every command answered, every event delivered (the seed's DMs queued)."""
        return self.all_answered() and await self.db.undelivered() == 0
