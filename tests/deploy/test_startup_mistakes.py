"""A first-time admin's mistakes, each made for real against ``python bot.py`` in a process of
its own: RaceDesk ends with one line that says what is wrong and what to change (exit status
2), never a traceback."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import sqlite3
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from cli.arguments import parse_args
from db.migrate import upgrade_to_head
from rehearsal.fake_discord_api import FakeDiscordApi
from tests.deploy.racedesk_process import (
    DISCORD_TOKEN,
    Finished,
    assert_one_line,
    run,
    write_config,
)
from tests.plugins.database import (
    PG_HOST,
    PG_PORT,
    PG_USER,
    _pg_admin,
    create_pg_database,
    drop_pg_database,
)

NOBODY = 65534


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port bound but not listening: connecting to it is refused, every time."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield held.getsockname()[1]


# -- the database -----------------------------------------------------------------------------


async def test_postgresql_that_is_not_running(tmp_path: Path, closed_port: int) -> None:
    url = f"postgresql+asyncpg://racedesk:hunter2@127.0.0.1:{closed_port}/racedesk"
    config = write_config(tmp_path, url)
    line = assert_one_line(
        await run("--config", str(config), home=tmp_path),
        f"PostgreSQL at 127.0.0.1:{closed_port}", "refused", f"[database] url in {config}",
    )
    assert "hunter2" not in line


async def test_a_postgresql_host_that_does_not_exist(tmp_path: Path) -> None:
    # .invalid never resolves (RFC 6761).
    config = write_config(tmp_path, "postgresql+asyncpg://racedesk@db.racedesk.invalid/racedesk")
    assert_one_line(
        await run("--config", str(config), home=tmp_path),
        "'db.racedesk.invalid' is unknown", f"Fix the host in [database] url in {config}",
    )


@pytest.mark.postgres
async def test_a_postgresql_database_that_does_not_exist(tmp_path: Path) -> None:
    url = f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/racedesk_no_such_database"
    config = write_config(tmp_path, url)
    assert_one_line(
        await run("--config", str(config), home=tmp_path),
        'has no database "racedesk_no_such_database"', "createdb",
        f"fix the database name in [database] url in {config}",
    )


@pytest.mark.postgres
async def test_a_postgresql_user_that_does_not_exist(tmp_path: Path) -> None:
    url = f"postgresql+asyncpg://racedesk_no_such_user@{PG_HOST}:{PG_PORT}/postgres"
    config = write_config(tmp_path, url)
    assert_one_line(
        await run("--config", str(config), home=tmp_path),
        'refused user "racedesk_no_such_user"', "does not exist",
        f"Fix the user in [database] url in {config}",
    )


@pytest.mark.postgres
async def test_a_postgresql_user_that_may_not_create_tables(tmp_path: Path) -> None:
    # The database belongs to postgres; since PostgreSQL 15 others may not create tables in it.
    role = f"racedesk_test_role_{uuid.uuid4().hex[:8]}"
    database = await create_pg_database()
    await _pg_admin(f'CREATE ROLE "{role}" LOGIN')
    try:
        config = write_config(
            tmp_path, f"postgresql+asyncpg://{role}@{PG_HOST}:{PG_PORT}/{database}"
        )
        done = await run("--config", str(config), home=tmp_path)
    finally:
        await drop_pg_database(database)
        await _pg_admin(f'DROP ROLE IF EXISTS "{role}"')
    assert_one_line(
        done, f'user "{role}" may not create RaceDesk\'s tables in database "{database}"',
        f"ALTER DATABASE {database} OWNER TO {role}", f"[database] url in {config}",
    )


async def _refuse_every_password(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """PostgreSQL's wire protocol up to a refused password (SQLSTATE 28P01), as a server whose
    password the admin mistyped answers."""
    try:
        while True:
            length = int.from_bytes(await reader.readexactly(4), "big")
            request = int.from_bytes((await reader.readexactly(length - 4))[:4], "big")
            if request in (80877103, 80877104):  # SSLRequest, GSSENCRequest: not here
                writer.write(b"N")
                continue
            break  # the StartupMessage
        writer.write(b"R" + (8).to_bytes(4, "big") + (3).to_bytes(4, "big"))  # cleartext, please
        await writer.drain()
        await reader.readexactly(1)  # "p": the password, never looked at
        await reader.readexactly(int.from_bytes(await reader.readexactly(4), "big") - 4)
        fields = b"".join(
            field + b"\0"
            for field in (
                b"SFATAL", b"VFATAL", b"C28P01",
                b'Mpassword authentication failed for user "racedesk"',
            )
        ) + b"\0"
        writer.write(b"E" + (len(fields) + 4).to_bytes(4, "big") + fields)
        await writer.drain()
    except asyncio.IncompleteReadError:
        pass
    finally:
        writer.close()


@asynccontextmanager
async def postgresql_refusing_passwords() -> AsyncIterator[int]:
    server = await asyncio.start_server(_refuse_every_password, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


async def test_a_wrong_postgresql_password(tmp_path: Path) -> None:
    async with postgresql_refusing_passwords() as port:
        config = write_config(
            tmp_path, f"postgresql+asyncpg://racedesk:not-the-password@127.0.0.1:{port}/racedesk"
        )
        done = await run("--config", str(config), home=tmp_path)
    line = assert_one_line(
        done, 'refused the password of user "racedesk"',
        f"Fix the password in [database] url in {config}",
    )
    assert "not-the-password" not in line


def without_root_powers() -> list[str]:
    """What runs RaceDesk as a user the data folder is not open to. Root may write anywhere:
    as root, RaceDesk runs without the capabilities that let it (setpriv, from util-linux)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root, and setpriv (util-linux) is missing to drop root's powers")
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search,-fowner", "--"]


