"""deploy/racedesk.service: systemd accepts it, its command starts RaceDesk, and docs/admins.md
installs what it expects. (SIGTERM's clean stop: test_running_service.py.)"""

from __future__ import annotations

import configparser
import shlex
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.racedesk_process import REPO, environment, write_config

UNIT = REPO / "deploy" / "racedesk.service"
ADMINS = REPO / "docs" / "admins.md"
INSTALLED_AT = "/opt/racedesk"  # where the unit expects the code
VENV_PYTHON = f"{INSTALLED_AT}/.venv/bin/python"


def service() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(UNIT.read_text())
    return parser["Service"]


def installed_in_this_checkout(text: str) -> str:
    """The unit as it reads on a machine where the code lives in this checkout."""
    return text.replace(VENV_PYTHON, sys.executable).replace(INSTALLED_AT, str(REPO))


def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze (Debian: the systemd package) is not installed here")
    unit = tmp_path / "racedesk.service"
    unit.write_text(installed_in_this_checkout(UNIT.read_text()))
    done = subprocess.run(
        [analyze, "verify", "--man=no", str(unit)],
        capture_output=True, text=True, timeout=120, check=False,
    )
    # verify exits 0 on unknown keys too, with a warning: nothing at all must be said.
    assert done.returncode == 0 and done.stdout + done.stderr == "", done.stdout + done.stderr


def test_its_command_runs_racedesk_in_its_virtual_environment(tmp_path: Path) -> None:
    options = service()
    command = shlex.split(options["ExecStart"])
    assert command[0] == VENV_PYTHON
    config_at = command[command.index("--config") + 1]
    # Started as systemd would (the same command, folder and a bare environment), with a
    # config whose database is out of reach: RaceDesk itself answers, naming that file.
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        config = write_config(
            tmp_path, f"postgresql+asyncpg://racedesk@127.0.0.1:{port}/racedesk"
        )
        done = subprocess.run(
            [sys.executable, *[str(config) if arg == config_at else arg for arg in command[1:]]],
            cwd=installed_in_this_checkout(options["WorkingDirectory"]),
            env=environment(tmp_path), capture_output=True, text=True, timeout=120, check=False,
        )
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [done.stderr.strip()]
    assert f"PostgreSQL at 127.0.0.1:{port}" in done.stderr and str(config) in done.stderr


def test_the_admins_guide_installs_what_the_unit_expects() -> None:
    options = service()
    guide = ADMINS.read_text()
    command = shlex.split(options["ExecStart"])
    expected = {
        "the code": options["WorkingDirectory"],
        "the configuration": command[command.index("--config") + 1],
        "the user": f"useradd --system --home-dir /var/lib/{options['StateDirectory']}",
        "the SQLite database": f"sqlite+aiosqlite:////var/lib/{options['StateDirectory']}/",
        "the unit": "deploy/racedesk.service",
        "the journal": f"journalctl -u {UNIT.stem}",
    }
    missing = {what: text for what, text in expected.items() if text not in guide}
    assert not missing, f"docs/admins.md does not show {missing}"
    assert options["User"] == "racedesk" and options["Restart"] == "on-failure"
