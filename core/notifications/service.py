"""Who gets which notification: preferences per server, the outbox, the delivery history.

``queue_notification`` writes one outbox row (``notification_log``) per recipient who wants
that type in that server, keyed by (event, recipient) so an event never notifies a person
twice, in the caller's transaction. Delivering the rows is
``core.notifications.delivery``'s job.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.access import AccessPolicy, Actor, Permission
from core.audit import AuditService
from core.notifications.kinds import NotificationType
from db.models import NotificationLog, NotificationStatus
from db.queries import notifications as queries
from db.queries.users import get_or_create_user_by_discord_id, get_user_by_discord_id

log = logging.getLogger(__name__)

HISTORY_LIMIT = 10


@dataclass(frozen=True, slots=True)
class NotificationContent:
    """What a notification says, as plain data (the Discord side renders it)."""

    tournament: str | None = None
    subject: str | None = None  # the match's title or the live race's pool
    scheduled_at: datetime | None = None
    room_url: str | None = None
    reason: str | None = None  # why it was cancelled
    details: str | None = None  # e.g. the results, or the time it moved from
    problem: str | None = None  # what went wrong for this recipient, and what to do

    def to_payload(self) -> dict[str, Any]:
        data = asdict(self)
        data["scheduled_at"] = self.scheduled_at.isoformat() if self.scheduled_at else None
        return {key: value for key, value in data.items() if value is not None}

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> NotificationContent:
        values = {key: payload.get(key) for key in cls.__dataclass_fields__}
        if isinstance(values["scheduled_at"], str):
            values["scheduled_at"] = datetime.fromisoformat(values["scheduled_at"])
        return cls(**values)


@dataclass(frozen=True, slots=True)
class Preference:
    type: NotificationType
    enabled: bool
    is_default: bool


@dataclass(frozen=True, slots=True)
class Delivery:
    """One line of a player's delivery history."""

    type: NotificationType | None
    event_type: str
    state: str  # "sent", "sending", "retrying", "failed", "fell back to channel", "waiting"
    queued_at: datetime
    sent_at: datetime | None
    error: str | None
    content: NotificationContent
    discord_user_id: int | None = None

    @classmethod
    def of(cls, row: NotificationLog, discord_user_id: int | None = None) -> Delivery:
        return cls(
            type=NotificationType(row.event_type)
            if row.event_type in NotificationType.__members__ else None,
            event_type=row.event_type,
            state=_state(row),
            queued_at=row.created_at,
            sent_at=row.sent_at,
            error=row.last_error,
            content=NotificationContent.from_payload(row.payload),
            discord_user_id=discord_user_id,
        )


def _state(row: NotificationLog) -> str:
    status = NotificationStatus(row.status)
    if status is NotificationStatus.SENT:
        return "sent"
    if status is NotificationStatus.FALLBACK:
        return "fell back to channel"
    if status is NotificationStatus.FAILED:
        return "failed"
    if status is NotificationStatus.SENDING:
        return "sending"
    return "retrying" if row.last_error else "waiting"


