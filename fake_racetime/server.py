"""The fake racetime.gg server object: state, sockets, fault injection and test hooks.

Behaviour of the real server (racetime-protocol.md section 6) that the fake reproduces:

- Broadcasts go through a per-room queue, like racetime's channel layer. A bot action's
  frames wait until that socket's next ``ping`` has been answered (or
  ``CHANNEL_LAYER_DELAY``), so a bot sees ``pong`` before the ``race.data`` its action
  caused; ``error`` frames and ``pong`` are sent inline. Frames of a room never overtake
  each other.
- ``undone``/``unforfeit`` in a finished race are two broadcasts (the entrant first, with the
  race still finished; then the race restarted), and ``undone`` sends a ``race.split``.
- With ``adoption_delay`` the racebot notices everyone-ready and last-finisher that many
  real seconds late.

Test hooks beyond seeding (each also under ``/_test``, see ``app``): ``inject_frame``,
``race_data_frame``, ``revoke_tokens``, ``expire_tokens``, ``set_token_lifetime``,
``delete_user``, ``set_adoption_delay``, ``save_stale_copy``, ``drop_sockets``,
``fail_next``, ``delay``, ``set_history_delay``, the broadcast log, the request log, the
websocket actions received (``received_actions``). Chat: ``racer(slug, user).say(text)``,
``.click(message_id, label, values)`` (see ``fake_racetime.chat``). People's OAuth (``oauth``):
``register_oauth_app``, ``authorize_as``, ``deny_authorization``, ``revoke_refresh_tokens``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from fake_racetime import serialize
from fake_racetime.clock import FakeClock
from fake_racetime.models import (
    ALL_SCOPES,
    BotApp,
    Category,
    ChatMessage,
    Token,
    User,
    new_hashid,
)
from fake_racetime.oauth import OAuthApp, OAuthProvider
from fake_racetime.racer import Racer
from fake_racetime.state import Race, RaceActionError

logger = logging.getLogger(__name__)

_ADJECTIVES = ("fancy", "speedy", "hot", "clever", "lazy", "brave", "quiet", "lucky", "odd")
_NOUNS = ("wolf", "ramuh", "ness", "link", "zelda", "samus", "kirby", "yoshi", "mario")

# How long a bot action's broadcast waits for the socket's ``ping`` at most (seconds).
CHANNEL_LAYER_DELAY = 0.05
RECEIVED_KEPT = 10_000
SEND_TIMEOUT_SECONDS = 5.0  # a client that reads nothing for this long is cut off
# racetime-app sends a refused action's ``error`` and the next ``pong`` as separate writes,
# 0.07-0.68 ms apart (measured on loopback); the fake does the same by default.
ERROR_PONG_GAP_SECONDS = 0.0005

Change = Callable[[datetime], None]


@dataclass
class Socket:
    ws: web.WebSocketResponse
    transport: asyncio.BaseTransport | None
    kind: str  # "bot" or "public"
    token: str | None  # the token captured at connect (bot sockets)
    last_error_at: float | None = None  # time.monotonic() of the last ``error`` sent to it
    client: str | None = None  # the handshake's CLIENT_TAG_HEADER, if it had one


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
    def of_frame(cls, frame: dict[str, Any], bot_sockets: int, reason: str, at: float) -> Broadcast:
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


@dataclass(frozen=True, slots=True)
class Received:
    """A websocket action a room's socket sent (``action`` and ``data`` as sent)."""

    slug: str
    socket: str  # "bot" or "public"
    action: Any
    data: Any

    def as_dict(self) -> dict[str, Any]:
        return {"slug": self.slug, "socket": self.socket, "action": self.action, "data": self.data}


# Websocket actions that only read: the request log leaves them out.
READING_ACTIONS = frozenset({"ping", "getrace", "gethistory"})
# A harness running several clients of the fake (e.g. RaceDesk processes taking over from
# one another) may name each in this request header; the request log keeps it.
CLIENT_TAG_HEADER = "X-Client-Tag"


