"""API tokens: organizers create, list and revoke bearer tokens for their server's HTTP API.

A token is ``rd_`` and 32 random bytes (url-safe base64). Only its SHA-256 is stored: the
plaintext is returned once, by :meth:`ApiTokenService.create`, and never logged, listed or
kept. Every token belongs to one server; the API only ever acts on that server's matches.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col, select

from core.access import AccessPolicy, Actor, Permission
from core.audit import AuditService
from core.clock import Clock
from core.errors import NotFoundError, UserFacingError
from core.labels import clean_label
from db.models import ApiToken

log = logging.getLogger(__name__)

TOKEN_PREFIX = "rd_"  # noqa: S105 - a prefix that makes a leaked token recognisable
TOKEN_BYTES = 32
NAME_MAX = 64
TOKENS_PER_GUILD_MAX = 25  # also what autocomplete can show


@dataclass(frozen=True, slots=True)
class ApiTokenInfo:
    """A token as organizers see it: never the token itself."""

    id: int
    guild_id: int
    name: str
    created_by_discord_id: int
    created_at: datetime
    last_used_at: datetime | None

    def as_actor(self) -> Actor:
        """The token as the access policy sees it: an actor of its server only."""
        return Actor.api_token(self.id, self.guild_id, created_by=self.created_by_discord_id)


@dataclass(frozen=True, slots=True)
class CreatedToken:
    """A new token: ``plaintext`` is shown once and exists nowhere else."""

    info: ApiTokenInfo
    plaintext: str

    def __repr__(self) -> str:  # keeps the token out of logs and tracebacks
        return f"CreatedToken(info={self.info!r}, plaintext='***')"


def hash_token(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


def clean_name(name: str) -> str:
    return clean_label(
        name, noun="token name", limit=NAME_MAX,
        when_blank="Give the token a name that says who uses it, e.g. `stream-overlay`.",
    )


def _info(row: ApiToken) -> ApiTokenInfo:
    assert row.id is not None
    return ApiTokenInfo(
        id=row.id,
        guild_id=row.guild_id,
        name=row.name,
        created_by_discord_id=row.created_by_discord_id,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
    )


class ApiTokenService:
    """A server's tokens; organizers (the access policy says who) manage them."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        audit: AuditService,
        clock: Clock,
        *,
        access: AccessPolicy,
    ) -> None:
        self._access = access
        self._sessionmaker = sessionmaker
        self._audit = audit
        self._clock = clock

    async def create(self, guild_id: int, name: str, *, actor: Actor) -> CreatedToken:
        """A new token for the server; its name is unique among the server's live tokens."""
        await self._access.require(actor, Permission.MANAGE_API_TOKENS, guild_id)
        name = clean_name(name)
        assert actor.discord_id is not None
        plaintext = new_token()
        async with self._sessionmaker.begin() as session:
            live = await self._live(session, guild_id)
            if any(token.name.lower() == name.lower() for token in live):
                raise UserFacingError(
                    f"This server already has a token called **{name}**. Choose another name, "
                    "or revoke that one first with `/api-token revoke`."
                )
            if len(live) >= TOKENS_PER_GUILD_MAX:
                raise UserFacingError(
                    f"This server has {len(live)} tokens, the most it can have. Revoke one "
                    "with `/api-token revoke` first."
                )
            row = ApiToken(
                guild_id=guild_id,
                name=name,
                token_hash=hash_token(plaintext),
                created_by_discord_id=actor.discord_id,
                created_at=self._clock.now(),
            )
            session.add(row)
            await session.flush()
            await self._audit.record(
                session, "api_token.create", actor_discord_id=actor.discord_id,
                guild_id=guild_id, details={"token_id": row.id, "name": name},
            )
            info = _info(row)
        log.info("API token %d (%s) created in guild %d", info.id, name, guild_id)
        return CreatedToken(info, plaintext)

    async def list_tokens(self, guild_id: int, *, actor: Actor) -> list[ApiTokenInfo]:
        """The server's live tokens, oldest first."""
        await self._access.require(actor, Permission.MANAGE_API_TOKENS, guild_id)
        async with self._sessionmaker() as session:
            return [_info(row) for row in await self._live(session, guild_id)]

    async def suggest(self, guild_id: int, typed: str, *, actor: Actor) -> list[str]:
        """Names of the server's live tokens containing ``typed`` (for autocomplete): only
        for those who may list them."""
        needle = typed.strip().lower()
        tokens = await self.list_tokens(guild_id, actor=actor)
        return [token.name for token in tokens if needle in token.name.lower()]

    async def revoke(self, guild_id: int, name: str, *, actor: Actor) -> ApiTokenInfo:
        """Revoke the server's live token called ``name``: it stops working at once."""
        await self._access.require(actor, Permission.MANAGE_API_TOKENS, guild_id)
        async with self._sessionmaker.begin() as session:
            found = [
                row for row in await self._live(session, guild_id)
                if row.name.lower() == name.strip().lower()
            ]
            if not found:
                raise NotFoundError(
                    f"This server has no token called **{name.strip()}**. "
                    "`/api-token list` shows them."
                )
            row = found[0]
            row.revoked_at = self._clock.now()
            await self._audit.record(
                session, "api_token.revoke", actor_discord_id=actor.discord_id,
                guild_id=guild_id, details={"token_id": row.id, "name": row.name},
            )
            info = _info(row)
        log.info("API token %d (%s) revoked in guild %d", info.id, info.name, guild_id)
        return info

    async def authenticate(self, plaintext: str) -> ApiTokenInfo | None:
        """The live token whose hash is ``plaintext``'s, its last use now; None if none."""
        if not plaintext.startswith(TOKEN_PREFIX):
            return None
        async with self._sessionmaker.begin() as session:
            result = await session.execute(
                select(ApiToken).where(
                    ApiToken.token_hash == hash_token(plaintext),
                    col(ApiToken.revoked_at).is_(None),
                )
            )
            row = result.scalar_one_or_none()
            if row is None:
                return None
            now = self._clock.now()
            await session.execute(
                update(ApiToken).where(col(ApiToken.id) == row.id).values(last_used_at=now)
            )
            row.last_used_at = now
            return _info(row)

    async def record_call(
        self, token: ApiTokenInfo, action: str, details: dict[str, Any]
    ) -> None:
        """An API call in the audit log: the actor is the token (its id and name in the
        details; the user who created it as the actor)."""
        async with self._sessionmaker.begin() as session:
            await self._audit.record(
                session, action, actor_discord_id=token.created_by_discord_id,
                guild_id=token.guild_id,
                details={"token_id": token.id, "token_name": token.name, **details},
            )

    async def _live(self, session: AsyncSession, guild_id: int) -> list[ApiToken]:
        result = await session.execute(
            select(ApiToken)
            .where(ApiToken.guild_id == guild_id, col(ApiToken.revoked_at).is_(None))
            .order_by(col(ApiToken.id))
        )
        return list(result.scalars())
