"""Deployment mistakes met at start-up, each as one line: what is wrong and what to change.

The command line runs each start-up step (opening the database, binding the web server's
port, logging in to Discord) inside :func:`explained`. A failure it recognises becomes a
:class:`StartupError`, whose message is printed alone (exit status 2); anything else goes
through as the bug it is. A message names the setting to change (its key in the file, or the
environment variable the value came from: see ``core.config.where_set``) and never a password.
"""

from __future__ import annotations

import errno
import os
import pwd
import re
import socket
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from functools import partial
from pathlib import Path
from typing import TypeVar

from alembic.util import CommandError
from sqlalchemy.engine import URL, make_url

from core.config import WebSettings, where_set

E = TypeVar("E", bound=BaseException)
Explain = Callable[[BaseException], str | None]

_UNKNOWN_REVISION = re.compile(r"Can't locate revision identified by '(\w+)'")


class StartupError(Exception):
    """A start-up step failed for a reason an admin can fix; ``str()`` is one line."""


@contextmanager
def explained(explain: Explain) -> Iterator[None]:
    """Turn a failure ``explain`` recognises into :class:`StartupError`; re-raise the rest."""
    try:
        yield
    except StartupError:
        raise
    except Exception as error:
        message = explain(error)
        if message is None:
            raise
        raise StartupError(message) from error


def causes(error: BaseException) -> Iterator[BaseException]:
    """``error`` and everything it wraps (SQLAlchemy's ``orig``, ``__cause__``, ``__context__``)."""
    seen: set[int] = set()
    pending = [error]
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        for inner in (getattr(current, "orig", None), current.__cause__, current.__context__):
            if isinstance(inner, BaseException):
                pending.append(inner)


def _first(error: BaseException, kind: type[E]) -> E | None:
    return next((cause for cause in causes(error) if isinstance(cause, kind)), None)


def _user() -> str:
    """The account RaceDesk runs as, for messages about file permissions."""
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return f"uid {os.geteuid()}"


# -- the database -----------------------------------------------------------------------------


def database_step(url: str, config_path: Path) -> AbstractContextManager[None]:
    """Explain a failure to reach, open or migrate the database at ``url``."""
    setting = where_set(("database", "url"), config_path)
    return explained(partial(database_failure, url=url, setting=setting))


def database_failure(error: BaseException, *, url: str, setting: str) -> str | None:
    """A database that cannot be reached, opened or migrated, as one line (or None)."""
    revision = _unknown_revision(error)
    if revision is not None:
        return (
            f"The database ({setting}) is at schema revision {revision}, which this version of "
            "RaceDesk does not know: a newer RaceDesk migrated it. Run that version again, or "
            "restore a backup taken before the upgrade (python bot.py db restore FILE)."
        )
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_failure(error, Path(parsed.database or ""), setting)
    return _postgres_failure(error, parsed, setting)


def _unknown_revision(error: BaseException) -> str | None:
    command_error = _first(error, CommandError)
    match = _UNKNOWN_REVISION.search(str(command_error)) if command_error else None
    return match.group(1) if match else None


def _postgres_failure(error: BaseException, url: URL, setting: str) -> str | None:
    server = f"PostgreSQL at {url.host or 'localhost'}:{url.port or 5432}"
    user = url.username or _user()
    for cause in causes(error):
        state = getattr(cause, "sqlstate", None)
        if state == "3D000":
            return (
                f'{server} has no database "{url.database}". Create it (as the postgres user: '
                f"createdb -O {user} {url.database}), or fix the database name in {setting}."
            )
        if state == "28P01":
            return (
                f'{server} refused the password of user "{user}". Fix the password in '
                f"{setting}."
            )
        if state == "28000":
            return (
                f'{server} refused user "{user}": {_server_text(cause)}. Fix the user in '
                f"{setting}, or let that user in on the server (CREATE ROLE, pg_hba.conf)."
            )
        if state == "42501":
            return (
                f'{server}: user "{user}" may not create RaceDesk\'s tables in database '
                f'"{url.database}" ({_server_text(cause)}). Make it the database\'s owner '
                f"(ALTER DATABASE {url.database} OWNER TO {user}), or use its owner in {setting}."
            )
    if (unknown := _first(error, socket.gaierror)) is not None:
        return (
            f"Cannot reach PostgreSQL: the host name {url.host!r} is unknown "
            f"({unknown.strerror}). Fix the host in {setting}."
        )
    if _first(error, ConnectionRefusedError) is not None:
        return (
            f"Cannot reach {server}: the connection was refused. Start PostgreSQL (and check it "
            f"listens on that address), or fix the host and port in {setting}."
        )
    if _first(error, TimeoutError) is not None:
        return (
            f"Cannot reach {server}: it did not answer in time. Check the host and port in "
            f"{setting}, and the network and firewall between this machine and the server."
        )
    if (other := _first(error, OSError)) is not None:
        return (
            f"Cannot reach {server}: {other.strerror or other}. Check the host and port in "
            f"{setting}."
        )
    return None


def _server_text(error: BaseException) -> str:
    return str(error).splitlines()[0].rstrip(".") if str(error) else type(error).__name__