def folder_of_someone_else(path: Path) -> Path:
    """A folder RaceDesk may look into but not write to."""
    path.mkdir()
    if os.geteuid() == 0:
        os.chown(path, NOBODY, NOBODY)
    else:
        path.chmod(0o555)
    return path


async def test_a_data_folder_racedesk_may_not_write(tmp_path: Path) -> None:
    wrapper = without_root_powers()
    data = folder_of_someone_else(tmp_path / "data")
    config = write_config(tmp_path, sqlite_url(data / "racedesk.sqlite3"))
    try:
        done = await run("--config", str(config), home=tmp_path, wrapper=wrapper)
    finally:
        data.chmod(0o755)
    assert_one_line(
        done, f"Cannot open the SQLite database {data / 'racedesk.sqlite3'}",
        f"may not write to the folder {data}", "write access",
        f"[database] url in {config}",
    )
    assert not list(data.iterdir())


async def test_a_data_folder_racedesk_may_not_create(tmp_path: Path) -> None:
    wrapper = without_root_powers()
    parent = folder_of_someone_else(tmp_path / "var")
    database = parent / "racedesk" / "racedesk.sqlite3"
    config = write_config(tmp_path, sqlite_url(database))
    try:
        done = await run("--config", str(config), home=tmp_path, wrapper=wrapper)
    finally:
        parent.chmod(0o755)
    assert_one_line(
        done, f"Cannot create the folder {parent / 'racedesk'}", "permission denied",
        f"[database] url in {config}",
    )


async def test_a_database_path_under_a_file(tmp_path: Path) -> None:
    (tmp_path / "data").write_text("not a folder")
    config = write_config(tmp_path, "sqlite+aiosqlite:///data/racedesk.sqlite3")
    assert_one_line(
        await run("--config", str(config), home=tmp_path),
        f"{tmp_path / 'data'} is a file, not a folder",
        f"Fix the path in [database] url in {config}",
    )


