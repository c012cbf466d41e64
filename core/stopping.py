"""Stopping never waits for ever: a background task is given a while to finish, then cancelled,
and whatever still does not end is logged by name and left behind.

A shutdown that hangs is worse than one that leaves a task behind: the process (or a test's
teardown) must end, and the log must say what did not stop and where it was waiting.
"""

from __future__ import annotations

import asyncio
import logging
import traceback

log = logging.getLogger(__name__)

STOP_GRACE_SECONDS = 10.0


def where_it_waits(task: asyncio.Task[object]) -> str:
    """The innermost line the task is suspended at (``file:line in function``)."""
    frames = task.get_stack()
    if not frames:
        return "nowhere (not started or finished)"
    summary = traceback.extract_stack(frames[-1], limit=1)[-1]
    return f"{summary.filename}:{summary.lineno} in {summary.name}"


async def wait_or_cancel(
    task: asyncio.Task[object], what: str, *, grace: float = STOP_GRACE_SECONDS
) -> bool:
    """Wait up to ``grace`` seconds for ``task`` to end by itself, then cancel it and wait up
    to ``grace`` again. True when it ended; False (logged) when it ignored both.

    The task's own exception is not raised here: the caller asked it to stop, and a task that
    failed has stopped. ``what`` names it in the log ("racetime alerts").
    """
    if await _ended_within(task, grace):
        return True
    log.warning(
        "%s did not stop within %.0f s (waiting at %s); cancelling it",
        what, grace, where_it_waits(task),
    )
    task.cancel()
    if await _ended_within(task, grace):
        return True
    log.error(
        "%s ignored its cancellation for %.0f s (waiting at %s); going on without it",
        what, grace, where_it_waits(task),
    )
    return False


async def _ended_within(task: asyncio.Task[object], seconds: float) -> bool:
    # asyncio.wait never cancels or raises for the task it waits on.
    await asyncio.wait({task}, timeout=seconds)
    if not task.done():
        return False
    if not task.cancelled() and task.exception() is not None:
        log.error("A stopping task had failed", exc_info=task.exception())
    return True
