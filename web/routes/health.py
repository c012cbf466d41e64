"""Health for load balancers and monitors, and what this process is (issue 27).

* ``GET /healthz`` (liveness): 200 with a JSON summary when this process is healthy, 503
  otherwise. A process that acts (it leads, or runs alone) is healthy when Discord and every
  active racetime bot (and the database and event delivery) are; a standby, which runs none
  of them, when its database is reachable. ``role`` (``leader``, ``standby`` or ``single``)
  and ``epoch`` say what it is.
* ``GET /readyz`` (readiness): 200 for the process that acts, 503 for a standby and for a
  leader still starting its parts (it waits out the previous leader's trust in its lease,
  then starts the racetime engine and the schedulers): what a load balancer or reverse
  proxy routes the API, the OAuth callback and the pages by.

A standby, or a leader still starting, answers nothing else (503 with ``Retry-After``): its
parts do not run yet. While the database is away (``core.outage``) every other path answers
503 with ``Retry-After`` at once. No token needed: these say nothing a load balancer should
not know.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from core.leadership import LeadershipStatus, Role
from core.outage import RETRY_AFTER_SECONDS
from web.errors import ApiError
from web.keys import DATABASE_WATCH, DISCORD_CONNECTED, HEALTH, LEADERSHIP

# What a standby serves; everything else is the leader's.
STANDBY_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
STANDBY_RETRY_SECONDS = 1


def _lease(status: LeadershipStatus) -> dict[str, Any]:
    return {"role": status.role.value, "epoch": status.epoch}


def _lease_check(status: LeadershipStatus) -> dict[str, Any]:
    if status.role is Role.LEADER and status.starting:
        detail = f"leads (epoch {status.epoch}); starting its parts"
    elif status.role is Role.LEADER:
        detail = f"leads (epoch {status.epoch})"
    elif status.leader is not None:
        detail = f"standing by; {status.leader} leads (epoch {status.epoch})"
    else:
        detail = "standing by; no process leads right now"
    return {"name": "Leader lease", "ok": True, "detail": detail}


async def healthz(request: web.Request) -> web.Response:
    status = request.app[LEADERSHIP]()
    health = request.app[HEALTH]
    checks: list[dict[str, Any]]
    if status.role is Role.STANDBY:
        database = await health.check_database()
        checks = [
            {"name": database.name, "ok": database.ok, "detail": database.detail},
            _lease_check(status),
        ]
        version, uptime = health.version, health.uptime()
    else:
        report = await health.report()
        discord_ok = request.app[DISCORD_CONNECTED]()
        checks = [
            {"name": "Discord", "ok": discord_ok, "detail": "connected" if discord_ok else "down"},
            *({"name": c.name, "ok": c.ok, "detail": c.detail} for c in report.checks),
        ]
        if status.role is Role.LEADER:
            checks.append(_lease_check(status))
        version, uptime = report.version, report.uptime
    healthy = all(check["ok"] for check in checks)
    body = {
        "status": "ok" if healthy else "unhealthy",
        **_lease(status),
        "version": version,
        "uptime_seconds": int(uptime.total_seconds()),
        "checks": checks,
    }
    return web.json_response(body, status=200 if healthy else 503)


async def readyz(request: web.Request) -> web.Response:
    status = request.app[LEADERSHIP]()
    body = {"ready": status.acts, **_lease(status), "leader": status.leader}
    return web.json_response(body, status=200 if status.acts else 503)


@web.middleware
async def standby_answers_health_only(
    request: web.Request, handler: Handler
) -> web.StreamResponse:
    """A standby (or a leader still starting) refuses everything but health and metrics,
    saying who answers."""
    status = request.app[LEADERSHIP]()
    if request.path in STANDBY_PATHS or status.acts:
        return await handler(request)
    retry = {"Retry-After": str(STANDBY_RETRY_SECONDS)}
    if status.role is Role.LEADER:
        raise ApiError(
            503, "starting",
            "This RaceDesk process has just taken the lead and is starting: try again in a "
            "moment.",
            headers=retry,
        )
    raise ApiError(
        503, "standby",
        "This RaceDesk process is a standby: the leader answers (the process whose "
        "/readyz answers 200). Try again in a moment.",
        headers=retry,
    )


@web.middleware
async def database_away_says_so(
    request: web.Request, handler: Handler
) -> web.StreamResponse:
    """While the database is away (``core.outage``), everything but health and metrics is
    answered at once with 503 and ``Retry-After``, rather than after a connection timeout;
    a request that meets the database going away is answered the same."""
    watch = request.app.get(DATABASE_WATCH)
    if watch is None or request.path in STANDBY_PATHS:
        return await handler(request)
    if not watch.available:
        raise database_away()
    try:
        return await handler(request)
    except Exception as error:
        if isinstance(error, ApiError | web.HTTPException) or not await watch.confirm_outage(
            error
        ):
            raise
        raise database_away() from error


def database_away() -> ApiError:
    return ApiError(
        503, "database_unavailable",
        "RaceDesk's database is out of reach right now (restarting, or down): nothing was "
        "changed. Try again shortly.",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def install(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
