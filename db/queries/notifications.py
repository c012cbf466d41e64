"""Notification preferences, the outbox rows and the server's fallback channel. Never commit:
the service owns the transaction."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import bindparam, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from db.models import (
    GuildSettings,
    NotificationLog,
    NotificationStatus,
    NotificationSubscription,
    User,
)
from db.queries._tables import affected_rows, table_of
from db.queries._upsert import dialect_insert, dialect_name, insert_for
from db.types import utcnow
from db.write_batch import Write

_ALL_TOURNAMENTS = text("tournament_id IS NULL")


async def preferences(session: AsyncSession, user_id: int, guild_id: int) -> dict[str, bool]:
    """The user's explicit choices in one server (every tournament): type name -> on/off."""
    result = await session.execute(
        select(
            col(NotificationSubscription.event_type), col(NotificationSubscription.enabled)
        ).where(
            col(NotificationSubscription.user_id) == user_id,
            col(NotificationSubscription.guild_id) == guild_id,
            col(NotificationSubscription.tournament_id).is_(None),
        )
    )
    return {event_type: enabled for event_type, enabled in result.all()}


async def set_preference(
    session: AsyncSession, user_id: int, guild_id: int, event_type: str, enabled: bool
) -> None:
    statement = dialect_insert(session, NotificationSubscription).values(
        user_id=user_id, guild_id=guild_id, event_type=event_type, enabled=enabled,
        created_at=utcnow(),
    )
    statement = statement.on_conflict_do_update(
        index_elements=["user_id", "guild_id", "event_type"],
        index_where=_ALL_TOURNAMENTS,
        set_={"enabled": enabled},
    )
    await session.execute(statement)


async def choices_for(
    session: AsyncSession, guild_id: int, event_type: str, user_ids: Iterable[int]
) -> dict[int, bool]:
    """The explicit on/off of ``user_ids`` for one type in one server (absent: no choice)."""
    wanted = set(user_ids)
    if not wanted:
        return {}
    result = await session.execute(
        select(col(NotificationSubscription.user_id), col(NotificationSubscription.enabled)).where(
            col(NotificationSubscription.guild_id) == guild_id,
            col(NotificationSubscription.event_type) == event_type,
            col(NotificationSubscription.tournament_id).is_(None),
            col(NotificationSubscription.user_id).in_(wanted),
        )
    )
    return {user_id: enabled for user_id, enabled in result.all()}


