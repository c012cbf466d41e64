"""Stopping never waits for ever (core/stopping.py): a task gets a grace, then a cancellation,
then is left behind, named in the log with where it waited."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from core.stopping import await_chain, to_the_end, wait_or_cancel, where_it_waits


async def test_a_task_that_ends_in_time_is_simply_waited_for(
    caplog: pytest.LogCaptureFixture,
) -> None:
    done = asyncio.Event()
    task = asyncio.ensure_future(done.wait())
    done.set()
    assert await wait_or_cancel(task, "the quick one", grace=5)
    assert not task.cancelled()
    assert caplog.records == []


async def test_a_task_that_ignores_its_cancellation_is_left_behind_and_named(
    caplog: pytest.LogCaptureFixture,
) -> None:
    never, released = asyncio.Event(), asyncio.Event()

    async def stubborn() -> None:
        with contextlib.suppress(asyncio.CancelledError):
            await never.wait()
        await released.wait()  # swallowed the cancellation and waits on

    task = asyncio.ensure_future(stubborn())
    await asyncio.sleep(0)  # let it reach its first wait
    assert not await wait_or_cancel(task, "The stubborn one", grace=0.01)
    first, second = (r.getMessage() for r in caplog.records)
    assert first.startswith("The stubborn one did not stop within 0.01 s (waiting at ")
    assert "stubborn, awaiting Event.wait); cancelling it" in first
    assert second.startswith("The stubborn one ignored its cancellation for 0.01 s")
    released.set()
    await task


async def test_cancelling_the_stopper_cancels_what_it_stops() -> None:
    never = asyncio.Event()
    task = asyncio.ensure_future(never.wait())
    stopper = asyncio.ensure_future(wait_or_cancel(task, "the waiting one", grace=3600))
    await asyncio.sleep(0)
    stopper.cancel()
    with pytest.raises(asyncio.CancelledError):
        await stopper
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_where_a_task_waits_follows_its_awaits_down_to_the_future() -> None:
    never = asyncio.Event()

    async def inner() -> None:
        await never.wait()

    async def outer() -> None:
        await inner()

    task = asyncio.ensure_future(outer())
    await asyncio.sleep(0)
    assert where_it_waits(task).endswith("inner, awaiting Event.wait")
    chain = await_chain(task.get_coro())
    assert chain.index("in test_where") < chain.index("<locals>.inner")
    assert "waiting on <Future pending" in chain
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def test_work_run_to_the_end_finishes_when_its_caller_is_cancelled() -> None:
    """A transaction must commit or roll back even when the room that began it is stopped."""
    started, release = asyncio.Event(), asyncio.Event()
    finished: list[str] = []

    async def transaction() -> str:
        started.set()
        await release.wait()
        finished.append("committed")
        return "committed"

    caller = asyncio.ensure_future(to_the_end(transaction()))
    await started.wait()
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller  # the caller is cancelled at once...
    assert finished == []
    release.set()
    for _ in range(5):
        await asyncio.sleep(0)
    assert finished == ["committed"]  # ...and the work still ends on its own
    assert await to_the_end(transaction()) == "committed"  # uncancelled: its result
