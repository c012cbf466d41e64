"""The leader lease on PostgreSQL: which of several RaceDesk processes on one database leads.

The leader holds a session-level advisory lock (``pg_try_advisory_lock``) on a connection of
its own, and the lease row (``leadership_lease``): its id, its epoch, when it took and last
renewed the lease. The lock and the next epoch are taken in one transaction, so every change
of leader has an epoch of its own. Every session of a process is named after it
(``application_name`` is its :attr:`Leadership.holder`).

* **Standby.** :meth:`Leadership.acquire` tries the lock every ``poll_seconds``. A leader
  that died (SIGKILL, a machine gone whose connection the server closed) lost the lock with
  its session: the next poll takes it. A leader whose session lives on but who stopped
  renewing its lease for ``lease_seconds`` (paused, frozen, cut off from the database while
  its TCP connection looks open) has its sessions ended (``pg_terminate_backend``), which
  frees the lock for the next poll. Taking over from a leader that did not hand over ends
  whatever sessions of it are left too, so none of its transactions can still be under way,
  and then waits out what is left of that leader's trust in its last renewal (the row's
  ``trust_seconds``) before it acts: a leader whose lease session alone was cut stops
  acting (see below) before the new one starts.
* **Leader.** A heartbeat every ``heartbeat_seconds`` renews the row through the lock's
  connection, which is also the check that the connection is alive. A heartbeat that fails
  or times out, or finds another holder, means the lease is lost: the lock may be gone with
  the session. The leader also stops trusting itself ``lease_seconds - heartbeat_seconds``
  after its last renewal (:meth:`Leadership.ensure_current`): before any standby may take over.
  Losing the lease sets :attr:`Leadership.lost` and calls the ``on_lost`` callbacks; the
  process must stop acting at once (``bot.py`` exits, and its supervisor starts it again as a
  standby).
* **Handover.** :meth:`Leadership.release` clears the holder, unlocks and says so on a
  channel every standby listens to (``NOTIFY``): a standby takes over at once, without
  waiting for its next poll or ending anything.

The lease's times are the database's, the one clock every process shares (its
``acquired_at``: when the leader may act, after any wait for the previous one's trust); the
waits and the leader's own trust in its lease are measured on the injected :class:`Clock`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlalchemy.pool import NullPool

from core.clock import Clock, SystemClock
from core.leadership.fence import FencedError, fenced
from db.engine import create_engine
from db.errors import describe
from db.queries import leadership as queries
from db.queries.leadership import LeaseView

log = logging.getLogger(__name__)

HOLDER_PREFIX = "racedesk-"


class Role(StrEnum):
    """What a process is: it runs alone (SQLite, or ``[ha]`` off), it leads, or it waits."""

    SINGLE = "single"
    LEADER = "leader"
    STANDBY = "standby"


@dataclass(frozen=True, slots=True)
class LeadershipStatus:
    """What this process is, for ``/healthz``, ``/readyz`` and ``/metrics``."""

    role: Role
    # The epoch this process leads under; a standby's: the leader's, as it last saw it.
    epoch: int | None = None
    leader: str | None = None  # the leader's host and process id, as far as this one knows
    # A leader that holds the lease but has not started its parts yet: it waits out the
    # previous leader's trust in its last renewal, or is starting the racetime engine and
    # the schedulers. Not ready for traffic until they run (:meth:`Leadership.started`).
    starting: bool = False

    @property
    def acts(self) -> bool:
        """Whether this process does the work (it leads with its parts started, or runs
        alone): ready for traffic."""
        return self.role is not Role.STANDBY and not self.starting


ALONE = LeadershipStatus(Role.SINGLE)


def status_of(leadership: Leadership | None) -> LeadershipStatus:
    """The status of a process under ``leadership``; one without a lease runs alone."""
    return ALONE if leadership is None else leadership.status()


@dataclass(frozen=True, slots=True)
class LeaseTimings:
    """How long a lease lasts unrenewed, and how often it is renewed and asked for."""

    lease_seconds: float = 8.0
    heartbeat_seconds: float = 2.0
    poll_seconds: float = 1.0
    # One heartbeat (or one poll's statements) may take this long before it counts as failed.
    statement_seconds: float = 2.0

    def __post_init__(self) -> None:
        if not 0 < self.heartbeat_seconds * 2 <= self.lease_seconds:
            raise ValueError("the heartbeat must come at least twice in a lease")
        if self.poll_seconds <= 0 or self.statement_seconds <= 0:
            raise ValueError("the poll and statement times must be positive")

    @classmethod
    def for_lease(cls, lease_seconds: float) -> LeaseTimings:
        """``[ha] lease_seconds``: a heartbeat every quarter of it, and a poll every second
        (every eighth of it, for a lease shorter than 8 s)."""
        return cls(
            lease_seconds=lease_seconds,
            heartbeat_seconds=lease_seconds / 4,
            poll_seconds=min(1.0, lease_seconds / 8),
            statement_seconds=lease_seconds / 4,
        )

    @property
    def trusted_seconds(self) -> float:
        """How long after a renewal the leader may act without another: one heartbeat less
        than the lease, so that it stops before a standby may take over."""
        return self.lease_seconds - self.heartbeat_seconds


def new_holder_id() -> str:
    """A process's id in the lease and its sessions' ``application_name`` (63 bytes at most)."""
    return HOLDER_PREFIX + secrets.token_hex(8)


class Leadership:
    """This process's side of the lease on the PostgreSQL database at ``database_url``.

    Built without touching the network; :meth:`acquire` connects. One-shot: once lost or
    released it stays so (the process exits and a new one starts as a standby).
    """

    def __init__(
        self,
        database_url: str,
        *,
        clock: Clock | None = None,
        timings: LeaseTimings | None = None,
        holder: str | None = None,
    ) -> None:
        self.holder = holder or new_holder_id()
        self.holder_name = f"{socket.gethostname()}:{os.getpid()}"[:200]
        self._clock: Clock = clock or SystemClock()
        self.timings = timings or LeaseTimings()
        self._engine: AsyncEngine = create_engine(
            database_url, poolclass=NullPool, application_name=self.holder
        )
        self._connection: AsyncConnection | None = None
        self.role = Role.STANDBY
        self.epoch: int | None = None  # the epoch this process leads under
        self.leader: LeaseView | None = None  # the lease as a standby last saw it
        self.lost = asyncio.Event()
        self.lost_reason: str | None = None
        self._trusted_until = -math.inf
        # At the takeover: how long the previous leader could still act on its last renewal.
        self.wait_before_acting = 0.0
        self._unanswered = False  # the last try failed (said once, not every poll)
        self._heartbeat: asyncio.Task[None] | None = None
        self._on_lost: list[Callable[[str], None]] = []
        self._closed = False
        self._parts_started = False
        self._handover = asyncio.Event()  # a leader announced a handover (NOTIFY)
        self.fence = LeaseFence(self)

    def status(self) -> LeadershipStatus:
        if self.role is Role.LEADER:
            return LeadershipStatus(
                Role.LEADER, self.epoch, self.holder_name, starting=not self._parts_started
            )
        seen = self.leader
        if seen is None:
            return LeadershipStatus(Role.STANDBY)
        return LeadershipStatus(
            Role.STANDBY, seen.epoch, seen.holder_name if seen.holder is not None else None
        )

    # -- becoming the leader -------------------------------------------------------------------

    async def acquire(self) -> int:
        """Wait until this process leads, trying every ``poll_seconds``, and may act; its
        epoch. Taking over from a leader that did not hand over, it waits out what is left of
        that leader's trust in its last renewal: the old leader stops acting before the new
        one starts, even if only its lease's session was cut and it runs on."""
        while not await self.try_acquire():
            await self._until_next_try()
        wait = self.wait_before_acting
        if wait > 0:
            log.info("Waiting %.1f s for the previous leader to stop acting before this one "
                     "starts", wait)
            await self._clock.sleep(wait)
            self.ensure_current()  # still leading, and trusted, after the wait
        assert self.epoch is not None
        return self.epoch

    async def _until_next_try(self) -> None:
        """A poll's sleep on the clock, or less: a leader handing over says so."""
        sleep = asyncio.ensure_future(self._clock.sleep(self.timings.poll_seconds))
        told = asyncio.ensure_future(self._handover.wait())
        try:
            await asyncio.wait({sleep, told}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleep.cancel()
            told.cancel()
            self._handover.clear()

    async def try_acquire(self) -> bool:
        """One try: take the lock and the next epoch if the lock is free. Otherwise note who
        leads, and end the sessions of a leader whose lease ran out, for the next try."""
        if self.role is Role.LEADER:
            return True
        if self._closed or self.lost.is_set():
            raise RuntimeError("this lease was lost or released; a new process asks again")
        started = self._clock.monotonic()
        try:
            async with asyncio.timeout(self.timings.lease_seconds):
                epoch = await self._take_or_watch()
        except Exception as error:
            # Whatever went wrong, the session (and the lock, if it was taken) goes with it.
            # Said once while it lasts: a standby asks every poll.
            level = logging.DEBUG if self._unanswered else logging.WARNING
            log.log(level, "Could not ask the database for the leadership (asking again every "
                    "%g s): %s", self.timings.poll_seconds, describe(error))
            self._unanswered = True
            await self._drop_connection()
            return False
        if self._unanswered:
            log.info("The database answers the leadership's questions again")
            self._unanswered = False
        if epoch is None:
            return False
        self.epoch, self.role = epoch, Role.LEADER
        self._trusted_until = started + self.timings.trusted_seconds
        self._heartbeat = asyncio.get_running_loop().create_task(
            self._beat_forever(), name="leadership-heartbeat"
        )
        log.info("This process (%s, %s) leads from now on: epoch %d",
                 self.holder_name, self.holder, epoch)
        return True

    async def _take_or_watch(self) -> int | None:
        connection = await self._connect()
        async with connection.begin():
            if not await queries.try_lock(connection):
                await self._watch(connection)
                return None
            # Holding the lock from here: a failure below drops the connection, and the
            # lock with it.
            await queries.ensure_row(connection)
            before = await queries.view(connection, self.timings.lease_seconds)
            wait = 0.0
            if before is not None and before.holder not in (None, self.holder):
                log.warning(
                    "The leader %s (epoch %d) stopped without handing over; ending what is "
                    "left of its database sessions", before.holder_name, before.epoch,
                )
                await self._end_sessions(connection, before.holder)
                wait = before.trusted_for
            await queries.lock_row(connection, timeout_seconds=self.timings.statement_seconds)
            epoch = await queries.take(
                connection, self.holder, self.holder_name, self.timings.trusted_seconds,
                acts_after=wait,
            )
        self.wait_before_acting = wait
        return epoch

    async def _watch(self, connection: AsyncConnection) -> None:
        """A standby's look at the lease: say when the leader changes, and end the sessions
        of one whose lease ran out (the lock is free once they are gone)."""
        seen = await queries.view(connection, self.timings.lease_seconds)
        before, self.leader = self.leader, seen
        if seen is None:
            return
        if before is None or (before.holder, before.epoch) != (seen.holder, seen.epoch):
            log.info(
                "Standing by: %s leads (epoch %d); this process takes over when it stops",
                seen.holder_name or "a process", seen.epoch,
            )
        if seen.stale and seen.holder is not None:
            log.warning(
                "The leader %s (epoch %d) has not renewed its lease for %g s (stopped, paused "
                "or cut off from the database): ending its database sessions to take over",
                seen.holder_name, seen.epoch, self.timings.lease_seconds,
            )
            await self._end_sessions(connection, seen.holder)

    async def _end_sessions(self, connection: AsyncConnection, holder: str) -> None:
        """End ``holder``'s sessions in a savepoint: being refused (another database user)
        is said, and the transaction goes on."""
        try:
            async with connection.begin_nested():
                ended = await queries.end_sessions_of(connection, holder)
        except Exception as error:
            log.error(
                "Could not end the database sessions of the leader %s: %s. Run every "
                "RaceDesk process as the same database user (or grant this one "
                "pg_signal_backend).", holder, describe(error),
            )
            return
        if ended:
            log.info("Ended %d database sessions of %s", ended, holder)

    # -- leading -------------------------------------------------------------------------------

    async def _beat_forever(self) -> None:
        while self.role is Role.LEADER:
            await self._clock.sleep(self.timings.heartbeat_seconds)
            if self.role is not Role.LEADER:
                break
            await self.beat()
        if self.lost.is_set():
            await self._drop_connection()

    async def beat(self) -> bool:
        """One heartbeat: renew the lease through its connection, if it is still this
        process's. False (and the lease lost) when the connection failed or did not answer
        within ``statement_seconds``, another process holds the lease, or the last renewal is
        too old to trust (the process was paused)."""
        if self.role is not Role.LEADER:
            return False
        try:
            epoch = self.ensure_current()
        except FencedError:
            return False
        started = self._clock.monotonic()
        connection = self._connection
        try:
            assert connection is not None
            async with asyncio.timeout(self.timings.statement_seconds):
                async with connection.begin():
                    renewed = await queries.renew(connection, self.holder, epoch)
        except Exception as error:
            self._lose(f"its lease's database session failed ({describe(error)})")
            await self._drop_connection()
            return False
        if not renewed:
            self._lose("another process holds the lease now")
            await self._drop_connection()
            return False
        self._trusted_until = started + self.timings.trusted_seconds
        return True

    def ensure_current(self) -> int:
        """The epoch this process leads under; :class:`FencedError` when it does not lead, or
        when its last renewal is older than it may trust (it was paused, or its heartbeats
        fail): then the lease is lost, before any standby may have taken over."""
        if self.role is not Role.LEADER or self.epoch is None:
            raise FencedError(
                "this process does not lead: it must not act", epoch=self.epoch
            )
        if self._clock.monotonic() > self._trusted_until:
            self._lose(
                f"its lease was not renewed for {self.timings.trusted_seconds:g} s "
                "(was the process paused, or the database out of reach?)"
            )
            raise FencedError(
                f"the lease of epoch {self.epoch} ran out unrenewed: this process must not act",
                epoch=self.epoch,
            )
        return self.epoch

    def started(self) -> None:
        """The leader's parts run (``bot.py`` calls it once they have started): it does the
        work, and ``/readyz`` answers 200 from now on."""
        if self.role is Role.LEADER:
            self._parts_started = True

    def superseded(self, error: FencedError) -> None:
        """A fenced write found a newer epoch: the lease is lost."""
        self._lose(str(error))

    def on_lost(self, callback: Callable[[str], None]) -> None:
        """Call ``callback(reason)`` when the lease is lost (not when it is released)."""
        self._on_lost.append(callback)

    def _lose(self, reason: str) -> None:
        if self.role is not Role.LEADER:
            return
        self.role = Role.STANDBY
        self.lost_reason = reason
        self.lost.set()
        log.critical("Lost the leadership (epoch %s): %s", self.epoch, reason)
        for callback in self._on_lost:
            try:
                callback(reason)
            except Exception:
                log.exception("A callback for the lost leadership failed")

    # -- handing over --------------------------------------------------------------------------

    async def release(self) -> None:
        """Hand over: clear the holder, unlock and say so to the standbys (they take over at
        once), close the connection. A standby just closes its connection. Idempotent."""
        task, self._heartbeat = self._heartbeat, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        connection = self._connection
        if self.role is Role.LEADER and connection is not None:
            epoch = self.epoch
            assert epoch is not None
            self.role = Role.STANDBY
            try:
                async with asyncio.timeout(self.timings.statement_seconds):
                    # The holder is cleared and committed first: a standby that takes the
                    # lock then finds a handover, not a leader to end the sessions of.
                    async with connection.begin():
                        await queries.release(connection, self.holder, epoch)
                    async with connection.begin():
                        await queries.unlock(connection)
                        await queries.announce_handover(connection)
            except Exception as error:
                log.warning(
                    "Could not hand over the leadership in order (%s); it ends with this "
                    "process's database session", describe(error),
                )
            else:
                log.info("Handed over the leadership (epoch %d): a standby may take over now",
                         epoch)
        self._closed = True
        await self._close_connection()
        await self._engine.dispose()

    # -- the connection ------------------------------------------------------------------------

    async def _connect(self) -> AsyncConnection:
        connection = self._connection
        if connection is None or connection.closed or connection.invalidated:
            connection = self._connection = await self._engine.connect()
            # Hears a handover at once (the poll stays the safety net).
            await queries.listen_for_handover(connection, self._handover.set)
        return connection

    async def _close_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                await connection.close()
            except Exception as error:
                log.debug("Closing the lease's connection: %s", describe(error))

    async def _drop_connection(self) -> None:
        """Discard the connection without a word to the server (it may be gone): its
        session ends, and any lock it held with it."""
        connection, self._connection = self._connection, None
        if connection is None:
            return
        with contextlib.suppress(Exception):
            await connection.invalidate()
        with contextlib.suppress(Exception):
            await connection.close()


class LeaseFence:
    """The fence of a process under a :class:`Leadership` (see ``core.leadership.fence``)."""

    def __init__(self, leadership: Leadership) -> None:
        self._leadership = leadership

    @property
    def epoch(self) -> int | None:
        return self._leadership.epoch if self._leadership.role is Role.LEADER else None

    def ensure_current(self) -> None:
        self._leadership.ensure_current()

    async def check(self, session: AsyncSession) -> None:
        epoch = self._leadership.ensure_current()
        try:
            await fenced(session, epoch)
        except FencedError as error:
            self._leadership.superseded(error)
            raise
