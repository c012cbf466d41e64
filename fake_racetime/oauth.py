"""The fake's OAuth2 provider for people (django-oauth-toolkit as racetime.gg runs it).

Bots use the client-credentials grant (``app.token``); this module holds what a *person's*
authorization needs: registered applications with their redirect URIs, authorization codes,
and refresh tokens. Behaviour copied from django-oauth-toolkit 2.x / oauthlib defaults:

- ``/o/authorize`` with an unknown ``client_id`` or a ``redirect_uri`` that is not registered
  answers a 400 error page (never a redirect: the redirect target is not trusted). Other
  errors (``response_type`` not ``code``, an unknown scope, the person declining) redirect to
  ``redirect_uri`` with ``error=...`` and ``state``.
- An authorization code lives 60 s (``AUTHORIZATION_CODE_EXPIRE_SECONDS``), is single-use
  and bound to its client and redirect URI: a wrong, used or expired code is 400
  ``invalid_grant``; another ``redirect_uri`` than the one authorized is 400
  ``invalid_request``; bad client credentials are 401 ``invalid_client``.
- Refresh tokens rotate (``ROTATE_REFRESH_TOKEN``): a refresh revokes the old access and
  refresh tokens and issues new ones; an old, revoked or unknown refresh token is 400
  ``invalid_grant``.

No person is logged in to the fake, so ``authorize_as(user_id)`` says whose approval
``/o/authorize`` gives (or ``deny()`` to decline); with neither, the browser is sent to the
login page (``/account/auth?next=...``), as racetime does for a visitor.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

AUTHORIZATION_CODE_SECONDS = 60
USER_SCOPES: tuple[str, ...] = ("read", "chat_message", "race_action")


@dataclass
class OAuthApp:
    """An application people authorize (authorization-code grant, confidential)."""

    client_id: str
    client_secret: str = field(repr=False)
    redirect_uris: tuple[str, ...]
    name: str = "Test App"


@dataclass
class AuthorizationCode:
    value: str = field(repr=False)
    client_id: str
    redirect_uri: str
    user_id: str
    scopes: tuple[str, ...]
    expires_at: datetime
    used: bool = False


@dataclass
class RefreshToken:
    value: str = field(repr=False)
    client_id: str
    user_id: str
    scopes: tuple[str, ...]
    access_token: str = field(repr=False)
    revoked: bool = False


@dataclass
class OAuthProvider:
    """Applications, codes and refresh tokens; the server issues the access tokens."""

    apps: dict[str, OAuthApp] = field(default_factory=dict)
    codes: dict[str, AuthorizationCode] = field(default_factory=dict)
    refresh_tokens: dict[str, RefreshToken] = field(default_factory=dict)
    # Whose approval /o/authorize gives; "" declines; None: nobody is logged in.
    approving_user: str | None = None

    def register_app(
        self, client_id: str, client_secret: str, redirect_uris: list[str] | tuple[str, ...]
    ) -> OAuthApp:
        app = OAuthApp(client_id, client_secret, tuple(redirect_uris))
        self.apps[client_id] = app
        return app

    def authorize_as(self, user_id: str) -> None:
        self.approving_user = user_id

    def deny(self) -> None:
        self.approving_user = ""

    def new_code(
        self, app: OAuthApp, redirect_uri: str, user_id: str, scopes: tuple[str, ...],
        now: datetime,
    ) -> AuthorizationCode:
        code = AuthorizationCode(
            value=secrets.token_urlsafe(24),
            client_id=app.client_id,
            redirect_uri=redirect_uri,
            user_id=user_id,
            scopes=scopes,
            expires_at=now + timedelta(seconds=AUTHORIZATION_CODE_SECONDS),
        )
        self.codes[code.value] = code
        return code

    def redeem_code(
        self, value: str, client_id: str, redirect_uri: str, now: datetime
    ) -> AuthorizationCode | str:
        """The code, now used; or the OAuth error (``invalid_grant``/``invalid_request``)."""
        code = self.codes.get(value)
        if code is None or code.used or code.client_id != client_id or now >= code.expires_at:
            return "invalid_grant"
        if code.redirect_uri != redirect_uri:
            return "invalid_request"
        code.used = True
        return code

    def new_refresh_token(
        self, client_id: str, user_id: str, scopes: tuple[str, ...], access_token: str
    ) -> RefreshToken:
        token = RefreshToken(
            secrets.token_urlsafe(24), client_id, user_id, scopes, access_token
        )
        self.refresh_tokens[token.value] = token
        return token

    def rotate(self, value: str, client_id: str) -> RefreshToken | None:
        """The refresh token, now revoked (the caller issues the new pair); None: refused."""
        token = self.refresh_tokens.get(value)
        if token is None or token.revoked or token.client_id != client_id:
            return None
        token.revoked = True
        return token

    def revoke_refresh_tokens(self, user_id: str | None = None) -> int:
        matching = [
            t for t in self.refresh_tokens.values()
            if not t.revoked and (user_id is None or t.user_id == user_id)
        ]
        for token in matching:
            token.revoked = True
        return len(matching)
