"""A PostgreSQL server of one's own, to stop and start under RaceDesk (issue 27's database
restarts, in ``bench.failover --restarts`` and the tests).

The machine's PostgreSQL serves everything else; restarting it would break that. A
:class:`PrivateCluster` is a cluster made with ``initdb`` (run as the ``postgres`` user when
running as root, as PostgreSQL refuses root), listening on a free port of 127.0.0.1 with trust
authentication, its socket in its own folder, removed at the end.

:meth:`PrivateCluster.restart` restarts it ``fast`` (sessions ended cleanly, as a package
upgrade or ``systemctl restart`` does) or ``immediate`` (as if the server crashed: crash
recovery at the next start); :meth:`stop` and :meth:`start` leave a gap in between.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

PG_BIN_ROOT = Path("/usr/lib/postgresql")


def _pg_bin() -> Path | None:
    """The newest installed PostgreSQL's bin folder (Debian's layout), or one on PATH."""
    if PG_BIN_ROOT.is_dir():
        versions = sorted(
            (p for p in PG_BIN_ROOT.iterdir() if (p / "bin" / "initdb").exists()),
            key=lambda p: int(p.name) if p.name.isdigit() else 0,
        )
        if versions:
            return versions[-1] / "bin"
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PrivateCluster:
    """One PostgreSQL server in a temporary folder (see the module's docstring)."""

    def __init__(self, bin_dir: Path, folder: Path) -> None:
        self._bin = bin_dir
        self.folder = folder
        self.data = folder / "data"
        self.port = _free_port()
        self._as_postgres = os.geteuid() == 0

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str) -> None:
        command = [str(self._bin / args[0]), *args[1:]]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def init(self) -> None:
        if self._as_postgres:
            shutil.chown(self.folder, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
                  "--no-sync", "-E", "UTF8")
        (self.data / "postgresql.auto.conf").write_text(
            f"port = {self.port}\n"
            "listen_addresses = '127.0.0.1'\n"
            f"unix_socket_directories = '{self.folder}'\n"
            "fsync = off\n"
            "max_connections = 100\n"
        )

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "server.log"),
                  "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def restart(self, mode: str = "fast") -> None:
        self.stop(mode)
        self.start()

    async def astop(self, mode: str = "fast") -> None:
        await asyncio.to_thread(self.stop, mode)

    async def astart(self) -> None:
        await asyncio.to_thread(self.start)

    async def arestart(self, mode: str = "fast") -> None:
        await asyncio.to_thread(self.restart, mode)

    def remove(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError):
            self.stop("immediate")
        shutil.rmtree(self.folder, ignore_errors=True)



def find_pg_bin() -> Path | None:
    """Where ``initdb`` and ``pg_ctl`` are (None: PostgreSQL's server is not installed)."""
    return _pg_bin()


@contextlib.contextmanager
def private_cluster() -> Iterator[PrivateCluster]:
    """A private server, started, removed at the end."""
    bin_dir = _pg_bin()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL's initdb is not installed (Debian: postgresql)")
    cluster = PrivateCluster(bin_dir, Path(tempfile.mkdtemp(prefix="racedesk-pg-")))
    cluster.folder.chmod(0o755)
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        cluster.remove()
