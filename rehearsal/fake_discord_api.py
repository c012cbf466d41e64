"""A small fake of Discord's REST API: the routes RaceDesk's notification sender reaches.

discord.py's own HTTP client talks to it over real loopback HTTP (point
``discord.http.Route.BASE`` at :attr:`FakeDiscordApi.api_base`), so its rate-limit handling
is what gets exercised. Routes under ``/api/v10``, with Discord's shapes (ids as strings):

- ``GET /users/@me`` and ``GET /oauth2/applications/@me``: what ``Client.login`` asks;
- ``GET /users/{id}`` (``fetch_user``; unknown: 404, code 10013);
- ``POST /users/@me/channels`` ``{"recipient_id"}``: the user's DM channel, the same one
  every time;
- ``GET /channels/{id}``: a DM channel, or a guild text channel the test configured;
- ``GET``/``POST /guilds/{id}/scheduled-events`` and ``GET``/``PATCH``/``DELETE
  /guilds/{id}/scheduled-events/{event_id}``: scheduled events, kept and refused as Discord
  does (``rehearsal.scheduled_events``; a refusal of what was sent is also in ``refusals``);
- ``POST /channels/{id}/messages``: stores the message; one beyond Discord's limits (or
  empty) is refused as Discord refuses it (``rehearsal.discord_rules``). With ``nonce`` and
  ``enforce_nonce``, a second message with the same nonce in the same channel within
  ``nonce_ttl`` seconds gets the first message back and is not stored again. A user who
  refuses DMs makes it 403 ``{"message": "Cannot send messages to this user",
  "code": 50007}``.
- ``GET /gateway`` and ``/gateway/bot``, and the gateway itself, a websocket at
  :attr:`~FakeDiscordApi.gateway_url` (point ``discord.gateway.DiscordWebSocket
  .DEFAULT_GATEWAY`` at it): ``HELLO``, ``READY`` (the bot in no guild) after ``IDENTIFY``
  with the token, every heartbeat acknowledged, a ``RESUME`` refused (the client identifies
  again). Enough for ``Client.start`` to connect and be ready; no other event is sent.

A harness running several clients (RaceDesk processes taking over from one another) may tag
each one's requests with ``fake_racetime``'s ``CLIENT_TAG_HEADER``; requests, messages and
gateway sessions keep the tag (``client``).

Rate limits as Discord applies them. The **global** limit (default 50 requests in any
second, a sliding window) answers 429 with Discord's body ``{"message": "You are being rate
limited.", "retry_after": <float>, "global": true}`` and headers ``Retry-After``,
``X-RateLimit-Global: true``, ``X-RateLimit-Scope: global``. **Per-route buckets** (a route
and its channel, as Discord keys them) send ``X-RateLimit-Limit``, ``-Remaining``,
``-Reset``, ``-Reset-After`` and ``-Bucket`` on every answer and are enforced too (scope
``user``); create-message defaults to Discord's 5 per 5 seconds per channel. Every answer
carries ``Via: 1.1 google`` like Discord's: discord.py takes a 429 without ``Via`` for a
Cloudflare ban and raises at once instead of waiting.

Test hooks: :meth:`~FakeDiscordApi.add_user`, :meth:`~FakeDiscordApi.add_text_channel`,
:meth:`~FakeDiscordApi.rate_limit_next` / :meth:`~FakeDiscordApi.fail_next` (forced 429s and
5xx), :meth:`~FakeDiscordApi.hold_messages` (store messages but keep their answers back, to
crash a sender between the send and its bookkeeping), the log of stored messages and the
request counters. Another process reaches the same through ``/_test/...`` (never limited or
counted). ``python -m rehearsal.fake_discord_api --port N`` serves it on its own.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import itertools
import json
import logging
import math
import re
import signal
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

from aiohttp import WSMsgType, web

from fake_racetime.server import CLIENT_TAG_HEADER
from rehearsal.discord_rules import Refusal, check_message
from rehearsal.scheduled_events import RefusedRequest, ScheduledEvents

log = logging.getLogger(__name__)

API_PREFIX = "/api/v10"
DISCORD_EPOCH_MS = 1_420_070_400_000
DEFAULT_TOKEN = "fake-token"  # noqa: S105 - a throw-away credential of a local fake
NONCE_TTL_SECONDS = 180.0  # Discord: "the past few minutes"
NONCE_MAX_LENGTH = 25
MESSAGE_ROUTE = f"POST {API_PREFIX}/channels/{{channel_id}}/messages"
RETRY_AFTER_EXACT = "X-Fake-Retry-After"  # internal: taken off before the answer leaves
MENTION = re.compile(r"<@!?(\d+)>")
GATEWAY_PATH = "/gateway"
HEARTBEAT_INTERVAL_MS = 41_250  # what Discord's HELLO says
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class Limit:
    """``count`` requests per ``window`` seconds."""

    count: int
    window: float

    @classmethod
    def parse(cls, text: str) -> Limit:
        """``"5/5"``: 5 per 5 seconds; ``"50"``: 50 per second."""
        count, _, window = text.partition("/")
        return cls(int(count), float(window or 1.0))


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """One message the fake stored (``at`` is ``time.monotonic()``, system-wide)."""

    id: int
    channel_id: int
    recipient_id: int | None  # the DM's recipient; None in a guild channel
    nonce: str | None
    content: str
    embed_title: str | None
    embed_description: str | None
    at: float
    client: str | None = None  # the sender's CLIENT_TAG_HEADER, if it sent one


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One API request and the status it got (``at`` is ``time.monotonic()``)."""

    at: float
    route: str  # "POST /api/v10/channels/{channel_id}/messages"
    path: str
    status: int
    nonce: str | None = None  # a create-message's nonce: which message a retry is for
    retry_after: float | None = None  # what a 429 told the client to wait
    client: str | None = None  # the request's CLIENT_TAG_HEADER, if it had one


