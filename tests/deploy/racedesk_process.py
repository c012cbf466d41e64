"""``python bot.py ...`` as an admin runs it: a separate process, a config.toml written for the
test, and an environment holding nothing of the test run's (no ``RACEDESK_*`` variables, no
asyncio debug mode)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from db.secrets import SecretBox

REPO = Path(__file__).resolve().parents[2]
BOT = REPO / "bot.py"
SECRET_KEY = SecretBox.generate_key()
# Never a real token: these tests reach no real Discord.
DISCORD_TOKEN = "not-a-real-discord-token"
# discord.py sends every request to Route.BASE; this runs bot.py with it pointed elsewhere
# (a local fake, or a port where nothing listens), the way tests/plugins/fake_discord.py does
# in-process.
_WITH_DISCORD_AT = (
    "import runpy, sys, discord.http\n"
    "discord.http.Route.BASE = sys.argv.pop(1)\n"
    "sys.argv[0] = sys.argv[1]\n"
    "del sys.argv[1]\n"
    "runpy.run_path(sys.argv[0], run_name='__main__')\n"
)
# A hang guard only: every run here ends in seconds.
PROCESS_LIMIT_SECONDS = 120


def environment(home: Path, **variables: str) -> dict[str, str]:
    """What a service manager gives RaceDesk: a PATH, a HOME, a locale and ``variables``."""
    return {"PATH": os.environ["PATH"], "HOME": str(home), "LANG": "C.UTF-8", **variables}


def write_config(folder: Path, database_url: str, **sections: Mapping[str, Any]) -> Path:
    """``folder/config.toml`` with every section right, as a careful admin writes it (logging
    at WARNING, so that stderr holds only what went wrong); ``sections`` change the part a
    test is about, e.g. ``web={"bind_port": 8080}``."""
    settings: dict[str, dict[str, Any]] = {
        "discord": {"token": DISCORD_TOKEN, "sync_commands": False},
        "database": {"url": database_url},
        "oauth": {"client_id": "racedesk-oauth-app", "client_secret": "not-a-real-secret"},
        "web": {"bind_host": "127.0.0.1", "bind_port": 0},
        "security": {"secret_key": SECRET_KEY},
        "logging": {"level": "WARNING"},
    }
    for section, values in sections.items():
        settings.setdefault(section, {}).update(values)
    lines = []
    for section, keys in settings.items():
        lines.append(f"[{section}]")
        # JSON's strings, numbers, booleans and lists are TOML's too.
        lines += [f"{key} = {json.dumps(value)}" for key, value in keys.items()]
    path = folder / "config.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


@dataclass(frozen=True)
class Finished:
    returncode: int
    stdout: str
    stderr: str

    @property
    def lines(self) -> list[str]:
        return self.stderr.splitlines()


def command(
    *args: str, discord_api: str | None = None, wrapper: Sequence[str] = ()
) -> list[str]:
    """``python bot.py args``; with ``discord_api``, discord.py talks to that base URL;
    ``wrapper`` goes before it all (e.g. ``setpriv ...``)."""
    if discord_api is None:
        return [*wrapper, sys.executable, str(BOT), *args]
    return [*wrapper, sys.executable, "-c", _WITH_DISCORD_AT, discord_api, str(BOT), *args]


async def start(
    *args: str,
    home: Path,
    discord_api: str | None = None,
    variables: Mapping[str, str] | None = None,
    wrapper: Sequence[str] = (),
) -> asyncio.subprocess.Process:
    """RaceDesk started in ``home`` (its working directory)."""
    return await asyncio.create_subprocess_exec(
        *command(*args, discord_api=discord_api, wrapper=wrapper),
        cwd=home,
        env=environment(home, **(variables or {})),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def run(
    *args: str,
    home: Path,
    discord_api: str | None = None,
    variables: Mapping[str, str] | None = None,
    wrapper: Sequence[str] = (),
) -> Finished:
    """Run ``python bot.py args`` to its end."""
    process = await start(
        *args, home=home, discord_api=discord_api, variables=variables, wrapper=wrapper
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), PROCESS_LIMIT_SECONDS)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return Finished(process.returncode, out.decode(), err.decode())


def assert_one_line(done: Finished, *says: str) -> str:
    """Exit status 2 and a single line on stderr, with no traceback, that says ``says``."""
    assert "Traceback" not in done.stderr, done.stderr
    assert len(done.lines) == 1, done.stderr
    assert done.returncode == 2, done
    [line] = done.lines
    for words in says:
        assert words in line, line
    return line
