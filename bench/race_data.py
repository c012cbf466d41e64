"""Per-frame cost of the racetime room pipeline; prints one JSON line.

The pipeline is what a room connection does with each websocket frame: decode it
(``racetime.models.decode_frame``), diff the race against the previous snapshot
(``racetime.diff.diff_race``), log the changes (INFO off, as in production at WARNING) and emit
the events on a real ``core.events.EventDispatcher`` with one no-op listener, then wait until
they are delivered (``drain``) before the next frame, as a socket reader does between frames.

Frames are realistic ``race.data`` frames with the full envelope (``tests/racetime/frames.py``,
same keys and shapes as the captured fixtures): a whole race with 10 or 50 entrants where each
frame changes one thing (an entrant readies or finishes, or the race status changes).

Baselines on the same frames: ``json.loads`` alone (the floor) and racetime-bot 2.3.0's stock
path, ``json.loads`` + ``await RaceHandler.consume(data)``.

Run: ``python -m bench.race_data``.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import platform
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from racetime_bot import RaceHandler

from core.events import EventDispatcher, RacetimeRoomEvent
from core.metrics import NO_METRICS, Metrics
from racetime.connection import frame_type
from racetime.diff import RoomContext, diff_race, log_changes
from racetime.models import Race, RaceDataFrame, decode_frame
from tests.racetime.frames import encode, race_data_frame, race_sequence

REPEATS = 7
TARGET_SECONDS_PER_REPEAT = 0.15

_quiet = logging.getLogger("bench.race_data.quiet")
_quiet.setLevel(logging.WARNING)
_quiet.propagate = False


def build_frames(n_entrants: int, min_frames: int) -> list[str]:
    """Whole races, one room after another, up to ``min_frames`` frames."""
    frames: list[str] = []
    room = 0
    while len(frames) < min_frames:
        room += 1
        for snapshot in race_sequence(n_entrants, slug=f"fancy-wolf-{room:04d}"):
            frames.append(encode(race_data_frame(snapshot)))
    return frames


async def _noop(event: RacetimeRoomEvent) -> None:
    return None


async def run_pipeline(
    frames: list[str], dispatcher: EventDispatcher, metrics: Metrics = NO_METRICS
) -> int:
    """Decode, diff, log, emit and deliver every frame; returns the number of events.

    ``metrics`` records each frame as a room connection does (the dispatcher records what
    it was given)."""
    previous: Race | None = None
    context: RoomContext | None = None
    linked: dict[str, int] = {}
    count = 0
    for raw in frames:
        frame = decode_frame(raw)
        metrics.frame_processed("alttpr", frame_type(frame))
        if type(frame) is not RaceDataFrame:
            continue
        race = frame.race
        if context is None or context.room_name != race.name:
            # A new room: a fresh join, no previous snapshot.
            context = RoomContext.for_race(race, match_id=1, tournament_id=1)
            previous = None
        if previous is not None and race.version <= previous.version:
            continue
        events = diff_race(previous, race, context, linked_users=linked)
        previous = race
        if events:
            log_changes(events, _quiet)
            count += len(events)
            await dispatcher.emit(*events)
            await dispatcher.drain()
    return count


async def run_decode_diff(frames: list[str]) -> int:
    """The pipeline without logging and the dispatcher (to split the cost)."""
    previous: Race | None = None
    context: RoomContext | None = None
    count = 0
    for raw in frames:
        frame = decode_frame(raw)
        if type(frame) is not RaceDataFrame:
            continue
        race = frame.race
        if context is None or context.room_name != race.name:
            context = RoomContext.for_race(race, match_id=1, tournament_id=1)
            previous = None
        count += len(diff_race(previous, race, context))
        previous = race
    return count


async def run_json_loads(frames: list[str]) -> int:
    loads = json.loads
    n = 0
    for raw in frames:
        n += len(loads(raw))
    return n


async def run_racetime_bot(frames: list[str], handler: RaceHandler) -> int:
    loads = json.loads
    for raw in frames:
        await handler.consume(loads(raw))
    return len(handler.data.get("entrants", ()))


async def best_time(fn: Callable[[], Awaitable[Any]], repeats: int = REPEATS) -> float:
    await fn()  # warm up
    times = []
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        await fn()
        times.append(time.perf_counter() - start)
    return min(times)


async def measure(n_entrants: int) -> dict[str, float | int]:
    frames = build_frames(n_entrants, 600 if n_entrants <= 10 else 500)
    dispatcher = EventDispatcher()
    dispatcher.subscribe(RacetimeRoomEvent, _noop)
    handler = RaceHandler(logger=_quiet, conn=None, state={})

    n_events = await run_pipeline(frames, dispatcher)
    t_pipe = await best_time(lambda: run_pipeline(frames, dispatcher))
    t_json = await best_time(lambda: run_json_loads(frames))
    t_bot = await best_time(lambda: run_racetime_bot(frames, handler))
    t_decode = await best_time(lambda: _decode_only(frames))
    t_diff = await best_time(lambda: run_decode_diff(frames))
    n = len(frames)
    return {
        "frames": n,
        "events": n_events,
        "frame_bytes": sum(len(f) for f in frames) // n,
        "frames_per_s": round(n / t_pipe),
        "us_per_frame": round(t_pipe / n * 1e6, 2),
        "decode_us_per_frame": round(t_decode / n * 1e6, 2),
        "decode_diff_us_per_frame": round(t_diff / n * 1e6, 2),
        "json_loads_us_per_frame": round(t_json / n * 1e6, 2),
        "racetime_bot_us_per_frame": round(t_bot / n * 1e6, 2),
        "ratio_vs_json_loads": round(t_pipe / t_json, 3),
        "ratio_vs_racetime_bot": round(t_pipe / t_bot, 3),
    }


async def _decode_only(frames: list[str]) -> int:
    n = 0
    for raw in frames:
        if decode_frame(raw) is not None:
            n += 1
    return n


async def by_race_size(
    bench: str, measure_one: Callable[[int], Awaitable[dict[str, float | int]]]
) -> dict[str, Any]:
    """One JSON line's fields: ``measure_one`` for races of 10 and of 50 entrants (``_50``)."""
    result: dict[str, Any] = {"bench": bench}
    for n_entrants, suffix in ((10, ""), (50, "_50")):
        for key, value in (await measure_one(n_entrants)).items():
            result[f"{key}{suffix}"] = value
    result["python"] = platform.python_version()
    result["implementation"] = sys.implementation.name
    return result


def print_line(main: Callable[[], Coroutine[Any, Any, dict[str, Any]]]) -> None:
    """Run ``main`` and print its fields and its wall time as one JSON line."""
    started = time.perf_counter()
    output = asyncio.run(main())
    output["wall_s"] = round(time.perf_counter() - started, 2)
    print(json.dumps(output))


async def main() -> dict[str, Any]:
    return await by_race_size("race_data", measure)


if __name__ == "__main__":
    print_line(main)