@dataclass(frozen=True, slots=True)
class GatewaySession:
    """One gateway connection that identified (``at`` is ``time.monotonic()``)."""

    at: float
    session_id: str
    client: str | None  # the connection's CLIENT_TAG_HEADER, if it had one


@dataclass(slots=True)
class Stats:
    requests: int = 0
    http_429: int = 0
    global_429: int = 0
    route_429: int = 0
    forced_5xx: int = 0
    dm_refused: int = 0
    nonce_hits: int = 0  # message creations answered with the earlier message
    by_route: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["by_route"] = dict(self.by_route)
        return data


@dataclass(slots=True)
class _Fault:
    remaining: int
    status: int
    path: str  # a prefix of the path after /api/v10
    retry_after: float
    is_global: bool


@dataclass(slots=True)
class _Bucket:
    """A fixed window per route and channel, like Discord's per-route buckets."""

    limit: Limit
    hash: str
    used: int = 0
    resets_at: float = 0.0

    def take(self, now: float) -> float | None:
        """Count a request; ``None`` if it fits, else the seconds until the bucket resets."""
        if now >= self.resets_at:
            self.used, self.resets_at = 0, now + self.limit.window
        if self.used >= self.limit.count:
            return self.resets_at - now
        self.used += 1
        return None

    def headers(self, now: float) -> dict[str, str]:
        reset_after = max(self.resets_at - now, 0.0)
        return {
            "X-RateLimit-Limit": str(self.limit.count),
            "X-RateLimit-Remaining": str(max(self.limit.count - self.used, 0)),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": self.hash,
        }


class _SlidingWindow:
    """At most ``limit.count`` requests in any ``limit.window`` seconds."""

    def __init__(self, limit: Limit) -> None:
        self.limit = limit
        self._times: deque[float] = deque()

    def take(self, now: float) -> float | None:
        """Count a request; ``None`` if it fits, else the seconds until one would."""
        while self._times and self._times[0] <= now - self.limit.window:
            self._times.popleft()
        if len(self._times) >= self.limit.count:
            return self._times[0] + self.limit.window - now
        self._times.append(now)
        return None


