"""Linking a Discord user to their racetime.gg account (OAuth2 authorization code).

The flow: ``start_link`` stores a random ``state`` bound to the Discord user and gives the
racetime.gg authorization URL; racetime sends the browser back to ``CALLBACK_PATH`` with
``code`` and ``state`` (or ``error``); the web route hands them to ``complete_link``, which
exchanges the code, reads ``/o/userinfo`` and stores the link with its tokens encrypted.

Decisions:

- A state is in the database (it survives a restart between click and callback), stored only
  as its SHA-256, single-use and valid for ten minutes.
- A state is used up by the first callback that presents it, *whatever* the outcome, racetime
  being down included. The code it came with may already have been redeemed by racetime (an
  answer lost on the way back), so trying it again could not be trusted to work; and a new
  link is one click on ``/link-racetime``. Every failure page says so.
- On any failure nothing is stored: the tokens are only written, together with the racetime
  id and name, in the one transaction that also checks the account is not linked to someone
  else (and the unique ``users.racetime_id`` backs that check up across processes).
  ``RacetimeAccountLinkedEvent`` is committed with it (the confirmation DM hangs off it).
- A link whose refresh racetime refused keeps its racetime id and name (so matches still
  recognise the player) but loses its tokens: that is "needs re-authorization"
  (:attr:`LinkInfo.needs_reauthorization`, and ``RacetimeLinkNeedsReauthorizationEvent`` to
  tell the player); linking again restores it.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.audit import AuditService
from core.clock import Clock, SystemClock
from core.errors import UserFacingError
from core.event_store.event_log import DatabaseEventLog
from core.events.accounts import (
    RacetimeAccountLinkedEvent,
    RacetimeLinkNeedsReauthorizationEvent,
)
from db.models import User
from db.queries.links import (
    add_link_state,
    delete_stale_link_states,
    link_state_exists,
    use_link_state,
)
from db.queries.users import (
    get_or_create_user_by_discord_id,
    get_user_by_discord_id,
    get_user_by_racetime_id,
)
from db.secrets import SecretBox, SecretDecryptionError
from racetime.client import RacetimeUser, UserToken
from racetime.errors import RacetimeAuthError, RacetimeError, RacetimeGrantError

if TYPE_CHECKING:
    from core.config import OAuthSettings, WebSettings

logger = logging.getLogger(__name__)

# Where racetime.gg sends the browser back; the web server serves it, the racetime app must
# list ``<web.public_url>/racetime/callback`` as a redirect URI.
CALLBACK_PATH = "/racetime/callback"
STATE_LIFETIME = timedelta(minutes=10)
# Used and expired states are kept this long so a replayed callback is told "already used".
STATE_RETENTION = timedelta(days=1)
# A token this close to expiry is refreshed before use.
REFRESH_MARGIN = timedelta(minutes=1)

AGAIN = "Run /link-racetime in Discord again to get a new link."


class RacetimeOAuth(Protocol):
    """What linking needs from the racetime client (``racetime.client.RacetimeClient``)."""

    @property
    def base_url(self) -> str: ...

    def authorize_url(
        self, client_id: str, redirect_uri: str, state: str, scope: str = "read"
    ) -> str: ...

    async def exchange_code(
        self, client_id: str, client_secret: str, code: str, redirect_uri: str
    ) -> UserToken: ...

    async def refresh_user_token(
        self, client_id: str, client_secret: str, refresh_token: str
    ) -> UserToken: ...

    async def get_userinfo(self, access_token: str) -> RacetimeUser: ...


@dataclass(frozen=True, slots=True)
class LinkSettings:
    """The racetime OAuth application and where racetime sends people back to."""

    client_id: str
    client_secret: str = field(repr=False)
    redirect_uri: str
    scope: str = "read"

    @classmethod
    def from_config(cls, oauth: OAuthSettings, web: WebSettings) -> LinkSettings | None:
        """None when ``oauth`` is not configured (linking then says so)."""
        if not oauth.configured:
            return None
        return cls(
            client_id=oauth.client_id,
            client_secret=oauth.client_secret.get_secret_value(),
            redirect_uri=str(web.public_url).rstrip("/") + CALLBACK_PATH,
            scope=" ".join(oauth.scopes) or "read",
        )


class LinkFailure(StrEnum):
    """Why ``complete_link`` linked nothing."""

    DECLINED = "declined"  # the person said no on racetime.gg
    UNKNOWN_STATE = "unknown_state"  # no such link (forged, mistyped, or long gone)
    USED_STATE = "used_state"  # the link was already used
    EXPIRED_STATE = "expired_state"  # older than ten minutes
    BAD_CALLBACK = "bad_callback"  # neither a code nor an error
    REFUSED = "refused"  # racetime.gg did not accept the code
    ALREADY_LINKED = "already_linked"  # that racetime account belongs to another Discord user
    RACETIME_DOWN = "racetime_down"
    NOT_CONFIGURED = "not_configured"  # our racetime application is missing or refused


@dataclass(frozen=True, slots=True)
class LinkStart:
    """The authorization URL to open (a secret until used: ``repr`` hides it)."""

    url: str = field(repr=False)
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class LinkOutcome:
    """What the callback page shows: ``message`` says what happened and what to do."""

    ok: bool
    message: str
    discord_user_id: int | None = None
    racetime_id: str | None = None
    racetime_name: str | None = None
    failure: LinkFailure | None = None
    # The racetime account this Discord user was linked to before, when it changed.
    replaced_racetime_id: str | None = None


@dataclass(frozen=True, slots=True)
class LinkInfo:
    """A Discord user's racetime link, for ``/racetime whois`` and profiles."""

    discord_user_id: int
    racetime_id: str
    racetime_name: str
    profile_url: str
    needs_reauthorization: bool
    token_expires_at: datetime | None