async def test_a_database_file_that_is_not_sqlite(tmp_path: Path) -> None:
    (tmp_path / "racedesk.sqlite3").write_text("these are my notes, not a database\n" * 100)
    config = write_config(tmp_path, sqlite_url(tmp_path / "racedesk.sqlite3"))
    assert_one_line(
        await run("--config", str(config), home=tmp_path),
        "is not a SQLite database", f"[database] url in {config}",
    )


async def test_a_database_a_newer_racedesk_migrated(tmp_path: Path) -> None:
    database = tmp_path / "racedesk.sqlite3"
    await upgrade_to_head(sqlite_url(database))
    with sqlite3.connect(database) as connection:
        connection.execute("UPDATE alembic_version SET version_num = '9999_from_the_future'")
    config = write_config(tmp_path, sqlite_url(database))
    assert_one_line(
        await run("--config", str(config), home=tmp_path),
        "schema revision 9999_from_the_future", "a newer RaceDesk migrated it", "db restore",
    )


# -- the web server ---------------------------------------------------------------------------


async def test_a_web_port_that_is_taken(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = write_config(
            tmp_path, sqlite_url(tmp_path / "racedesk.sqlite3"), web={"bind_port": port}
        )
        done = await run("--config", str(config), home=tmp_path)
    assert_one_line(
        done, f"cannot listen on 127.0.0.1:{port}", "already in use",
        f"set [web] bind_port in {config} to a free port",
    )


# -- the configuration ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("oauth", "blank"),
    [
        ({"client_id": "racedesk-oauth-app", "client_secret": ""}, "client_secret"),
        ({"client_id": "", "client_secret": "not-a-real-secret"}, "client_id"),
    ],
)
async def test_an_oauth_section_half_filled(
    tmp_path: Path, oauth: dict[str, str], blank: str
) -> None:
    config = write_config(tmp_path, sqlite_url(tmp_path / "racedesk.sqlite3"), oauth=oauth)
    line = assert_one_line(
        await run("--config", str(config), home=tmp_path),
        f"oauth.{blank} is blank", f"set [oauth] {blank} in {config}",
        "or blank both to run without account linking",
    )
    assert "not-a-real-secret" not in line


async def test_a_blank_oauth_section_starts_with_one_warning(
    tmp_path: Path, closed_port: int
) -> None:
    config = write_config(
        tmp_path, sqlite_url(tmp_path / "racedesk.sqlite3"),
        oauth={"client_id": "", "client_secret": ""},
    )
    done = await run(
        "--config", str(config), home=tmp_path,
        discord_api=f"http://127.0.0.1:{closed_port}/api/v10",
    )
    # It starts, and goes as far as Discord (here: nowhere to be found).
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    warning, last = done.lines
    assert "WARNING" in warning and "/link-racetime will not work until they are set" in warning
    assert last.startswith("Cannot reach Discord")


async def test_a_bad_environment_value_is_blamed_on_the_variable(tmp_path: Path) -> None:
    config = write_config(tmp_path, sqlite_url(tmp_path / "racedesk.sqlite3"))
    done = await run(
        "--config", str(config), home=tmp_path, variables={"RACEDESK_WEB__BIND_PORT": "eighty"}
    )
    line = assert_one_line(
        done, "RACEDESK_WEB__BIND_PORT (web.bind_port) is invalid",
        "Fix or unset this environment variable", f"overrides [web] bind_port in {config}",
    )
    assert not line.startswith("web.bind_port") and "eighty" not in line


