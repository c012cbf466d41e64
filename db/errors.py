"""Which database errors pass: retrying the same work, once the database answers, cures them.

A lock (SQLite busy), a lost or refused connection, and PostgreSQL's own ways of saying it is
going away or not back yet: SQLSTATE class 08 (connection exceptions), 57P01-57P03 (shut down
by an administrator, crashed, "the database system is starting up / shutting down"),
53300 (too many connections) and 40001/40P01 (a serialization failure or deadlock: the
transaction may simply run again). asyncpg reports these as its own exceptions, which
SQLAlchemy wraps in a plain ``DBAPIError``: the SQLSTATE is what tells them apart.
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

# Driver errors of the "operational" kind that no retry cures: the schema or the statement
# is wrong. Retrying them would stall every later commit instead of dropping one submission.
_PERMANENT_MESSAGES = ("no such table", "no such column", "has no column", "syntax error")

_PASSING_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "53300", "40001", "40P01"})
_CONNECTION_CLASS = "08"


def sqlstate(error: BaseException) -> str | None:
    """The PostgreSQL SQLSTATE behind ``error`` (wrapped by SQLAlchemy or not), if any."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        state = getattr(current, "sqlstate", None)
        if isinstance(state, str) and state:
            return state
        orig = getattr(current, "orig", None)
        current = orig if isinstance(orig, BaseException) else current.__cause__
    return None


def is_transient(error: BaseException) -> bool:
    """A database error that retrying the same work can cure (lock, lost connection, the
    server restarting)."""
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    state = sqlstate(error)
    if state is not None and (state in _PASSING_SQLSTATES or state.startswith(_CONNECTION_CLASS)):
        return True
    if isinstance(error, OperationalError | InterfaceError):
        text = str(error.orig if error.orig is not None else error).lower()
        return not any(message in text for message in _PERMANENT_MESSAGES)
    return isinstance(error, ConnectionError | TimeoutError | OSError)


def describe(error: BaseException) -> str:
    """A database error in a few words for the log: the driver's own message, never a
    statement (nor a URL, which may carry a password)."""
    inner = getattr(error, "orig", None) or error
    text = str(inner).strip().splitlines()[0] if str(inner).strip() else ""
    name = type(inner).__name__
    if isinstance(error, TimeoutError):
        return "no answer in time"
    return f"{name}: {text}" if text else name
