"""Every benchmark of the project, with the figures the issues set as targets.

``python -m bench`` runs them (``bench/__main__.py``); this module only says what to run and
how to judge it, so a new benchmark is one more :class:`Benchmark` here.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Result = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Target:
    """One figure and the value it must reach.

    ``speed`` targets depend on the size of the run and the machine; a ``--quick`` run
    reports them without judging. Correctness targets (nothing lost, nothing doubled) hold
    at any size and are always judged.
    """

    figure: str
    wanted: str  # as the table shows it, e.g. "≤ 1.5"
    met: Callable[[Result], bool]
    value: Callable[[Result], Any]
    speed: bool = True


def at_most(key: str, limit: float, *, speed: bool = True) -> Target:
    return _compare(key, limit, operator.le, "≤", speed)


def at_least(key: str, limit: float, *, speed: bool = True) -> Target:
    return _compare(key, limit, operator.ge, "≥", speed)


def equal(key: str, wanted: Any, *, speed: bool = False) -> Target:
    return _compare(key, wanted, operator.eq, "=", speed)


def _compare(
    key: str, limit: Any, check: Callable[[Any, Any], bool], sign: str, speed: bool
) -> Target:
    return Target(
        figure=key,
        wanted=f"{sign} {limit}",
        met=lambda result: key in result and check(result[key], limit),
        value=lambda result: result.get(key, "missing"),
        speed=speed,
    )


@dataclass(frozen=True, slots=True)
class Benchmark:
    name: str  # as the table shows it: the command's arguments
    module: str
    args: tuple[str, ...]
    quick_args: tuple[str, ...]
    targets: tuple[Target, ...]
    issue: int  # the issue that set the targets

    def label(self, *, quick: bool) -> str:
        """The name in the table; a quick run names the small size it ran at."""
        if not quick:
            return self.name
        return " ".join([self.module.removeprefix("bench."), *self.quick_args, "(quick)"])


MEMORY_BACK_TO_BASELINE_MB = 20.0

BENCHMARKS: tuple[Benchmark, ...] = (
    Benchmark(
        "race_data", "bench.race_data", (), (),
        (at_most("ratio_vs_json_loads", 1.5),),
        issue=3,
    ),
    Benchmark(
        # Issue 14 set no figure; instrumentation must stay a small part of a frame's cost.
        "metrics", "bench.metrics", (), (),
        (at_most("overhead_pct", 10.0), at_most("overhead_pct_50", 10.0)),
        issue=14,
    ),
    Benchmark(
        "rooms --rooms 1000", "bench.rooms", ("--rooms", "1000"),
        ("--rooms", "50", "--seconds", "3"),
        # Issue 3 asked for a p99 of 10 ms; issue 7 made every event durable before delivery
        # and set 25 ms for that; issue 28 asks for 10 ms again, durable first, and 100 KB.
        (at_most("p99_ms", 10.0), at_most("kb_per_room", 100.0)),
        issue=28,
    ),
    Benchmark(
        "hostile", "bench.hostile", (), (),
        (
            equal("hostile_events", 0),
            equal("real_change_reported", True),
            Target(
                figure="rss_after_mb - rss_before_mb",
                wanted=f"≤ {MEMORY_BACK_TO_BASELINE_MB:g}",
                met=lambda r: r["rss_after_mb"] - r["rss_before_mb"]
                <= MEMORY_BACK_TO_BASELINE_MB,
                value=lambda r: round(r["rss_after_mb"] - r["rss_before_mb"], 1),
                speed=False,
            ),
        ),
        issue=8,
    ),
    *(
        Benchmark(
            f"crash --kills 20 --listener-delay {delay}", "bench.crash",
            ("--kills", "20", "--listener-delay", delay),
            ("--quick", "--listener-delay", delay),
            tuple(
                equal(key, 0)
                for key in ("lost", "duplicates_new_id", "bogus", "out_of_order")
            ),
            issue=7,
        )
        for delay in ("0", "1.0")
    ),
    Benchmark(
        "notify --count 5000", "bench.notify", ("--count", "5000"), ("--count", "300"),
        (equal("lost", 0), equal("duplicates", 0), at_least("ceiling_fraction", 0.95)),
        issue=10,
    ),
    *(
        Benchmark(
            f"room_open --matches 200{extra_name}", "bench.room_open",
            ("--matches", "200", *extra),
            ("--matches", "20", "--window", "5", "--lead", "5", *extra),
            (at_most("p99_s", 1.0), equal("max_rooms_per_match", 1)),
            issue=11,
        )
        for extra_name, extra in (("", ()), (" --processes 2", ("--processes", "2")))
    ),
    Benchmark(
        # Race-room commands: RaceDesk SIGKILLed between a command's receipt and its answer.
        "chat_crash --kills 12", "bench.chat_crash", ("--kills", "12"), ("--quick",),
        tuple(
            equal(key, 0)
            for key in ("lost", "answered_twice", "rolled_twice", "seed_dms_missing",
                        "parked", "misfired")
        ),
        issue=24,
    ),
    Benchmark(
        # A leader and a standby on PostgreSQL: the leader SIGKILLed 10 times, paused 3 times
        # for 30 s and SIGTERMed 3 times, and the database's server restarted twice, while
        # rooms race, matches fall due and DMs go out.
        "failover", "bench.failover", (), ("--quick",),
        (
            at_most("takeover_kill_p99_s", 10.0),
            at_most("takeover_term_p99_s", 2.0),
            *(
                equal(key, 0)
                for key in ("rooms_opened_twice", "matches_without_room", "events_lost",
                            "events_recorded_twice", "dms_lost", "dms_sent_twice",
                            "fenced_effects", "parked")
            ),
        ),
        issue=27,
    ),
    Benchmark(
        # What users feel at a season's peak: slash commands answered while 1000 rooms race,
        # 200 rooms open within a minute and 5,000 DMs go out, in one RaceDesk process.
        "peak", "bench.peak", (), ("--quick",),
        (
            at_most("command_p99_ms", 250.0),
            at_most("commands_over_3s", 0),
            at_most("autocomplete_p99_ms", 100.0),
            at_most("room_open_p99_s", 1.0),
            at_most("frame_p99_ms", 50.0),
            at_least("dm_ceiling_fraction", 0.9),
            equal("lost", 0),
            equal("duplicates", 0),
        ),
        issue=28,
    ),
    Benchmark(
        # The same on PostgreSQL: issue 28 set its speed targets on SQLite; here the figures
        # are shown in the JSON line, and nothing may be lost or doubled.
        "peak --backend postgres", "bench.peak", ("--backend", "postgres"),
        ("--quick", "--backend", "postgres"),
        (equal("lost", 0), equal("duplicates", 0)),
        issue=28,
    ),
)