@dataclass(slots=True)
class RequestRecord:
    """One HTTP request the server got (``/_test`` excluded), while the request log is on.

    ``at`` is ``time.time()`` when the request reached the server, before any injected delay:
    wall clock, so comparable with the UTC datetimes other processes scheduled it by.
    ``status`` and ``location`` (the ``Location`` header, e.g. the room ``startrace`` opened)
    are filled in once it is answered; ``status`` stays ``None`` for a lost answer.
    ``client`` is the request's :data:`CLIENT_TAG_HEADER`, if it had one.

    A websocket action that changes something (anything but :data:`READING_ACTIONS`) is
    kept too, as method ``WS`` and path ``/ws/<slug>/<action>``, with the ``client`` of its
    socket's handshake.
    """

    at: float
    method: str
    path: str
    status: int | None = None
    location: str | None = None
    client: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "method": self.method,
            "path": self.path,
            "status": self.status,
            "location": self.location,
            "client": self.client,
        }


@dataclass(slots=True)
class Outgoing:
    """One frame queued for a room's sockets (racetime's ``group_send``)."""

    text: str
    only: str | None = None  # a socket kind ("bot" for DMs), or every socket
    frame: dict[str, Any] | None = None  # a race.data frame, for the broadcast log


@dataclass(slots=True)
class Hold:
    """A bot action's broadcast, waiting for the ``pong`` of that socket's next ``ping``."""

    sock: Socket
    timer: asyncio.TimerHandle


@dataclass
class FailRule:
    remaining: int
    status: int
    path_prefix: str


