"""``GET /t/<guild_id>``, ``GET /t/<guild_id>/<tournament>`` and
``GET /t/<guild_id>/async/<tournament>``: public tournament pages (the server's index, a
match tournament's, an async tournament's), HTML for people, no login.

A tournament that is not public, unknown, or another server's, and a server with no public
tournament, all get the same 404 page. Pages may be cached a minute (a match's room opening
shows within it); the 404 is not cached, so a tournament made public shows at once.
"""

from __future__ import annotations

from aiohttp import web

from core.pages.slugs import ASYNC_SEGMENT
from web.keys import PAGES
from web.pages import (
    CONTENT_SECURITY_POLICY,
    async_html,
    index_html,
    not_found_html,
    tournament_html,
)

HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}
MAX_AGE_SECONDS = 60
GUILD = r"{guild_id:\d{1,20}}"


def html(text: str, *, status: int = 200) -> web.Response:
    cache = f"public, max-age={MAX_AGE_SECONDS}" if status == 200 else "no-cache"
    return web.Response(
        text=text, status=status, content_type="text/html", charset="utf-8",
        headers={**HEADERS, "Cache-Control": cache},
    )


def not_found() -> web.Response:
    return html(not_found_html(), status=404)


async def index(request: web.Request) -> web.Response:
    found = await request.app[PAGES].index(int(request.match_info["guild_id"]))
    return html(index_html(found)) if found is not None else not_found()


async def tournament(request: web.Request) -> web.Response:
    found = await request.app[PAGES].page(
        int(request.match_info["guild_id"]), request.match_info["tournament"]
    )
    return html(tournament_html(found)) if found is not None else not_found()


async def async_tournament(request: web.Request) -> web.Response:
    found = await request.app[PAGES].async_page(
        int(request.match_info["guild_id"]), request.match_info["tournament"]
    )
    return html(async_html(found)) if found is not None else not_found()


async def nothing_here(request: web.Request) -> web.Response:
    return not_found()


def install(app: web.Application) -> None:
    if PAGES in app:  # an app built without public pages (a test's) serves none
        app.router.add_get(f"/t/{GUILD}", index)
        app.router.add_get(f"/t/{GUILD}/{{tournament}}", tournament)
        app.router.add_get(f"/t/{GUILD}/{ASYNC_SEGMENT}/{{tournament}}", async_tournament)
        # Any other address under /t (a name with a slash, a mistyped server): the same 404
        # page, not the API's JSON.
        app.router.add_get("/t/{rest:.*}", nothing_here)
