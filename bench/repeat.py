"""``python -m bench.repeat``: one benchmark run several times, each figure's median and spread.

A 2-core machine's speed varies by more than most changes' effects: in a slow spell every
figure of ``bench.peak`` is several times worse, whatever the code. One run's figure says
little, and two versions measured an hour apart say less. So:

- ``python -m bench.repeat --runs 5 bench.peak --quick`` runs ``python -m bench.peak --quick``
  five times, one after the other;
- ``--against REF`` also runs it on the code of ``REF`` (a commit, a branch), in a git worktree
  made for the purpose and removed after, alternately (``REF``, this tree, ``REF``, ...), so
  that both versions meet the same spells of the machine.

Prints each run's JSON line with ``"code"`` (``REF`` or ``"this"``) and ``"run"``, then one
summary line per code: every numeric figure's median, min and max (``{"bench": "repeat"}``).
A run that fails is reported on stderr and left out of the summary. Exits 1 when every run
of a code failed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

THIS = "this"


def last_json_line(output: str) -> dict[str, Any] | None:
    """A benchmark's result: the last line of its output that is a JSON object."""
    line = next((ln for ln in reversed(output.splitlines()) if ln.startswith("{")), None)
    return json.loads(line) if line is not None else None


def run_once(module: str, args: list[str], cwd: Path) -> dict[str, Any] | None:
    """``python -m module args`` in ``cwd`` (its code, and its children's); its JSON line."""
    done = subprocess.run(
        [sys.executable, "-m", module, *args], cwd=cwd, capture_output=True, text=True,
        check=False,
    )
    found = last_json_line(done.stdout) if done.returncode == 0 else None
    if found is None:
        tail = " | ".join((done.stderr or done.stdout).strip().splitlines()[-5:])
        print(f"bench.repeat: {module} failed in {cwd} (exit {done.returncode}): {tail}",
              file=sys.stderr)
    return found


def order(codes: list[str], runs: int) -> list[str]:
    """Which code each run is of: the codes in turn, ``runs`` times each."""
    return [code for _ in range(runs) for code in codes]


def summary(results: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Every numeric figure all ``results`` have (booleans are not figures): its median, min
    and max."""
    if not results:
        return {}
    shared = set.intersection(*(set(result) for result in results))
    figures: dict[str, dict[str, float]] = {}
    for key in sorted(shared):
        values = [result[key] for result in results]
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            figures[key] = {
                "median": statistics.median(values), "min": min(values), "max": max(values),
            }
    return figures


@contextlib.contextmanager
def worktree(ref: str) -> Iterator[Path]:
    """The code of ``ref`` checked out in a temporary git worktree (removed on the way out)."""
    path = Path(tempfile.mkdtemp(prefix="racedesk-bench-repeat-")) / "tree"
    subprocess.run(
        ["git", "worktree", "add", "--detach", "--quiet", str(path), ref],
        check=True,
    )
    try:
        yield path
    finally:
        subprocess.run(
            ["git", "worktree", "remove", "--force", str(path)],
            check=False,
        )
        shutil.rmtree(path.parent, ignore_errors=True)


def repeat(module: str, args: list[str], runs: int, trees: dict[str, Path]) -> int:
    """Run ``module`` ``runs`` times on each of ``trees`` (code -> checkout), alternately;
    print every run and a summary per code. 1 when every run of a code failed."""
    results: dict[str, list[dict[str, Any]]] = {code: [] for code in trees}
    for number, code in enumerate(order(list(trees), runs), start=1):
        found = run_once(module, args, trees[code])
        if found is not None:
            results[code].append(found)
            print(json.dumps({"code": code, "run": number, **found}), flush=True)
    for code, found_runs in results.items():
        print(json.dumps({
            "bench": "repeat", "module": module, "code": code, "runs": len(found_runs),
            "figures": summary(found_runs),
        }), flush=True)
    return 1 if any(not found_runs for found_runs in results.values()) else 0


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.repeat",
        description="Run a benchmark several times (alternating with another version's code) "
        "and print each figure's median, min and max.",
    )
    parser.add_argument("--runs", type=int, default=3, help="runs of each code (default 3)")
    parser.add_argument("--against", metavar="REF", default=None,
                        help="also run REF's code (a git worktree), alternately")
    parser.add_argument("module", help="the benchmark's module, e.g. bench.peak")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="the benchmark's options")
    options = parser.parse_args(argv)
    if options.runs < 1:
        parser.error("--runs must be at least 1")
    return options


def main(argv: list[str] | None = None) -> int:
    options = parse(argv)
    if options.against is None:
        return repeat(options.module, options.args, options.runs, {THIS: Path.cwd()})
    with worktree(options.against) as other:
        trees = {options.against: other, THIS: Path.cwd()}
        return repeat(options.module, options.args, options.runs, trees)


if __name__ == "__main__":
    sys.exit(main())
