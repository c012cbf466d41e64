"""``GET /racetime/callback``: where racetime.gg sends a person back after ``/link-racetime``.

The linking service does the work (state, code exchange, userinfo, the stored link); this
page tells the person, in their browser, what came of it and what to do. Everything shown
is escaped: the message may carry racetime's error text or display name.
"""

from __future__ import annotations

import html

from aiohttp import web

from core.accounts.linking import CALLBACK_PATH, LinkOutcome
from web.keys import LINKING

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · RaceDesk</title>
<style>body{{font-family:system-ui,sans-serif;max-width:34rem;margin:4rem auto;padding:0 1rem;
line-height:1.5}}h1{{font-size:1.4rem}}</style></head>
<body><h1 id="outcome">{title}</h1><p id="message">{message}</p>
<p>You can close this tab and go back to Discord.</p></body></html>
"""


def page(outcome: LinkOutcome) -> web.Response:
    title = "✅ Linked" if outcome.ok else "Not linked"
    body = PAGE.format(title=html.escape(title), message=html.escape(outcome.message))
    return web.Response(
        text=body, content_type="text/html", status=200 if outcome.ok else 400,
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


async def callback(request: web.Request) -> web.Response:
    query = request.query
    outcome = await request.app[LINKING].complete_link(
        query.get("state", ""), code=query.get("code"), error=query.get("error")
    )
    return page(outcome)


def install(app: web.Application) -> None:
    app.router.add_get(CALLBACK_PATH, callback)
