"""Database faults injected at the outermost edge: just before a statement reaches the driver.

    db_faults.fail(r"INSERT INTO event_log", times=2)

makes the next two statements matching the pattern raise ``OperationalError`` (the database
went away) instead of running, and ``db_faults.fail_commit(r"INSERT INTO event_log")`` does
the same to the COMMIT of the next transaction that ran such a statement; everything else,
SQLAlchemy included, is the real thing.

Fixtures:
    db_faults    a :class:`DatabaseFaults` on ``db_engine``, removed after the test

Tests that build engines of their own use ``DatabaseFaults(engine)`` and ``close()``.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine


def lost_connection() -> Exception:
    """What a driver raises when the server is unreachable: a transient error."""
    return OperationalError("(injected)", None, ConnectionError("injected fault"))


@dataclass
class Fault:
    pattern: re.Pattern[str]
    remaining: int | None  # None: every matching statement, until removed
    error: Callable[[], Exception]
    when: Callable[[Any], bool] | None = None
    raised: int = 0

    def matches(self, statement: str, parameters: Any) -> bool:
        if self.remaining == 0 or not self.pattern.search(statement):
            return False
        return self.when is None or self.when(parameters)

    def fire(self) -> None:
        if self.remaining is not None:
            self.remaining -= 1
        self.raised += 1
        raise self.error()


class DatabaseFaults:
    """Makes chosen statements on one engine fail; counts the failures it caused."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine.sync_engine
        self._faults: list[Fault] = []
        self._commit_faults: list[Fault] = []
        # Statements of each connection's open transaction, for commit faults.
        self._statements: weakref.WeakKeyDictionary[Any, list[str]] = weakref.WeakKeyDictionary()
        event.listen(self._engine, "before_cursor_execute", self._before_cursor_execute)
        event.listen(self._engine, "commit", self._before_commit)
        event.listen(self._engine, "rollback", self._forget)

    def fail(
        self,
        pattern: str,
        *,
        times: int | None = 1,
        error: Callable[[], Exception] = lost_connection,
        when: Callable[[Any], bool] | None = None,
    ) -> Fault:
        """Fail the next ``times`` statements matching ``pattern`` (a case-insensitive regex);
        ``when(parameters)`` narrows it to statements with certain parameters."""
        fault = Fault(re.compile(pattern, re.IGNORECASE), times, error, when)
        self._faults.append(fault)
        return fault

    def fail_commit(
        self,
        pattern: str,
        *,
        times: int | None = 1,
        error: Callable[[], Exception] = lost_connection,
    ) -> Fault:
        """Fail the next ``times`` COMMITs of transactions that ran a statement matching
        ``pattern``: every statement ran, then the transaction is lost."""
        fault = Fault(re.compile(pattern, re.IGNORECASE), times, error)
        self._commit_faults.append(fault)
        return fault

    def clear(self) -> None:
        self._faults.clear()
        self._commit_faults.clear()
        self._statements.clear()

    def close(self) -> None:
        self.clear()
        for name, hook in (
            ("before_cursor_execute", self._before_cursor_execute),
            ("commit", self._before_commit),
            ("rollback", self._forget),
        ):
            if event.contains(self._engine, name, hook):
                event.remove(self._engine, name, hook)

    def _forget(self, conn: Any) -> None:
        self._statements.pop(conn, None)

    def _before_commit(self, conn: Any) -> None:
        statements = self._statements.pop(conn, [])
        for fault in self._commit_faults:
            if any(fault.matches(statement, None) for statement in statements):
                fault.fire()

    def _before_cursor_execute(
        self,
        conn: Any,
        cursor: Any,
        statement: str,
        parameters: Any,
        context: Any,
        executemany: bool,
    ) -> None:
        if self._commit_faults:
            self._statements.setdefault(conn, []).append(statement)
        for fault in self._faults:
            if fault.matches(statement, parameters):
                fault.fire()


def parameters_mention(value: str) -> Callable[[Any], bool]:
    """A ``when`` for :meth:`DatabaseFaults.fail`: the statement's parameters contain ``value``."""
    return lambda parameters: value in repr(parameters)


@pytest.fixture
def db_faults(db_engine: AsyncEngine) -> Iterator[DatabaseFaults]:
    """Inject faults into ``db_engine``'s statements (see the module docstring)."""
    faults = DatabaseFaults(db_engine)
    try:
        yield faults
    finally:
        faults.close()