def _sqlite_failure(error: BaseException, path: Path, setting: str) -> str | None:
    database = Path(os.path.abspath(path.expanduser()))
    folder = database.parent
    user = _user()
    change = f"or point {setting} at a file {user} can write"
    if (os_error := _first(error, OSError)) is not None and os_error.errno is not None:
        blocked = Path(os.path.abspath(os_error.filename)) if os_error.filename else folder
        if os_error.errno == errno.EACCES:
            return (
                f"Cannot create the folder {blocked} for the SQLite database {database}: "
                f"permission denied for user {user}. Create the folder and give {user} write "
                f"access to it, {change}."
            )
        if os_error.errno in (errno.EEXIST, errno.ENOTDIR):
            return (
                f"Cannot use {database} as the SQLite database: {blocked} is a file, not a "
                f"folder. Fix the path in {setting}."
            )
        if os_error.errno == errno.EROFS:
            return _read_only_filesystem(database, setting)
    sqlite_error = _first(error, sqlite3.Error)
    if sqlite_error is None:
        return None
    name = getattr(sqlite_error, "sqlite_errorname", "")
    if name == "SQLITE_NOTADB":
        return (
            f"{database} is not a SQLite database. Point {setting} at RaceDesk's database file, "
            "or at a path where it may create one."
        )
    if database.is_dir():
        return f"{database} is a folder, not a SQLite database file. Fix the path in {setting}."
    if _on_read_only_filesystem(folder):
        return _read_only_filesystem(database, setting)
    if not os.access(folder, os.W_OK | os.X_OK):
        return (
            f"Cannot open the SQLite database {database}: user {user} may not write to the "
            f"folder {folder} (SQLite keeps its -wal and -shm files beside the database). Give "
            f"{user} write access to {folder}, {change}."
        )
    if database.exists() and not os.access(database, os.R_OK | os.W_OK):
        return (
            f"Cannot open the SQLite database {database}: user {user} may not read and write "
            f"it. Give {user} read and write access to the file (e.g. chown), {change}."
        )
    if name.startswith(("SQLITE_CANTOPEN", "SQLITE_READONLY", "SQLITE_PERM", "SQLITE_IOERR")):
        return f"Cannot open the SQLite database {database}: {sqlite_error}. Check {setting}."
    return None


def _on_read_only_filesystem(folder: Path) -> bool:
    existing = next((p for p in (folder, *folder.parents) if p.exists()), None)
    if existing is None:
        return False
    return bool(os.statvfs(existing).f_flag & os.ST_RDONLY)


def _read_only_filesystem(database: Path, setting: str) -> str:
    return (
        f"Cannot write the SQLite database {database}: its folder is on a read-only file "
        "system (under systemd, ProtectSystem=strict leaves only StateDirectory= writable, "
        f"i.e. /var/lib/racedesk). Point {setting} at a writable folder."
    )


# -- the web server ---------------------------------------------------------------------------


def listen_step(web: WebSettings, config_path: Path) -> AbstractContextManager[None]:
    """Explain a failure to listen on ``[web] bind_host:bind_port``."""
    return explained(
        partial(
            listen_failure,
            host=web.bind_host,
            port=web.bind_port,
            host_setting=where_set(("web", "bind_host"), config_path),
            port_setting=where_set(("web", "bind_port"), config_path),
        )
    )


def listen_failure(
    error: BaseException, *, host: str, port: int, host_setting: str, port_setting: str
) -> str | None:
    """The web server's address that cannot be listened on, as one line (or None)."""
    where = f"The web server cannot listen on {host}:{port}"
    if (unknown := _first(error, socket.gaierror)) is not None:
        return (
            f"{where}: the host name {host!r} is unknown ({unknown.strerror}). "
            f"Fix {host_setting}."
        )
    failure = _first(error, OSError)
    if failure is None:
        return None
    if failure.errno == errno.EADDRINUSE:
        return (
            f"{where}: the port is already in use (another RaceDesk, or another program). Stop "
            f"that program, or set {port_setting} to a free port."
        )
    if failure.errno == errno.EACCES:
        return (
            f"{where}: permission denied (ports below 1024 need privileges). Set {port_setting} "
            "to 1024 or above and let your reverse proxy forward to it."
        )
    if failure.errno == errno.EADDRNOTAVAIL:
        return (
            f"{where}: {host} is not an address of this machine. Fix {host_setting} "
            "(127.0.0.1 behind a reverse proxy on the same machine)."
        )
    return f"{where}: {failure.strerror or failure}. Check {host_setting} and {port_setting}."


# -- Discord ----------------------------------------------------------------------------------


def discord_token_refused(setting: str) -> str:
    """Discord answered the login with 401."""
    return (
        "Discord refused the bot token. Copy a new one from https://discord.com/developers/"
        f"applications (your application, Bot, Reset Token) into {setting}."
    )


def dev_guild_refused(guild_id: int, setting: str) -> str:
    """Discord answered 403 to the slash commands for the development server."""
    return (
        f"Discord refused RaceDesk's slash commands for the server {guild_id}: the bot is not "
        "in it (or was invited without the applications.commands scope). Invite it there, or "
        f"fix or remove {setting} (without it, commands are registered in every server)."
    )


def discord_unreachable(error: BaseException) -> str:
    """Discord's API could not be reached (a connection error or a timeout)."""
    return (
        f"Cannot reach Discord ({error or type(error).__name__}). Check this machine's "
        "network, DNS and firewall: RaceDesk needs outbound HTTPS to discord.com."
    )
