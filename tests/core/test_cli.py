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
