"""bench.repeat: a benchmark run several times, alternating versions, with median and spread."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from bench.repeat import order, parse, repeat, summary, worktree

COUNTING_BENCH = """
import json, pathlib, sys
count = pathlib.Path("count.txt")
n = int(count.read_text()) + 1 if count.exists() else 1
count.write_text(str(n))
if n == int(sys.argv[1] if len(sys.argv) > 1 else 0):
    sys.exit("failed on purpose")
print("noise")
print(json.dumps({"bench": "fake", "ms": 10.0 * n, "lost": 0, "ok": True}))
"""


def test_each_numeric_figure_gets_its_median_min_and_max() -> None:
    found = summary([
        {"bench": "x", "p99_ms": 30.0, "lost": 0, "ok": True, "only_here": 1},
        {"bench": "x", "p99_ms": 10.0, "lost": 0, "ok": False},
        {"bench": "x", "p99_ms": 200.0, "lost": 2, "ok": True},
    ])
    assert found == {
        "lost": {"median": 0, "min": 0, "max": 2},
        "p99_ms": {"median": 30.0, "min": 10.0, "max": 200.0},
    }
    assert summary([]) == {}


def test_versions_take_turns() -> None:
    assert order(["base", "this"], 3) == ["base", "this"] * 3


def test_runs_are_printed_then_summarised_and_a_failed_run_is_left_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "fakebench.py").write_text(COUNTING_BENCH)
    assert repeat("fakebench", ["2"], 3, {"this": tmp_path}) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(line.get("code"), line.get("run")) for line in lines[:2]] == [
        ("this", 1), ("this", 3)
    ]
    assert lines[2]["bench"] == "repeat" and lines[2]["runs"] == 2
    assert lines[2]["figures"]["ms"] == {"median": 20.0, "min": 10.0, "max": 30.0}
    assert "ok" not in lines[2]["figures"]


def test_a_code_whose_every_run_failed_fails(tmp_path: Path) -> None:
    (tmp_path / "fakebench.py").write_text(COUNTING_BENCH)
    assert repeat("fakebench", ["1"], 1, {"this": tmp_path}) == 1


def test_another_version_s_code_is_a_worktree_removed_after() -> None:
    with worktree("HEAD") as tree:
        assert (tree / "bot.py").is_file()
        listed = subprocess.run(
            ["git", "worktree", "list"], capture_output=True, text=True, check=True
        ).stdout
        assert str(tree) in listed
    assert not tree.exists()
    after = subprocess.run(
        ["git", "worktree", "list"], capture_output=True, text=True, check=True
    ).stdout
    assert str(tree) not in after


def test_the_benchmark_s_own_options_pass_through() -> None:
    options = parse(["--runs", "2", "--against", "main", "bench.peak", "--quick", "--rooms", "5"])
    assert (options.runs, options.against, options.module) == (2, "main", "bench.peak")
    assert options.args == ["--quick", "--rooms", "5"]
    with pytest.raises(SystemExit):
        parse(["--runs", "0", "bench.peak"])
