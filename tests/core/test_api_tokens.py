"""ApiTokenService on the real database: names, limits, hashing, revocation, last use."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import select

from core.access import AccessPolicy, Actor
from core.accounts.api_tokens import (
    TOKENS_PER_GUILD_MAX,
    ApiTokenService,
    hash_token,
)
from core.audit import AuditService
from core.clock import ManualClock
from core.errors import NotFoundError, UserFacingError
from db.models import ApiToken

GUILD, OTHER, ORGANIZER = 1, 2, 99
BY_ORGANIZER = Actor.server_admin(ORGANIZER, GUILD)
BY_ORGANIZER_THERE = Actor.server_admin(ORGANIZER, OTHER)


@pytest.fixture
def tokens(db_sessionmaker: async_sessionmaker[AsyncSession]) -> ApiTokenService:
    audit = AuditService(db_sessionmaker)
    return ApiTokenService(
        db_sessionmaker, audit, ManualClock(), access=AccessPolicy(db_sessionmaker, audit)
    )


async def test_only_the_hash_is_stored_and_it_authenticates(
    tokens: ApiTokenService, db_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    created = await tokens.create(GUILD, "  stream   overlay ", actor=BY_ORGANIZER)
    assert created.info.name == "stream overlay"
    async with db_sessionmaker() as session:
        row = (await session.execute(select(ApiToken))).scalar_one()
    assert row.token_hash == hash_token(created.plaintext) != created.plaintext
    assert created.info.last_used_at is None
    found = await tokens.authenticate(created.plaintext)
    assert found is not None and found.id == created.info.id
    assert found.last_used_at is not None
    assert await tokens.authenticate(created.plaintext[3:]) is None  # no prefix
    assert await tokens.authenticate("") is None


async def test_names_are_unique_among_a_servers_live_tokens(tokens: ApiTokenService) -> None:
    await tokens.create(GUILD, "ci", actor=BY_ORGANIZER)
    with pytest.raises(UserFacingError, match="already has a token"):
        await tokens.create(GUILD, "CI", actor=BY_ORGANIZER)
    await tokens.create(OTHER, "ci", actor=BY_ORGANIZER_THERE)  # another server's
    await tokens.revoke(GUILD, "Ci", actor=BY_ORGANIZER)
    again = await tokens.create(GUILD, "ci", actor=BY_ORGANIZER)  # after revoking
    assert [t.id for t in await tokens.list_tokens(GUILD, actor=BY_ORGANIZER)] == [again.info.id]
    with pytest.raises(NotFoundError):
        await tokens.revoke(GUILD, "nope", actor=BY_ORGANIZER)
    with pytest.raises(UserFacingError, match="name"):
        await tokens.create(GUILD, "   ", actor=BY_ORGANIZER)
    with pytest.raises(UserFacingError, match="at most 64"):
        await tokens.create(GUILD, "x" * 65, actor=BY_ORGANIZER)


async def test_a_server_has_at_most_so_many_tokens(tokens: ApiTokenService) -> None:
    for number in range(TOKENS_PER_GUILD_MAX):
        await tokens.create(GUILD, f"t{number}", actor=BY_ORGANIZER)
    with pytest.raises(UserFacingError, match="the most it can have"):
        await tokens.create(GUILD, "one more", actor=BY_ORGANIZER)
    suggested = await tokens.suggest(GUILD, "T1", actor=BY_ORGANIZER)
    assert suggested == ["t1"] + [f"t1{n}" for n in range(10)]
