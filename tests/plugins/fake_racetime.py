"""Fixtures for the fake racetime.gg server and the racetime HTTP client.

``fake_racetime`` is a running ``FakeRacetimeServer`` on 127.0.0.1 (random port), seeded as
described by ``fake_racetime.seed`` (a ``RacetimeSeed``): category ``alttpr`` with bot app
``ALTTPR_CLIENT_ID``/``ALTTPR_CLIENT_SECRET`` (bot name ``TestBot``), a second category ``smz3``
with its own bot, and three users whose streams are live. Its API, in short:

- ``.base_url``, ``.host`` (``127.0.0.1:port`` for racetime-bot's ``racetime_host``), ``.ws_base``
- ``.add_user(name) -> user_id``, ``.add_category(slug)``, ``.seed_bot(category, id, secret)``
- ``.open_race(category, **settings) -> Race`` (``race.slug``, ``race.name``)
- ``await .racer(slug, user_id).join()/ready()/unready()/done()/forfeit()/undone()/leave()/...``
- ``await .advance(seconds)``, ``await .advance_to_start(slug)``, ``await .tick()``
- ``await .drop_sockets(slug)``, ``.expire_tokens(client_id=None)``,
  ``.fail_next(n, status=503, path_prefix="")``, ``.delay(seconds, path_prefix="")``,
  ``.lose_next_response(n=1, path_prefix="", status=None)`` (the request is carried out, a
  ``startrace`` opens its room, then the answer is lost: a cut connection, or ``status``),
  ``.request_count(path_prefix="")``, ``await .inject_race_keys(slug, {...})``
- hostile input: ``await .inject_frame(slug, frame)`` sends any frame to a room's sockets (a
  ``str`` as is: not JSON, huge, anything; other values JSON-encoded), e.g.
  ``.race_data_frame(other_slug)``, another room's ``race.data``
- token faults: ``.revoke_tokens(client_id=None, token=None)`` (a bare 403 on ``/o/...``,
  "Permission denied" for actions on open sockets, which stay open),
  ``.set_token_lifetime(seconds)`` (``expires_in`` of new tokens)
- ``await .delete_user(user_id)``: the account's entrants show ``user: null``
- ``await .save_stale_copy(slug, change=None)``: the room broadcast again with the *same*
  version and other content (by default the race as the broadcast before the last showed
  it); the next change reuses version + 1, as racetime's racebot once did
- ``.set_adoption_delay(seconds)`` (or ``FakeRacetimeServer(adoption_delay=...)``): real
  seconds before the racebot notices everyone ready (``pending``) or the last finish
  (``finished``); 0 by default, racetime.gg took 3.5-4.5 s
- ``await .racer(slug, user_id).split(name, time, is_finish)``: a ``race.split`` frame
- chat: ``await .racer(slug, user_id).say(text)`` (a ``ChatMessage``, refused as racetime
  refuses a person's message), ``.click(message_id, label, values)`` (a bot message's action,
  posted as the site posts it), ``.received_actions(slug, action=None)`` (the websocket
  actions the room's sockets sent, e.g. ``gethistory`` and its ``last_message``),
  ``.set_history_delay(seconds)`` (``gethistory`` answered late, read at the end); a message's
  ``delay`` is the room's ``chat_message_delay`` as racetime sets it (sent at once)
- people's OAuth (account linking): ``.register_oauth_app(client_id, secret, [redirect_uri])``,
  ``.authorize_as(user_id)`` (``/o/authorize`` approves as that user), ``.deny_authorization()``
  (``error=access_denied``), ``.revoke_refresh_tokens(user_id=None)``; ``/o/token`` also
  takes ``authorization_code`` and ``refresh_token`` (rotating), and ``/o/userinfo`` answers
  a person's token (see ``fake_racetime/oauth.py``)

Behaviour to expect (it is the real server's): a bot action's frames arrive after the
``pong`` of the ``ping`` that follows it (errors come inline, before it); ``undone`` /
``unforfeit`` in a finished race are two ``race.data`` (the entrant first, with the race still
``finished``; then ``in_progress``) and ``undone`` sends a ``race.split`` first. Each hook is
also under ``/_test`` for other processes (``fake_racetime/app.py`` lists them).

``connect_ws`` opens a websocket to a room and collects frames (``BotSocket``).
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest
import websockets

from fake_racetime import FakeRacetimeServer
from racetime.client import AccessToken, RacetimeClient

T = TypeVar("T")

ALTTPR_CLIENT_ID = "alttpr-client-id"
ALTTPR_CLIENT_SECRET = "alttpr-very-secret-value-123"
SMZ3_CLIENT_ID = "smz3-client-id"
SMZ3_CLIENT_SECRET = "smz3-very-secret-value-456"


@dataclass
class RacetimeSeed:
    category: str = "alttpr"
    other_category: str = "smz3"
    client_id: str = ALTTPR_CLIENT_ID
    client_secret: str = ALTTPR_CLIENT_SECRET
    other_client_id: str = SMZ3_CLIENT_ID
    other_client_secret: str = SMZ3_CLIENT_SECRET
    bot_name: str = "TestBot"
    goals: tuple[str, ...] = ("Beat the game", "Any% NMG")
    users: dict[str, str] = field(default_factory=dict)  # name -> racetime user id


def seed_fake(fake: FakeRacetimeServer) -> RacetimeSeed:
    seed = RacetimeSeed()
    fake.add_category(
        seed.category, "A Link to the Past Randomizer", "ALttPR", goals=list(seed.goals)
    )
    fake.add_category(seed.other_category, "SMZ3", "SMZ3", goals=["Beat both games"])
    fake.seed_bot(seed.category, seed.client_id, seed.client_secret, name=seed.bot_name)
    fake.seed_bot(
        seed.other_category, seed.other_client_id, seed.other_client_secret, name="Smz3Bot"
    )
    for name in ("RacerOne", "RacerTwo", "RacerThree"):
        seed.users[name] = fake.add_user(name, stream_live=True, twitch_channel=name.lower())
    fake.seed = seed
    return seed


@pytest.fixture
async def fake_racetime() -> AsyncIterator[FakeRacetimeServer]:
    """A seeded fake racetime server running in this test's loop."""
    fake = FakeRacetimeServer("127.0.0.1", 0)
    seed_fake(fake)
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


