"""aiohttp routes of the fake server: racetime's HTTP API, its websockets and ``/_test``.

The ``/_test`` API lets another process drive the fake (JSON bodies and answers; errors are
``{"errors": [...]}`` with 404 or 422). Each route has a Python method on the server.

- ``POST /_test/users`` ``{"name", "discriminator"?, "twitch_channel"?, "stream_live"?}``:
  a user, ``{"id"}``. ``POST /_test/users/{user}/delete``: delete the account (its entrants
  show ``user: null``).
- ``POST /_test/bots`` ``{"category", "client_id", "client_secret", "name"?, "active"?}``.
- ``POST /_test/races`` ``{"category", <settings>}``: open a room, ``{"name", "slug"}``.
- ``POST /_test/races/{slug}/racers/{user}/{action}``: act as a racer (``join``, ``ready``,
  ``done``, ``undone``, ...; ``split`` takes ``{"split", "time"?, "is_finish"?}``).
- ``POST /_test/races/{slug}/racers/{user}/say`` ``{"text"}``: type a chat message as that
  user, refused as racetime refuses it (``{"errors"}``, 422); ``{"id"}`` of the message, 201.
- ``POST /_test/races/{slug}/racers/{user}/click`` ``{"message", "label", "values"?}``:
  click the action ``label`` of the bot message ``message`` as that user: the site posts the
  action's ``message`` with the survey's ``${name}`` filled from ``values`` (question name ->
  answer; defaults otherwise); ``{"id", "message"}`` of the posted message, 201.
- ``GET /_test/races/{slug}/chat``: every message of the room's chat, DMs included, as
  racetime's message dicts (oldest first): what people (and bots) posted, as the site shows it.
- ``GET /_test/races/{slug}/received``: every websocket action the room's sockets sent
  (``[{"slug", "socket", "action", "data"}]``, oldest first), e.g. ``gethistory`` and its
  ``last_message``.
- ``POST /_test/races/{slug}/frame``: send a raw frame to the room's sockets. The body is
  ``{"frame": <any JSON>}``, ``{"text": "<sent as is>"}``, ``{"race_of": "<slug>"}`` (that
  room's ``race.data``, e.g. another room's); any other body (a frame, not JSON, huge: up to
  ``MAX_TEST_BODY``) is sent as is. ``{"ok", "bytes"}``.
- ``POST /_test/races/{slug}/stale-copy`` ``{"set": {<race field>: value}}?``: broadcast the
  room again with the same version and other content (by default the race as the
  broadcast before the last showed it); the next change reuses version + 1. ``{"version"}``.
- ``POST /_test/races/{slug}/drop``: cut the room's sockets without a close frame.
- ``POST /_test/advance`` ``{"seconds"}``: move the fake clock and run the racebot.
- ``POST /_test/clock`` ``{"held": bool}``: hold the clock (it then moves only when advanced)
  or let it run with real time again; ``{"held", "now"}``.
- ``POST /_test/adoption-delay`` ``{"seconds"}``: real seconds before the racebot notices
  everyone ready or the last finish.
- ``POST /_test/history-delay`` ``{"seconds"}``: real seconds before ``gethistory`` is
  answered (the history read at the end: what is posted meanwhile is sent live first).
- ``POST /_test/error-pong-gap`` ``{"seconds"}``: real seconds between a refused action's
  ``error`` and the ``pong`` after it (default as racetime-app: half a millisecond).
- ``POST /_test/tokens/expire`` ``{"client_id"?}``; ``POST /_test/tokens/revoke``
  ``{"client_id"?, "token"?}`` (a bare 403 on ``/o/...``, "Permission denied" for actions on
  open sockets), ``{"revoked"}``; ``POST /_test/tokens/lifetime`` ``{"seconds"}``: the
  ``expires_in`` of new tokens.
- ``POST /_test/lose`` ``{"n", "path_prefix", "status"?}``: carry out the next requests, then
  lose their answers (a cut connection, or ``status``).
- ``POST /_test/fail`` ``{"n", "status", "path_prefix"}``, ``POST /_test/delay``
  ``{"seconds", "path_prefix"}``, ``GET /_test/requests?path_prefix=``: HTTP faults, counts.
- ``GET /_test/broadcasts?since=N``, ``POST /_test/broadcasts`` ``{"enabled"}``: the log of
  every ``race.data`` sent.
- People's OAuth (``/o/authorize``, ``/o/userinfo``, the code and refresh grants): the hooks
  under ``/_test/oauth/`` are listed in ``oauth_views``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import WSMsgType, web

from fake_racetime import forms, oauth_views, serialize
from fake_racetime.bot_actions import ACTIONS, BotContext
from fake_racetime.keys import SERVER
from fake_racetime.models import ALL_SCOPES, Token
from fake_racetime.racer import RACER_ACTIONS, Racer
from fake_racetime.server import (
    CLIENT_TAG_HEADER,
    READING_ACTIONS,
    FakeRacetimeServer,
    Received,
    RequestRecord,
    Socket,
)
from fake_racetime.state import RACE_STATUS, Race, RaceActionError

logger = logging.getLogger(__name__)

INVALID_JSON = (
    "Unable to process that message (encountered invalid or possibly corrupted data). "
    "Sorry about that."
)
UNKNOWN_ACTION = "Action is missing or not recognised. Check your input and try again."
PERMISSION_DENIED = "Permission denied. Check your authorization token."

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _forbidden() -> web.Response:
    """django-oauth-toolkit's answer to a missing, bad, expired or revoked token: a bare 403."""
    return web.Response(status=403)