async def add_notifications(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> int:
    """Insert outbox rows; a row whose (event, recipient) is already there is skipped.

    Returns how many were added.
    """
    if not rows:
        return 0
    connection = await session.connection()
    result = await connection.execute(
        _add_statement(dialect_name(session)), _outbox_rows(rows)
    )
    return len(result.all())


def notifications_write(dialect: str, rows: Sequence[dict[str, Any]]) -> Write:
    """:func:`add_notifications` as a :class:`~db.write_batch.Write` (it returns the ids of the
    rows added: none for a row already there)."""
    return Write(_add_statement(dialect), _outbox_rows(rows), returning=True)


@cache
def _add_statement(dialect: str) -> Any:
    table = table_of(NotificationLog)
    return (
        insert_for(dialect, table)
        .on_conflict_do_nothing(index_elements=["event_id", "user_id"])
        .returning(table.c.id)
    )


def _outbox_rows(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    now = utcnow()
    return [
        {"status": NotificationStatus.PENDING.value, "attempts": 0, "created_at": now,
         "next_attempt_at": now, **row}
        for row in rows
    ]


@dataclass(frozen=True, slots=True)
class DueNotification:
    """An outbox row to deliver now, with its recipient's Discord id."""

    id: int
    event_id: str
    event_type: str
    guild_id: int | None
    discord_user_id: int | None
    payload: dict[str, Any]
    attempts: int
    dm_channel_id: int | None = None  # the bot's DM channel with the recipient, if known


async def take_due(
    session: AsyncSession,
    now: datetime,
    lease_until: datetime,
    limit: int,
    *,
    skip: Collection[int] = (),
) -> list[DueNotification]:
    """Rows due at ``now``, marked as being sent until ``lease_until`` (attempts counted).

    Due means pending and its time has come, or being sent by someone whose lease ran out
    (a send that hung, or a process that died without a restart of this one noticing).
    ``skip``: ids of rows the caller is still sending, whatever their lease says.
    """
    conditions = [
        col(NotificationLog.status).in_(NotificationStatus.open()),
        col(NotificationLog.next_attempt_at) <= now,
    ]
    if skip:
        conditions.append(col(NotificationLog.id).not_in(list(skip)))
    result = await session.execute(
        select(NotificationLog, col(User.discord_id), col(User.discord_dm_channel_id))
        .join(User, col(User.id) == col(NotificationLog.user_id), isouter=True)
        .where(*conditions)
        .order_by(col(NotificationLog.next_attempt_at), col(NotificationLog.id))
        .limit(limit)
        # Two delivering processes never take the same row (PostgreSQL; SQLite has one writer).
        .with_for_update(of=NotificationLog, skip_locked=True)
    )
    due = []
    for row, discord_id, dm_channel_id in result.all():
        row.attempts += 1
        row.status = NotificationStatus.SENDING.value
        row.next_attempt_at = lease_until
        assert row.id is not None
        due.append(
            DueNotification(row.id, row.event_id, row.event_type, row.guild_id, discord_id,
                            dict(row.payload), row.attempts, dm_channel_id)
        )
    return due


async def release_leases(session: AsyncSession, now: datetime) -> int:
    """Make rows being sent due now (at start-up: their sender died with the last run).

    Rows waiting out a retry's backoff keep their time.
    """
    result = await session.execute(
        update(NotificationLog)
        .where(col(NotificationLog.status) == NotificationStatus.SENDING.value)
        .values(status=NotificationStatus.PENDING.value, next_attempt_at=now)
    )
    return affected_rows(result)


async def next_due_at(session: AsyncSession) -> datetime | None:
    result = await session.execute(
        select(func.min(col(NotificationLog.next_attempt_at))).where(
            col(NotificationLog.status).in_(NotificationStatus.open())
        )
    )
    return result.scalar_one_or_none()


async def outbox_depth(session: AsyncSession) -> dict[str, int]:
    """Rows the delivery has still to finish, by status (every open status, 0 included)."""
    result = await session.execute(
        select(col(NotificationLog.status), func.count())
        .where(col(NotificationLog.status).in_(NotificationStatus.open()))
        .group_by(col(NotificationLog.status))
    )
    counts = {status: 0 for status in NotificationStatus.open()}
    counts.update({str(status): int(count) for status, count in result.all()})
    return counts


@dataclass(frozen=True, slots=True)
class AttemptOutcome:
    """One attempt's outcome: sent, fell back, failed, or retry at ``retry_at``. An attempt
    that is not ``counted`` (Discord asked us to slow down) is given back. ``dm_channel``:
    the user's DM channel to remember for next time (``discord_id``'s)."""

    notification_id: int
    status: NotificationStatus
    at: datetime
    error: str | None = None
    retry_at: datetime | None = None
    counted: bool = True
    discord_id: int | None = None
    dm_channel: int | None = None


def outcome_writes(outcomes: Sequence[AttemptOutcome]) -> list[Write]:
    """Writes that record many attempts' outcomes at once (one statement per kind of
    outcome), for ``db.write_batch``: the delivery records what finished together."""
    by_shape: dict[tuple[bool, bool], list[dict[str, Any]]] = {}
    channels = []
    for outcome in outcomes:
        sent = outcome.status in (NotificationStatus.SENT, NotificationStatus.FALLBACK)
        by_shape.setdefault((sent, outcome.counted), []).append(
            {
                "outcome_id": outcome.notification_id,
                "outcome_status": outcome.status.value,
                "outcome_error": outcome.error,
                "outcome_retry_at": outcome.retry_at,
                "outcome_at": outcome.at,
            }
        )
        if outcome.dm_channel is not None and outcome.discord_id is not None:
            channels.append({"channel_user": outcome.discord_id, "channel": outcome.dm_channel})
    writes = [
        Write(_finish_statement(sent, counted), rows)
        for (sent, counted), rows in by_shape.items()
    ]
    if channels:
        writes.append(Write(_REMEMBER_DM_CHANNEL, channels))
    return writes


@cache
def _finish_statement(sent: bool, counted: bool) -> Any:
    table = table_of(NotificationLog)
    values: dict[str, Any] = {
        "status": bindparam("outcome_status"),
        "last_error": bindparam("outcome_error"),
        "next_attempt_at": bindparam("outcome_retry_at"),
    }
    if sent:
        values["sent_at"] = bindparam("outcome_at")
    if not counted:
        values["attempts"] = table.c.attempts - 1
    return update(table).where(table.c.id == bindparam("outcome_id")).values(**values)


_REMEMBER_DM_CHANNEL = (
    update(table_of(User))
    .where(table_of(User).c.discord_id == bindparam("channel_user"))
    .values(discord_dm_channel_id=bindparam("channel"))
)


async def history(
    session: AsyncSession, user_id: int, guild_id: int, limit: int
) -> list[NotificationLog]:
    result = await session.execute(
        select(NotificationLog)
        .where(col(NotificationLog.user_id) == user_id, col(NotificationLog.guild_id) == guild_id)
        .order_by(col(NotificationLog.id).desc())
        .limit(limit)
    )
    return list(result.scalars())


async def troubles(
    session: AsyncSession, guild_id: int, limit: int
) -> list[tuple[NotificationLog, int | None]]:
    """A server's deliveries that did not go as DMs (failed, fell back, retrying), newest first,
    with the recipient's Discord id."""
    result = await session.execute(
        select(NotificationLog, col(User.discord_id))
        .join(User, col(User.id) == col(NotificationLog.user_id), isouter=True)
        .where(
            col(NotificationLog.guild_id) == guild_id,
            col(NotificationLog.last_error).is_not(None),
        )
        .order_by(col(NotificationLog.id).desc())
        .limit(limit)
    )
    return [(row, discord_id) for row, discord_id in result.all()]


async def guild_settings(session: AsyncSession, guild_id: int) -> GuildSettings | None:
    return await session.get(GuildSettings, guild_id)


async def set_fallback_channel(
    session: AsyncSession, guild_id: int, channel_id: int | None
) -> None:
    now = utcnow()
    statement = dialect_insert(session, GuildSettings).values(
        guild_id=guild_id, notification_fallback_channel_id=channel_id, default_timezone="UTC",
        created_at=now, updated_at=now,
    )
    statement = statement.on_conflict_do_update(
        index_elements=["guild_id"],
        set_={"notification_fallback_channel_id": channel_id, "updated_at": now},
    )
    await session.execute(statement)
