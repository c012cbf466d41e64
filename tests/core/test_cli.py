"""The command line: ``db upgrade``, ``generate-key`` and ``rotate-key`` (deployment mistakes
and ``db backup``/``db restore``: tests/deploy/)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import select

from db.models import RacetimeBot, User
from db.secrets import SecretBox

REPO = Path(__file__).resolve().parents[2]


def run_bot(
    *args: str, env: dict[str, str] | None = None, cwd: Path = REPO
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("RACEDESK_")}
    return subprocess.run(
        [sys.executable, str(REPO / "bot.py"), *args],
        capture_output=True,
        text=True,
        env={**base, **(env or {})},
        cwd=cwd,
        timeout=120,
        check=False,
    )


def test_db_upgrade_creates_the_schema_without_the_rest_of_the_config(tmp_path: Path) -> None:
    database = tmp_path / "nested" / "racedesk.sqlite3"
    result = run_bot(
        "--config",
        str(tmp_path / "absent.toml"),
        "db",
        "upgrade",
        env={"RACEDESK_DATABASE__URL": f"sqlite+aiosqlite:///{database}"},
    )
    assert result.returncode == 0, result.stderr
    assert "newest schema" in result.stdout
    with sqlite3.connect(database) as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    assert {"racetime_bots", "race_rooms", "matches", "audit_log"} <= tables


def test_generate_key_prints_a_usable_secret_key() -> None:
    result = run_bot("generate-key")
    assert result.returncode == 0
    key = result.stdout.strip()
    box = SecretBox(key)
    assert box.decrypt(box.encrypt("secret")) == "secret"


def test_db_upgrade_with_a_bad_url_names_the_setting(tmp_path: Path) -> None:
    result = run_bot(
        "--config",
        str(tmp_path / "absent.toml"),
        "db",
        "upgrade",
        env={"RACEDESK_DATABASE__URL": "mysql://root@localhost/racedesk"},
    )
    assert result.returncode == 2
    # The value came from the environment: the variable is what to fix, not the file.
    assert "RACEDESK_DATABASE__URL (database.url) is invalid" in result.stderr
    assert "Traceback" not in result.stderr


async def stored_bots(sessions: async_sessionmaker[AsyncSession]) -> dict[str, bytes]:
    async with sessions() as session:
        rows = (await session.execute(select(RacetimeBot))).scalars()
        return {row.category: row.client_secret_encrypted for row in rows}


async def test_rotate_key_reencrypts_every_stored_secret_with_the_current_key(
    tmp_path: Path, db_url: str, db_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    old, new, lost = (SecretBox.generate_key() for _ in range(3))
    async with db_sessionmaker.begin() as session:
        for category, box in (("alttpr", SecretBox(old)), ("smz3", SecretBox(lost))):
            session.add(
                RacetimeBot(
                    category=category,
                    display_name=category,
                    client_id=f"{category}-id",
                    client_secret_encrypted=box.encrypt(f"{category}-client-secret"),
                )
            )
        session.add(
            User(discord_id=10**17, access_token_encrypted=SecretBox(old).encrypt("token"))
        )
    smz3_before = (await stored_bots(db_sessionmaker))["smz3"]
    async with db_sessionmaker() as session:
        smz3 = (await session.execute(select(RacetimeBot).filter_by(category="smz3"))).scalar_one()
    # No [discord] section: rotating keys needs only the database and the keys.
    config = tmp_path / "config.toml"
    config.write_text(f'[security]\nsecret_key = "{new}"\nold_secret_keys = ["{old}"]\n')
    env = {"RACEDESK_DATABASE__URL": db_url}

    result = run_bot("--config", str(config), "rotate-key", env=env)
    assert result.returncode == 1, result.stderr
    assert "Re-encrypted 2 rows with the current [security] secret_key." in result.stdout
    assert "Could not decrypt 1 stored secret (left unchanged)" in result.stderr
    assert f"racetime_bots row {smz3.id} (client_secret_encrypted)" in result.stderr
    assert "old_secret_keys" in result.stderr and "Traceback" not in result.stderr
    for secret in (old, new, lost, "alttpr-client-secret", "smz3-client-secret", "token"):
        assert secret not in result.stdout + result.stderr

    current = SecretBox(new)
    stored = await stored_bots(db_sessionmaker)
    assert current.decrypt(stored["alttpr"]) == "alttpr-client-secret"
    assert stored["smz3"] == smz3_before, "an unreadable secret is left as it was"
    async with db_sessionmaker() as session:
        user = (await session.execute(select(User))).scalar_one()
    assert user.access_token_encrypted is not None
    assert current.decrypt(user.access_token_encrypted) == "token"

    # The lost key turns up: given as an old key too, everything is readable.
    env["RACEDESK_SECURITY__OLD_SECRET_KEYS"] = f"{old},{lost}"
    again = run_bot("--config", str(config), "rotate-key", env=env)
    assert again.returncode == 0, again.stderr
    assert "Re-encrypted 3 rows" in again.stdout and "can be removed now" in again.stdout
    stored = await stored_bots(db_sessionmaker)
    assert {c: current.decrypt(v) for c, v in stored.items()} == {
        "alttpr": "alttpr-client-secret",
        "smz3": "smz3-client-secret",
    }


def test_rotate_key_with_a_bad_old_key_names_the_setting(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[security]\nsecret_key = "{SecretBox.generate_key()}"\n'
        'old_secret_keys = ["not-the-old-key"]\n'
        f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path}/racedesk.sqlite3"\n'
    )
    result = run_bot("--config", str(config), "rotate-key")
    assert result.returncode == 2
    assert "security.old_secret_keys is invalid" in result.stderr
    assert "not-the-old-key" not in result.stderr and "Traceback" not in result.stderr
