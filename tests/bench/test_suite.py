"""``python -m bench``'s judging: which figures count, and what a failed benchmark shows."""

from __future__ import annotations

import pytest

from bench.__main__ import Run, main, rows, table
from bench.suite import BENCHMARKS, Benchmark, at_least, at_most, equal

NOTIFY = Benchmark(
    "notify", "bench.notify", (), (),
    (equal("lost", 0), at_least("ceiling_fraction", 0.95)), issue=10,
)


def verdicts(result: dict[str, object], *, quick: bool) -> list[str]:
    return [row.verdict for row in rows(Run(NOTIFY, result, None, 1.0), quick=quick)]


def test_a_full_run_judges_every_figure() -> None:
    assert verdicts({"lost": 0, "ceiling_fraction": 0.96}, quick=False) == ["✅", "✅"]
    assert verdicts({"lost": 1, "ceiling_fraction": 0.5}, quick=False) == ["❌", "❌"]


def test_a_quick_run_judges_correctness_but_not_speed() -> None:
    assert verdicts({"lost": 0, "ceiling_fraction": 0.5}, quick=True) == ["✅", "⏭️"]
    assert verdicts({"lost": 2, "ceiling_fraction": 0.5}, quick=True) == ["❌", "⏭️"]


def test_a_missing_figure_is_missed_not_met() -> None:
    [lost, _] = rows(Run(NOTIFY, {"ceiling_fraction": 1.0}, None, 1.0), quick=False)
    assert (lost.value, lost.verdict, lost.failed) == ("missing", "❌", True)


def test_a_failed_benchmark_is_one_row_with_its_error() -> None:
    [row] = rows(Run(NOTIFY, None, "exit 1: boom", 1.0), quick=True)
    assert row.failed and "boom" in row.value
    assert "| notify (quick) | `(the benchmark failed)` |  | exit 1: boom | ⚠️ |" in table([row])


def test_a_quick_run_names_the_size_it_ran_at() -> None:
    rooms = next(b for b in BENCHMARKS if b.module == "bench.rooms")
    assert rooms.label(quick=False) == "rooms --rooms 1000"
    assert rooms.label(quick=True) == "rooms --rooms 50 --seconds 3 (quick)"


def test_limits_include_their_bound() -> None:
    assert at_most("p99_s", 1.0).met({"p99_s": 1.0})
    assert not at_most("p99_s", 1.0).met({"p99_s": 1.01})
    assert at_least("x", 0.95).met({"x": 0.95})


def test_every_benchmark_names_a_module_that_exists() -> None:
    import importlib.util

    for benchmark in BENCHMARKS:
        assert importlib.util.find_spec(benchmark.module) is not None, benchmark.module
        assert benchmark.targets, f"{benchmark.name} has no target"


def test_an_unknown_name_lists_the_benchmarks(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--only", "no-such-bench"])
    assert "race_data" in capsys.readouterr().err


def test_a_real_benchmark_runs_and_is_judged(capsys: pytest.CaptureFixture[str]) -> None:
    """race_data is the quickest: a subprocess, its JSON line read back, its target shown."""
    code = main(["--quick", "--only", "race_data"])
    out = capsys.readouterr().out
    assert "| race_data (quick) | `ratio_vs_json_loads` | ≤ 1.5 |" in out
    assert out.rstrip().splitlines()[-1].startswith('{"bench": "race_data"')
    assert code == 0