class NotificationService:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        audit: AuditService,
        *,
        access: AccessPolicy,
    ) -> None:
        self._access = access
        self._sessionmaker = sessionmaker
        self._audit = audit
        self._queued: list[Callable[[], None]] = []

    def on_queued(self, callback: Callable[[], None]) -> None:
        """``callback()`` runs after a transaction that queued notifications commits."""
        self._queued.append(callback)

    # -- preferences -------------------------------------------------------------------------

    async def preferences(self, discord_user_id: int, guild_id: int) -> list[Preference]:
        """Every type with the player's choice in this server (or its default)."""
        async with self._sessionmaker() as session:
            user = await get_user_by_discord_id(session, discord_user_id)
            chosen: dict[str, bool] = {}
            if user is not None and user.id is not None:
                chosen = await queries.preferences(session, user.id, guild_id)
        return [
            Preference(kind, chosen.get(kind.value, kind.info.default_on), kind.value not in chosen)
            for kind in NotificationType
        ]

    async def set_preference(
        self, discord_user_id: int, guild_id: int, kind: NotificationType, enabled: bool
    ) -> Preference:
        async with self._sessionmaker.begin() as session:
            user = await get_or_create_user_by_discord_id(session, discord_user_id)
            assert user.id is not None
            await queries.set_preference(session, user.id, guild_id, kind.value, enabled)
        return Preference(kind, enabled, is_default=False)

    # -- the outbox --------------------------------------------------------------------------

    async def queue_notification(
        self,
        session: AsyncSession,
        *,
        kind: NotificationType,
        guild_id: int,
        user_ids: Iterable[int],
        event_id: str,
        content: NotificationContent,
    ) -> int:
        """Queue ``kind`` for every user in ``user_ids`` who wants it in this server.

        Runs in the caller's transaction; a repeat of ``event_id`` for a recipient adds
        nothing. Returns how many rows were added.
        """
        rows = await self.outbox_rows(
            session, kind=kind, guild_id=guild_id, user_ids=user_ids, event_id=event_id,
            content=content,
        )
        added = await queries.add_notifications(session, rows)
        if added:
            self._wake_after_commit(session)
        return added

    async def outbox_rows(
        self,
        session: AsyncSession,
        *,
        kind: NotificationType,
        guild_id: int,
        user_ids: Iterable[int],
        event_id: str,
        content: NotificationContent,
    ) -> list[dict[str, Any]]:
        """The outbox rows :meth:`queue_notification` adds (one per user in ``user_ids`` who
        wants ``kind`` in this server), read through ``session``, for a caller that commits
        them itself (``db.queries.notifications.notifications_write``), then calls
        :meth:`queued`."""
        recipients = sorted(set(user_ids))
        choices = await queries.choices_for(session, guild_id, kind.value, recipients)
        wanted = [uid for uid in recipients if choices.get(uid, kind.info.default_on)]
        payload = content.to_payload()
        return [
            {"user_id": uid, "guild_id": guild_id, "event_type": kind.value,
             "event_id": event_id, "payload": payload}
            for uid in wanted
        ]

    def queued(self) -> None:
        """Tell whoever delivers that rows were committed to the outbox."""
        for callback in self._queued:
            callback()

    def _wake_after_commit(self, session: AsyncSession) -> None:
        sync = session.sync_session
        if sync.info.get("notifications_wake"):
            return
        sync.info["notifications_wake"] = True

        def wake(_session: Any) -> None:
            sync.info.pop("notifications_wake", None)
            self.queued()

        sa_event.listen(sync, "after_commit", wake, once=True)

    # -- history and the fallback channel ----------------------------------------------------

    async def history(
        self, discord_user_id: int, guild_id: int, *, actor: Actor, limit: int = HISTORY_LIMIT
    ) -> list[Delivery]:
        """A member's last deliveries in the server: anyone's own, organizers' anyone's."""
        own = actor.is_person and actor.discord_id == discord_user_id
        permission = Permission.USE if own else Permission.VIEW_MEMBER_NOTIFICATIONS
        await self._access.require(actor, permission, guild_id)
        async with self._sessionmaker() as session:
            user = await get_user_by_discord_id(session, discord_user_id)
            if user is None or user.id is None:
                return []
            rows = await queries.history(session, user.id, guild_id, limit)
        return [Delivery.of(row, discord_user_id) for row in rows]

    async def outbox_depth(self) -> dict[str, int]:
        """Outbox rows waiting or being sent, by status (for ``/metrics``)."""
        async with self._sessionmaker() as session:
            return await queries.outbox_depth(session)

    async def troubles(
        self, guild_id: int, *, actor: Actor, limit: int = HISTORY_LIMIT
    ) -> list[Delivery]:
        """The server's last deliveries that did not simply arrive by DM (for organizers)."""
        await self._access.require(actor, Permission.VIEW_MEMBER_NOTIFICATIONS, guild_id)
        async with self._sessionmaker() as session:
            rows = await queries.troubles(session, guild_id, limit)
        return [Delivery.of(row, discord_id) for row, discord_id in rows]

    async def fallback_channel(self, guild_id: int) -> int | None:
        async with self._sessionmaker() as session:
            settings = await queries.guild_settings(session, guild_id)
            return settings.notification_fallback_channel_id if settings else None

    async def set_fallback_channel(
        self, guild_id: int, channel_id: int | None, *, actor: Actor
    ) -> None:
        """Where DMs a player refuses go instead (``None``: nowhere), audited."""
        await self._access.require(actor, Permission.CONFIGURE_SERVER, guild_id)
        async with self._sessionmaker.begin() as session:
            await queries.set_fallback_channel(session, guild_id, channel_id)
            await self._audit.record(
                session, "notifications.fallback_channel", actor_discord_id=actor.discord_id,
                guild_id=guild_id, details={"channel_id": channel_id},
            )