@pytest.fixture
async def racetime_client(fake_racetime: FakeRacetimeServer) -> AsyncIterator[RacetimeClient]:
    """The HTTP client pointed at ``fake_racetime`` (2 s timeout)."""
    async with RacetimeClient(fake_racetime.host, secure=False, timeout=2.0) as client:
        yield client


@pytest.fixture
async def racetime_token(
    fake_racetime: FakeRacetimeServer, racetime_client: RacetimeClient
) -> AccessToken:
    """A fresh token of the ``alttpr`` bot."""
    return await racetime_client.get_token(ALTTPR_CLIENT_ID, ALTTPR_CLIENT_SECRET)


class BotSocket:
    """A websocket to a room that keeps every frame it received, in order."""

    def __init__(self, ws: websockets.ClientConnection) -> None:
        self.ws = ws
        self.frames: list[dict[str, Any]] = []

    async def send(self, action: str, data: Any = None) -> None:
        payload: dict[str, Any] = {"action": action}
        if data is not None:
            payload["data"] = data
        await self.ws.send(json.dumps(payload))

    async def recv(self, wait: float = 2.0) -> dict[str, Any]:
        frame = json.loads(await asyncio.wait_for(self.ws.recv(), wait))
        self.frames.append(frame)
        return frame

    async def recv_type(self, kind: str, wait: float = 2.0) -> dict[str, Any]:
        """Skip frames until one of type ``kind`` arrives."""
        async with asyncio.timeout(wait):
            while True:
                frame = await self.recv(wait)
                if frame.get("type") == kind:
                    return frame

    async def recv_status(self, status: str, wait: float = 2.0) -> dict[str, Any]:
        async with asyncio.timeout(wait):
            while True:
                frame = await self.recv_type("race.data", wait)
                if frame["race"]["status"]["value"] == status:
                    return frame

    async def drain(self, quiet: float = 0.15) -> list[dict[str, Any]]:
        """Everything that arrives until the socket has been quiet for ``quiet`` seconds."""
        got = []
        while True:
            try:
                got.append(await self.recv(quiet))
            except TimeoutError:
                return got


@pytest.fixture
async def connect_ws(
    fake_racetime: FakeRacetimeServer,
) -> AsyncIterator[Callable[..., Awaitable[BotSocket]]]:
    """``await connect_ws(slug, token=None, public=False)``: a connected ``BotSocket``.

    The two frames sent on connect (race.data, race.renders) are already consumed into
    ``.frames``.
    """
    opened: list[websockets.ClientConnection] = []

    async def connect(slug: str, token: str | None = None, *, public: bool = False) -> BotSocket:
        path = f"/ws/race/{slug}" if public else f"/ws/o/bot/{slug}"
        headers = {"Authorization": f"Bearer {token}"} if token else None
        ws = await websockets.connect(fake_racetime.ws_base + path, additional_headers=headers)
        opened.append(ws)
        sock = BotSocket(ws)
        await sock.recv()
        await sock.recv()
        return sock

    yield connect
    for ws in opened:
        await ws.close()


class ThreadedFakeRacetime:
    """The fake server on its own thread and loop: for blocking clients (racetime-bot's
    ``requests``-based ``authorize()``) that would otherwise deadlock the test loop."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.server = FakeRacetimeServer("127.0.0.1", 0)
        self.seed = seed_fake(self.server)
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()
        self.call(self.server.start)

    def call(self, factory: Callable[[], Awaitable[T]], timeout: float = 5.0) -> T:
        """Run ``factory()`` on the server's loop and wait for its result (blocking)."""

        async def run() -> T:
            return await factory()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(timeout)

    async def acall(self, factory: Callable[[], Awaitable[T]], wait: float = 5.0) -> T:
        """``call`` without blocking the caller's loop."""

        async def run() -> T:
            return await factory()

        future = asyncio.run_coroutine_threadsafe(run(), self.loop)
        return await asyncio.wait_for(asyncio.wrap_future(future), wait)

    def stop(self) -> None:
        self.call(self.server.stop)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        self.loop.close()


@pytest.fixture
def threaded_fake_racetime() -> Iterator[ThreadedFakeRacetime]:
    threaded = ThreadedFakeRacetime()
    threaded.start()
    try:
        yield threaded
    finally:
        threaded.stop()
