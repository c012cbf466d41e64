"""The documented example (docs/examples/push_schedule.py) run as a program against the real
web server: it pushes a CSV, pushing it again changes nothing, and an edited sheet updates."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.web.scene import ADA, BOB, GUILD, ApiScene

SCRIPT = Path(__file__).parents[2] / "docs" / "examples" / "push_schedule.py"
WHEN = (datetime.now(UTC) + timedelta(days=9)).replace(minute=0, second=0, microsecond=0)


async def push(scene: ApiScene, path: Path, token: str | None = None) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(SCRIPT), str(path), "--url", scene.server.url,
        "--tournament", "Winter Cup",
        env={**os.environ, "RACEDESK_API_TOKEN": scene.token if token is None else token},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, output.decode()


def sheet(path: Path, hours: int = 0) -> Path:
    when = (WHEN + timedelta(hours=hours)).strftime("%Y-%m-%d %H:%M UTC")
    path.write_text(
        "Round,Players,When,Title\n"
        f"Top 8,{ADA}|RacerTwo#5678,{when},Top 8 match 1\n"
        f"Top 8,{BOB}|Nobody,{when},Top 8 match 2\n",
        encoding="utf-8",
    )
    return path


async def test_the_example_pushes_a_schedule_and_again_changes_nothing(
    scene: ApiScene, tmp_path: Path
) -> None:
    code, output = await push(scene, sheet(tmp_path / "schedule.csv"))
    assert code == 1, output  # one line refused
    assert "line 2: created match #" in output
    assert "line 3: refused (400): `Nobody` is not a Discord id" in output
    upcoming = await scene.services.matches.list_upcoming(GUILD, "Winter Cup")
    [pushed] = [m for m in upcoming if m.title == "Top 8 match 1"]
    assert (pushed.round, pushed.scheduled_at) == ("Top 8", WHEN)

    code, output = await push(scene, sheet(tmp_path / "schedule.csv"))
    assert f"line 2: unchanged match #{pushed.id}" in output

    code, output = await push(scene, sheet(tmp_path / "schedule.csv", hours=3))
    assert f"line 2: updated match #{pushed.id}" in output
    moved = await scene.services.matches.info(GUILD, pushed.id)
    assert moved.scheduled_at == WHEN + timedelta(hours=3)


async def test_a_bad_token_stops_at_the_first_line(scene: ApiScene, tmp_path: Path) -> None:
    code, output = await push(scene, sheet(tmp_path / "schedule.csv"), token="wrong")
    assert code == 2
    assert output.count("refused (401)") == 1
