"""The fake alttpr.com: its state, its HTTP app and the test hooks."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from fake_alttpr.validation import errors_of

logger = logging.getLogger(__name__)

# Where alttpr.com's patch writes the file-select hash: five bytes, each an item (0-31) of
# pyz3r's code map. ``ALTTPR.code`` seeks this offset in the seed's ``patch``.
CODE_OFFSET = 1573397
_HASH_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_SHUTDOWN_SECONDS = 0.5


@dataclass
class _Failure:
    remaining: int
    status: int
    body: dict[str, Any] | None
    after: int = 0  # requests answered as usual before these fail


@dataclass
class Request:
    """One request the fake received (test hooks under ``/_test`` are not logged)."""

    method: str
    path: str
    body: Any = None


@dataclass
class FakeAlttpr:
    """A fake alttpr.com on ``host``:``port`` (0: a free port, known after :meth:`start`)."""

    host: str = "127.0.0.1"
    port: int = 0
    seed: int = 0  # the RNG's seed: the same seed gives the same games in the same order
    requests: list[Request] = field(default_factory=list)
    games: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)  # noqa: S311 - deterministic fake data
        self._failures: list[_Failure] = []
        self._delay = 0.0
        self._runner: web.AppRunner | None = None
        self._stopping = asyncio.Event()

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> FakeAlttpr:
        self._stopping = asyncio.Event()
        self._runner = web.AppRunner(
            build_app(self), handle_signals=False, access_log=None,
            shutdown_timeout=_SHUTDOWN_SECONDS,
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        logger.info("fake alttpr.com listening on %s", self.base_url)
        return self

    async def stop(self) -> None:
        self._stopping.set()  # delayed answers end now
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- test hooks ----------------------------------------------------------------------

    def fail_next(
        self, count: int = 1, status: int = 500, body: dict[str, Any] | None = None, *,
        after: int = 0,
    ) -> None:
        """Answer the next ``count`` seed requests (``POST /api/...``) with ``status`` and
        ``body`` (JSON; by default alttpr.com's words for that status), once ``after``
        requests have been answered as usual."""
        self._failures.append(_Failure(count, status, body, after))

    def delay(self, seconds: float) -> None:
        """Hold every seed request ``seconds`` before answering (0: answer at once)."""
        self._delay = max(seconds, 0.0)

    def reset(self) -> None:
        """No failures, no delay, an empty request log (the games stay)."""
        self._failures.clear()
        self._delay = 0.0
        self.requests.clear()

    def request_count(self, path_prefix: str = "", method: str | None = None) -> int:
        return sum(
            r.path.startswith(path_prefix) and (method is None or r.method == method)
            for r in self.requests
        )

    @property
    def generate_calls(self) -> list[Any]:
        """The settings of every ``POST /api/randomizer``, in order (failed ones too)."""
        return [r.body for r in self.requests if r.method == "POST" and r.path == "/api/randomizer"]

    # -- what the server does ------------------------------------------------------------

    def _next_failure(self) -> _Failure | None:
        while self._failures and self._failures[0].remaining <= 0:
            self._failures.pop(0)
        if not self._failures:
            return None
        failure = self._failures[0]
        if failure.after > 0:
            failure.after -= 1
            return None
        failure.remaining -= 1
        return failure

    async def _wait(self) -> bool:
        """Hold a request for the delay; False when the fake is stopping meanwhile."""
        if self._delay <= 0:
            return True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), self._delay)
        return not self._stopping.is_set()

    def generate(self, settings: dict[str, Any]) -> dict[str, Any]:
        """A new game for valid ``settings``, as alttpr.com answers it."""
        hash_id = "".join(self._rng.choice(_HASH_ALPHABET) for _ in range(10))
        code = [self._rng.randrange(32) for _ in range(5)]
        tournament = bool(settings.get("tournament", False))
        meta: dict[str, Any] = {
            "spoilers": settings.get("spoilers", "off"),
            "tournament": tournament,
            "mode": settings.get("mode"),
            "goal": settings.get("goal"),
            "dungeon_items": settings.get("dungeon_items"),
        }
        game = {
            "logic": "NoGlitches",
            "hash": hash_id,
            "size": 2,
            # Some patch bytes before the code (pyz3r's seek needs an earlier offset), then
            # the five code bytes at their offset.
            "patch": [
                {str(CODE_OFFSET - 1000): [self._rng.randrange(256) for _ in range(4)]},
                {str(CODE_OFFSET): code},
            ],
            "spoiler": {"meta": meta},
        }
        self.games[hash_id] = game
        return game


# -- the HTTP app ----------------------------------------------------------------------------

_APP_KEY = web.AppKey("fake_alttpr", FakeAlttpr)


def _fake(request: web.Request) -> FakeAlttpr:
    return request.app[_APP_KEY]


_DEFAULT_BODIES = {
    403: {"message": "This action is unauthorized."},
    422: {"message": "The given data was invalid.", "errors": {}},
    429: {"message": "Too Many Attempts."},
}


async def _randomizer(request: web.Request) -> web.Response:
    fake = _fake(request)
    try:
        settings = await request.json()
    except ValueError:
        settings = None
    fake.requests.append(Request("POST", request.path, settings))
    if not await fake._wait():
        return web.json_response({"message": "Service Unavailable"}, status=503)
    failure = fake._next_failure()
    if failure is not None:
        body = failure.body or _DEFAULT_BODIES.get(failure.status, {"message": "Server Error"})
        return web.json_response(body, status=failure.status)
    errors = errors_of(settings)
    if errors:
        return web.json_response(
            {"message": "The given data was invalid.", "errors": errors}, status=422
        )
    return web.json_response(fake.generate(settings))


async def _hash(request: web.Request) -> web.Response:
    """pyz3r's ``retrieve``: the game as JSON, served as text/html like alttpr.com does."""
    fake = _fake(request)
    hash_id = request.match_info["hash"]
    fake.requests.append(Request("GET", request.path))
    game = fake.games.get(hash_id)
    if game is None:
        return web.Response(status=404, text="Not Found")
    return web.Response(text=json.dumps(game), content_type="text/html")


async def _permalink(request: web.Request) -> web.Response:
    fake = _fake(request)
    hash_id = request.match_info["hash"]
    fake.requests.append(Request("GET", request.path))
    if hash_id not in fake.games:
        return web.Response(status=404, text="Not Found")
    return web.Response(
        text=f"<!doctype html><title>ALttP Randomizer {hash_id}</title><p>Seed {hash_id}</p>",
        content_type="text/html",
    )


# -- test hooks for another process -----------------------------------------------------------


async def _test_fail(request: web.Request) -> web.Response:
    data = await request.json()
    _fake(request).fail_next(
        int(data.get("count", 1)), int(data.get("status", 500)), data.get("body")
    )
    return web.json_response({"ok": True})


async def _test_delay(request: web.Request) -> web.Response:
    data = await request.json()
    _fake(request).delay(float(data.get("seconds", 0)))
    return web.json_response({"ok": True})


async def _test_requests(request: web.Request) -> web.Response:
    fake = _fake(request)
    return web.json_response(
        {"requests": [{"method": r.method, "path": r.path, "body": r.body}
                      for r in fake.requests]}
    )


async def _test_reset(request: web.Request) -> web.Response:
    _fake(request).reset()
    return web.json_response({"ok": True})


def build_app(fake: FakeAlttpr) -> web.Application:
    app = web.Application()
    app[_APP_KEY] = fake
    app.router.add_post("/api/randomizer", _randomizer)
    app.router.add_get("/hash/{hash}", _hash)
    app.router.add_get("/h/{hash}", _permalink)
    app.router.add_post("/_test/fail", _test_fail)
    app.router.add_post("/_test/delay", _test_delay)
    app.router.add_get("/_test/requests", _test_requests)
    app.router.add_post("/_test/reset", _test_reset)
    return app


@contextlib.asynccontextmanager
async def running_fake_alttpr(
    seed: int = 0, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[FakeAlttpr]:
    """A started fake alttpr.com (a free port by default), stopped on the way out."""
    fake = FakeAlttpr(host=host, port=port, seed=seed)
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()