class LinkUnavailableError(UserFacingError):
    """racetime.gg could not be asked (down, or our application refused); try later."""


def state_hash(state: str) -> str:
    return hashlib.sha256(state.encode("utf-8")).hexdigest()


def _failure(failure: LinkFailure, message: str, discord_user_id: int | None = None) -> LinkOutcome:
    return LinkOutcome(ok=False, message=message, discord_user_id=discord_user_id, failure=failure)


class LinkService:
    """Start, complete and remove racetime links; hand out a linked user's access token."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        event_log: DatabaseEventLog,
        client: RacetimeOAuth,
        secret_box: SecretBox,
        audit: AuditService,
        settings: LinkSettings | None,
        *,
        clock: Clock | None = None,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._event_log = event_log
        self._client = client
        self._box = secret_box
        self._audit = audit
        self._settings = settings
        self._clock: Clock = clock or SystemClock()
        self._refresh_locks: dict[int, asyncio.Lock] = {}

    @property
    def configured(self) -> bool:
        return self._settings is not None

    def _require_settings(self) -> LinkSettings:
        if self._settings is None:
            raise UserFacingError(
                "Linking racetime.gg accounts is not set up on this bot: its owner must set "
                "oauth.client_id and oauth.client_secret (a racetime.gg OAuth application) "
                "and web.public_url."
            )
        return self._settings

    # -- starting ------------------------------------------------------------------------------

    async def start_link(self, discord_user_id: int) -> LinkStart:
        """A fresh single-use authorization URL for this Discord user, valid ten minutes."""
        settings = self._require_settings()
        state = secrets.token_urlsafe(32)
        now = self._clock.now()
        expires_at = now + STATE_LIFETIME
        async with self._sessionmaker.begin() as session:
            await delete_stale_link_states(session, now - STATE_RETENTION)
            await add_link_state(session, state_hash(state), discord_user_id, expires_at)
        url = self._client.authorize_url(
            settings.client_id, settings.redirect_uri, state, settings.scope
        )
        return LinkStart(url=url, expires_at=expires_at)

    # -- the callback --------------------------------------------------------------------------

    async def complete_link(
        self, state: str | None, code: str | None = None, error: str | None = None
    ) -> LinkOutcome:
        """Finish a link from racetime's callback; never raises for what a browser sent."""
        if self._settings is None:
            return _failure(LinkFailure.NOT_CONFIGURED, self._not_configured_text())
        claimed = await self._claim_state(state or "")
        if isinstance(claimed, LinkOutcome):
            return claimed
        discord_user_id = claimed
        if error:
            return self._declined(error, discord_user_id)
        if not code:
            return _failure(
                LinkFailure.BAD_CALLBACK,
                f"racetime.gg sent you back without an authorization code. {AGAIN}",
                discord_user_id,
            )
        fetched = await self._fetch_account(self._settings, code, discord_user_id)
        if isinstance(fetched, LinkOutcome):
            return fetched
        token, user = fetched
        return await self._store_link(discord_user_id, token, user)

    async def _claim_state(self, state: str) -> int | LinkOutcome:
        """The Discord user the state is bound to (now used up), or why it is refused."""
        now = self._clock.now()
        digest = state_hash(state)
        if not state:
            return _failure(
                LinkFailure.UNKNOWN_STATE, f"This link is missing its state. {AGAIN}"
            )
        async with self._sessionmaker.begin() as session:
            claimed = await use_link_state(session, digest, now)
            used = claimed is None and await link_state_exists(session, digest)
        if claimed is None:
            if used:
                return _failure(
                    LinkFailure.USED_STATE,
                    f"This link was already used; each link works once. {AGAIN}",
                )
            return _failure(
                LinkFailure.UNKNOWN_STATE,
                f"This link is not one RaceDesk gave out (or it is more than a day old). {AGAIN}",
            )
        discord_user_id, expires_at = claimed
        if now >= expires_at:
            return _failure(
                LinkFailure.EXPIRED_STATE,
                f"This link expired: links work for ten minutes. {AGAIN}",
                discord_user_id,
            )
        return discord_user_id

    @staticmethod
    def _declined(error: str, discord_user_id: int) -> LinkOutcome:
        if error == "access_denied":
            return _failure(
                LinkFailure.DECLINED,
                "You did not authorize RaceDesk on racetime.gg, so nothing was linked. If you "
                "change your mind, run /link-racetime in Discord again.",
                discord_user_id,
            )
        return _failure(
            LinkFailure.REFUSED,
            f"racetime.gg did not authorize the link ({error[:64]}). {AGAIN}",
            discord_user_id,
        )

    def _not_configured_text(self) -> str:
        return (
            "RaceDesk's racetime.gg application is not set up correctly, so nothing was "
            "linked. Please tell the bot's owner (settings oauth.client_id and "
            "oauth.client_secret)."
        )

    async def _fetch_account(
        self, settings: LinkSettings, code: str, discord_user_id: int
    ) -> tuple[UserToken, RacetimeUser] | LinkOutcome:
        try:
            token = await self._client.exchange_code(
                settings.client_id, settings.client_secret, code, settings.redirect_uri
            )
            user = await self._client.get_userinfo(token.access_token)
        except RacetimeGrantError as exc:
            logger.info("racetime refused a link code (%s)", exc.error or "no error code")
            return _failure(
                LinkFailure.REFUSED,
                "racetime.gg did not accept this authorization (it lasts one minute and "
                f"works once). {AGAIN}",
                discord_user_id,
            )
        except RacetimeAuthError as exc:
            logger.error("racetime refused RaceDesk's OAuth application: %s", exc)
            return _failure(
                LinkFailure.NOT_CONFIGURED, self._not_configured_text(), discord_user_id
            )
        except RacetimeError as exc:
            logger.warning("racetime unavailable while linking: %s", exc)
            return _failure(
                LinkFailure.RACETIME_DOWN,
                "racetime.gg is not answering right now, so nothing was linked. Wait a few "
                "minutes, then run /link-racetime in Discord again.",
                discord_user_id,
            )
        return token, user

    async def _store_link(
        self, discord_user_id: int, token: UserToken, account: RacetimeUser
    ) -> LinkOutcome:
        try:
            async with self._event_log.transaction() as outbox:
                session = outbox.session
                owner = await get_user_by_racetime_id(session, account.id)
                if owner is not None and owner.discord_id != discord_user_id:
                    return self._taken(discord_user_id, account)
                user = await get_or_create_user_by_discord_id(session, discord_user_id)
                previous = user.racetime_id
                self._write_tokens(user, token)
                user.racetime_id = account.id
                user.racetime_name = account.full_name
                session.add(user)
                await session.flush()
                await self._audit.record(
                    session,
                    "racetime.link",
                    actor_discord_id=discord_user_id,
                    details={
                        "racetime_id": account.id,
                        "racetime_name": account.full_name,
                        "previous_racetime_id": previous,
                    },
                )
                outbox.add(
                    RacetimeAccountLinkedEvent(
                        user_id=user.id,
                        occurred_at=self._clock.now(),
                        discord_user_id=discord_user_id,
                        racetime_id=account.id,
                        racetime_name=account.full_name,
                        replaced_racetime_id=previous if previous != account.id else None,
                    )
                )
        except IntegrityError:
            # Another Discord user linked the same racetime account at the same moment.
            return self._taken(discord_user_id, account)
        logger.info("discord user %d linked racetime account %s", discord_user_id, account.id)
        return LinkOutcome(
            ok=True,
            message=(
                f"Linked! Your Discord account is now linked to the racetime.gg account "
                f"{account.full_name}. You can close this page."
            ),
            discord_user_id=discord_user_id,
            racetime_id=account.id,
            racetime_name=account.full_name,
            replaced_racetime_id=previous if previous != account.id else None,
        )

    @staticmethod
    def _taken(discord_user_id: int, account: RacetimeUser) -> LinkOutcome:
        return _failure(
            LinkFailure.ALREADY_LINKED,
            f"The racetime.gg account {account.full_name} is already linked to another "
            "Discord account, so nothing was linked. Run /unlink-racetime from that Discord "
            "account first, or ask a moderator for help.",
            discord_user_id,
        )

    def _write_tokens(self, user: User, token: UserToken) -> None:
        user.access_token_encrypted = self._box.encrypt(token.access_token)
        user.refresh_token_encrypted = (
            self._box.encrypt(token.refresh_token) if token.refresh_token else None
        )
        user.token_expires_at = token.expires_at

    # -- reading and removing ------------------------------------------------------------------

    async def link_of(self, discord_user_id: int) -> LinkInfo | None:
        """The user's racetime link, or None when they never linked (or unlinked)."""
        async with self._sessionmaker() as session:
            user = await get_user_by_discord_id(session, discord_user_id)
            return self._info(user) if user is not None else None

    def _info(self, user: User) -> LinkInfo | None:
        if user.racetime_id is None:
            return None
        return LinkInfo(
            discord_user_id=user.discord_id,
            racetime_id=user.racetime_id,
            racetime_name=user.racetime_name or user.racetime_id,
            profile_url=f"{self._client.base_url}/user/{user.racetime_id}",
            needs_reauthorization=user.refresh_token_encrypted is None,
            token_expires_at=user.token_expires_at,
        )

    async def unlink(self, discord_user_id: int) -> LinkInfo:
        """Remove the link and its tokens; the link that was removed.

        Raises :class:`UserFacingError` when there is no link to remove.
        """
        async with self._sessionmaker.begin() as session:
            user = await get_user_by_discord_id(session, discord_user_id)
            info = self._info(user) if user is not None else None
            if user is None or info is None:
                raise UserFacingError(
                    "Your Discord account is not linked to a racetime.gg account, so there is "
                    "nothing to unlink. Use /link-racetime to link one."
                )
            user.racetime_id = None
            user.racetime_name = None
            user.access_token_encrypted = None
            user.refresh_token_encrypted = None
            user.token_expires_at = None
            session.add(user)
            await self._audit.record(
                session,
                "racetime.unlink",
                actor_discord_id=discord_user_id,
                details={"racetime_id": info.racetime_id, "racetime_name": info.racetime_name},
            )
        logger.info(
            "discord user %d unlinked racetime account %s", discord_user_id, info.racetime_id
        )
        return info

    # -- tokens --------------------------------------------------------------------------------

    async def access_token_for(self, discord_user_id: int) -> str | None:
        """A valid racetime access token of the user, refreshed first if it expired.

        None when the user has no link, or the link needs re-authorization (racetime refused
        the refresh: the tokens are then dropped, ``link_of`` says
        ``needs_reauthorization``, and ``/link-racetime`` fixes it). Raises
        :class:`LinkUnavailableError` when racetime.gg cannot be asked right now.
        """
        lock = self._refresh_locks.setdefault(discord_user_id, asyncio.Lock())
        async with lock:
            return await self._access_token(discord_user_id)

    async def _access_token(self, discord_user_id: int) -> str | None:
        async with self._sessionmaker() as session:
            user = await get_user_by_discord_id(session, discord_user_id)
        if user is None or user.racetime_id is None or user.refresh_token_encrypted is None:
            return None
        try:
            if (
                user.access_token_encrypted is not None
                and user.token_expires_at is not None
                and self._clock.now() + REFRESH_MARGIN < user.token_expires_at
            ):
                return self._box.decrypt(user.access_token_encrypted)
            used = user.refresh_token_encrypted
            refresh_token = self._box.decrypt(used)
        except SecretDecryptionError:
            logger.error(
                "the racetime tokens of discord user %d cannot be decrypted", discord_user_id
            )
            return None
        return await self._refresh(discord_user_id, refresh_token, used)

    async def _refresh(self, discord_user_id: int, refresh_token: str, used: bytes) -> str | None:
        settings = self._require_settings()
        try:
            token = await self._client.refresh_user_token(
                settings.client_id, settings.client_secret, refresh_token
            )
        except RacetimeGrantError:
            return await self._refresh_refused(discord_user_id, used)
        except RacetimeError as exc:
            logger.warning("racetime token refresh failed: %s", exc)
            raise LinkUnavailableError(
                "racetime.gg is not answering right now, so your racetime account cannot be "
                "used. Try again in a few minutes."
            ) from exc
        async with self._sessionmaker.begin() as session:
            user = await get_user_by_discord_id(session, discord_user_id)
            if user is None or user.refresh_token_encrypted != used:
                return None  # unlinked or relinked meanwhile: this token is for nobody
            self._write_tokens(user, token)
            session.add(user)
        logger.info("refreshed the racetime token of discord user %d", discord_user_id)
        return token.access_token

    async def _refresh_refused(self, discord_user_id: int, used: bytes) -> str | None:
        async with self._event_log.transaction() as outbox:
            session = outbox.session
            user = await get_user_by_discord_id(session, discord_user_id)
            if user is None or user.racetime_id is None:
                return None
            if user.refresh_token_encrypted not in (None, used):
                # Another process refreshed first (refresh tokens rotate): use its token.
                assert user.access_token_encrypted is not None
                return self._box.decrypt(user.access_token_encrypted)
            user.access_token_encrypted = None
            user.refresh_token_encrypted = None
            user.token_expires_at = None
            session.add(user)
            await self._audit.record(
                session,
                "racetime.link_needs_reauthorization",
                actor_discord_id=None,
                details={"discord_id": discord_user_id, "racetime_id": user.racetime_id},
            )
            outbox.add(
                RacetimeLinkNeedsReauthorizationEvent(
                    user_id=user.id,
                    occurred_at=self._clock.now(),
                    discord_user_id=discord_user_id,
                    racetime_id=user.racetime_id,
                )
            )
        logger.info(
            "racetime refused the refresh for discord user %d: link needs re-authorization",
            discord_user_id,
        )
        return None
