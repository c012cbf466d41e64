"""``GET /metrics``: every series in Prometheus' text format (see the README's "Metrics").

No token: the page carries no secret and no label names a room or a person. It is served on
the web server's own address; behind a reverse proxy, forward ``/metrics`` only to the
Prometheus server (or not at all), or turn it off with ``[web] metrics = false``.
"""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from web.keys import METRICS


async def metrics(request: web.Request) -> web.Response:
    body = await request.app[METRICS].exposition()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def install(app: web.Application) -> None:
    """Only when the application was given metrics (``[web] metrics`` on)."""
    if METRICS in app:
        app.router.add_get("/metrics", metrics)
