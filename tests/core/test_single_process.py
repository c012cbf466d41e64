"""SQLite runs one RaceDesk process per database file (issue 27): a second process on the
same file is refused, with a line that says which process holds it and what to do."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.leadership import SingleProcessError, SingleProcessLock

REPO = Path(__file__).resolve().parents[2]
SECOND_PROCESS = (
    "import sys\n"
    "from pathlib import Path\n"
    "from core.leadership import SingleProcessError, SingleProcessLock\n"
    "try:\n"
    "    SingleProcessLock(Path(sys.argv[1])).acquire()\n"
    "except SingleProcessError as error:\n"
    "    print(error)\n"
    "    sys.exit(2)\n"
    "print('acquired')\n"
)


def second_process(database: Path) -> subprocess.CompletedProcess[str]:
    """Another process asking for the same database's lock (a hang guard, not a timing)."""
    return subprocess.run(
        [sys.executable, "-c", SECOND_PROCESS, str(database)],
        capture_output=True, text=True, timeout=120, check=False, cwd=REPO,
    )


def test_a_second_process_on_the_same_sqlite_file_is_refused(tmp_path: Path) -> None:
    database = tmp_path / "racedesk.sqlite3"
    with SingleProcessLock(database) as lock:
        assert lock.path == tmp_path / "racedesk.sqlite3.lock"
        refused = second_process(database)
        assert refused.returncode == 2, refused
        assert f"Another RaceDesk process (process {os.getpid()}) is running" in refused.stdout
        assert str(database) in refused.stdout and "[ha]" in refused.stdout
        # Another database in the same folder is another lock.
        assert second_process(tmp_path / "other.sqlite3").returncode == 0

    # Released (as at exit, however the process ends): the next one starts.
    done = second_process(database)
    assert (done.returncode, done.stdout.strip()) == (0, "acquired")


def test_a_second_lock_in_the_same_process_is_refused_too(tmp_path: Path) -> None:
    database = tmp_path / "racedesk.sqlite3"
    first = SingleProcessLock(database)
    first.acquire()
    try:
        with pytest.raises(SingleProcessError, match="one RaceDesk process per database"):
            SingleProcessLock(database).acquire()
        first.acquire()  # taking it again is nothing
    finally:
        first.release()
    with SingleProcessLock(database):
        pass
