"""The ``RACEDESK_TEST_NOW`` plugin (tests/plugins/moved_clock.py), run in a pytest of its own:
the wall clock is at the instant and ticks, asyncio's timers still work, the header says
where the clock is; unset, the clock is the real one; an instant without a zone is refused."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import time_machine

ROOT = Path(__file__).resolve().parents[1]
RUN_SECONDS = 120  # generous: a pytest of one test takes about a second

# Writes what the clock says, after checking that time.time agrees and that it ticks while
# asyncio's timers (on the real monotonic clock) still fire.
INNER_TEST = '''
import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path

def test_the_clock():
    first = datetime.now(UTC)
    assert abs(time.time() - first.timestamp()) < 60
    asyncio.run(asyncio.sleep(0.05))
    assert datetime.now(UTC) > first
    Path("now.txt").write_text(first.isoformat())
'''


def run_pytest(tmp_path: Path, now: str | None) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_inner.py").write_text(INNER_TEST)
    env = {k: v for k, v in os.environ.items() if k != "RACEDESK_TEST_NOW"}
    env["PYTHONPATH"] = str(ROOT)
    if now is not None:
        env["RACEDESK_TEST_NOW"] = now
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.plugins.moved_clock", "-p", "no:randomly",
         "-p", "no:cacheprovider", "test_inner.py"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=RUN_SECONDS, check=False,
    )


def inner_now(tmp_path: Path) -> datetime:
    return datetime.fromisoformat((tmp_path / "now.txt").read_text())


def test_the_session_runs_at_the_instant_and_says_so(tmp_path: Path) -> None:
    moved = run_pytest(tmp_path, "2040-02-29T23:30:00+01:00")
    assert moved.returncode == 0, moved.stdout + moved.stderr
    assert (
        "clock: moved to Wednesday 2040-02-29 22:30:00 UTC (RACEDESK_TEST_NOW), ticking"
        in moved.stdout
    )
    instant = datetime(2040, 2, 29, 22, 30, tzinfo=UTC)
    assert instant <= inner_now(tmp_path) < instant + timedelta(seconds=RUN_SECONDS)


def test_unset_the_session_runs_at_the_real_time(tmp_path: Path) -> None:
    real = run_pytest(tmp_path, None)
    assert real.returncode == 0, real.stdout + real.stderr
    assert "clock: real time (RACEDESK_TEST_NOW unset)" in real.stdout
    # The real time even when this session's clock is moved (time-machine's way out).
    hatch = time_machine.escape_hatch
    really_now = datetime.fromtimestamp(
        hatch.time.time() if hatch.is_travelling() else time.time(), UTC
    )
    assert abs(inner_now(tmp_path) - really_now) < timedelta(seconds=RUN_SECONDS)


def test_an_instant_without_a_zone_is_refused(tmp_path: Path) -> None:
    refused = run_pytest(tmp_path, "2040-02-29T22:30")
    assert refused.returncode == 4  # pytest's usage error
    assert (
        "RACEDESK_TEST_NOW='2040-02-29T22:30' is not an instant: write ISO 8601 with an "
        "offset, e.g. 2040-02-29T22:30:00Z"
    ) in refused.stderr
