"""``python -m bench``: every benchmark of the project, then one table of each figure, its
target and whether it is met, then the JSON lines the benchmarks printed.

``--quick`` runs each at a small size (what CI runs): the figures that depend on size and
machine are shown but not judged; nothing lost and nothing doubled is judged at any size.
Exits 1 when a judged target is missed or a benchmark fails.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import dataclass

from bench.repeat import last_json_line
from bench.suite import BENCHMARKS, Benchmark, Result


@dataclass(frozen=True, slots=True)
class Run:
    benchmark: Benchmark
    result: Result | None
    error: str | None
    seconds: float


@dataclass(frozen=True, slots=True)
class Row:
    benchmark: str
    figure: str
    wanted: str
    value: str
    verdict: str  # ✅ met, ❌ missed, ⏭️ not judged (quick), ⚠️ the benchmark failed

    @property
    def failed(self) -> bool:
        return self.verdict in ("❌", "⚠️")


def run(benchmark: Benchmark, *, quick: bool) -> Run:
    args = benchmark.quick_args if quick else benchmark.args
    command = [sys.executable, "-m", benchmark.module, *args]
    print(f"$ python -m {benchmark.module} {' '.join(args)}".rstrip(), file=sys.stderr)
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds = time.monotonic() - started
    result = last_json_line(done.stdout)
    if done.returncode != 0 or result is None:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        return Run(benchmark, None, f"exit {done.returncode}: " + " | ".join(tail), seconds)
    return Run(benchmark, result, None, seconds)


def rows(outcome: Run, *, quick: bool) -> list[Row]:
    name = outcome.benchmark.label(quick=quick)
    if outcome.result is None:
        return [Row(name, "(the benchmark failed)", "", outcome.error or "", "⚠️")]
    found = []
    for target in outcome.benchmark.targets:
        value = str(target.value(outcome.result))
        judged = not (quick and target.speed)
        verdict = ("✅" if target.met(outcome.result) else "❌") if judged else "⏭️"
        found.append(Row(name, target.figure, target.wanted, value, verdict))
    return found


def table(found: list[Row]) -> str:
    lines = [
        "| benchmark | figure | target | measured | met |",
        "| --- | --- | --- | --- | --- |",
    ]
    lines += [
        f"| {r.benchmark} | `{r.figure}` | {r.wanted} | {r.value} | {r.verdict} |"
        for r in found
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="each benchmark at a small size; speed figures are not judged")
    parser.add_argument("--only", action="append", default=[], metavar="NAME",
                        help="run the benchmarks whose name contains NAME (repeatable)")
    options = parser.parse_args(argv)
    chosen = [
        b for b in BENCHMARKS if not options.only or any(part in b.name for part in options.only)
    ]
    if not chosen:
        parser.error(f"no benchmark matches {options.only}; there are: "
                     + ", ".join(b.name for b in BENCHMARKS))
    outcomes = [run(b, quick=options.quick) for b in chosen]
    found = [row for outcome in outcomes for row in rows(outcome, quick=options.quick)]
    size = "quick (small sizes; ⏭️ = speed figure not judged)" if options.quick else "full"
    print(f"Benchmarks, {size}:\n")
    print(table(found))
    print()
    for outcome in outcomes:
        if outcome.result is not None:
            print(json.dumps(outcome.result))
    return 1 if any(row.failed for row in found) else 0


if __name__ == "__main__":
    raise SystemExit(main())
