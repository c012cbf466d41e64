"""``GET /healthz``: 200 when Discord and every active racetime bot (and the database and
event delivery) are healthy, 503 otherwise; a JSON summary either way. No token needed:
it says nothing a load balancer should not know."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from web.keys import DISCORD_CONNECTED, HEALTH


async def healthz(request: web.Request) -> web.Response:
    report = await request.app[HEALTH].report()
    discord_ok = request.app[DISCORD_CONNECTED]()
    checks: list[dict[str, Any]] = [
        {"name": "Discord", "ok": discord_ok, "detail": "connected" if discord_ok else "down"},
        *({"name": c.name, "ok": c.ok, "detail": c.detail} for c in report.checks),
    ]
    healthy = all(check["ok"] for check in checks)
    body = {
        "status": "ok" if healthy else "unhealthy",
        "version": report.version,
        "uptime_seconds": int(report.uptime.total_seconds()),
        "checks": checks,
    }
    return web.json_response(body, status=200 if healthy else 503)


def install(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
