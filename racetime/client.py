"""Async HTTP client for racetime.gg: tokens, category and race data, startrace and edit.

One shared ``aiohttp.ClientSession`` per client (created lazily, closed by ``close()`` or
``async with``). It never retries on its own: the caller decides, so a failing racetime cannot
turn into a retry storm. Secrets and tokens never appear in logs or exception messages.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Any, Self
from urllib.parse import urlencode

import aiohttp
import msgspec

from core.clock import Clock, SystemClock
from core.metrics import NO_METRICS, Metrics
from racetime.errors import (
    RacetimeAuthError,
    RacetimeConnectionError,
    RacetimeError,
    RacetimeGrantError,
    RacetimeNotFoundError,
    RacetimeServerError,
    RacetimeValidationError,
)
from racetime.models import CategoryData, Race

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = aiohttp.ClientTimeout(total=15, connect=5)


# What ``expires_in`` may say: racetime issues 10-hour tokens; a value outside these bounds is
# taken as the nearest bound (a token that expires at once would make every user renew it
# in a loop).
TOKEN_LIFETIME_MIN_SECONDS = 30
TOKEN_LIFETIME_MAX_SECONDS = 10 * 24 * 3600
TOKEN_LIFETIME_DEFAULT_SECONDS = 36000


@dataclass(frozen=True, slots=True)
class AccessToken:
    """An OAuth2 access token; ``repr`` hides the value.

    ``issued_at`` is when it was requested; it is due for renewal at half its lifetime, as
    racetime-bot does, so a short-lived token is renewed early enough and never in a loop.
    """

    value: str = field(repr=False)
    scope: tuple[str, ...]
    expires_at: datetime
    token_type: str = "Bearer"  # noqa: S105 (the scheme name, not a secret)
    issued_at: datetime | None = None

    @property
    def lifetime(self) -> timedelta:
        issued = self.issued_at or self.expires_at - timedelta(
            seconds=TOKEN_LIFETIME_DEFAULT_SECONDS
        )
        return self.expires_at - issued

    @property
    def renew_at(self) -> datetime:
        """Half-way through its lifetime."""
        return self.expires_at - self.lifetime / 2

    def __repr__(self) -> str:
        return (
            f"AccessToken(value=<hidden>, scope={self.scope!r}, "
            f"expires_at={self.expires_at.isoformat()})"
        )

    def has_scope(self, scope: str) -> bool:
        return scope in self.scope

    def expires_within(self, delta: timedelta, now: datetime | None = None) -> bool:
        return (now or datetime.now(UTC)) + delta >= self.expires_at

    def is_expired(self, now: datetime | None = None) -> bool:
        return self.expires_within(timedelta(0), now)


@dataclass(frozen=True, slots=True)
class UserToken:
    """A person's OAuth2 tokens (authorization-code grant); ``repr`` hides both values."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_at: datetime
    scope: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return (
            f"UserToken(access_token=<hidden>, refresh_token=<hidden>, scope={self.scope!r}, "
            f"expires_at={self.expires_at.isoformat()})"
        )


@dataclass(frozen=True, slots=True)
class RacetimeUser:
    """Who a person's token belongs to (``/o/userinfo``)."""

    id: str
    name: str
    full_name: str
    discriminator: str | None = None


