"""``python -m fake_racetime`` runs on its own and speaks HTTP."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request


def test_the_fake_server_runs_as_a_program_and_serves_its_seed() -> None:
    with subprocess.Popen(
        [sys.executable, "-m", "fake_racetime", "--port", "0", "--seed"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as process:
        try:
            assert process.stdout is not None
            first = process.stdout.readline().strip()
            assert first.startswith("fake racetime listening on http://127.0.0.1:"), first
            base = first.rsplit(" ", 1)[-1]
            seeded = [process.stdout.readline().strip() for _ in range(2)]
            assert seeded[1] == "client_id=fake-client-id client_secret=fake-client-secret"
            with urllib.request.urlopen(base + "/alttpr/data", timeout=5) as response:
                data = json.load(response)
            assert data["slug"] == "alttpr" and data["current_races"] == []
        finally:
            process.terminate()
            process.wait(timeout=10)
