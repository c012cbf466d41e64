"""The command line: ``db upgrade`` and ``generate-key``."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

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


def test_an_unreachable_or_refusing_discord_ends_with_a_message_not_a_traceback(
    tmp_path: Path,
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[discord]\ntoken = "not.a.real-token"\nsync_commands = false\n'
        f'[security]\nsecret_key = "{SecretBox.generate_key()}"\n'
        f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path}/racedesk.sqlite3"\n'
    )
    result = run_bot("--config", str(config))
    assert "Traceback" not in result.stderr
    # No network here: Discord cannot be reached. With a network, it refuses the token.
    if result.returncode == 1:
        assert "Could not reach Discord" in result.stderr
    else:
        assert result.returncode == 2 and "rejected the bot token" in result.stderr
    assert (tmp_path / "racedesk.sqlite3").exists(), "the database is migrated before login"


def test_db_upgrade_with_a_bad_url_names_the_setting(tmp_path: Path) -> None:
    result = run_bot(
        "--config",
        str(tmp_path / "absent.toml"),
        "db",
        "upgrade",
        env={"RACEDESK_DATABASE__URL": "mysql://root@localhost/racedesk"},
    )
    assert result.returncode == 2
    assert "database.url is invalid" in result.stderr and "RACEDESK_DATABASE__URL" in result.stderr
    assert "Traceback" not in result.stderr