@dataclass(slots=True, kw_only=True)
class RaceSettings:
    """Every field of ``POST /o/<category>/startrace`` (and ``edit``).

    Every field is always sent, because racetime resets an omitted field to the Race *model*
    default (e.g. ``streaming_required=True``), not to the category's setting. Our defaults
    suit tournament rooms: invitational, not streaming-required. Exactly one of ``goal``
    (a goal name of the category) and ``custom_goal`` must be set.
    """

    goal: str | None = None
    custom_goal: str | None = None
    team_race: bool = False
    invitational: bool = True  # model: False (open)
    ranked: bool = True
    unlisted: bool = False
    info_user: str = ""
    info_bot: str = ""
    require_even_teams: bool = False
    start_delay: int = 15  # seconds, 10-60
    time_limit: int = 24  # hours, 1-72
    time_limit_auto_complete: bool = False
    streaming_required: bool = False  # model: True
    auto_start: bool = True
    allow_comments: bool = True
    hide_comments: bool = False
    allow_prerace_chat: bool = True
    allow_midrace_chat: bool = True
    allow_non_entrant_chat: bool = True
    chat_message_delay: int = 0  # seconds, 0-90
    # Only sent when set: racetime drops them unless the category allows them.
    partitionable: bool | None = None
    hide_entrants: bool | None = None

    def not_taken_by(self, race: Race) -> list[str]:
        """Settings the room ``race`` does not have although they were asked for.

        racetime answers ``startrace`` with 201 and silently drops settings the category does
        not allow (``hide_entrants``, ``partitionable``); only reading the room back tells.
        ``partitionable`` is not in race data, so it cannot be checked this way.
        """
        missing = []
        if self.invitational != (race.status.value == "invitational"):
            missing.append("invitational")
        for name in _READ_BACK_FLAGS:
            wanted = getattr(self, name)
            if wanted is not None and bool(getattr(race, name)) != wanted:
                missing.append(name)
        return missing

    def to_form(self) -> dict[str, str]:
        """Form fields with booleans as ``true``/``false`` (Django reads "0"/"no" as True)."""
        form: dict[str, str] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                if f.name in ("goal", "custom_goal"):
                    form[f.name] = ""
                continue
            if isinstance(value, bool):
                form[f.name] = "true" if value else "false"
            else:
                form[f.name] = str(value)
        return form


# Settings that race data reports back under the same name.
_READ_BACK_FLAGS = (
    "team_race", "ranked", "unlisted", "require_even_teams", "time_limit_auto_complete",
    "streaming_required", "auto_start", "allow_comments", "hide_comments",
    "allow_prerace_chat", "allow_midrace_chat", "allow_non_entrant_chat", "hide_entrants",
)


def _token_lifetime(raw: object) -> int:
    """``expires_in`` as seconds within sane bounds (logged when it had to be corrected)."""
    try:
        # (ignored below: racetime's JSON: a number or a numeric string)
        seconds = int(raw) if raw is not None else TOKEN_LIFETIME_DEFAULT_SECONDS  # type: ignore[call-overload]
    except (TypeError, ValueError):
        logger.warning("racetime sent an unreadable token lifetime %r; assuming 10 hours", raw)
        return TOKEN_LIFETIME_DEFAULT_SECONDS
    bounded = min(max(seconds, TOKEN_LIFETIME_MIN_SECONDS), TOKEN_LIFETIME_MAX_SECONDS)
    if bounded != seconds:
        logger.warning("racetime sent a token lifetime of %d s; using %d s", seconds, bounded)
    return bounded


# Path segments that are part of racetime's API rather than a category or a room's slug.
_FIXED_SEGMENTS = frozenset({"o", "token", "userinfo", "authorize", "data", "startrace", "edit"})


def endpoint_template(path: str) -> str:
    """``path`` with its category and room named by placeholders, for a metric's label:
    ``/o/alttpr/startrace`` -> ``/o/{category}/startrace``, ``/alttpr/cool-room-1234/data``
    -> ``/{category}/{race}/data``. Bounded whatever racetime or a caller puts in a path."""
    parts = path.split("?", 1)[0].strip("/").split("/")
    prefix = parts[:1] if parts[:1] == ["o"] else []
    names = iter(("{category}", "{race}"))
    templated = [
        part if part in _FIXED_SEGMENTS else next(names, "{other}")
        for part in parts[len(prefix):]
    ]
    return "/" + "/".join([*prefix, *templated])


def split_race_name(name_or_slug: str, category: str | None = None) -> tuple[str, str]:
    """``"cat/slug"`` or (``category``, ``"slug"``) -> (category, slug)."""
    text = name_or_slug.strip("/")
    if "/" in text:
        cat, _, slug = text.rpartition("/")
        return cat.rsplit("/", 1)[-1], slug
    if category is None:
        raise ValueError("a bare race slug needs its category")
    return category, text


