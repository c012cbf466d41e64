"""Re-encrypting every stored secret with the current key, on the real database."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import select

from db.models import RacetimeBot, User, metadata
from db.secrets import SecretBox, encrypted_columns, reencrypt_stored_secrets
from tests.plugins.faults import DatabaseFaults

Sessions = async_sessionmaker[AsyncSession]


async def store(sessions: Sessions, *rows: RacetimeBot | User) -> None:
    async with sessions.begin() as session:
        session.add_all(rows)


def bot(category: str, box: SecretBox) -> RacetimeBot:
    return RacetimeBot(
        category=category,
        display_name=category,
        client_id=f"{category}-id",
        client_secret_encrypted=box.encrypt(f"{category}-secret"),
    )


async def load(sessions: Sessions) -> tuple[dict[str, RacetimeBot], list[User]]:
    async with sessions() as session:
        bots = {b.category: b for b in (await session.execute(select(RacetimeBot))).scalars()}
        users = list((await session.execute(select(User))).scalars())
    return bots, users


def test_every_encrypted_column_is_found_by_its_name() -> None:
    found = {
        (table.name, column.name)
        for table, columns in encrypted_columns(metadata)
        for column in columns
    }
    assert found == {
        ("calendar_feeds", "token_encrypted"),
        ("racetime_bots", "client_secret_encrypted"),
        ("users", "access_token_encrypted"),
        ("users", "refresh_token_encrypted"),
    }


async def test_rotation_rewrites_what_it_can_read_and_reports_the_rest(
    db_sessionmaker: Sessions,
) -> None:
    old, new = SecretBox.generate_key(), SecretBox.generate_key()
    old_box, stranger = SecretBox(old), SecretBox(SecretBox.generate_key())
    await store(
        db_sessionmaker,
        bot("alttpr", old_box),
        bot("smz3", stranger),
        bot("smw", SecretBox(new)),
        User(discord_id=10**17, access_token_encrypted=old_box.encrypt("access")),
        User(discord_id=10**17 + 1),
    )
    async with db_sessionmaker.begin() as session:
        report = await reencrypt_stored_secrets(
            session, SecretBox(new, old_keys=[old]), metadata
        )
    assert report.rows_rewritten == 3  # alttpr, smw, the user with a token
    [unreadable] = report.undecryptable
    bots, users = await load(db_sessionmaker)
    assert (unreadable.table, unreadable.row_id, unreadable.column) == (
        "racetime_bots", bots["smz3"].id, "client_secret_encrypted",
    )
    current = SecretBox(new)
    assert current.decrypt(bots["alttpr"].client_secret_encrypted) == "alttpr-secret"
    assert current.decrypt(bots["smw"].client_secret_encrypted) == "smw-secret"
    assert stranger.decrypt(bots["smz3"].client_secret_encrypted) == "smz3-secret"
    with_token = next(u for u in users if u.access_token_encrypted is not None)
    assert current.decrypt(with_token.access_token_encrypted) == "access"
    assert all(u.refresh_token_encrypted is None for u in users)


async def test_a_failure_part_way_rolls_every_row_back(
    db_faults: DatabaseFaults, db_sessionmaker: Sessions
) -> None:
    old, new = SecretBox.generate_key(), SecretBox.generate_key()
    old_box = SecretBox(old)
    await store(
        db_sessionmaker,
        bot("alttpr", old_box),
        User(discord_id=10**17, access_token_encrypted=old_box.encrypt("access")),
    )
    before, _ = await load(db_sessionmaker)
    db_faults.fail(r"UPDATE users")
    with pytest.raises(OperationalError):
        async with db_sessionmaker.begin() as session:
            await reencrypt_stored_secrets(session, SecretBox(new, old_keys=[old]), metadata)
    after, _ = await load(db_sessionmaker)
    assert (
        after["alttpr"].client_secret_encrypted == before["alttpr"].client_secret_encrypted
    ), "the bot's row was rewritten although the users' update failed"
