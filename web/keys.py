"""Typed keys for what the web application's handlers depend on (``app[KEY]``)."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from core.accounts.api_tokens import ApiTokenService
from core.accounts.linking import LinkService
from core.calendars import CalendarFeedService
from core.health import HealthService
from core.leadership import LeadershipStatus
from core.outage import DatabaseWatch
from core.pages import PublicPageService
from core.rooms.api import RoomApiService
from core.tournaments.match_api import MatchApiService
from web.metrics import PrometheusMetrics
from web.rate_limit import RateLimiter

HEALTH = web.AppKey("health", HealthService)
# Whether the Discord client is connected (the composition root's answer; no discord here).
DISCORD_CONNECTED: web.AppKey[Callable[[], bool]] = web.AppKey("discord_connected")
API_TOKENS = web.AppKey("api_tokens", ApiTokenService)
ROOM_API = web.AppKey("room_api", RoomApiService)
RATE_LIMITER = web.AppKey("rate_limiter", RateLimiter)
LINKING = web.AppKey("linking", LinkService)
METRICS = web.AppKey("metrics", PrometheusMetrics)
CALENDARS = web.AppKey("calendars", CalendarFeedService)
MATCH_API = web.AppKey("match_api", MatchApiService)
PAGES = web.AppKey("pages", PublicPageService)
# What this process is (leader, standby, or alone): the composition root's answer.
LEADERSHIP: web.AppKey[Callable[[], LeadershipStatus]] = web.AppKey("leadership")
# Whether the database answers (core.outage); absent: the app does not know.
DATABASE_WATCH = web.AppKey("database_watch", DatabaseWatch)
