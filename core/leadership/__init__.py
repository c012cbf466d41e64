"""Which RaceDesk process acts (issue 27): the leader lease on PostgreSQL, fencing by epoch,
and the single process a SQLite database allows.

On PostgreSQL with ``[ha] enabled``, several processes share one database and one leads
(:class:`~core.leadership.lease.Leadership`): it holds a session-level advisory lock on a
connection of its own and the lease row, whose epoch grows at every change of leader. A
standby polls for the lock, and takes over a leader that stopped renewing its lease (paused,
cut off) by ending that leader's database sessions. Writes that cause an effect (a room
claimed, an outbox row taken for sending, a result recorded) ask the
:class:`~core.leadership.fence.Fence` in their own transaction, which refuses an epoch that is
no longer the newest. On SQLite, or with ``[ha]`` off, the fence is :data:`NO_FENCE`, and
SQLite refuses a second process on the same file (:mod:`core.leadership.single`).

Uses: ``core.clock``, ``db``.
"""

from core.leadership.fence import NO_FENCE, Fence, FencedError, fenced, superseded
from core.leadership.lease import (
    ALONE,
    Leadership,
    LeadershipStatus,
    LeaseTimings,
    Role,
    status_of,
)
from core.leadership.single import SingleProcessError, SingleProcessLock

__all__ = [
    "ALONE",
    "NO_FENCE",
    "Fence",
    "FencedError",
    "Leadership",
    "LeadershipStatus",
    "LeaseTimings",
    "Role",
    "SingleProcessError",
    "SingleProcessLock",
    "fenced",
    "status_of",
    "superseded",
]
