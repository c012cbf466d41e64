"""``bench.room_open`` end to end, small: its set-up still lets RaceDesk open every room (a
bench that opens none measures nothing; CI's quick run once did exactly that)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_a_small_run_opens_one_room_per_match() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.room_open", "--matches", "3", "--window", "1",
         "--lead", "3", "--timeout", "20"],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    line = json.loads(done.stdout.strip().splitlines()[-1])
    assert (line["without_room"], line["max_rooms_per_match"]) == (0, 1), line
    assert line["claims"] == {"opened": 3}
