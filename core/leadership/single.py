"""SQLite runs one RaceDesk process per database file, and says so to a second one.

Two processes on one SQLite file would both open rooms, send DMs and deliver events: SQLite
has no lease to share. The process holds an exclusive ``flock`` on a file beside the
database (``racedesk.sqlite3.lock``) for as long as it runs; a second one finds it taken and
stops with one line saying which process holds it and what to do instead. The kernel drops
the lock when the process ends, however it ends, so a crash never leaves a stale lock.
"""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path
from types import TracebackType
from typing import Self

log = logging.getLogger(__name__)

LOCK_SUFFIX = ".lock"


class SingleProcessError(Exception):
    """Another RaceDesk process runs on this SQLite database; ``str()`` is one line."""


class SingleProcessLock:
    """The lock on ``database_file``'s companion file, held between :meth:`acquire` and
    :meth:`release` (or as a context manager)."""

    def __init__(self, database_file: Path) -> None:
        self.database_file = database_file
        self.path = database_file.with_name(database_file.name + LOCK_SUFFIX)
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock, or raise :class:`SingleProcessError` naming the process holding it.
        (``OSError`` when the folder cannot be written: the caller explains that one.)"""
        if self._fd is not None:
            return
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            who = f"(process {holder}) " if holder else ""
            raise SingleProcessError(
                f"Another RaceDesk process {who}is running on the SQLite database "
                f"{self.database_file}: SQLite runs one RaceDesk process per database. Stop "
                "that one first; to run two processes (one leads, the other stands by), move "
                "to PostgreSQL and turn on [ha] enabled."
            ) from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        log.info(
            "SQLite: this is the one RaceDesk process on %s (a second one is refused; "
            "PostgreSQL with [ha] runs a leader and a standby)", self.database_file,
        )

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the file drops the lock

    def __enter__(self) -> Self:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode(errors="replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