@dataclass
class LoseRule:
    """Handle the request, then lose the answer: ``status`` instead, or a cut connection."""

    remaining: int
    path_prefix: str
    status: int | None


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

    ``adoption_delay`` (real seconds, default 0) is how long the racebot takes to notice that
    everyone is ready (``pending``) or that the last runner is done (``finished``); the real
    one took 4.5 s and 3.5 s.

    ``error_pong_gap`` (real seconds) separates a refused action's ``error`` from the ``pong``
    that follows it: racetime-app (daphne) sends them as two writes 0.07-0.68 ms apart, and a
    client that takes the first answer for the whole exchange gets the next one wrong.

    ``names_seed`` makes room slugs and new users' ids and discriminators the same on every
    run; ``clock_held`` starts the clock held (it moves only when advanced; see
    :class:`FakeClock`; ``POST /_test/clock`` holds or releases it).
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
        request_log: bool = False,
        adoption_delay: float = 0.0,
        names_seed: int | None = None,
        clock_held: bool = False,
        error_pong_gap: float = ERROR_PONG_GAP_SECONDS,
    ) -> None:
        self.bind_host = host
        self.bind_port = port
        self.token_lifetime = token_lifetime
        self.tick_interval = tick_interval
        self.auto_tick = auto_tick
        self.clock = FakeClock(held=clock_held)
        # Room slugs and new users' ids and discriminators; seeded, the same on every run.
        self.names = (
            random.Random(names_seed)  # noqa: S311 - names to show, not secrets
            if names_seed is not None else secrets.SystemRandom()
        )
        self.users: dict[str, User] = {}
        self.categories: dict[str, Category] = {}
        self.bots: dict[str, BotApp] = {}
        self.tokens: dict[str, Token] = {}
        self.oauth = OAuthProvider()
        self.races: dict[str, Race] = {}
        self.guids: dict[str, datetime] = {}
        self.sockets: dict[str, list[Socket]] = {}
        self.requests: list[tuple[str, str]] = []
        # Websocket actions received (the last RECEIVED_KEPT), for tests.
        self.received: deque[Received] = deque(maxlen=RECEIVED_KEPT)
        self.fail_rules: list[FailRule] = []
        self.delay_rules: list[DelayRule] = []
        self.lose_rules: list[LoseRule] = []
        self.broadcast_log: list[Broadcast] | None = [] if broadcast_log else None
        self.request_log: list[RequestRecord] | None = [] if request_log else None
        self.adoption_delay = 0.0
        self.set_adoption_delay(adoption_delay)
        self.error_pong_gap = 0.0
        self.history_delay = 0.0
        self.set_error_pong_gap(error_pong_gap)
        self.port: int | None = None
        # Free slot for whoever seeded the server (fixtures) to describe what they created.
        self.seed: Any = None
        self._lock = asyncio.Lock()
        self._runner: web.AppRunner | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._outgoing: dict[str, list[Outgoing]] = {}
        self._holds: dict[str, Hold] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        # The race as its last two broadcasts showed it (for stale copies).
        self._states: dict[str, deque[Race]] = {}
        # (slug, "start" | "finish") -> when the racebot first saw it due (time.monotonic()).
        self._due_since: dict[tuple[str, str], float] = {}

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> FakeRacetimeServer:
        from fake_racetime.app import build_app

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
        for hold in self._holds.values():
            hold.timer.cancel()
        self._holds.clear()
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
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
        uid = user_id or new_hashid(self.names)
        disc = discriminator
        if disc is None:
            disc = f"{self.names.randrange(1000, 10000)}"
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
        allow_hide_entrants: bool = False,
        allow_partitionable: bool = False,
    ) -> Category:
        """Create a category; ``startrace`` drops the settings it does not allow, silently."""
        category = Category(
            slug=slug,
            name=name or slug.upper(),
            short_name=short_name or slug[:4].upper(),
            goals=list(goals or ["Beat the game"]),
            owners=[self.users[u] for u in owners or []],
            moderators=[self.users[u] for u in moderators or []],
            allow_hide_entrants=allow_hide_entrants,
            allow_partitionable=allow_partitionable,
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

    def issue_token(
        self,
        client_id: str,
        scopes: tuple[str, ...] = ALL_SCOPES,
        *,
        user_id: str | None = None,
    ) -> Token:
        token = Token(
            value=secrets.token_urlsafe(24),
            client_id=client_id,
            scopes=tuple(scopes),
            expires_at=self.clock.now() + timedelta(seconds=self.token_lifetime),
            user_id=user_id,
        )
        self.tokens[token.value] = token
        return token

    # -- people's OAuth (authorization code, refresh, userinfo) ------------------------------

    def register_oauth_app(
        self, client_id: str, client_secret: str, redirect_uris: list[str] | tuple[str, ...]
    ) -> OAuthApp:
        """Register an application people authorize, with its allowed redirect URIs."""
        return self.oauth.register_app(client_id, client_secret, redirect_uris)

    def authorize_as(self, user_id: str) -> None:
        """``/o/authorize`` approves as this user from now on (a person clicking Authorize)."""
        if user_id not in self.users:
            raise KeyError(f"unknown racetime user {user_id!r}")
        self.oauth.authorize_as(user_id)

    def deny_authorization(self) -> None:
        """``/o/authorize`` declines from now on (``error=access_denied``)."""
        self.oauth.deny()

    def revoke_refresh_tokens(self, user_id: str | None = None) -> int:
        """Revoke people's refresh tokens (the person revoked the app); returns how many."""
        return self.oauth.revoke_refresh_tokens(user_id)

    def _matching_tokens(self, client_id: str | None, token: str | None) -> list[Token]:
        return [
            tok
            for tok in self.tokens.values()
            if (client_id is None or tok.client_id == client_id)
            and (token is None or tok.value == token)
        ]

    def expire_tokens(self, client_id: str | None = None, token: str | None = None) -> int:
        """Expire one token, every token of an app, or every token; returns how many."""
        now = self.clock.now()
        matching = self._matching_tokens(client_id, token)
        for tok in matching:
            tok.expires_at = now
        return len(matching)

    def revoke_tokens(self, client_id: str | None = None, token: str | None = None) -> int:
        """Revoke tokens on racetime's side (as an admin or a deactivated app would).

        A revoked token gets a bare 403 on ``/o/...`` and "Permission denied" for actions on a
        socket it opened; the socket itself stays open (racetime checks tokens per action).
        Returns how many tokens were revoked.
        """
        matching = self._matching_tokens(client_id, token)
        for tok in matching:
            tok.revoked = True
        logger.info("fake racetime: %d token(s) revoked", len(matching))
        return len(matching)

    def set_token_lifetime(self, seconds: int) -> None:
        """The ``expires_in`` of tokens issued from now on (racetime.gg: 36000)."""
        if seconds <= 0:
            raise ValueError("a token lifetime must be positive")
        self.token_lifetime = seconds

    def set_error_pong_gap(self, seconds: float) -> None:
        """Real seconds between a refused action's ``error`` and the ``pong`` after it."""
        if seconds < 0:
            raise ValueError("a gap cannot be negative")
        self.error_pong_gap = seconds

    def set_history_delay(self, seconds: float) -> None:
        """Real seconds before ``gethistory`` is answered (the history is read at the end,
        so what is posted meanwhile reaches the socket live first and is in the history too,
        as when racetime is slow to read it)."""
        if seconds < 0:
            raise ValueError("a delay cannot be negative")
        self.history_delay = seconds

    def set_adoption_delay(self, seconds: float) -> None:
        """Real seconds before the racebot notices an auto-start or a finish (0: at once)."""
        if seconds < 0:
            raise ValueError("an adoption delay cannot be negative")
        self.adoption_delay = seconds

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
        self._remember(race)
        return race

    def message_seq(self, message_id: str) -> int | None:
        """The key of the message with hashid ``message_id`` in any room (racetime decodes
        the hashid), or ``None`` when it is not one."""
        for race in self.races.values():
            for message in race.messages:
                if message.id == message_id:
                    return message.seq
        return None

    def received_actions(self, slug: str, action: str | None = None) -> list[Received]:
        """The websocket actions room ``slug``'s sockets sent (only ``action`` ones if given)."""
        return [
            r for r in self.received if r.slug == slug and (action is None or r.action == action)
        ]

    def new_slug(self) -> str:
        while True:
            number = self.names.randrange(1, 10000)
            slug = f"{self.names.choice(_ADJECTIVES)}-{self.names.choice(_NOUNS)}-{number:04d}"
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

    def lose_next_response(
        self, n: int = 1, path_prefix: str = "", status: int | None = None
    ) -> None:
        """Carry out the next ``n`` requests under ``path_prefix`` (a ``startrace`` opens its
        room), then lose the answer: the connection is cut, or ``status`` (e.g. 504, as a
        proxy that gave up waiting) is sent instead. The client cannot tell what happened."""
        self.lose_rules.append(LoseRule(n, path_prefix, status))

    def delay(self, seconds: float, path_prefix: str = "", count: int | None = None) -> None:
        """Delay responses under ``path_prefix`` (all, or the next ``count``); 0 clears."""
        if seconds <= 0:
            self.delay_rules.clear()
            return
        self.delay_rules.append(DelayRule(seconds, path_prefix, count))

    def clear_faults(self) -> None:
        self.fail_rules.clear()
        self.delay_rules.clear()
        self.lose_rules.clear()

    async def drop_sockets(self, slug: str) -> int:
        """Cut every socket of a room without a close frame (clients get ConnectionClosedError)."""
        socks = self.sockets.pop(self.race(slug).slug, [])
        for sock in socks:
            if sock.transport is not None:
                # (ignored below: aiohttp's transport is a TCP one)
                sock.transport.abort()  # type: ignore[attr-defined]
        await asyncio.sleep(0)
        return len(socks)

    async def inject_frame(self, slug: str, frame: Any) -> None:
        """Send a raw frame to every socket of a room, after what is queued for it.

        A ``str`` is sent as is (not JSON, huge, anything); any other value is JSON-encoded
        as is, e.g. :meth:`race_data_frame` of another room.
        """
        text = frame if isinstance(frame, str) else json.dumps(frame)
        race = self.race(slug)
        async with self._lock:
            self._outgoing.setdefault(race.slug, []).append(Outgoing(text))
            await self._deliver(race.slug)

    def race_data_frame(self, slug: str) -> dict[str, Any]:
        """The ``race.data`` frame a room's sockets would get now (to inject elsewhere)."""
        return self.state_frames(self.race(slug))[0]

    async def inject_race_keys(self, slug: str, extra: dict[str, Any]) -> None:
        """Add unknown keys to this room's race data from now on, and broadcast it."""
        race = self.race(slug)
        async with self._lock:
            race.extra_keys.update(extra)
            race.touch()
            await self.flush(race)

    async def save_stale_copy(self, slug: str, change: Change | None = None) -> int:
        """Do what racetime's racebot did when it saved a stale copy of a race over a newer one.

        The room is broadcast again with the *same* version and different content, and the
        next change reuses version + 1 (seen: two different ``finished`` frames with version
        26, then 27). By default the race and its entrants go back to how the broadcast
        before the last one showed them; ``change(now)`` makes another change instead.
        Returns the version broadcast.
        """
        race = self.race(slug)
        async with self._lock:
            version = race.version
            if change is not None:
                change(self.clock.now())
            else:
                race.restore_state(self._stale_state(race))
            race.version = version
            race.dirty = True
            await self.flush(race)
        logger.info("fake racetime: stale copy of %s saved at version %d", race.name, version)
        return version

    def _stale_state(self, race: Race) -> Race:
        states = self._states.get(race.slug)
        if not states or len(states) < 2:
            raise RaceActionError("There is no older copy of this race to save.")
        return states[0]

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
        """One pass of the racebot over every room (countdowns, starts, finishes)."""
        for race in list(self.races.values()):
            async with self._lock:
                now = self.clock.now()
                race.tick(
                    now,
                    may_start=self._noticed(race, "start", race.wants_auto_start()),
                    may_finish=self._noticed(race, "finish", race.wants_finish(now)),
                )
                await self.flush(race)

    def _noticed(self, race: Race, what: str, due: bool) -> bool:
        """Whether the racebot has noticed that ``what`` is due (``adoption_delay`` late)."""
        key = (race.slug, what)
        if not due:
            self._due_since.pop(key, None)
            return False
        if self.adoption_delay <= 0:
            return True
        since = self._due_since.setdefault(key, time.monotonic())
        if time.monotonic() - since < self.adoption_delay:
            return False
        del self._due_since[key]
        return True

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(self.tick_interval)
            try:
                await self.tick()
            except Exception:
                logger.exception("fake racetime racebot tick failed")

    # -- mutations and broadcasts ----------------------------------------------------------

    async def apply(self, race: Race, *changes: Change, hold_for: Socket | None = None) -> None:
        """Run state changes in order; each one's frames are a broadcast of its own.

        A change that raises ``RaceActionError`` broadcasts nothing and ends the sequence.
        ``hold_for`` is the bot socket whose action this is: the broadcast waits for the
        ``pong`` of that socket's next ``ping`` (see :meth:`release_after_pong`).
        """
        async with self._lock:
            try:
                for change in changes:
                    self._run(race, change)
            finally:
                if hold_for is not None and self._outgoing.get(race.slug):
                    self._hold(race.slug, hold_for)
                else:
                    await self._deliver(race.slug)

    def _run(self, race: Race, change: Change) -> None:
        try:
            change(self.clock.now())
        except RaceActionError:
            race.outbox.clear()
            race.dirty = False
            raise
        self._enqueue(race)

    async def flush(self, race: Race) -> None:
        """Queue what the last change of ``race`` produced and send the room's queue."""
        self._enqueue(race)
        await self._deliver(race.slug)

    def _enqueue(self, race: Race) -> None:
        """Turn the race's outbox (and new state, if any) into frames, in racetime's order."""
        if not race.outbox and not race.dirty:
            return
        now = self.clock.now()
        queue = self._outgoing.setdefault(race.slug, [])
        outbox, race.outbox = race.outbox, []
        for kind, msg in outbox:
            queue.append(self._chat_outgoing(race, kind, msg, now))
        if race.dirty:
            race.dirty = False
            self._remember(race)
            data, renders = self.state_frames(race)
            queue.append(Outgoing(json.dumps(data), frame=data))
            queue.append(Outgoing(json.dumps(renders)))

    def _chat_outgoing(self, race: Race, kind: str, msg: ChatMessage, now: datetime) -> Outgoing:
        if kind == "dm":
            return Outgoing(json.dumps(self._dm_frame(msg, now)), only="bot")
        frame_type = "chat.message" if kind == "chat" else f"chat.{kind}"
        frame = serialize.envelope(frame_type, now, message=serialize.chat_message_dict(msg, race))
        return Outgoing(json.dumps(frame))

    def _remember(self, race: Race) -> None:
        self._states.setdefault(race.slug, deque(maxlen=2)).append(race.copy_state())

    async def broadcast_split(
        self, race: Race, user: User, split_name: str, split_time: str, *, is_finish: bool
    ) -> None:
        """A ``race.split`` frame (``Entrant.update_split``) to every socket of the room."""
        split = {
            "split_name": split_name.lower(),
            "split_time": split_time,
            "is_undo": split_time == "-",
            "is_finish": is_finish,
            "user_id": user.id,
        }
        frame = serialize.envelope("race.split", self.clock.now(), split=split)
        async with self._lock:
            self._outgoing.setdefault(race.slug, []).append(Outgoing(json.dumps(frame)))
            await self._deliver(race.slug)

    async def _deliver(self, slug: str) -> None:
        """Send the room's queued frames in order, unless a bot action holds them."""
        if slug in self._holds:
            return
        queue = self._outgoing.pop(slug, None)
        for item in queue or ():
            at = time.monotonic()
            bots = await self._send_all(slug, item.text, item.only)
            if self.broadcast_log is not None and item.frame is not None:
                self.broadcast_log.append(Broadcast.of_frame(item.frame, bots, "change", at))

    def _hold(self, slug: str, sock: Socket) -> None:
        hold = self._holds.get(slug)
        if hold is not None:
            hold.sock = sock  # the newest action's ping releases everything queued
            return
        timer = asyncio.get_running_loop().call_later(
            CHANNEL_LAYER_DELAY, self._release_later, slug
        )
        self._holds[slug] = Hold(sock, timer)

    def _release_later(self, slug: str) -> None:
        task = asyncio.get_running_loop().create_task(
            self.release(slug), name=f"fake-racetime-release:{slug}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("fake racetime: a delivery failed", exc_info=task.exception())

    async def release(self, slug: str) -> None:
        """Send what a bot action holds back for room ``slug`` (and everything after it)."""
        async with self._lock:
            hold = self._holds.pop(slug, None)
            if hold is not None:
                hold.timer.cancel()
            await self._deliver(slug)

    async def release_after_pong(self, slug: str, sock: Socket) -> None:
        """``sock`` just got its ``pong``: its action's broadcast may go now."""
        hold = self._holds.get(slug)
        if hold is not None and hold.sock is sock:
            await self.release(slug)

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
            if not await self._send_one(sock, json.dumps(frame)):
                return
            if self.broadcast_log is not None and frame["type"] == "race.data":
                bots = 1 if sock.kind == "bot" else 0
                self.broadcast_log.append(Broadcast.of_frame(frame, bots, reason, at))

    def enable_broadcast_log(self, enabled: bool = True) -> None:
        """Start keeping every ``race.data`` frame sent (from empty), or stop and forget."""
        self.broadcast_log = [] if enabled else None

    def enable_request_log(self, enabled: bool = True) -> None:
        """Start keeping a :class:`RequestRecord` of every HTTP request (from empty), or stop."""
        self.request_log = [] if enabled else None

    async def _send_all(self, slug: str, text: str, kind: str | None = None) -> int:
        """Send ``text`` to the room's open sockets; returns how many bot sockets got it."""
        bots = 0
        for sock in list(self.sockets.get(slug, [])):
            if kind is not None and sock.kind != kind:
                continue
            if sock.ws.closed:
                continue
            if not await self._send_one(sock, text):
                continue
            bots += sock.kind == "bot"
        return bots

    async def _send_one(self, sock: Socket, text: str) -> bool:
        """Send ``text`` to one socket; a client that stopped reading is cut off, so it can
        never hold up the room (or the server's lock) for everyone else."""
        try:
            async with asyncio.timeout(SEND_TIMEOUT_SECONDS):
                await sock.ws.send_str(text)
        except TimeoutError:
            logger.info("fake racetime: a client stopped reading; closing its socket")
            if sock.transport is not None:
                # (ignored below: aiohttp's transport is a TCP one)
                sock.transport.abort()  # type: ignore[attr-defined]
            return False
        except (ConnectionError, RuntimeError) as exc:
            logger.debug("fake racetime: send to a closing socket failed: %s", exc)
            return False
        return True

    # -- racers ----------------------------------------------------------------------------

    def racer(self, slug: str, user_id: str) -> Racer:
        """Act as the racetime user ``user_id`` in room ``slug`` (join, ready, done, ...)."""
        return Racer(self, self.race(slug), self.users[user_id])

    async def delete_user(self, user_id: str) -> None:
        """Delete an account: its entrant rows stay, with ``user: null`` (and a broadcast)."""
        self.users[user_id].deleted = True
        for race in self.races.values():
            e = race.entrant(self.users[user_id])
            if e is not None:
                async with self._lock:
                    race.touch()
                    await self.flush(race)
