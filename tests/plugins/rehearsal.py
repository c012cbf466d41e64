"""One fast rehearsal for the whole session: the tests that read its timeline (the scenes,
the guides' excerpts) share it instead of each playing it again."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from rehearsal.excerpts import run_fast

FAST_RUN_SECONDS = 60  # generous: the fast rehearsal takes about ten seconds
# The run's result, and the empty folder it ran in (which must stay empty).
FastRun = tuple[subprocess.CompletedProcess[str], Path]


@pytest.fixture(scope="session")
def fast_rehearsal(tmp_path_factory: pytest.TempPathFactory) -> FastRun:
    """``python bot.py --demo --fast``, run once from an empty folder."""
    cwd = tmp_path_factory.mktemp("rehearsal-cwd")
    return run_fast(cwd, timeout=FAST_RUN_SECONDS), cwd
