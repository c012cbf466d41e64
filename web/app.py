"""The web application and its server, started and stopped by the application's lifecycle.

:func:`create_app` puts each dependency under its typed key (``web.keys``) and lets each
route module install its routes; a new feature (the racetime OAuth callback, say) adds a
module under ``web/routes`` with an ``install(app)`` and passes it in ``routes``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from aiohttp import web

from core.accounts.api_tokens import ApiTokenService
from core.accounts.linking import LinkService
from core.calendars import CalendarFeedService
from core.health import HealthService
from core.leadership import ALONE, LeadershipStatus
from core.outage import DatabaseWatch
from core.pages import PublicPageService
from core.rooms.api import RoomApiService
from core.tournaments.match_api import MatchApiService
from web.errors import json_errors
from web.keys import (
    API_TOKENS,
    CALENDARS,
    DATABASE_WATCH,
    DISCORD_CONNECTED,
    HEALTH,
    LEADERSHIP,
    LINKING,
    MATCH_API,
    METRICS,
    PAGES,
    RATE_LIMITER,
    ROOM_API,
)
from web.metrics import PrometheusMetrics
from web.rate_limit import RateLimiter
from web.routes import calendars, health, linking, matches, metrics, pages, schedule

log = logging.getLogger(__name__)

RouteInstaller = Callable[[web.Application], None]
ROUTES: tuple[RouteInstaller, ...] = (
    health.install, matches.install, linking.install, metrics.install, schedule.install,
    calendars.install, pages.install,
)
CLIENT_MAX_SIZE = 64 * 1024  # request bodies are a few fields of JSON


@dataclass(frozen=True, slots=True)
class WebDependencies:
    """What the handlers call: services, and the Discord client's state as a callable."""

    health: HealthService
    discord_connected: Callable[[], bool]
    api_tokens: ApiTokenService
    room_api: RoomApiService
    rate_limiter: RateLimiter
    linking: LinkService
    calendars: CalendarFeedService | None = None  # None: no calendar feeds
    metrics: PrometheusMetrics | None = None  # None: no /metrics
    # Creating, changing and cancelling matches (issue 25); None: those routes answer 404.
    match_api: MatchApiService | None = None
    # Public tournament pages (issue 26); None: /t/... answers 404.
    pages: PublicPageService | None = None
    # Leader or standby (issue 27): a standby answers only /healthz, /readyz and /metrics.
    leadership: Callable[[], LeadershipStatus] = lambda: ALONE
    # The database going away and back (core.outage): 503 with Retry-After meanwhile.
    database_watch: DatabaseWatch | None = None


def create_app(
    dependencies: WebDependencies, routes: Sequence[RouteInstaller] = ROUTES
) -> web.Application:
    app = web.Application(
        middlewares=[
            json_errors, health.standby_answers_health_only, health.database_away_says_so,
        ],
        client_max_size=CLIENT_MAX_SIZE,
    )
    app[HEALTH] = dependencies.health
    app[LEADERSHIP] = dependencies.leadership
    app[DISCORD_CONNECTED] = dependencies.discord_connected
    if dependencies.database_watch is not None:
        app[DATABASE_WATCH] = dependencies.database_watch
    app[API_TOKENS] = dependencies.api_tokens
    app[ROOM_API] = dependencies.room_api
    app[RATE_LIMITER] = dependencies.rate_limiter
    app[LINKING] = dependencies.linking
    if dependencies.calendars is not None:
        app[CALENDARS] = dependencies.calendars
    if dependencies.metrics is not None:
        app[METRICS] = dependencies.metrics
    if dependencies.match_api is not None:
        app[MATCH_API] = dependencies.match_api
    if dependencies.pages is not None:
        app[PAGES] = dependencies.pages
    for install in routes:
        install(app)
    return app


class WebServer:
    """Serves ``app`` on ``host:port`` between :meth:`start` and :meth:`stop`; port 0 picks a
    free port (:attr:`port` says which)."""

    def __init__(self, app: web.Application, *, host: str, port: int) -> None:
        self._app = app
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None

    @property
    def port(self) -> int:
        if self._runner is None:
            raise RuntimeError("the web server is not running")
        for address in self._runner.addresses:
            if isinstance(address, tuple):
                return int(address[1])
        raise RuntimeError("the web server has no TCP address")

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self._host in ("0.0.0.0", "") else self._host  # noqa: S104
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        runner = web.AppRunner(self._app, handle_signals=False)
        await runner.setup()
        try:
            await web.TCPSite(runner, self._host, self._port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        log.info("Web server listening on %s", self.url)

    async def stop(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()
