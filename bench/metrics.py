"""What recording metrics costs a room's frames; prints one JSON line.

The per-frame pipeline of ``bench.race_data`` (decode, diff, log, emit, deliver through a
real ``EventDispatcher``) twice on the same frames: once with nothing wired (``NO_METRICS``,
the default everywhere) and once recording into ``web.metrics.PrometheusMetrics`` as
production does (a frame counter per frame, an event counter and a delay histogram per
event). ``overhead_pct`` is the difference, best of several runs each.

Run: ``python -m bench.metrics``.
"""

from __future__ import annotations

from typing import Any

from bench.race_data import (
    best_time,
    build_frames,
    by_race_size,
    print_line,
    run_pipeline,
)
from core.events import EventDispatcher, RacetimeRoomEvent
from core.metrics import NO_METRICS, Metrics
from web.metrics import PrometheusMetrics

ROUNDS = 3


async def _listener(event: RacetimeRoomEvent) -> None:
    return None


def dispatcher_with(metrics: Metrics) -> EventDispatcher:
    dispatcher = EventDispatcher(metrics=metrics)
    dispatcher.subscribe(RacetimeRoomEvent, _listener)
    return dispatcher


async def measure(n_entrants: int) -> dict[str, float | int]:
    frames = build_frames(n_entrants, 600 if n_entrants <= 10 else 500)
    prometheus = PrometheusMetrics()
    plain, recorded = dispatcher_with(NO_METRICS), dispatcher_with(prometheus)
    # Alternated, best of each: a busy machine slows both alike rather than one of them.
    t_plain = t_recorded = float("inf")
    for _ in range(ROUNDS):
        t_plain = min(t_plain, await best_time(lambda: run_pipeline(frames, plain)))
        t_recorded = min(
            t_recorded, await best_time(lambda: run_pipeline(frames, recorded, prometheus))
        )
    n = len(frames)
    return {
        "frames": n,
        "us_per_frame_no_metrics": round(t_plain / n * 1e6, 2),
        "us_per_frame_prometheus": round(t_recorded / n * 1e6, 2),
        "overhead_pct": round((t_recorded / t_plain - 1) * 100, 1),
    }


async def main() -> dict[str, Any]:
    return await by_race_size("metrics", measure)


if __name__ == "__main__":
    print_line(main)