class RacetimeClient:
    """One racetime.gg host (``racetime.gg`` or ``127.0.0.1:8765``) over one session."""

    def __init__(
        self,
        host: str = "racetime.gg",
        *,
        secure: bool = True,
        timeout: aiohttp.ClientTimeout | float = DEFAULT_TIMEOUT,
        user_agent: str = "RaceDesk",
        clock: Clock | None = None,
        metrics: Metrics = NO_METRICS,
    ) -> None:
        self._clock: Clock = clock or SystemClock()
        self._metrics = metrics
        self.host = host
        self.secure = secure
        self.timeout = (
            timeout
            if isinstance(timeout, aiohttp.ClientTimeout)
            else aiohttp.ClientTimeout(total=timeout)
        )
        self.user_agent = user_agent
        self._session: aiohttp.ClientSession | None = None

    @property
    def base_url(self) -> str:
        return f"{'https' if self.secure else 'http'}://{self.host}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=self.timeout, headers={"User-Agent": self.user_agent}
            )
        return self._session

    async def close(self) -> None:
        # Detach first: a request starting while this awaits gets a new session, not a
        # half-closed one that would then be forgotten unclosed.
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def __aenter__(self) -> Self:
        self._get_session()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- requests ------------------------------------------------------------------------------

    async def _request(
        self,
        method: str,
        path: str,
        *,
        what: str,
        token: AccessToken | None = None,
        data: dict[str, str] | None = None,
    ) -> tuple[int, bytes, dict[str, str]]:
        headers = {"Authorization": f"Bearer {token.value}"} if token else {}
        status = "error"
        try:
            async with self._get_session().request(
                method, self.url(path), data=data, headers=headers, allow_redirects=False
            ) as resp:
                body = await resp.read()
                status = str(resp.status)
                return resp.status, body, dict(resp.headers)
        except TimeoutError as exc:
            status = "timeout"
            logger.warning("racetime %s timed out (%s %s)", what, method, path)
            raise RacetimeConnectionError(f"racetime.gg did not answer in time ({what}).") from exc
        except aiohttp.ClientError as exc:
            logger.warning("racetime %s failed: %s", what, type(exc).__name__)
            raise RacetimeConnectionError(
                f"Could not reach racetime.gg ({what}): {type(exc).__name__}."
            ) from exc
        finally:
            self._metrics.racetime_request(method, endpoint_template(path), status)

    @staticmethod
    def _raise_for(status: int, body: bytes, what: str) -> None:
        if status == 401:
            # racetime's own reason (``invalid_client``) helps whoever fixes the credentials.
            answer = _json_or_none(body)
            code = answer.get("error") if isinstance(answer, dict) else None
            reason = f": {code}" if isinstance(code, str) and code.isidentifier() else ""
            raise RacetimeAuthError(
                f"racetime.gg refused the bot credentials ({what}){reason}.", status=status
            )
        if status == 403:
            raise RacetimeAuthError(
                f"racetime.gg denied access ({what}): the token is invalid, expired or lacks "
                "the scope, or the bot is not active in this category.",
                status=status,
            )
        if status == 404:
            raise RacetimeNotFoundError(f"racetime.gg has no such category or race ({what}).")
        if status == 422:
            errors = _json_or_none(body)
            if isinstance(errors, dict) and isinstance(errors.get("errors"), dict):
                raise RacetimeValidationError(
                    {str(k): [str(m) for m in v] for k, v in errors["errors"].items()}
                )
            raise RacetimeValidationError({"__all__": ["racetime.gg rejected the request."]})
        if status >= 500:
            raise RacetimeServerError(
                f"racetime.gg had a server error ({what}, HTTP {status}).", status=status
            )
        raise RacetimeServerError(
            f"racetime.gg answered unexpectedly ({what}, HTTP {status}).", status=status
        )

    # -- API -----------------------------------------------------------------------------------

    async def get_token(
        self, client_id: str, client_secret: str, scope: str | None = None
    ) -> AccessToken:
        """Client-credentials token; ``expires_at`` is computed from ``expires_in``."""
        form = {
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": client_secret,
        }
        if scope:
            form["scope"] = scope
        requested_at = self._clock.now()
        status, body, _ = await self._request("POST", "/o/token", what="token", data=form)
        if status != 200:
            if status == 400:
                raise RacetimeAuthError("racetime.gg rejected the token request.", status=400)
            self._raise_for(status, body, "token")
        data = _json_or_none(body)
        if not isinstance(data, dict) or not data.get("access_token"):
            raise RacetimeServerError("racetime.gg sent no access token.", status=status)
        expires_in = _token_lifetime(data.get("expires_in"))
        logger.info("racetime token issued, expires in %d s", expires_in)
        return AccessToken(
            value=str(data["access_token"]),
            scope=tuple(str(data.get("scope") or "").split()),
            expires_at=requested_at + timedelta(seconds=expires_in),
            token_type=str(data.get("token_type") or "Bearer"),
            issued_at=requested_at,
        )

    # -- people's OAuth (account linking) -------------------------------------------------------

    def authorize_url(
        self, client_id: str, redirect_uri: str, state: str, scope: str = "read"
    ) -> str:
        """The racetime.gg page where a person approves ``client_id`` (authorization code)."""
        query = urlencode(
            {
                "response_type": "code",
                "client_id": client_id,
                "redirect_uri": redirect_uri,
                "scope": scope,
                "state": state,
            }
        )
        return self.url(f"/o/authorize?{query}")

    async def exchange_code(
        self, client_id: str, client_secret: str, code: str, redirect_uri: str
    ) -> UserToken:
        """Trade an authorization code for the person's tokens.

        A refused code is :class:`RacetimeGrantError`; bad app credentials
        :class:`RacetimeAuthError`; racetime down :class:`RacetimeConnectionError` or
        :class:`RacetimeServerError`.
        """
        form = {
            "grant_type": "authorization_code",
            "client_id": client_id,
            "client_secret": client_secret,
            "code": code,
            "redirect_uri": redirect_uri,
        }
        return await self._user_token(form, "authorization code")

    async def refresh_user_token(
        self, client_id: str, client_secret: str, refresh_token: str
    ) -> UserToken:
        """New tokens for a person; racetime rotates the refresh token (the old one dies)."""
        form = {
            "grant_type": "refresh_token",
            "client_id": client_id,
            "client_secret": client_secret,
            "refresh_token": refresh_token,
        }
        return await self._user_token(form, "token refresh")

    async def _user_token(self, form: dict[str, str], what: str) -> UserToken:
        requested_at = self._clock.now()
        status, body, _ = await self._request("POST", "/o/token", what=what, data=form)
        if status == 400:
            data = _json_or_none(body)
            error = str(data.get("error") or "") if isinstance(data, dict) else ""
            raise RacetimeGrantError(
                f"racetime.gg refused the {what} ({error or 'HTTP 400'}).", error=error
            )
        if status != 200:
            self._raise_for(status, body, what)
        data = _json_or_none(body)
        if not isinstance(data, dict) or not data.get("access_token"):
            raise RacetimeServerError("racetime.gg sent no access token.", status=status)
        expires_in = _token_lifetime(data.get("expires_in"))
        refresh = data.get("refresh_token")
        return UserToken(
            access_token=str(data["access_token"]),
            refresh_token=str(refresh) if refresh else None,
            expires_at=requested_at + timedelta(seconds=expires_in),
            scope=tuple(str(data.get("scope") or "").split()),
        )

    async def get_userinfo(self, access_token: str) -> RacetimeUser:
        """The person a token belongs to; a refused token is :class:`RacetimeAuthError`."""
        token = AccessToken(value=access_token, scope=(), expires_at=self._clock.now())
        data = await self._get_json("/o/userinfo", "user info", token)
        user_id, name = data.get("id"), data.get("name")
        if not isinstance(user_id, str) or not user_id or not isinstance(name, str):
            raise RacetimeServerError("racetime.gg sent malformed user info.", status=200)
        discriminator = data.get("discriminator")
        return RacetimeUser(
            id=user_id,
            name=name,
            full_name=str(data.get("full_name") or name),
            discriminator=str(discriminator) if discriminator is not None else None,
        )

    async def get_category_data(self, category: str, token: AccessToken) -> dict[str, Any]:
        """``/o/<category>/data``: the bot view, which includes unlisted races."""
        return await self._get_json(f"/o/{category}/data", "category data", token)

    async def get_category(self, category: str, token: AccessToken) -> CategoryData:
        """:meth:`get_category_data` read straight into :class:`CategoryData`, in one pass:
        what it does not hold (every open race's owner, flags...) is skipped, not built. A
        room's launch reads it, and at a peak a category lists a thousand races."""
        status, body, _ = await self._request(
            "GET", f"/o/{category}/data", what="category data", token=token
        )
        if status != 200:
            self._raise_for(status, body, "category data")
        try:
            return msgspec.json.decode(body, type=CategoryData)
        except msgspec.ValidationError as error:
            raise RacetimeServerError(
                f"racetime.gg sent unreadable category data: {error}", status=status
            ) from None
        except msgspec.DecodeError:
            raise RacetimeServerError(
                "racetime.gg sent malformed JSON (category data).", status=status
            ) from None

    async def get_public_category_data(self, category: str) -> dict[str, Any]:
        return await self._get_json(f"/{category}/data", "category data")

    async def get_race_data(self, category_or_name: str, slug: str | None = None) -> dict[str, Any]:
        """Race data by ``("cat", "slug")`` or by race name ``"cat/slug"``."""
        if slug is None:
            category, slug = split_race_name(category_or_name)
        else:
            category = category_or_name
        return await self._get_json(f"/{category}/{slug}/data", "race data")

    async def _get_json(
        self, path: str, what: str, token: AccessToken | None = None
    ) -> dict[str, Any]:
        status, body, _ = await self._request("GET", path, what=what, token=token)
        if status != 200:
            self._raise_for(status, body, what)
        data = _json_or_none(body)
        if not isinstance(data, dict):
            raise RacetimeServerError(f"racetime.gg sent malformed JSON ({what}).", status=status)
        return data

    async def start_race(self, category: str, token: AccessToken, settings: RaceSettings) -> str:
        """Open a room; returns its race name ``"category/slug"`` (from ``Location``)."""
        status, body, headers = await self._request(
            "POST",
            f"/o/{category}/startrace",
            what="start race",
            token=token,
            data=settings.to_form(),
        )
        if status not in (200, 201):
            self._raise_for(status, body, "start race")
        location = headers.get("Location", "")
        if not location.strip("/"):
            raise RacetimeServerError("racetime.gg did not say where the room is.", status=status)
        cat, slug = split_race_name(location.split("?", 1)[0], category)
        logger.info("racetime room opened: %s/%s", cat, slug)
        return f"{cat}/{slug}"

    async def edit_race(
        self, category: str, slug: str, token: AccessToken, settings: RaceSettings
    ) -> None:
        """Change a room's settings; every field is sent, so pass the complete settings."""
        category, slug = split_race_name(slug, category)
        status, body, _ = await self._request(
            "POST",
            f"/o/{category}/{slug}/edit",
            what="edit race",
            token=token,
            data=settings.to_form(),
        )
        if status not in (200, 201, 204):
            self._raise_for(status, body, "edit race")


def _json_or_none(body: bytes) -> Any:
    # msgspec: category data lists every open race, and a launch reads it (issue 28).
    try:
        return msgspec.json.decode(body)
    except ValueError:  # msgspec.DecodeError is one
        return None


__all__ = [
    "AccessToken",
    "RaceSettings",
    "RacetimeClient",
    "RacetimeError",
    "RacetimeUser",
    "UserToken",
    "split_race_name",
]
