"""Stopping never waits for ever: a background task is given a while to finish, then cancelled,
and whatever still does not end is logged by name and left behind.

A shutdown that hangs is worse than one that leaves a task behind: the process (or a test's
teardown) must end, and the log must say what did not stop and where it was waiting.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import linecache
import logging
import os
from collections.abc import Awaitable, Iterable
from types import FrameType
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

# Work that to_the_end() runs and whose caller has gone: kept until it ends.
_finishing: set[asyncio.Future[Any]] = set()

STOP_GRACE_SECONDS = 10.0
_ASYNCIO_DIR = os.path.dirname(asyncio.__file__) + os.sep


async def to_the_end(work: Awaitable[T]) -> T:
    """Await ``work`` (a database transaction) in a task of its own that cancelling the
    caller does not interrupt: the caller is cancelled at once, and the transaction still
    commits or rolls back.

    A transaction cancelled between two statements is closed without its rollback; on
    SQLite, a statement it left unfinalized keeps the write lock of the closed connection
    until the garbage collector finds it, and every other writer waits meanwhile (a room
    stopped mid-write held up the whole shutdown that way).
    """
    task = asyncio.ensure_future(work)
    _finishing.add(task)
    task.add_done_callback(_finished)
    return await asyncio.shield(task)


def _finished(task: asyncio.Future[Any]) -> None:
    _finishing.discard(task)
    if not task.cancelled() and task.exception() is not None:
        # Its caller saw it, or was cancelled and never will: the log says it either way.
        log.debug("Work run to the end failed: %r", task.exception())


def where_it_waits(task: asyncio.Task[Any]) -> str:
    """The innermost line the task is suspended at (``file:line in function``)."""
    frames = await_frames(task.get_coro())
    if not frames:
        return "nowhere (not started or finished)"
    ours = [f for f in frames if not f.f_code.co_filename.startswith(_ASYNCIO_DIR)] or frames
    frame = ours[-1]
    where = f"{frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_qualname}"
    if frames[-1] is not frame:  # it awaits asyncio itself: say what (Event.wait, Queue.get)
        where += f", awaiting {frames[-1].f_code.co_qualname}"
    return where


def await_frames(awaitable: object) -> list[FrameType]:
    """The frames of each coroutine (or async generator) a suspended coroutine awaits,
    outermost first. ``Task.get_stack`` gives only the outermost one."""
    return [frame for frame, _ in _await_chain(awaitable) if frame is not None]


def await_chain(awaitable: object) -> str:
    """:func:`await_frames` as text, like a traceback, down to the future at the bottom."""
    lines = []
    for frame, bottom in _await_chain(awaitable):
        if frame is not None:
            code = frame.f_code
            source = linecache.getline(code.co_filename, frame.f_lineno).strip()
            lines.append(
                f'  File "{code.co_filename}", line {frame.f_lineno}, in {code.co_qualname}\n'
                f"    {source}"
            )
        else:
            lines.append(f"  waiting on {bottom!r}")
    return "\n".join(lines) + "\n"


def _await_chain(awaitable: object) -> list[tuple[FrameType | None, object]]:
    chain: list[tuple[FrameType | None, object]] = []
    seen: set[int] = set()
    current: object | None = awaitable
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        frame = _first_attribute(current, "cr_frame", "ag_frame", "gi_frame")
        following = _first_attribute(current, "cr_await", "ag_await", "gi_yieldfrom")
        if following is None and type(current).__name__ == "async_generator_asend":
            # ``await agen.__anext__()``: the generator is what the asend object refers to.
            following = next((r for r in gc.get_referents(current) if inspect.isasyncgen(r)),
                             None)
        if frame is not None:
            chain.append((frame, current))
        elif following is None:
            # ``await future`` goes through the future's iterator: name the future itself.
            future = next((r for r in gc.get_referents(current) if asyncio.isfuture(r)),
                          current)
            chain.append((None, future))
        current = following
    return chain


def _first_attribute(obj: object, *names: str) -> Any:
    for name in names:
        value = getattr(obj, name, None)
        if value is not None:
            return value
    return None


async def wait_or_cancel(
    task: asyncio.Task[Any], what: str, *, grace: float = STOP_GRACE_SECONDS
) -> bool:
    """Wait up to ``grace`` seconds for ``task`` to end by itself, then cancel it and wait up
    to ``grace`` again. True when it ended; False (logged) when it ignored both.

    The task's own exception is not raised here: the caller asked it to stop, and a task that
    failed has stopped. ``what`` names it in the log ("racetime alerts").
    """
    try:
        return await _wait_or_cancel(task, what, grace)
    except asyncio.CancelledError:
        task.cancel()  # the one who stops is cancelled: what it stops goes with it
        raise


async def wait_all_or_cancel(
    tasks: Iterable[asyncio.Task[Any]], what: str, *, grace: float = STOP_GRACE_SECONDS
) -> None:
    """:func:`wait_or_cancel` for several tasks at once, each named ``what`` and its name."""
    await asyncio.gather(
        *(wait_or_cancel(task, f"{what} {task.get_name()}", grace=grace) for task in tasks)
    )


async def _wait_or_cancel(task: asyncio.Task[Any], what: str, grace: float) -> bool:
    if await _ended_within(task, grace):
        return True
    log.warning(
        "%s did not stop within %g s (waiting at %s); cancelling it",
        what, grace, where_it_waits(task),
    )
    task.cancel()
    if await _ended_within(task, grace):
        return True
    log.error(
        "%s ignored its cancellation for %g s (waiting at %s); going on without it",
        what, grace, where_it_waits(task),
    )
    return False


async def _ended_within(task: asyncio.Task[Any], seconds: float) -> bool:
    # asyncio.wait never cancels or raises for the task it waits on.
    await asyncio.wait({task}, timeout=seconds)
    if not task.done():
        return False
    if not task.cancelled() and task.exception() is not None:
        log.error("A stopping task had failed", exc_info=task.exception())
    return True
