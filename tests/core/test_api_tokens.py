"""ApiTokenService on the real database: names, limits, hashing, revocation, last use."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import select

from core.clock import ManualClock
from core.errors import NotFoundError, UserFacingError
from core.services.api_tokens import (
    TOKENS_PER_GUILD_MAX,
    ApiTokenService,
    hash_token,
)
from core.services.audit import AuditService
from db.models import ApiToken

GUILD, OTHER, ORGANIZER = 1, 2, 99


@pytest.fixture
def tokens(db_sessionmaker: async_sessionmaker[AsyncSession]) -> ApiTokenService:
    return ApiTokenService(db_sessionmaker, AuditService(db_sessionmaker), ManualClock())


async def test_only_the_hash_is_stored_and_it_authenticates(
    tokens: ApiTokenService, db_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    created = await tokens.create(GUILD, "  stream   overlay ", actor_discord_id=ORGANIZER)
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
    await tokens.create(GUILD, "ci", actor_discord_id=ORGANIZER)
    with pytest.raises(UserFacingError, match="already has a token"):
        await tokens.create(GUILD, "CI", actor_discord_id=ORGANIZER)
    await tokens.create(OTHER, "ci", actor_discord_id=ORGANIZER)  # another server's
    await tokens.revoke(GUILD, "Ci", actor_discord_id=ORGANIZER)
    again = await tokens.create(GUILD, "ci", actor_discord_id=ORGANIZER)  # after revoking
    assert [t.id for t in await tokens.list_tokens(GUILD)] == [again.info.id]
    with pytest.raises(NotFoundError):
        await tokens.revoke(GUILD, "nope", actor_discord_id=ORGANIZER)
    with pytest.raises(UserFacingError, match="name"):
        await tokens.create(GUILD, "   ", actor_discord_id=ORGANIZER)
    with pytest.raises(UserFacingError, match="at most 64"):
        await tokens.create(GUILD, "x" * 65, actor_discord_id=ORGANIZER)


async def test_a_server_has_at_most_so_many_tokens(tokens: ApiTokenService) -> None:
    for number in range(TOKENS_PER_GUILD_MAX):
        await tokens.create(GUILD, f"t{number}", actor_discord_id=ORGANIZER)
    with pytest.raises(UserFacingError, match="the most it can have"):
        await tokens.create(GUILD, "one more", actor_discord_id=ORGANIZER)
    assert await tokens.suggest(GUILD, "T1") == ["t1"] + [f"t1{n}" for n in range(10)]