class _Snowflakes:
    """Discord-style ids: milliseconds since 2015 in the top bits, a counter below."""

    def __init__(self) -> None:
        self._counter = itertools.count()

    def next(self) -> int:
        ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
        return (ms << 22) | (next(self._counter) & 0x3FFFFF)


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """JSON as Discord sends it: ``Content-Type: application/json`` exactly, no charset
    (discord.py decodes a body only when the header is exactly that)."""
    return web.Response(
        body=json.dumps(data).encode(), status=status, headers=headers,
        content_type="application/json",
    )


def _error(status: int, message: str, code: int = 0) -> web.Response:
    return _json({"message": message, "code": code}, status)


def _event_ids(request: web.Request) -> tuple[int, int]:
    """The guild's and the scheduled event's ids in a scheduled event's path."""
    return int(request.match_info["guild_id"]), int(request.match_info["event_id"])


def _ceil_ms(seconds: float) -> float:
    return math.ceil(max(seconds, 0.001) * 1000) / 1000


class FakeDiscordApi:
    """The fake API on ``host:port`` (0: a free port); ``start()``/``stop()`` or ``async with``."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        global_limit: Limit = Limit(50, 1.0),
        message_limit: Limit = Limit(5, 5.0),
        route_limit: Limit = Limit(50, 1.0),
        nonce_ttl: float = NONCE_TTL_SECONDS,
        token: str | None = DEFAULT_TOKEN,
    ) -> None:
        self.bind_host, self.bind_port = host, port
        self.port: int | None = None
        self.message_limit, self.route_limit = message_limit, route_limit
        self.nonce_ttl = nonce_ttl
        self.token = token
        self.stats = Stats()
        self.messages: list[StoredMessage] = []
        self.requests: list[RequestRecord] = []
        self._global = _SlidingWindow(global_limit)
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._faults: list[_Fault] = []
        self._ids = _Snowflakes()
        self.bot_user = self._user_json(self._ids.next(), "RaceDesk", bot=True)
        self._users: dict[int, dict[str, Any]] = {}
        self._refusing: set[int] = set()
        self._forbidden: set[int] = set()
        self._dm_by_user: dict[int, int] = {}
        self._channels: dict[int, dict[str, Any]] = {}
        self._recipient_of: dict[int, int] = {}
        self._nonces: dict[tuple[int, str], tuple[float, dict[str, Any]]] = {}
        self._hold_budget: int | None = None
        self._gate = asyncio.Event()
        self.held = 0
        self._runner: web.AppRunner | None = None
        self.scheduled_events = ScheduledEvents(lambda: datetime.now(UTC))
        self.refusals: list[Refusal] = []  # scheduled-event requests refused with a 400
        self.gateway_sessions: list[GatewaySession] = []
        self._sockets: set[web.WebSocketResponse] = set()

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> FakeDiscordApi:
        self._runner = web.AppRunner(
            self._app(), handle_signals=False, access_log=None, shutdown_timeout=0.5
        )
        await self._runner.setup()
        await web.TCPSite(self._runner, self.bind_host, self.bind_port).start()
        self.port = int(self._runner.addresses[0][1])
        log.info("fake Discord API listening on %s", self.api_base)
        return self

    async def stop(self) -> None:
        self.release_messages()
        for socket in list(self._sockets):
            await socket.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDiscordApi:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise RuntimeError("the fake Discord API is not started")
        return f"http://{self.bind_host}:{self.port}"

    @property
    def api_base(self) -> str:
        """What ``discord.http.Route.BASE`` should be."""
        return self.base_url + API_PREFIX

    @property
    def gateway_url(self) -> str:
        """What ``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY`` should be."""
        return "ws" + self.base_url.removeprefix("http") + GATEWAY_PATH

    # -- test hooks ------------------------------------------------------------------------

    def add_user(
        self, user_id: int | None = None, name: str | None = None, *, refuses_dms: bool = False
    ) -> int:
        """A Discord user (a new snowflake unless given); ``refuses_dms``: DMs closed."""
        user_id = user_id or self._ids.next()
        self._users[user_id] = self._user_json(user_id, name or f"player{len(self._users) + 1}")
        if refuses_dms:
            self._refusing.add(user_id)
        return user_id

    def refuse_dms(self, user_id: int, refuses: bool = True) -> None:
        (self._refusing.add if refuses else self._refusing.discard)(user_id)

    def add_text_channel(
        self, guild_id: int, name: str = "general", *, can_send: bool = True
    ) -> int:
        """A guild text channel (for ``fetch_channel``); ``can_send=False``: 50013 on send."""
        channel_id = self._ids.next()
        self._channels[channel_id] = {
            "id": str(channel_id), "type": 0, "guild_id": str(guild_id), "name": name,
            "position": len(self._channels), "permission_overwrites": [], "nsfw": False,
            "parent_id": None, "topic": None, "last_message_id": None,
            "rate_limit_per_user": 0, "flags": 0,
        }
        if not can_send:
            self._forbidden.add(channel_id)
        return channel_id

    def set_limits(
        self, *, global_limit: Limit | None = None, message_limit: Limit | None = None
    ) -> None:
        """Change the global limit or the create-message bucket (new buckets only)."""
        if global_limit is not None:
            self._global = _SlidingWindow(global_limit)
        if message_limit is not None:
            self.message_limit = message_limit

    def dm_channel_of(self, user_id: int) -> int | None:
        return self._dm_by_user.get(user_id)

    def rate_limit_next(
        self, count: int, *, retry_after: float = 0.5, is_global: bool = True, path: str = ""
    ) -> None:
        """The next ``count`` requests whose path (after /api/v10) starts with ``path``: 429."""
        self._faults.append(_Fault(count, 429, path, retry_after, is_global))

    def fail_next(self, count: int, *, status: int = 500, path: str = "") -> None:
        """The next ``count`` requests whose path starts with ``path``: ``status``."""
        self._faults.append(_Fault(count, status, path, 0.0, False))

    def hold_messages(self, *, after: int = 0) -> None:
        """Answer the next ``after`` new messages; store later ones but hold their answers."""
        self._hold_budget = after
        self._gate = asyncio.Event()

    def release_messages(self) -> None:
        """Answer every held message, and hold no more."""
        self._hold_budget = None
        self._gate.set()

    def messages_in(self, channel_id: int | None) -> list[StoredMessage]:
        return [message for message in self.messages if message.channel_id == channel_id]

    def count(self, route: str, status: int | None = None) -> int:
        """Requests to ``route`` (``"POST /channels/{channel_id}/messages"``), by status."""
        method, _, template = route.partition(" ")
        wanted = f"{method} {API_PREFIX}{template}"
        return sum(
            1 for record in self.requests
            if record.route == wanted and (status is None or record.status == status)
        )

    # -- the application -------------------------------------------------------------------

    def _app(self) -> web.Application:
        app = web.Application(middlewares=[self._api_middleware])
        api = API_PREFIX
        app.router.add_get(f"{api}/users/@me", self._me)
        app.router.add_get(f"{api}/oauth2/applications/@me", self._application)
        app.router.add_get(f"{api}/gateway", self._gateway_info)
        app.router.add_get(f"{api}/gateway/bot", self._gateway_info)
        app.router.add_get(GATEWAY_PATH, self._gateway)
        app.router.add_post(f"{api}/users/@me/channels", self._create_dm)
        app.router.add_get(api + r"/users/{user_id:\d+}", self._get_user)
        app.router.add_get(api + r"/channels/{channel_id:\d+}", self._get_channel)
        app.router.add_post(api + r"/channels/{channel_id:\d+}/messages", self._create_message)
        events = api + r"/guilds/{guild_id:\d+}/scheduled-events"
        app.router.add_get(events, self._list_events)
        app.router.add_post(events, self._create_event)
        one = events + r"/{event_id:\d+}"
        app.router.add_get(one, self._get_event)
        app.router.add_patch(one, self._edit_event)
        app.router.add_delete(one, self._delete_event)
        app.router.add_get("/_test/stats", self._test_stats)
        app.router.add_get("/_test/messages", self._test_messages)
        app.router.add_get("/_test/requests", self._test_requests)
        app.router.add_get("/_test/gateway", self._test_gateway)
        app.router.add_post("/_test/users", self._test_users)
        app.router.add_post("/_test/text_channels", self._test_text_channel)
        app.router.add_post("/_test/faults", self._test_faults)
        return app

    @web.middleware
    async def _api_middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith(API_PREFIX + "/"):
            return await handler(request)
        resource = request.match_info.route.resource
        route = f"{request.method} {resource.canonical if resource else request.path}"
        response = await self._gatekeep(request, route, handler)
        response.headers["Via"] = "1.1 google"
        self.stats.requests += 1
        self.stats.by_route[route] += 1
        nonce = await self._nonce_of(request) if route == MESSAGE_ROUTE else None
        retry_after = response.headers.popall(RETRY_AFTER_EXACT, [None])[0]
        self.requests.append(RequestRecord(
            time.monotonic(), route, request.path, response.status, nonce,
            float(retry_after) if retry_after else None,
            request.headers.get(CLIENT_TAG_HEADER),
        ))
        return response

    @staticmethod
    async def _nonce_of(request: web.Request) -> str | None:
        with contextlib.suppress(ValueError):
            nonce = (await request.json()).get("nonce")
            return None if nonce is None else str(nonce)
        return None

    async def _gatekeep(
        self, request: web.Request, route: str, handler: Handler
    ) -> web.StreamResponse:
        """Authorization, forced faults, the global limit, the route's bucket, then the route."""
        if self.token is not None and request.headers.get("Authorization") != f"Bot {self.token}":
            return _error(401, "401: Unauthorized")
        forced = self._forced(request.path[len(API_PREFIX):])
        if forced is not None:
            return forced
        now = time.monotonic()
        wait = self._global.take(now)
        if wait is not None:
            return self._rate_limited(wait, is_global=True)
        bucket = self._bucket(route, request.match_info.get("channel_id", ""))
        wait = bucket.take(now)
        if wait is not None:
            return self._rate_limited(wait, is_global=False, headers=bucket.headers(now))
        try:
            response: web.StreamResponse = await handler(request)
        except web.HTTPException as error:  # no such route, method or body: as Discord says it
            response = _error(error.status, f"{error.status}: {error.reason}")
        response.headers.update(bucket.headers(time.monotonic()))
        return response

    def _forced(self, path: str) -> web.Response | None:
        for fault in self._faults:
            if fault.remaining > 0 and path.startswith(fault.path):
                fault.remaining -= 1
                if fault.status == 429:
                    return self._rate_limited(fault.retry_after, is_global=fault.is_global)
                self.stats.forced_5xx += 1
                return _error(fault.status, f"{fault.status}: {HTTPStatus(fault.status).phrase}")
        return None

    def _rate_limited(
        self, retry_after: float, *, is_global: bool, headers: dict[str, str] | None = None
    ) -> web.Response:
        retry_after = _ceil_ms(retry_after)
        self.stats.http_429 += 1
        if is_global:
            self.stats.global_429 += 1
        else:
            self.stats.route_429 += 1
        all_headers = dict(headers or {})
        all_headers["Retry-After"] = str(math.ceil(retry_after))
        all_headers["X-RateLimit-Scope"] = "global" if is_global else "user"
        all_headers[RETRY_AFTER_EXACT] = f"{retry_after:.3f}"
        if is_global:
            all_headers["X-RateLimit-Global"] = "true"
        body = {"message": "You are being rate limited.", "retry_after": retry_after,
                "global": is_global}
        return _json(body, 429, all_headers)

    def _bucket(self, route: str, major: str) -> _Bucket:
        bucket = self._buckets.get((route, major))
        if bucket is None:
            limit = self.message_limit if route == MESSAGE_ROUTE else self.route_limit
            digest = hashlib.sha1(route.encode(), usedforsecurity=False).hexdigest()[:32]
            bucket = self._buckets[(route, major)] = _Bucket(limit, digest)
        return bucket

    # -- routes ----------------------------------------------------------------------------

    async def _me(self, _request: web.Request) -> web.Response:
        return _json(
            {**self.bot_user, "verified": True, "mfa_enabled": False, "locale": "en-US",
             "flags": 0, "email": None}
        )

    async def _application(self, _request: web.Request) -> web.Response:
        return _json({
            "id": self.bot_user["id"], "name": "RaceDesk", "icon": None, "description": "",
            "summary": "", "type": None, "bot_public": True, "bot_require_code_grant": False,
            "verify_key": "0" * 64, "flags": 0, "team": None, "owner": self.bot_user,
            "bot": self.bot_user, "interactions_endpoint_url": None, "redirect_uris": [],
        })

    async def _gateway_info(self, _request: web.Request) -> web.Response:
        return _json({
            "url": self.gateway_url, "shards": 1,
            "session_start_limit": {"total": 1000, "remaining": 1000, "reset_after": 0,
                                    "max_concurrency": 1},
        })

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        """The gateway: HELLO, then READY for an IDENTIFY with the token, acknowledged
        heartbeats; a RESUME gets INVALID_SESSION (not resumable)."""
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self._sockets.add(socket)
        sequence = 0
        try:
            await socket.send_json(
                {"op": 10, "d": {"heartbeat_interval": HEARTBEAT_INTERVAL_MS}, "s": None,
                 "t": None}
            )
            async for frame in socket:
                if frame.type is not WSMsgType.TEXT:
                    continue
                payload = json.loads(frame.data)
                op = payload.get("op")
                if op == 1:
                    await socket.send_json({"op": 11, "d": None, "s": None, "t": None})
                elif op == 2:
                    if self.token is not None and payload["d"].get("token") != self.token:
                        await socket.close(code=4004, message=b"Authentication failed.")
                        break
                    sequence += 1
                    await socket.send_json(
                        {"op": 0, "t": "READY", "s": sequence,
                         "d": self._ready(request.headers.get(CLIENT_TAG_HEADER))}
                    )
                elif op == 6:
                    await socket.send_json({"op": 9, "d": False, "s": None, "t": None})
        finally:
            self._sockets.discard(socket)
        return socket

    def _ready(self, client: str | None) -> dict[str, Any]:
        session_id = hashlib.sha1(
            str(self._ids.next()).encode(), usedforsecurity=False
        ).hexdigest()
        self.gateway_sessions.append(GatewaySession(time.monotonic(), session_id, client))
        return {
            "v": 10, "user": self.bot_user, "guilds": [], "session_id": session_id,
            "resume_gateway_url": self.gateway_url, "private_channels": [],
            "relationships": [],
            "application": {"id": self.bot_user["id"], "flags": 0},
        }

    async def _get_user(self, request: web.Request) -> web.Response:
        user = self._users.get(int(request.match_info["user_id"]))
        return _json(user) if user else _error(404, "Unknown User", 10013)

    async def _create_dm(self, request: web.Request) -> web.Response:
        body = await request.json()
        user_id = int(body.get("recipient_id", 0))
        if user_id not in self._users:
            return _error(400, "Invalid Recipient(s)", 50033)
        channel_id = self._dm_by_user.get(user_id)
        if channel_id is None:
            channel_id = self._ids.next()
            self._dm_by_user[user_id] = channel_id
            self._recipient_of[channel_id] = user_id
            self._channels[channel_id] = {
                "id": str(channel_id), "type": 1, "last_message_id": None, "flags": 0,
                "recipients": [self._users[user_id]],
            }
        return _json(self._channels[channel_id])

    def _events_answer(self, act: Callable[[], Any]) -> web.Response:
        try:
            result = act()
        except RefusedRequest as refused:
            if refused.refusal.status == 400:
                self.refusals.append(refused.refusal)
            return _json(refused.refusal.body(), refused.refusal.status)
        return _json(result) if result is not None else web.Response(status=204)

    async def _list_events(self, request: web.Request) -> web.Response:
        guild_id = int(request.match_info["guild_id"])
        return self._events_answer(lambda: self.scheduled_events.of(guild_id))

    async def _create_event(self, request: web.Request) -> web.Response:
        guild_id, payload = int(request.match_info["guild_id"]), await request.json()
        return self._events_answer(
            lambda: self.scheduled_events.create(guild_id, payload, self.bot_user)
        )

    async def _get_event(self, request: web.Request) -> web.Response:
        guild_id, event_id = _event_ids(request)
        return self._events_answer(lambda: self.scheduled_events.get(guild_id, event_id))

    async def _edit_event(self, request: web.Request) -> web.Response:
        guild_id, event_id = _event_ids(request)
        payload = await request.json()
        return self._events_answer(
            lambda: self.scheduled_events.edit(guild_id, event_id, payload)
        )

    async def _delete_event(self, request: web.Request) -> web.Response:
        guild_id, event_id = _event_ids(request)
        return self._events_answer(lambda: self.scheduled_events.delete(guild_id, event_id))

    async def _get_channel(self, request: web.Request) -> web.Response:
        channel = self._channels.get(int(request.match_info["channel_id"]))
        return _json(channel) if channel else _error(404, "Unknown Channel", 10003)

    async def _create_message(self, request: web.Request) -> web.Response:
        channel_id = int(request.match_info["channel_id"])
        if channel_id not in self._channels:
            return _error(404, "Unknown Channel", 10003)
        payload = await request.json()
        problem = self._refusal(channel_id, payload)
        if problem is not None:
            return problem
        nonce = payload.get("nonce")
        earlier = self._earlier(channel_id, nonce) if payload.get("enforce_nonce") else None
        if earlier is not None:
            self.stats.nonce_hits += 1
            return _json(earlier)
        message = self._store(channel_id, payload, request.headers.get(CLIENT_TAG_HEADER))
        if nonce is not None:
            self._nonces[(channel_id, str(nonce))] = (time.monotonic(), message)
        await self._maybe_hold()
        return _json(message)

    def _refusal(self, channel_id: int, payload: dict[str, Any]) -> web.Response | None:
        """Discord's answer when this message cannot be sent, else ``None``."""
        if len(str(payload.get("nonce") or "")) > NONCE_MAX_LENGTH:
            return _error(400, "Invalid Form Body", 50035)
        refused = check_message(payload, f"message in channel {channel_id}")
        if refused is not None:
            return _json(refused.body(), refused.status)
        if self._recipient_of.get(channel_id) in self._refusing:
            self.stats.dm_refused += 1
            return _error(403, "Cannot send messages to this user", 50007)
        if channel_id in self._forbidden:
            return _error(403, "Missing Permissions", 50013)
        return None

    def _earlier(self, channel_id: int, nonce: Any) -> dict[str, Any] | None:
        if nonce is None:
            return None
        found = self._nonces.get((channel_id, str(nonce)))
        if found is None or time.monotonic() - found[0] > self.nonce_ttl:
            return None
        return found[1]

    async def _maybe_hold(self) -> None:
        if self._hold_budget is None:
            return
        if self._hold_budget > 0:
            self._hold_budget -= 1
            return
        self.held += 1
        await self._gate.wait()

    def _store(
        self, channel_id: int, payload: dict[str, Any], client: str | None = None
    ) -> dict[str, Any]:
        message_id = self._ids.next()
        content = payload.get("content") or ""
        embeds = [{"type": "rich", **embed} for embed in payload.get("embeds") or []]
        first = embeds[0] if embeds else {}
        nonce = payload.get("nonce")
        self.messages.append(StoredMessage(
            id=message_id, channel_id=channel_id, recipient_id=self._recipient_of.get(channel_id),
            nonce=None if nonce is None else str(nonce), content=content,
            embed_title=first.get("title"), embed_description=first.get("description"),
            at=time.monotonic(), client=client,
        ))
        mentioned = [int(found) for found in MENTION.findall(content)]
        return {
            "id": str(message_id), "type": 0, "channel_id": str(channel_id),
            "author": self.bot_user, "content": content,
            "timestamp": datetime.now(UTC).isoformat(), "edited_timestamp": None, "tts": False,
            "mention_everyone": False,
            "mentions": [self._users[uid] for uid in mentioned if uid in self._users],
            "mention_roles": [], "attachments": [], "embeds": embeds,
            "components": payload.get("components") or [], "pinned": False, "flags": 0,
            "nonce": nonce,
        }

    @staticmethod
    def _user_json(user_id: int, name: str, *, bot: bool = False) -> dict[str, Any]:
        return {
            "id": str(user_id), "username": name, "discriminator": "0", "global_name": None,
            "avatar": None, "public_flags": 0, "bot": bot, "banner": None,
            "accent_color": None, "avatar_decoration_data": None,
        }

    # -- /_test, for another process -------------------------------------------------------

    async def _test_stats(self, _request: web.Request) -> web.Response:
        return _json(
            {**self.stats.as_dict(), "messages": len(self.messages), "held": self.held}
        )

    async def _test_messages(self, _request: web.Request) -> web.Response:
        return _json([asdict(message) for message in self.messages])

    async def _test_requests(self, _request: web.Request) -> web.Response:
        return _json([asdict(record) for record in self.requests])

    async def _test_gateway(self, _request: web.Request) -> web.Response:
        return _json([asdict(session) for session in self.gateway_sessions])

    async def _test_users(self, request: web.Request) -> web.Response:
        """``{"ids": [...], "refuses_dms": false}``: add these users."""
        body = await request.json()
        for user_id in body["ids"]:
            self.add_user(int(user_id), refuses_dms=bool(body.get("refuses_dms")))
        return _json({"users": len(self._users)})

    async def _test_text_channel(self, request: web.Request) -> web.Response:
        body = await request.json()
        channel_id = self.add_text_channel(int(body["guild_id"]), body.get("name", "general"))
        return _json({"id": str(channel_id)})

    async def _test_faults(self, request: web.Request) -> web.Response:
        """``{"count", "status": 429|5xx, "path", "retry_after", "global"}``."""
        body = await request.json()
        if int(body.get("status", 500)) == 429:
            self.rate_limit_next(
                int(body["count"]), retry_after=float(body.get("retry_after", 0.5)),
                is_global=bool(body.get("global", True)), path=body.get("path", ""),
            )
        else:
            self.fail_next(int(body["count"]), status=int(body.get("status", 500)),
                           path=body.get("path", ""))
        return _json({"ok": True})


