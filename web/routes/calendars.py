"""``GET /calendars/{tournament|player}/{token}.ics``: a calendar feed (iCal), for calendar
apps to subscribe to.

The token in the URL is the only credential (calendar apps send no headers of their own), so
an unknown, revoked or mistyped one is a plain 404, the same for all; the answer is never
cached by anyone but the subscriber and never passed on as a referrer. A calendar that sends
back the ``ETag`` it got is answered ``304`` until an event changes.
"""

from __future__ import annotations

from wsgiref.handlers import format_date_time

from aiohttp import web

from web.errors import ApiError
from web.keys import CALENDARS

CONTENT_TYPE = "text/calendar"
NO_FEED = "There is no calendar feed at this address (it may have been reset)."


async def feed(request: web.Request) -> web.Response:
    rendered = await request.app[CALENDARS].render(
        request.match_info["kind"], request.match_info["token"]
    )
    if rendered is None:
        raise ApiError(404, "not_found", NO_FEED)
    headers = {
        "Cache-Control": "private, max-age=300",
        "Referrer-Policy": "no-referrer",
        "X-Robots-Tag": "noindex",
        "ETag": f'"{rendered.etag}"',
    }
    if rendered.last_modified is not None:
        headers["Last-Modified"] = format_date_time(rendered.last_modified.timestamp())
    if f'"{rendered.etag}"' in request.headers.get("If-None-Match", ""):
        return web.Response(status=304, headers=headers)
    return web.Response(
        body=rendered.body,
        content_type=CONTENT_TYPE,
        charset="utf-8",
        headers={**headers, "Content-Disposition": 'inline; filename="racedesk.ics"'},
    )


def install(app: web.Application) -> None:
    if CALENDARS in app:  # an app built without the feeds (a test's) serves none
        app.router.add_get("/calendars/{kind:tournament|player}/{token}.ics", feed)