async def test_a_missing_config_file_is_one_line(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    assert_one_line(
        await run("--config", str(config), home=tmp_path),
        f"{config} does not exist, so discord.token and security.secret_key are missing",
        f"copy config.toml.example to {config}",
        "RACEDESK_DISCORD__TOKEN and RACEDESK_SECURITY__SECRET_KEY",
    )


COMMANDS = [
    ("run",), ("rotate-key",), ("db", "upgrade"), ("db", "backup", "racedesk.backup"),
    ("db", "restore", "racedesk.backup"), ("commands",), ("generate-key",),
]


@pytest.mark.parametrize("words", COMMANDS, ids=" ".join)
def test_config_goes_before_or_after_every_command(words: tuple[str, ...]) -> None:
    before = parse_args(["--config", "/etc/racedesk/config.toml", *words])
    after = parse_args([*words, "--config", "/etc/racedesk/config.toml"])
    assert before == after and before.config == Path("/etc/racedesk/config.toml")
    assert parse_args(list(words)).config == Path("config.toml")


@pytest.mark.parametrize("words", COMMANDS[:5], ids=" ".join)
async def test_every_command_reads_the_config_given_after_it(
    tmp_path: Path, closed_port: int, words: tuple[str, ...]
) -> None:
    # A database RaceDesk cannot reach: the answer names this config file, so it was read.
    url = f"postgresql+asyncpg://racedesk@127.0.0.1:{closed_port}/racedesk"
    config = write_config(tmp_path, url)
    (tmp_path / "racedesk.backup").write_bytes(b"PGDMP")
    done = await run(*words, "--config", str(config), home=tmp_path)
    if words[:2] == ("db", "restore"):
        # Taken for a PostgreSQL backup, as this config's url (the default is SQLite) makes
        # it, and refused before the database is reached: the file is no real pg_dump.
        assert_one_line(done, "pg_restore failed")
    else:
        assert_one_line(done, f"PostgreSQL at 127.0.0.1:{closed_port}", str(config))


# -- Discord ----------------------------------------------------------------------------------


async def test_a_token_discord_refuses(tmp_path: Path) -> None:
    config = write_config(tmp_path, sqlite_url(tmp_path / "racedesk.sqlite3"))
    async with FakeDiscordApi(token="the-token-discord-knows") as discord_api:
        done = await run("--config", str(config), home=tmp_path, discord_api=discord_api.api_base)
    line = assert_one_line(
        done, "Discord refused the bot token", "Reset Token", f"[discord] token in {config}"
    )
    assert DISCORD_TOKEN not in line


async def test_a_token_from_the_environment_is_blamed_on_the_variable(tmp_path: Path) -> None:
    config = write_config(tmp_path, sqlite_url(tmp_path / "racedesk.sqlite3"))
    async with FakeDiscordApi(token="the-token-discord-knows") as discord_api:
        done = await run(
            "--config", str(config), home=tmp_path, discord_api=discord_api.api_base,
            variables={"RACEDESK_DISCORD__TOKEN": "an-old-token"},
        )
    assert_one_line(
        done, "Discord refused the bot token", "the environment variable RACEDESK_DISCORD__TOKEN"
    )


async def test_a_development_server_the_bot_is_not_in(tmp_path: Path) -> None:
    config = write_config(
        tmp_path, sqlite_url(tmp_path / "racedesk.sqlite3"),
        discord={"sync_commands": True, "dev_guild_id": 123456789012345678},
    )
    async with FakeDiscordApi(token=DISCORD_TOKEN) as discord_api:
        # What Discord answers for a server the bot is not in: 403, Missing Access.
        discord_api.fail_next(1, status=403, path="/applications/")
        done = await run("--config", str(config), home=tmp_path, discord_api=discord_api.api_base)
    assert_one_line(
        done, "Discord refused RaceDesk's slash commands for the server 123456789012345678",
        f"fix or remove [discord] dev_guild_id in {config}",
    )


async def test_discord_out_of_reach(tmp_path: Path, closed_port: int) -> None:
    config = write_config(tmp_path, sqlite_url(tmp_path / "racedesk.sqlite3"))
    done: Finished = await run(
        "--config", str(config), home=tmp_path,
        discord_api=f"http://127.0.0.1:{closed_port}/api/v10",
    )
    assert_one_line(done, "Cannot reach Discord", "network, DNS and firewall")
    assert (tmp_path / "racedesk.sqlite3").exists(), "the database is migrated before login"
