"""A hung test ends as a failure that says where it waited, and a failing run names its seed.

pytest-timeout (``timeout`` in pyproject.toml, the ``thread`` method) ends a test that runs
past its limit. Its own report is every thread's stack, and for asyncio code every thread's
stack says the same thing: the event loop sits in ``select``. So for the ``thread`` method
this plugin takes over the report: the test, its last log lines, the stack of every asyncio
task of every open event loop (the coroutine that awaits for ever is there), every thread's
traceback (faulthandler), and the line that reruns the same random order. Then the process
exits, as pytest-timeout's thread method does: a hung loop cannot be trusted to go on.

A hang that holds the GIL never lets that timer thread run; pytest's own
``faulthandler_timeout`` (set longer than ``timeout``) dumps the threads from C then.

The random order (pytest-randomly) is the usual trigger of an order-dependent failure, so any
run that fails repeats its seed at the end, next to the failures, where it is kept.
"""

from __future__ import annotations

import asyncio
import collections
import faulthandler
import gc
import io
import logging
import os
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from core.stopping import await_chain

LOG_LINES_KEPT = 40
_timer_key = pytest.StashKey[threading.Timer]()
_recent_logs_key = pytest.StashKey["RecentLogs"]()


class RecentLogs(logging.Handler):
    """The last log lines of the running test (what it was doing before it stopped moving)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: collections.deque[str] = collections.deque(maxlen=LOG_LINES_KEPT)
        self.setFormatter(logging.Formatter("%(levelname)-8s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(self.format(record))
        except Exception:
            self.handleError(record)


def rerun_hint(config: pytest.Config) -> str:
    """How to run the same order again (pytest-randomly's seed), or why there is none."""
    if not config.pluginmanager.hasplugin("randomly"):
        return "Test order: as written (pytest-randomly is off)."
    seed = getattr(config.option, "randomly_seed", None)
    return f"Random order seed {seed}: rerun this order with -p randomly --randomly-seed={seed}"


def pytest_configure(config: pytest.Config) -> None:
    handler = RecentLogs()
    config.stash[_recent_logs_key] = handler
    logging.getLogger().addHandler(handler)


def pytest_unconfigure(config: pytest.Config) -> None:
    handler = config.stash.get(_recent_logs_key, None)
    if handler is not None:
        logging.getLogger().removeHandler(handler)


def pytest_runtest_setup(item: pytest.Item) -> None:
    handler = item.config.stash.get(_recent_logs_key, None)
    if handler is not None:
        handler.lines.clear()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_terminal_summary(
    terminalreporter: Any, exitstatus: int, config: pytest.Config
) -> Iterator[None]:
    """After the short summary of the failures (written by the terminal reporter's own
    wrapper, inside this one), just before the last line."""
    yield
    if exitstatus not in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        terminalreporter.write_line(rerun_hint(config))


# -- the timeout report ----------------------------------------------------------------------


@pytest.hookimpl(tryfirst=True)
def pytest_timeout_set_timer(item: pytest.Item, settings: Any) -> bool | None:
    if settings.method != "thread":
        return None  # the signal method raises in the test; pytest-timeout reports it
    timer = threading.Timer(settings.timeout, _timed_out, args=(item, settings.timeout))
    timer.name = "hang-report"
    timer.daemon = True
    item.stash[_timer_key] = timer
    timer.start()
    return True


@pytest.hookimpl(tryfirst=True)
def pytest_timeout_cancel_timer(item: pytest.Item) -> bool | None:
    timer = item.stash.get(_timer_key, None)
    if timer is None:
        return None
    timer.cancel()
    del item.stash[_timer_key]
    return True


def _timed_out(item: pytest.Item, timeout: float) -> None:
    """In the timer thread: report where everything waits, then end the process."""
    try:
        # The report is written to the real stderr whatever happens below: a report that
        # fails to build must not turn the timeout into a silent exit.
        sys.stderr = sys.__stderr__ or sys.stderr
        sys.stderr.write(_section(f"Timeout: {item.nodeid} ran past {timeout:g} s"))
        sys.stderr.flush()
        capman = item.config.pluginmanager.getplugin("capturemanager")
        if capman is not None:
            try:
                capman.suspend_global_capture(item)
            except Exception as error:  # the capture is the main thread's; report anyway
                sys.stderr.write(f"(could not suspend output capture: {error!r})\n")
        try:
            report = timeout_report(item, timeout)
        except Exception as error:
            report = f"(the asyncio report failed: {error!r})\n"
        sys.stderr.write(report)
        sys.stderr.flush()
        sys.stderr.write(_section("every thread (faulthandler)"))
        sys.stderr.flush()
        faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
        sys.stderr.write(_section(f"{item.nodeid} timed out") + rerun_hint(item.config) + "\n")
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(1)


def timeout_report(item: pytest.Item, timeout: float) -> str:
    """The test, its last log lines and every asyncio task's stack, as text."""
    out = io.StringIO()
    out.write(_section(f"Timeout: {item.nodeid} ran past {timeout:g} s"))
    handler = item.config.stash.get(_recent_logs_key, None)
    if handler is not None and handler.lines:
        out.write(_section("its last log lines"))
        out.write("\n".join(handler.lines) + "\n")
    loops = open_event_loops()
    if not loops:
        out.write(_section("no open asyncio event loop"))
    for number, loop in enumerate(loops, 1):
        tasks = _tasks_of(loop)
        out.write(_section(f"asyncio tasks of event loop {number} of {len(loops)} ({len(tasks)})"))
        for task in sorted(tasks, key=lambda t: t.get_name()):
            out.write(f"--- task {task.get_name()!r}, awaiting (outermost first):\n")
            try:
                out.write(await_chain(task.get_coro()))
            except Exception as error:  # the loop thread may change it under us
                out.write(f"  (stack unavailable: {error!r})\n")
    return out.getvalue()


def open_event_loops() -> list[asyncio.AbstractEventLoop]:
    """Every event loop of the process that is not closed (the tests' loops are per test)."""
    return [
        obj
        for obj in gc.get_objects()
        if isinstance(obj, asyncio.AbstractEventLoop) and not obj.is_closed()
    ]


def _tasks_of(loop: asyncio.AbstractEventLoop) -> list[asyncio.Task[Any]]:
    try:
        return list(asyncio.all_tasks(loop))
    except RuntimeError:  # the set changed size a thousand times in a row
        return []


def _section(title: str) -> str:
    return f"\n{'+' * 10} {title} {'+' * 10}\n"