# -- python -m rehearsal.fake_discord_api ----------------------------------------------------


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m rehearsal.fake_discord_api")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: a free port")
    parser.add_argument("--global-limit", type=Limit.parse, default=Limit(50, 1.0),
                        help="requests per second, or COUNT/SECONDS (default 50/1)")
    parser.add_argument("--message-limit", type=Limit.parse, default=Limit(5, 5.0),
                        help="messages per channel, COUNT/SECONDS (default 5/5, as Discord)")
    parser.add_argument("--route-limit", type=Limit.parse, default=Limit(50, 1.0),
                        help="every other route's bucket, COUNT/SECONDS (default 50/1)")
    parser.add_argument("--users", type=int, default=0, help="add this many users")
    parser.add_argument("--first-user-id", type=int, default=100_000_000_000_000_000)
    return parser.parse_args(argv)


async def _serve(args: argparse.Namespace) -> None:
    fake = FakeDiscordApi(
        args.host, args.port, global_limit=args.global_limit,
        message_limit=args.message_limit, route_limit=args.route_limit,
    )
    for offset in range(args.users):
        fake.add_user(args.first_user_id + offset)
    await fake.start()
    print(f"fake Discord API listening on {fake.api_base} (token {fake.token})", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await fake.stop()


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(_parse(argv)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = [
    "FakeDiscordApi", "GatewaySession", "Limit", "RequestRecord", "Stats", "StoredMessage",
]