def _permission_denied() -> web.Response:
    """Django's ``PermissionDenied`` page (no active bot of the category on category data)."""
    return web.Response(status=403, text="<h1>403 Forbidden</h1>", content_type="text/html")


def _not_found() -> web.Response:
    return web.Response(status=404, text="<h1>Not Found</h1>", content_type="text/html")


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, text=json.dumps(data), content_type="application/json")


@web.middleware
async def faults(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Count requests and apply the injected failures and delays (never to ``/_test``)."""
    server = request.app[SERVER]
    path = request.path
    if path.startswith("/_test/"):
        return await handler(request)
    server.requests.append((request.method, path))
    record = None
    if server.request_log is not None:
        record = RequestRecord(
            time.time(), request.method, path, client=request.headers.get(CLIENT_TAG_HEADER)
        )
        server.request_log.append(record)
    response = await _faulty(server, request, handler)
    if record is not None:
        record.status = response.status
        record.location = response.headers.get("Location")
    return response


async def _faulty(
    server: FakeRacetimeServer, request: web.Request, handler: Handler
) -> web.StreamResponse:
    path = request.path
    for rule in list(server.delay_rules):
        if path.startswith(rule.path_prefix):
            if rule.remaining is not None:
                rule.remaining -= 1
                if rule.remaining <= 0:
                    server.delay_rules.remove(rule)
            await asyncio.sleep(rule.seconds)
            break
    for failing in list(server.fail_rules):
        if path.startswith(failing.path_prefix):
            failing.remaining -= 1
            if failing.remaining <= 0:
                server.fail_rules.remove(failing)
            return web.Response(
                status=failing.status,
                text=f"<h1>Server Error ({failing.status})</h1>",
                content_type="text/html",
            )
    response = await handler(request)
    for lose in list(server.lose_rules):
        if path.startswith(lose.path_prefix):
            lose.remaining -= 1
            if lose.remaining <= 0:
                server.lose_rules.remove(lose)
            if lose.status is None:
                if request.transport is not None:
                    request.transport.abort()
                raise asyncio.CancelledError  # aiohttp's way to end a handler without answering
            return web.Response(
                status=lose.status,
                text=f"<h1>Gateway Error ({lose.status})</h1>",
                content_type="text/html",
            )
    return response


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header[len("Bearer ") :].strip()
    return None


def _valid_token(server: FakeRacetimeServer, request: web.Request) -> Token | None:
    tok = server.tokens.get(_bearer(request) or "")
    if tok is None or not tok.valid_at(server.clock.now()):
        return None
    return tok


def _has_bot(server: FakeRacetimeServer, tok: Token, category: str) -> bool:
    app = server.bots.get(tok.client_id)
    return app is not None and app.active and app.category == category


# -- OAuth -----------------------------------------------------------------------------------


async def token(request: web.Request) -> web.Response:
    server = request.app[SERVER]
    form = await _form(request)
    grant = form.get("grant_type")
    if grant not in ("client_credentials", "authorization_code", "refresh_token"):
        return _json({"error": "unsupported_grant_type"}, 400)
    client_id = str(form.get("client_id") or "")
    secret = str(form.get("client_secret") or "")
    auth = request.headers.get("Authorization", "")
    if auth.startswith("Basic "):
        try:
            client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return _json({"error": "invalid_client"}, 401)
    if grant != "client_credentials":
        return await oauth_views.person_token(request, form, client_id, secret)
    app = server.bots.get(client_id)
    if app is None or app.client_secret != secret:
        return _json({"error": "invalid_client"}, 401)
    requested = str(form.get("scope") or "").split()
    scopes = tuple(s for s in requested if s in ALL_SCOPES) or ALL_SCOPES
    tok = server.issue_token(client_id, scopes)
    return _json(
        {
            "access_token": tok.value,
            "expires_in": server.token_lifetime,
            "token_type": "Bearer",
            "scope": " ".join(tok.scopes),
        }
    )


# -- data ------------------------------------------------------------------------------------


def _current(server: FakeRacetimeServer, category: str, *, include_unlisted: bool) -> list[Race]:
    return [
        r
        for r in server.races.values()
        if r.category.slug == category and not r.is_done and (include_unlisted or not r.unlisted)
    ]


async def category_data(request: web.Request) -> web.Response:
    server = request.app[SERVER]
    category = server.categories.get(request.match_info["category"])
    if category is None:
        return _not_found()
    races = _current(server, category.slug, include_unlisted=False)
    return _json(serialize.category_dict(category, races))


async def bot_category_data(request: web.Request) -> web.Response:
    server = request.app[SERVER]
    slug = request.match_info["category"]
    tok = _valid_token(server, request)
    if tok is None:
        return _forbidden()
    category = server.categories.get(slug)
    if category is None:
        return _not_found()
    if not _has_bot(server, tok, slug):
        return _permission_denied()
    races = _current(server, slug, include_unlisted=True)
    return _json(serialize.category_dict(category, races))


async def race_data(request: web.Request) -> web.Response:
    server = request.app[SERVER]
    race = server.races.get(request.match_info["slug"])
    if race is None or race.category.slug != request.match_info["category"]:
        return _not_found()
    return _json(serialize.race_dict(race, server.clock.now()))


# -- startrace / edit --------------------------------------------------------------------------


async def _authorised_bot(
    request: web.Request, category_slug: str
) -> tuple[web.Response | None, str]:
    server = request.app[SERVER]
    tok = _valid_token(server, request)
    if tok is None or "create_race" not in tok.scopes:
        return _forbidden(), ""
    if category_slug not in server.categories:
        return _not_found(), ""
    if not _has_bot(server, tok, category_slug):
        return _forbidden(), ""
    return None, server.bots[tok.client_id].name


async def _form(request: web.Request) -> dict[str, str]:
    if not request.content_type.endswith(("form-urlencoded", "form-data")):
        return {}  # a JSON body is ignored, exactly like Django's request.POST
    data = await request.post()
    return {k: str(v) for k, v in data.items()}


async def startrace(request: web.Request) -> web.Response:
    server = request.app[SERVER]
    slug = request.match_info["category"]
    refused, bot_name = await _authorised_bot(request, slug)
    if refused is not None:
        return refused
    category = server.categories[slug]
    result = forms.parse_race_form(await _form(request), category, forms.START_FIELDS)
    if result.errors:
        return _json({"errors": result.errors}, 422)
    values = dict(result.values)
    invitational = values.pop("invitational")
    race = server.open_race(
        slug,
        goal=values.pop("goal"),
        custom_goal=values.pop("custom_goal"),
        bot=bot_name,
        invitational=invitational,
        **values,
    )
    race.recordable = race.ranked and not race.custom_goal
    logger.info("fake racetime: %s opened %s", bot_name, race.name)
    return web.Response(status=201, headers={"Location": f"/{race.name}"})


async def edit_race(request: web.Request) -> web.Response:
    server = request.app[SERVER]
    slug = request.match_info["category"]
    refused, bot_name = await _authorised_bot(request, slug)
    if refused is not None:
        return refused
    race = server.races.get(request.match_info["slug"])
    if race is None or race.category.slug != slug:
        return _not_found()
    if race.is_done:
        return _forbidden()
    fields = forms.EDIT_FIELDS if race.is_preparing else forms.STARTED_EDIT_FIELDS
    result = forms.parse_race_form(await _form(request), race.category, fields)
    if result.errors:
        return _json({"errors": result.errors}, 422)

    def change(now: Any) -> None:
        for name, value in result.values.items():
            setattr(race, name, value)
        if "goal" in result.values:
            race.recordable = race.ranked and not race.custom_goal
        race.touch()
        race.post(f"##bot##{bot_name}## updated the race details.", now=now)

    await server.apply(race, change)
    return web.Response(status=200)


# -- websockets ------------------------------------------------------------------------------


async def bot_ws(request: web.Request) -> web.StreamResponse:
    return await _race_ws(request, "bot")


async def public_ws(request: web.Request) -> web.StreamResponse:
    return await _race_ws(request, "public")


async def _race_ws(request: web.Request, kind: str) -> web.StreamResponse:
    server = request.app[SERVER]
    race = server.races.get(request.match_info["slug"])
    if race is None:
        # racetime never accepts the socket; daphne drops the connection without a response.
        if request.transport is not None:
            request.transport.close()
        return _not_found()
    token_value = _bearer(request) or request.query.get("token")
    ws = web.WebSocketResponse(max_msg_size=1 << 20)
    await ws.prepare(request)
    sock = Socket(
        ws=ws, transport=request.transport, kind=kind, token=token_value,
        client=request.headers.get(CLIENT_TAG_HEADER),
    )
    server.sockets.setdefault(race.slug, []).append(sock)
    try:
        await server.send_state(race, sock, "connect")
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            await _receive(server, race, sock, msg.data)
    finally:
        socks = server.sockets.get(race.slug, [])
        if sock in socks:
            socks.remove(sock)
    return ws


async def _reply(server: FakeRacetimeServer, sock: Socket, kind: str, **payload: Any) -> None:
    if kind == "pong" and sock.last_error_at is not None:
        # As racetime does: the pong after a refusal is a write of its own, a moment later.
        wait = sock.last_error_at + server.error_pong_gap - time.monotonic()
        sock.last_error_at = None
        if wait > 0:
            await asyncio.sleep(wait)
    frame = serialize.envelope(kind, server.clock.now(), **payload)
    await sock.ws.send_str(json.dumps(frame))
    if kind == "error":
        sock.last_error_at = time.monotonic()


async def _receive(server: FakeRacetimeServer, race: Race, sock: Socket, text: str) -> None:
    try:
        content = json.loads(text)
    except ValueError:
        await _reply(server, sock, "error", errors=[INVALID_JSON])
        return
    if not isinstance(content, dict):
        await _reply(server, sock, "error", errors=[UNKNOWN_ACTION])
        return
    action = content.get("action")
    data = content.get("data")
    server.received.append(Received(race.slug, sock.kind, action, data))
    if server.request_log is not None and action not in READING_ACTIONS:
        server.request_log.append(
            RequestRecord(time.time(), "WS", f"/ws/{race.slug}/{action}", client=sock.client)
        )
    if action == "ping":
        await _reply(server, sock, "pong")
        await server.release_after_pong(race.slug, sock)
        return
    if action == "getrace":
        await server.send_state(race, sock, "getrace")
        return
    if action == "gethistory":
        if server.history_delay:
            await asyncio.sleep(server.history_delay)
        await _reply(server, sock, "chat.history", messages=_history(server, race, data))
        return
    if sock.kind != "bot":
        return  # the public socket is read-only
    handler = ACTIONS.get(action) if isinstance(action, str) else None
    if handler is None:
        await _reply(server, sock, "error", errors=[UNKNOWN_ACTION])
        return
    app = server.bot_for_token(sock.token, race)
    if app is None:
        await _reply(server, sock, "error", errors=[PERMISSION_DENIED])
        return

    def change(now: Any) -> None:
        handler(BotContext(server, race, app.name, now), data)

    try:
        # Broadcast through the "channel layer": after the pong of the ping that follows.
        await server.apply(race, change, hold_for=sock)
    except RaceActionError as exc:
        await _reply(server, sock, "error", errors=[str(a) for a in exc.args])


def _history(server: FakeRacetimeServer, race: Race, data: Any) -> list[dict[str, Any]]:
    """racetime-app's ``get_chat_history`` for a bot's socket (no user: no DMs).

    The messages after ``last_message`` (by their key: racetime decodes the hashid, so a
    deleted or another room's message still counts; an id it cannot decode means from the
    start), then the last 100 of those not pinned and every pinned one, ordered by
    ``(pinned, posted_at)``: pinned messages come last.
    """
    last = data.get("last_message") if isinstance(data, dict) else None
    after = server.message_seq(last) if isinstance(last, str) and last else None
    messages = [m for m in race.messages if not m.is_dm and (after is None or m.seq > after)]
    recent = [m for m in messages if not m.pinned][-100:]
    pinned = [m for m in messages if m.pinned]
    return [serialize.chat_message_dict(m, race) for m in recent + pinned]


# -- the /_test API (for demos and benchmarks in another process) ------------------------------


async def _body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    data = await request.json()
    return data if isinstance(data, dict) else {}


async def test_add_user(request: web.Request) -> web.Response:
    body = await _body(request)
    server = request.app[SERVER]
    uid = server.add_user(
        str(body.get("name", "Racer")),
        discriminator=body.get("discriminator"),
        twitch_channel=body.get("twitch_channel"),
        stream_live=bool(body.get("stream_live", False)),
    )
    return _json({"id": uid}, 201)


async def test_add_bot(request: web.Request) -> web.Response:
    body = await _body(request)
    server = request.app[SERVER]
    server.seed_bot(
        str(body["category"]),
        str(body["client_id"]),
        str(body["client_secret"]),
        name=str(body.get("name", "TestBot")),
        active=bool(body.get("active", True)),
    )
    return _json({"ok": True}, 201)


async def test_open_race(request: web.Request) -> web.Response:
    body = await _body(request)
    server = request.app[SERVER]
    category = str(body.pop("category"))
    race = server.open_race(category, **body)
    return _json({"name": race.name, "slug": race.slug}, 201)


def _split_args(body: dict[str, Any]) -> dict[str, Any]:
    """The ``split`` action's data (``split``, ``time``, ``is_finish``) as ``Racer.split`` args."""
    return {
        "split_name": str(body.get("split") or ""),
        "split_time": str(body.get("time") or "-"),
        "is_finish": bool(body.get("is_finish", False)),
    }


async def test_racer(request: web.Request) -> web.Response:
    server = request.app[SERVER]
    action = request.match_info["action"]
    if action not in RACER_ACTIONS:
        return _json({"errors": [f"unknown racer action {action}"]}, 404)
    args = _split_args(await _body(request)) if action == "split" else {}
    try:
        racer = server.racer(request.match_info["slug"], request.match_info["user"])
        await racer.do(action, **args)
    except RaceActionError as exc:
        return _json({"errors": list(exc.args)}, 422)
    except KeyError:
        return _json({"errors": ["unknown race or user"]}, 404)
    return _json({"ok": True})


async def test_say(request: web.Request) -> web.Response:
    body = await _body(request)
    text = body.get("text")
    if not isinstance(text, str):
        return _json({"errors": ["text: a string is required"]}, 422)
    try:
        racer = server_racer(request)
        message = await racer.say(text)
    except RaceActionError as exc:
        return _json({"errors": list(exc.args)}, 422)
    except KeyError:
        return _json({"errors": ["unknown race or user"]}, 404)
    return _json({"id": message.id}, 201)


async def test_click(request: web.Request) -> web.Response:
    body = await _body(request)
    message_id, label, values = body.get("message"), body.get("label"), body.get("values")
    if not isinstance(message_id, str) or not isinstance(label, str):
        return _json({"errors": ["message and label: strings are required"]}, 422)
    if values is not None and not isinstance(values, dict):
        return _json({"errors": ["values: an object is required"]}, 422)
    try:
        racer = server_racer(request)
        message = await racer.click(message_id, label, values)
    except RaceActionError as exc:
        return _json({"errors": list(exc.args)}, 422)
    except KeyError:
        return _json({"errors": ["unknown race or user"]}, 404)
    return _json({"id": message.id, "message": message.message}, 201)


def server_racer(request: web.Request) -> Racer:
    """The racer of the route's ``slug`` and ``user`` (``KeyError`` when either is unknown)."""
    server = request.app[SERVER]
    return server.racer(request.match_info["slug"], request.match_info["user"])


async def test_chat(request: web.Request) -> web.Response:
    server = request.app[SERVER]
    try:
        race = server.race(request.match_info["slug"])
    except KeyError:
        return _json({"errors": ["unknown race"]}, 404)
    return _json([serialize.chat_message_dict(m, race) for m in race.messages])


async def test_received(request: web.Request) -> web.Response:
    server = request.app[SERVER]
    slug = request.match_info["slug"]
    return _json([r.as_dict() for r in server.received if r.slug == slug])


async def test_delete_user(request: web.Request) -> web.Response:
    server = request.app[SERVER]
    user = request.match_info["user"]
    if user not in server.users:
        return _json({"errors": ["unknown user"]}, 404)
    await server.delete_user(user)
    return _json({"ok": True})


_FRAME_KEYS = ("frame", "text", "race_of")


async def test_frame(request: web.Request) -> web.Response:
    """Send a raw frame to a room's sockets (the module docstring lists the body forms)."""
    server = request.app[SERVER]
    slug = request.match_info["slug"]
    if slug not in server.races:
        return _json({"errors": ["unknown race"]}, 404)
    raw = await request.text()
    wrapper = _frame_wrapper(raw) if request.content_type == "application/json" else None
    frame: Any = raw
    if wrapper is not None:
        key, value = wrapper
        if key == "race_of":
            if str(value) not in server.races:
                return _json({"errors": ["unknown race in race_of"]}, 404)
            frame = server.race_data_frame(str(value))
        else:
            frame = str(value) if key == "text" else value
    await server.inject_frame(slug, frame)
    return _json({"ok": True, "bytes": len(frame.encode()) if isinstance(frame, str) else None})


def _frame_wrapper(raw: str) -> tuple[str, Any] | None:
    """``(key, value)`` when the body is ``{"frame"|"text"|"race_of": value}``; else None."""
    try:
        body = json.loads(raw)
    except ValueError:
        return None
    if isinstance(body, dict) and len(body) == 1 and next(iter(body)) in _FRAME_KEYS:
        return next(iter(body.items()))
    return None


# Race fields a stale copy may set over HTTP: plain values, not the room's identity.
_NOT_SETTABLE = frozenset({"category", "slug", "version", "dirty"})


def _field_setter(race: Race, values: Any) -> Callable[[Any], None] | str:
    """A change setting plain race fields, or what is wrong with ``values``."""
    if not isinstance(values, dict) or not values:
        return "set must be an object of race fields"
    for name, value in values.items():
        current = getattr(race, name, ...)
        if name in _NOT_SETTABLE or not isinstance(current, str | bool | int | None):
            return f"{name} cannot be set"
        if name == "status" and value not in RACE_STATUS:
            return f"unknown status {value!r}"

    def change(_now: Any) -> None:
        for name, value in values.items():
            setattr(race, name, value)

    return change


async def test_stale_copy(request: web.Request) -> web.Response:
    server = request.app[SERVER]
    slug = request.match_info["slug"]
    if slug not in server.races:
        return _json({"errors": ["unknown race"]}, 404)
    body = await _body(request)
    change: Callable[[Any], None] | None = None
    if "set" in body:
        setter = _field_setter(server.races[slug], body["set"])
        if isinstance(setter, str):
            return _json({"errors": [setter]}, 422)
        change = setter
    try:
        version = await server.save_stale_copy(slug, change)
    except RaceActionError as exc:
        return _json({"errors": list(exc.args)}, 422)
    return _json({"version": version})


async def _set_seconds(request: web.Request, setter: Callable[[float], None]) -> web.Response:
    """A ``{"seconds"}`` setting of the server; a value it refuses is a 422."""
    body = await _body(request)
    try:
        setter(float(body.get("seconds", 0)))
    except ValueError as exc:
        return _json({"errors": [str(exc)]}, 422)
    return _json({"ok": True})


async def test_error_pong_gap(request: web.Request) -> web.Response:
    return await _set_seconds(request, request.app[SERVER].set_error_pong_gap)


async def test_history_delay(request: web.Request) -> web.Response:
    return await _set_seconds(request, request.app[SERVER].set_history_delay)


async def test_adoption_delay(request: web.Request) -> web.Response:
    return await _set_seconds(request, request.app[SERVER].set_adoption_delay)


async def test_revoke(request: web.Request) -> web.Response:
    body = await _body(request)
    count = request.app[SERVER].revoke_tokens(
        client_id=body.get("client_id"), token=body.get("token")
    )
    return _json({"revoked": count})


async def test_token_lifetime(request: web.Request) -> web.Response:
    body = await _body(request)
    try:
        request.app[SERVER].set_token_lifetime(int(body.get("seconds", 0)))
    except ValueError as exc:
        return _json({"errors": [str(exc)]}, 422)
    return _json({"ok": True})


async def test_advance(request: web.Request) -> web.Response:
    body = await _body(request)
    await request.app[SERVER].advance(float(body.get("seconds", 0)))
    return _json({"ok": True})


async def test_clock(request: web.Request) -> web.Response:
    body = await _body(request)
    clock = request.app[SERVER].clock
    if body.get("held"):
        clock.hold()
    else:
        clock.release()
    return _json({"held": clock.held, "now": clock.now().isoformat()})


async def test_drop(request: web.Request) -> web.Response:
    count = await request.app[SERVER].drop_sockets(request.match_info["slug"])
    return _json({"dropped": count})


async def test_expire(request: web.Request) -> web.Response:
    body = await _body(request)
    count = request.app[SERVER].expire_tokens(client_id=body.get("client_id"))
    return _json({"expired": count})


async def test_fail(request: web.Request) -> web.Response:
    body = await _body(request)
    request.app[SERVER].fail_next(
        int(body.get("n", 1)), int(body.get("status", 503)), str(body.get("path_prefix", ""))
    )
    return _json({"ok": True})


async def test_lose(request: web.Request) -> web.Response:
    body = await _body(request)
    status = body.get("status")
    request.app[SERVER].lose_next_response(
        int(body.get("n", 1)),
        str(body.get("path_prefix", "")),
        int(status) if status is not None else None,
    )
    return _json({"ok": True})


async def test_delay(request: web.Request) -> web.Response:
    body = await _body(request)
    request.app[SERVER].delay(float(body.get("seconds", 0)), str(body.get("path_prefix", "")))
    return _json({"ok": True})


async def test_requests(request: web.Request) -> web.Response:
    prefix = request.query.get("path_prefix", "")
    return _json({"count": request.app[SERVER].request_count(prefix)})


async def test_broadcasts(request: web.Request) -> web.Response:
    """The broadcast log (``?since=N`` skips the first N entries); ``enabled`` false when off."""
    entries = request.app[SERVER].broadcast_log
    since = int(request.query.get("since", "0"))
    return _json(
        {
            "enabled": entries is not None,
            "broadcasts": [b.as_dict() for b in (entries or [])[since:]],
        }
    )


async def test_enable_broadcasts(request: web.Request) -> web.Response:
    """``{"enabled": true}`` starts an empty broadcast log; false stops and forgets it."""
    body = await _body(request)
    request.app[SERVER].enable_broadcast_log(bool(body.get("enabled", True)))
    return _json({"ok": True})


# Injected frames can be huge (a room of thousands of entrants is tens of megabytes).
MAX_TEST_BODY = 256 * 1024 * 1024


def build_app(server: FakeRacetimeServer) -> web.Application:
    app = web.Application(middlewares=[faults], client_max_size=MAX_TEST_BODY)
    app[SERVER] = server
    app.router.add_post("/_test/users", test_add_user)
    app.router.add_post("/_test/users/{user}/delete", test_delete_user)
    app.router.add_post("/_test/races/{slug}/frame", test_frame)
    app.router.add_post("/_test/races/{slug}/stale-copy", test_stale_copy)
    app.router.add_post("/_test/adoption-delay", test_adoption_delay)
    app.router.add_post("/_test/history-delay", test_history_delay)
    app.router.add_post("/_test/tokens/revoke", test_revoke)
    app.router.add_post("/_test/tokens/lifetime", test_token_lifetime)
    app.router.add_post("/_test/bots", test_add_bot)
    app.router.add_post("/_test/races", test_open_race)
    app.router.add_post("/_test/races/{slug}/racers/{user}/say", test_say)
    app.router.add_post("/_test/races/{slug}/racers/{user}/click", test_click)
    app.router.add_post("/_test/races/{slug}/racers/{user}/{action}", test_racer)
    app.router.add_get("/_test/races/{slug}/received", test_received)
    app.router.add_get("/_test/races/{slug}/chat", test_chat)
    app.router.add_post("/_test/races/{slug}/drop", test_drop)
    app.router.add_post("/_test/advance", test_advance)
    app.router.add_post("/_test/clock", test_clock)
    app.router.add_post("/_test/error-pong-gap", test_error_pong_gap)
    app.router.add_post("/_test/tokens/expire", test_expire)
    app.router.add_post("/_test/fail", test_fail)
    app.router.add_post("/_test/lose", test_lose)
    app.router.add_post("/_test/delay", test_delay)
    app.router.add_get("/_test/requests", test_requests)
    app.router.add_get("/_test/broadcasts", test_broadcasts)
    app.router.add_post("/_test/broadcasts", test_enable_broadcasts)
    app.router.add_post("/o/token", token)
    oauth_views.add_routes(app.router)
    app.router.add_get("/o/{category}/data", bot_category_data)
    app.router.add_post("/o/{category}/startrace", startrace)
    app.router.add_post("/o/{category}/{slug}/edit", edit_race)
    app.router.add_get("/ws/o/bot/{slug}", bot_ws)
    app.router.add_get("/ws/race/{slug}", public_ws)
    app.router.add_get("/{category}/data", category_data)
    app.router.add_get("/{category}/{slug}/data", race_data)
    return app
