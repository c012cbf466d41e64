"""The leader lease on PostgreSQL: its advisory lock and its row (see ``core.leadership``).

The lock and the takeover run on the lease's own connection; :func:`current_epoch` runs in a
writer's transaction. Never commit: the caller owns the transaction. Times are the
database's ``now()``, the clock every process shares.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import case, func, literal, select, text, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from db.models import LEASE_ROW_ID, LeadershipLease
from db.queries._tables import table_of

# The advisory lock every RaceDesk process on a database competes for. Advisory locks are
# per database, so deployments on other databases of the same server never meet. (The first
# eight bytes of sha256(b"racedesk:leader"), as a signed 64-bit number.)
LEADER_LOCK_KEY = -0x187E_FE73_AD5B_F94C
# A leader handing over says so on this channel once the lock is free (NOTIFY): the standbys
# listening try at once instead of at their next poll.
HANDOVER_CHANNEL = "racedesk_leader_handover"

Executor = AsyncConnection | AsyncSession

_lease = table_of(LeadershipLease)
_row = _lease.c.id == LEASE_ROW_ID


@dataclass(frozen=True, slots=True)
class LeaseView:
    """The lease row as another process sees it."""

    epoch: int
    holder: str | None
    holder_name: str | None
    stale: bool  # its holder has not renewed it for longer than the lease lasts
    # How long its holder may still act on its last renewal (0 when nobody holds it).
    trusted_for: float = 0.0


async def try_lock(connection: Executor) -> bool:
    """Take the leader's session-level advisory lock if it is free (never waits)."""
    result = await connection.execute(select(func.pg_try_advisory_lock(LEADER_LOCK_KEY)))
    return bool(result.scalar_one())


async def unlock(connection: Executor) -> bool:
    """Give the lock back; False when this session did not hold it."""
    result = await connection.execute(select(func.pg_advisory_unlock(LEADER_LOCK_KEY)))
    return bool(result.scalar_one())


async def announce_handover(connection: Executor) -> None:
    """Tell the standbys listening that the lock is free: delivered when the caller's
    transaction commits (call it after :func:`unlock`)."""
    await connection.execute(select(func.pg_notify(HANDOVER_CHANNEL, "")))


async def listen_for_handover(connection: AsyncConnection, heard: Callable[[], None]) -> bool:
    """Call ``heard()`` whenever a leader announces a handover, for as long as ``connection``
    lives (LISTEN, through the asyncpg connection under it). False when the driver cannot
    listen: the caller's poll is all there is then."""
    raw = await connection.get_raw_connection()
    add_listener = getattr(raw.driver_connection, "add_listener", None)
    if add_listener is None:
        return False
    await add_listener(HANDOVER_CHANNEL, lambda *_: heard())
    return True


async def ensure_row(connection: Executor) -> None:
    """The lease row, epoch 0, unless it exists (the migration made it; a restore may not)."""
    await connection.execute(
        postgresql.insert(_lease).values(id=LEASE_ROW_ID, epoch=0).on_conflict_do_nothing()
    )


async def view(connection: Executor, lease_seconds: float) -> LeaseView | None:
    """The lease row; whether its holder stopped renewing it longer ago than
    ``lease_seconds`` and than it trusts a renewal; and how long it may still act."""
    trust = func.coalesce(_lease.c.trust_seconds, 0.0)
    age = func.extract("epoch", func.now() - _lease.c.renewed_at)
    held = _lease.c.holder.is_not(None) & _lease.c.renewed_at.is_not(None)
    result = await connection.execute(
        select(
            _lease.c.epoch, _lease.c.holder, _lease.c.holder_name,
            (held & (age > func.greatest(literal(lease_seconds), trust))).label("stale"),
            case((held, func.greatest(trust - age, 0.0)), else_=0.0).label("trusted_for"),
        ).where(_row)
    )
    row = result.first()
    if row is None:
        return None
    return LeaseView(
        int(row.epoch), row.holder, row.holder_name, bool(row.stale), float(row.trusted_for)
    )


async def end_sessions_of(connection: Executor, holder: str) -> int:
    """End every session of this database whose ``application_name`` is ``holder`` (a
    leader's), but the caller's own; how many were signalled. A process may end the
    sessions of its own database user only (or needs the ``pg_signal_backend`` role)."""
    result = await connection.execute(
        text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name = :holder "
            "AND pid <> pg_backend_pid()"
        ),
        {"holder": holder},
    )
    return int(result.scalar_one())


async def lock_row(connection: Executor, *, timeout_seconds: float) -> None:
    """Lock the lease row for a change of epoch, waiting at most ``timeout_seconds`` for the
    writers under way (they hold it ``FOR KEY SHARE``: :func:`current_epoch`)."""
    milliseconds = max(int(timeout_seconds * 1000), 1)
    await connection.execute(text(f"SET LOCAL lock_timeout = {milliseconds}"))
    await connection.execute(select(_lease.c.epoch).where(_row).with_for_update())


async def take(
    connection: Executor, holder: str, holder_name: str, trust_seconds: float,
    *, acts_after: float = 0.0,
) -> int:
    """Make ``holder`` the leader under the next epoch (call holding the lock and the row),
    trusting each renewal for ``trust_seconds``; returns that epoch.

    ``acquired_at`` is when it may act: now (the statement's time, not the transaction's
    start), or ``acts_after`` seconds later when it waits out a leader that did not hand over.
    """
    now = func.now()
    result = await connection.execute(
        update(_lease)
        .where(_row)
        .values(
            epoch=_lease.c.epoch + 1, holder=holder, holder_name=holder_name,
            backend_pid=func.pg_backend_pid(),
            acquired_at=func.clock_timestamp() + timedelta(seconds=acts_after),
            renewed_at=now,
            trust_seconds=trust_seconds, released_at=None,
        )
        .returning(_lease.c.epoch)
    )
    return int(result.scalar_one())


async def renew(connection: Executor, holder: str, epoch: int) -> bool:
    """The leader's heartbeat: ``renewed_at`` is now, if ``holder`` still leads at ``epoch``.
    (A plain update: it never waits for the writers' ``FOR KEY SHARE``.)"""
    result = await connection.execute(
        update(_lease)
        .where(_row, _lease.c.epoch == epoch, _lease.c.holder == holder)
        .values(renewed_at=func.now())
        .returning(_lease.c.epoch)
    )
    return result.first() is not None


async def release(connection: Executor, holder: str, epoch: int) -> bool:
    """An orderly handover: nobody holds the lease (the epoch stays until the next leader)."""
    result = await connection.execute(
        update(_lease)
        .where(_row, _lease.c.epoch == epoch, _lease.c.holder == holder)
        .values(holder=None, backend_pid=None, released_at=func.now())
        .returning(_lease.c.epoch)
    )
    return result.first() is not None


async def current_epoch(session: Executor) -> int | None:
    """The lease's epoch, read in a writer's transaction and held ``FOR KEY SHARE`` until it
    commits: a new epoch (which locks the row ``FOR UPDATE``) waits for the writers under
    way, and a writer after it sees the new one. None when there is no lease row."""
    result = await session.execute(
        select(_lease.c.epoch).where(_row).with_for_update(read=True, key_share=True)
    )
    epoch = result.scalar_one_or_none()
    return None if epoch is None else int(epoch)
