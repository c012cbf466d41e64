"""Fencing by epoch: a write that causes an effect is refused once a newer leader exists.

A process that leads under epoch *n* checks, inside the transaction of each such write
(claiming a room, taking outbox rows to send, recording a result), that *n* is still the
lease's epoch, and holds the lease row ``FOR KEY SHARE`` until it commits (:func:`fenced`).
A new leader locks the row ``FOR UPDATE`` to raise the epoch, so it waits for the writes under
way, and every write after it sees the new epoch and is refused with :class:`FencedError`. A
leader paused for longer than its lease (SIGSTOP, a frozen VM) therefore never claims,
sends or records anything once it resumes, whatever it was doing when it stopped.

:meth:`Fence.ensure_current` is the cheap check without the database, for the moment just
before an effect outside it (a DM sent, a ``startrace`` posted): it refuses once this process
has gone longer than it may without renewing its lease. The launcher asks it right before
``startrace`` (``core/rooms/launch.py``) and the notification delivery before each send; for
Discord the last check is in the bot's HTTP client, right before each request that would
change something leaves (``cogs/_shared/fenced_http.py``), so a DM that waited out a rate limit
is checked when it would leave, not when it was handed over. :data:`NO_FENCE` is the fence of
a process that runs alone (SQLite, or ``[ha]`` off): every check costs nothing, and the bot's
HTTP client has none.
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from db.queries import leadership as queries


class FencedError(Exception):
    """This process no longer leads: a newer epoch exists, or its lease ran out unrenewed."""

    def __init__(self, message: str, *, epoch: int | None = None,
                 current: int | None = None) -> None:
        super().__init__(message)
        self.epoch = epoch
        self.current = current


class Fence(Protocol):
    """What a writer asks before an effect."""

    @property
    def epoch(self) -> int | None:
        """The epoch this process leads under, to record on a claim (None: it runs alone,
        or does not lead)."""
        ...

    def ensure_current(self) -> None:
        """Raise :class:`FencedError` unless this process may act now (no I/O)."""
        ...

    async def check(self, session: AsyncSession) -> None:
        """In the writer's transaction: raise :class:`FencedError` if a newer epoch exists
        (and hold the lease row until the transaction ends)."""
        ...


class NoFence:
    """The fence of a process that runs alone: nothing to check."""

    @property
    def epoch(self) -> int | None:
        return None

    def ensure_current(self) -> None:
        return None

    async def check(self, session: AsyncSession) -> None:
        return None


NO_FENCE: Fence = NoFence()


def superseded(claimed_under: int | None, fence: Fence) -> bool:
    """Whether a claim taken under ``claimed_under`` belongs to a leader that no longer
    leads (an older epoch than this process's): it may be taken over at once. A claim of a
    process that ran alone (None) waits for its own lease to run out."""
    current = fence.epoch
    return current is not None and claimed_under is not None and claimed_under < current


async def fenced(session: AsyncSession, epoch: int) -> None:
    """Refuse (:class:`FencedError`) a write carrying ``epoch`` when the lease has a newer one,
    or none at all; otherwise hold the lease row ``FOR KEY SHARE`` until ``session``'s
    transaction ends, so that no new epoch begins before this write commits."""
    current = await queries.current_epoch(session)
    if current is None:
        raise FencedError(
            f"refused a write under epoch {epoch}: the database has no leader lease",
            epoch=epoch,
        )
    if current != epoch:
        raise FencedError(
            f"refused a write under epoch {epoch}: epoch {current} leads now",
            epoch=epoch, current=current,
        )
