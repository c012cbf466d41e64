"""The fake racetime.gg server object: state, sockets, fault injection and test hooks."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from racetime.fake_server import serialize
from racetime.fake_server.clock import FakeClock
from racetime.fake_server.models import (
    ALL_SCOPES,
    BotApp,
    Category,
    ChatMessage,
    Token,
    User,
    new_hashid,
)
from racetime.fake_server.racer import Racer
from racetime.fake_server.state import Race, RaceActionError

logger = logging.getLogger(__name__)

_ADJECTIVES = ("fancy", "speedy", "hot", "clever", "lazy", "brave", "quiet", "lucky", "odd")
_NOUNS = ("wolf", "ramuh", "ness", "link", "zelda", "samus", "kirby", "yoshi", "mario")


@dataclass
class Socket:
    ws: web.WebSocketResponse
    transport: asyncio.BaseTransport | None
    kind: str  # "bot" or "public"
    token: str | None  # the token captured at connect (bot sockets)


@dataclass(frozen=True, slots=True)
class Broadcast:
    """One ``race.data`` frame the server sent: what it said and how many bots got it.

    ``at`` is ``time.monotonic()`` (system-wide, so comparable with other processes' clocks)
    taken just before sending. ``entrants`` are ``(user id, status, finish_time)`` of the
    entrants with an account, in the frame's order. ``reason`` is ``change`` (a state change
    sent to every socket of the room), ``connect`` (the frames a new socket gets) or
    ``getrace`` (the answer to that action).
    """

    at: float
    slug: str
    version: int
    status: str
    entrants: tuple[tuple[str, str, str | None], ...]
    bot_sockets: int
    reason: str

    @classmethod
    def of_frame(
        cls, frame: dict[str, Any], bot_sockets: int, reason: str, at: float
    ) -> Broadcast:
        race = frame["race"]
        return cls(
            at=at,
            slug=race["slug"],
            version=race["version"],
            status=race["status"]["value"],
            entrants=tuple(
                (e["user"]["id"], e["status"]["value"], e["finish_time"])
                for e in race["entrants"]
                if e["user"] is not None
            ),
            bot_sockets=bot_sockets,
            reason=reason,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "slug": self.slug,
            "version": self.version,
            "status": self.status,
            "entrants": [list(e) for e in self.entrants],
            "bot_sockets": self.bot_sockets,
            "reason": self.reason,
        }


@dataclass
class FailRule:
    remaining: int
    status: int
    path_prefix: str


@dataclass
class DelayRule:
    seconds: float
    path_prefix: str
    remaining: int | None


class FakeRacetimeServer:
    """An in-process racetime.gg stand-in speaking the real HTTP and websocket protocol.

    Use ``async with FakeRacetimeServer() as fake:`` (or ``start()``/``stop()``); then
    ``fake.base_url`` / ``fake.host`` point at it. Time is ``fake.clock``; ``advance()`` moves
    it and runs the racebot at once, so countdowns and token expiry need no sleeping.

    With ``broadcast_log=True`` (or after :meth:`enable_broadcast_log`) every ``race.data``
    frame sent is kept in ``broadcast_log`` as a :class:`Broadcast` (``GET /_test/broadcasts``
    from another process); off, it costs one ``is None`` test per frame.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        token_lifetime: int = 36000,
        tick_interval: float = 0.05,
        auto_tick: bool = True,
        broadcast_log: bool = False,
    ) -> None:
        self.bind_host = host
        self.bind_port = port
        self.token_lifetime = token_lifetime
        self.tick_interval = tick_interval
        self.auto_tick = auto_tick
        self.clock = FakeClock()
        self.users: dict[str, User] = {}
        self.categories: dict[str, Category] = {}
        self.bots: dict[str, BotApp] = {}
        self.tokens: dict[str, Token] = {}
        self.races: dict[str, Race] = {}
        self.guids: dict[str, datetime] = {}
        self.sockets: dict[str, list[Socket]] = {}
        self.requests: list[tuple[str, str]] = []
        self.fail_rules: list[FailRule] = []
        self.delay_rules: list[DelayRule] = []
        self.broadcast_log: list[Broadcast] | None = [] if broadcast_log else None
        self.port: int | None = None
        # Free slot for whoever seeded the server (fixtures) to describe what they created.
        self.seed: Any = None
        self._lock = asyncio.Lock()
        self._runner: web.AppRunner | None = None
        self._ticker: asyncio.Task[None] | None = None

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> FakeRacetimeServer:
        from racetime.fake_server.app import build_app

        self._runner = web.AppRunner(
            build_app(self), handle_signals=False, access_log=None, shutdown_timeout=0.5
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.bind_host, self.bind_port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        if self.auto_tick:
            self._ticker = asyncio.create_task(self._tick_forever(), name="fake-racetime-racebot")
        logger.info("fake racetime listening on %s", self.base_url)
        return self

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        for slug in list(self.sockets):
            for sock in list(self.sockets.get(slug, [])):
                with contextlib.suppress(Exception):
                    await sock.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeRacetimeServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def host(self) -> str:
        """``host:port``, the form racetime-bot's ``racetime_host`` takes."""
        if self.port is None:
            raise RuntimeError("the fake racetime server is not started")
        return f"{self.bind_host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"http://{self.host}"

    @property
    def ws_base(self) -> str:
        return f"ws://{self.host}"

    # -- seeding ---------------------------------------------------------------------------

    def add_user(
        self,
        name: str,
        *,
        discriminator: str | None = None,
        twitch_channel: str | None = None,
        stream_live: bool = False,
        user_id: str | None = None,
    ) -> str:
        """Create a racetime user; returns its 16-character id."""
        uid = user_id or new_hashid()
        disc = discriminator if discriminator is not None else f"{secrets.randbelow(9000) + 1000}"
        self.users[uid] = User(
            id=uid,
            name=name,
            discriminator=disc,
            twitch_channel=twitch_channel,
            stream_live=stream_live,
        )
        return uid

    def add_category(
        self,
        slug: str,
        name: str | None = None,
        short_name: str | None = None,
        *,
        goals: list[str] | None = None,
        owners: list[str] | None = None,
        moderators: list[str] | None = None,
    ) -> Category:
        category = Category(
            slug=slug,
            name=name or slug.upper(),
            short_name=short_name or slug[:4].upper(),
            goals=list(goals or ["Beat the game"]),
            owners=[self.users[u] for u in owners or []],
            moderators=[self.users[u] for u in moderators or []],
        )
        self.categories[slug] = category
        return category

    def seed_bot(
        self,
        category: str,
        client_id: str,
        client_secret: str,
        *,
        name: str = "TestBot",
        active: bool = True,
    ) -> BotApp:
        """Register an OAuth app as the bot of ``category`` (created if missing)."""
        if category not in self.categories:
            self.add_category(category)
        app = BotApp(client_id, client_secret, category, name=name, active=active)
        self.bots[client_id] = app
        return app

    def set_bot_active(self, client_id: str, active: bool) -> None:
        self.bots[client_id].active = active

    def issue_token(self, client_id: str, scopes: tuple[str, ...] = ALL_SCOPES) -> Token:
        token = Token(
            value=secrets.token_urlsafe(24),
            client_id=client_id,
            scopes=tuple(scopes),
            expires_at=self.clock.now() + timedelta(seconds=self.token_lifetime),
        )
        self.tokens[token.value] = token
        return token

    def expire_tokens(self, client_id: str | None = None, token: str | None = None) -> int:
        """Expire one token, every token of an app, or every token; returns how many."""
        now = self.clock.now()
        count = 0
        for tok in self.tokens.values():
            if (client_id is None or tok.client_id == client_id) and (
                token is None or tok.value == token
            ):
                tok.expires_at = now
                count += 1
        return count

    def open_race(
        self,
        category: str,
        *,
        goal: str | None = None,
        custom_goal: str | None = None,
        bot: str | None = "TestBot",
        opened_by: str | None = None,
        invitational: bool = False,
        **settings: Any,
    ) -> Race:
        """Open a room directly (as a bot's startrace would, without HTTP)."""
        cat = self.categories[category]
        race = Race(
            category=cat,
            slug=self.new_slug(),
            opened_at=self.clock.now(),
            goal=None if custom_goal else (goal or cat.goals[0]),
            custom_goal=custom_goal,
            status="invitational" if invitational else "open",
            opened_by=self.users[opened_by] if opened_by else None,
            opened_by_bot=None if opened_by else bot,
            **settings,
        )
        if "recordable" not in settings:
            race.recordable = race.ranked and not custom_goal
        self.races[race.slug] = race
        text = f"Race opened automatically by {bot}" if bot and not opened_by else "Race opened."
        race.post(text, now=race.opened_at)
        race.outbox.clear()
        return race

    def new_slug(self) -> str:
        while True:
            number = secrets.randbelow(9999) + 1
            slug = f"{secrets.choice(_ADJECTIVES)}-{secrets.choice(_NOUNS)}-{number:04d}"
            if slug not in self.races:
                return slug

    # -- queries ---------------------------------------------------------------------------

    def race(self, slug: str) -> Race:
        return self.races[slug.rsplit("/", 1)[-1]]

    def race_data(self, slug: str) -> dict[str, Any]:
        return serialize.race_dict(self.race(slug), self.clock.now())

    def active_race_of(self, user: User, exclude: Race | None = None) -> Race | None:
        for race in self.races.values():
            if race is exclude or race.is_done:
                continue
            e = race.entrant(user)
            if e is not None and e.joined:
                return race
        return None

    def socket_count(self, slug: str) -> int:
        return len(self.sockets.get(slug, []))

    def request_count(self, path_prefix: str = "", method: str | None = None) -> int:
        """How many HTTP requests (websocket upgrades included) matched; for retry-storm tests."""
        return sum(
            1
            for m, p in self.requests
            if p.startswith(path_prefix) and (method is None or m == method.upper())
        )

    def bot_for_token(self, value: str | None, race: Race) -> BotApp | None:
        """The active bot app of ``race``'s category that ``value`` authenticates, if any."""
        tok = self.tokens.get(value or "")
        if tok is None or not tok.valid_at(self.clock.now()):
            return None
        app = self.bots.get(tok.client_id)
        if app is None or not app.active or app.category != race.category.slug:
            return None
        return app

    # -- fault injection -------------------------------------------------------------------

    def fail_next(self, n: int = 1, status: int = 503, path_prefix: str = "") -> None:
        """Make the next ``n`` HTTP requests under ``path_prefix`` answer ``status``."""
        self.fail_rules.append(FailRule(n, status, path_prefix))

    def delay(self, seconds: float, path_prefix: str = "", count: int | None = None) -> None:
        """Delay responses under ``path_prefix`` (all, or the next ``count``); 0 clears."""
        if seconds <= 0:
            self.delay_rules.clear()
            return
        self.delay_rules.append(DelayRule(seconds, path_prefix, count))

    def clear_faults(self) -> None:
        self.fail_rules.clear()
        self.delay_rules.clear()

    async def drop_sockets(self, slug: str) -> int:
        """Cut every socket of a room without a close frame (clients get ConnectionClosedError)."""
        socks = self.sockets.pop(self.race(slug).slug, [])
        for sock in socks:
            if sock.transport is not None:
                sock.transport.abort()  # type: ignore[attr-defined]
        await asyncio.sleep(0)
        return len(socks)

    async def inject_frame(self, slug: str, frame: dict[str, Any] | str) -> None:
        """Send a raw frame (a dict is JSON-encoded as is) to every socket of a room."""
        text = frame if isinstance(frame, str) else json.dumps(frame)
        await self._send_all(self.race(slug).slug, text)

    async def inject_race_keys(self, slug: str, extra: dict[str, Any]) -> None:
        """Add unknown keys to this room's race data from now on, and broadcast it."""
        race = self.race(slug)
        async with self._lock:
            race.extra_keys.update(extra)
            race.touch()
            await self.flush(race)

    # -- time ------------------------------------------------------------------------------

    async def advance(self, seconds: float) -> None:
        """Move the clock forward and run the racebot once (countdowns, starts, finishes)."""
        self.clock.advance(seconds)
        await self.tick()

    async def advance_to_start(self, slug: str) -> None:
        """Jump past the countdown of a pending race; the race is then in progress."""
        race = self.race(slug)
        if race.status != "pending" or race.started_at is None:
            raise RaceActionError("Race is not counting down.")
        remaining = (race.started_at - self.clock.now()).total_seconds()
        await self.advance(max(remaining, 0) + 0.001)

    async def tick(self) -> None:
        for race in list(self.races.values()):
            async with self._lock:
                race.tick(self.clock.now())
                await self.flush(race)

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(self.tick_interval)
            try:
                await self.tick()
            except Exception:
                logger.exception("fake racetime racebot tick failed")

    # -- mutations and broadcasts ----------------------------------------------------------

    async def apply(self, race: Race, change: Callable[[datetime], None]) -> None:
        """Run one state change and broadcast its frames in racetime's order."""
        async with self._lock:
            try:
                change(self.clock.now())
            except RaceActionError:
                race.outbox.clear()
                race.dirty = False
                raise
            await self.flush(race)

    async def flush(self, race: Race) -> None:
        now = self.clock.now()
        outbox, race.outbox = race.outbox, []
        for kind, msg in outbox:
            if kind == "chat":
                frame = serialize.envelope(
                    "chat.message", now, message=serialize.chat_message_dict(msg, race)
                )
                await self._send_all(race.slug, json.dumps(frame))
            elif kind in ("pin", "unpin"):
                frame = serialize.envelope(
                    f"chat.{kind}", now, message=serialize.chat_message_dict(msg, race)
                )
                await self._send_all(race.slug, json.dumps(frame))
            elif kind == "dm":
                await self._send_all(race.slug, json.dumps(self._dm_frame(msg, now)), kind="bot")
        if race.dirty:
            race.dirty = False
            for frame in self.state_frames(race):
                at = time.monotonic()
                bots = await self._send_all(race.slug, json.dumps(frame))
                if self.broadcast_log is not None and frame["type"] == "race.data":
                    self.broadcast_log.append(Broadcast.of_frame(frame, bots, "change", at))

    def state_frames(self, race: Race) -> list[dict[str, Any]]:
        now = self.clock.now()
        return [
            serialize.envelope(
                "race.data", now, race=serialize.race_dict(race, now), version=race.version
            ),
            serialize.envelope(
                "race.renders", now, renders=serialize.renders(race, now), version=race.version
            ),
        ]

    def _dm_frame(self, msg: ChatMessage, now: datetime) -> dict[str, Any]:
        to = msg.direct_to
        return serialize.envelope(
            "chat.dm",
            now,
            message=msg.id,
            from_user=None,
            from_bot=msg.bot,
            to=None
            if to is None
            else {
                "id": to.id,
                "full_name": to.full_name,
                "name": to.name,
                "discriminator": to.discriminator,
            },
        )

    async def send_state(self, race: Race, sock: Socket, reason: str) -> None:
        """Send the room's current state frames to one socket (on connect, ``getrace``)."""
        for frame in self.state_frames(race):
            at = time.monotonic()
            await sock.ws.send_str(json.dumps(frame))
            if self.broadcast_log is not None and frame["type"] == "race.data":
                bots = 1 if sock.kind == "bot" else 0
                self.broadcast_log.append(Broadcast.of_frame(frame, bots, reason, at))

    def enable_broadcast_log(self, enabled: bool = True) -> None:
        """Start keeping every ``race.data`` frame sent (from empty), or stop and forget."""
        self.broadcast_log = [] if enabled else None

    async def _send_all(self, slug: str, text: str, kind: str | None = None) -> int:
        """Send ``text`` to the room's open sockets; returns how many bot sockets got it."""
        bots = 0
        for sock in list(self.sockets.get(slug, [])):
            if kind is not None and sock.kind != kind:
                continue
            if sock.ws.closed:
                continue
            try:
                await sock.ws.send_str(text)
            except (ConnectionError, RuntimeError) as exc:
                logger.debug("fake racetime: send to a closing socket failed: %s", exc)
                continue
            bots += sock.kind == "bot"
        return bots

    # -- racers ----------------------------------------------------------------------------

    def racer(self, slug: str, user_id: str) -> Racer:
        """Act as the racetime user ``user_id`` in room ``slug`` (join, ready, done, ...)."""
        return Racer(self, self.race(slug), self.users[user_id])

    async def delete_user(self, user_id: str) -> None:
        """Delete an account: its entrant rows stay, with ``user: null``."""
        self.users[user_id].deleted = True
        for race in self.races.values():
            e = race.entrant(self.users[user_id])
            if e is not None:
                async with self._lock:
                    race.touch()
                    await self.flush(race)
