"""Routes of the fake's OAuth2 for people: ``/o/authorize``, the code and refresh grants of
``/o/token``, ``/o/userinfo``, and their ``/_test`` hooks (behaviour: ``oauth`` module).

- ``POST /_test/oauth/apps`` ``{"client_id", "client_secret", "redirect_uris": [...]}``
- ``POST /_test/oauth/authorize-as`` ``{"user_id"}``; ``POST /_test/oauth/deny``
- ``POST /_test/oauth/revoke-refresh`` ``{"user_id"?}``: ``{"revoked"}``
"""

from __future__ import annotations

import html
import json
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from fake_racetime import serialize
from fake_racetime.keys import SERVER
from fake_racetime.oauth import USER_SCOPES, OAuthApp
from fake_racetime.server import FakeRacetimeServer


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, text=json.dumps(data), content_type="application/json")


def _error_page(message: str) -> web.Response:
    """django-oauth-toolkit's page for an error it must not redirect (the client is unknown)."""
    body = f"<h1>Error</h1><p>{html.escape(message)}</p>"
    return web.Response(status=400, text=body, content_type="text/html")


def _redirect(uri: str, params: dict[str, str]) -> web.Response:
    separator = "&" if "?" in uri else "?"
    return web.Response(status=302, headers={"Location": uri + separator + urlencode(params)})


async def authorize(request: web.Request) -> web.Response:
    server = request.app[SERVER]
    query = request.query
    app = server.oauth.apps.get(query.get("client_id", ""))
    if app is None:
        return _error_page("Invalid client_id parameter value.")
    redirect_uri = query.get("redirect_uri", "")
    if redirect_uri not in app.redirect_uris:
        return _error_page("Mismatching redirect URI.")
    state = {"state": query["state"]} if "state" in query else {}
    if query.get("response_type") != "code":
        return _redirect(redirect_uri, {"error": "unsupported_response_type", **state})
    requested = tuple(query.get("scope", "read").split()) or ("read",)
    if any(s not in USER_SCOPES for s in requested):
        return _redirect(redirect_uri, {"error": "invalid_scope", **state})
    user = server.oauth.approving_user
    if user is None:
        login = "/account/auth?" + urlencode({"next": request.path_qs})
        return web.Response(status=302, headers={"Location": login})
    if not user:
        return _redirect(redirect_uri, {"error": "access_denied", **state})
    code = server.oauth.new_code(app, redirect_uri, user, requested, server.clock.now())
    return _redirect(redirect_uri, {"code": code.value, **state})


def _person_app(
    server: FakeRacetimeServer, client_id: str, secret: str
) -> OAuthApp | web.Response:
    app = server.oauth.apps.get(client_id)
    if app is None:
        if client_id in server.bots and server.bots[client_id].client_secret == secret:
            return _json({"error": "unauthorized_client"}, 400)
        return _json({"error": "invalid_client"}, 401)
    if app.client_secret != secret:
        return _json({"error": "invalid_client"}, 401)
    return app


def _token_answer(
    server: FakeRacetimeServer, app: OAuthApp, user_id: str, scopes: tuple[str, ...]
) -> web.Response:
    access = server.issue_token(app.client_id, scopes, user_id=user_id)
    refresh = server.oauth.new_refresh_token(app.client_id, user_id, scopes, access.value)
    return _json(
        {
            "access_token": access.value,
            "expires_in": server.token_lifetime,
            "token_type": "Bearer",
            "scope": " ".join(scopes),
            "refresh_token": refresh.value,
        }
    )


async def person_token(
    request: web.Request, form: dict[str, str], client_id: str, secret: str
) -> web.Response:
    """``/o/token`` for ``authorization_code`` and ``refresh_token`` (client already parsed)."""
    server = request.app[SERVER]
    app = _person_app(server, client_id, secret)
    if isinstance(app, web.Response):
        return app
    now = server.clock.now()
    if form.get("grant_type") == "authorization_code":
        code = server.oauth.redeem_code(
            form.get("code", ""), app.client_id, form.get("redirect_uri", ""), now
        )
        if isinstance(code, str):
            return _json({"error": code}, 400)
        return _token_answer(server, app, code.user_id, code.scopes)
    old = server.oauth.rotate(form.get("refresh_token", ""), app.client_id)
    if old is None:
        return _json({"error": "invalid_grant"}, 400)
    server.revoke_tokens(token=old.access_token)
    return _token_answer(server, app, old.user_id, old.scopes)


async def userinfo(request: web.Request) -> web.Response:
    """The authorizing person's user summary, as racetime's ``OAuthUserInfo`` answers it."""
    server = request.app[SERVER]
    header = request.headers.get("Authorization", "")
    value = header[len("Bearer ") :].strip() if header.startswith("Bearer ") else ""
    tok = server.tokens.get(value)
    if tok is None or not tok.valid_at(server.clock.now()) or tok.user_id is None:
        return web.Response(status=403)
    user = server.users.get(tok.user_id)
    summary = serialize.user_summary(user)
    if summary is None:
        return web.Response(status=403)
    summary.pop("can_moderate", None)
    return _json(summary)


# -- /_test ------------------------------------------------------------------------------------


async def _body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    data = await request.json()
    return data if isinstance(data, dict) else {}


async def test_register_app(request: web.Request) -> web.Response:
    body = await _body(request)
    uris = body.get("redirect_uris")
    if not body.get("client_id") or not isinstance(uris, list) or not uris:
        return _json({"errors": ["client_id and redirect_uris (a list) are required"]}, 422)
    request.app[SERVER].register_oauth_app(
        str(body["client_id"]), str(body.get("client_secret", "")), [str(u) for u in uris]
    )
    return _json({"ok": True}, 201)


async def test_authorize_as(request: web.Request) -> web.Response:
    body = await _body(request)
    try:
        request.app[SERVER].authorize_as(str(body.get("user_id", "")))
    except KeyError:
        return _json({"errors": ["unknown user"]}, 404)
    return _json({"ok": True})


async def test_deny(request: web.Request) -> web.Response:
    request.app[SERVER].deny_authorization()
    return _json({"ok": True})


async def test_revoke_refresh(request: web.Request) -> web.Response:
    body = await _body(request)
    user = body.get("user_id")
    count = request.app[SERVER].revoke_refresh_tokens(str(user) if user else None)
    return _json({"revoked": count})


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_post("/_test/oauth/apps", test_register_app)
    router.add_post("/_test/oauth/authorize-as", test_authorize_as)
    router.add_post("/_test/oauth/deny", test_deny)
    router.add_post("/_test/oauth/revoke-refresh", test_revoke_refresh)
    router.add_get("/o/authorize", authorize)
    router.add_get("/o/userinfo", userinfo)
