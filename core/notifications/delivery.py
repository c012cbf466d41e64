"""Delivering the notification outbox: DMs, a fallback channel, retries, a log of each attempt.

One background task takes due rows (leasing them, so a crash mid-send leaves them to be
tried again), hands each to a :class:`NotificationSender` (the Discord side implements it;
this module never imports ``discord``) and records the outcome:

* sent; or, when the player refuses DMs (closed, no mutual server), a post in the server's
  fallback channel that mentions them ("fell back"), or "failed" with why when there is none;
* a transient failure (Discord 5xx, a network error) is retried with backoff up to a limit;
  a rate limit that outlasted the HTTP client's own waiting is tried again after its
  ``retry_after`` without using up an attempt: a 429 delays a notification, never fails it.

A row being sent is ``sending`` until its lease runs out; at start-up the rows the last run
left ``sending`` are due again at once, while rows waiting out a retry keep their time.

Every send carries a nonce derived from the row's (event, recipient) key: Discord drops a
second message with the same nonce for a few minutes, so a send retried after a crash lands
once. The task wakes as soon as rows are queued; a slow sweep is the safety net.

Under a leader lease (``core.leadership``) taking rows is fenced in its transaction, and each
send asks the fence again without the database, twice: here before handing the row to the
sender, and on the Discord side right before each request leaves
(``cogs/_shared/fenced_http.py``), after whatever rate limit it waited out. A process that lost
the lead (or was paused past it) sends nothing more: a :class:`FencedError` from either check
is no outcome, the row is left as taken (not finished, no attempt counted) for the leader,
which makes it due at its start.

While the database is away (``core.outage``) delivery waits for it instead of logging a
failure every few seconds: a DM sent just before is recorded once the database is back.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import Clock, SystemClock
from core.events import RetryPolicy
from core.leadership import NO_FENCE, Fence, FencedError
from core.metrics import NO_METRICS, Metrics
from core.notifications.kinds import NotificationType
from core.notifications.outcomes import OutcomeRecorder
from core.notifications.service import NotificationContent, NotificationService
from core.outage import DatabaseUnavailableError, DatabaseWatch
from core.sending import DeliveryFailed, DeliveryRefused, nonce_for
from core.stopping import wait_all_or_cancel, wait_or_cancel
from db.models import NotificationStatus
from db.queries import notifications as queries
from db.queries.notifications import AttemptOutcome, DueNotification

log = logging.getLogger(__name__)

NO_FALLBACK = (
    "the server has no fallback channel (an organizer can set one: /notifications channel)"
)


@dataclass(frozen=True, slots=True)
class OutgoingNotification:
    notification_id: int
    kind: NotificationType | None
    event_type: str
    guild_id: int | None
    content: NotificationContent


class NotificationSender(Protocol):
    async def send_dm(
        self,
        discord_user_id: int,
        message: OutgoingNotification,
        *,
        nonce: str,
        dm_channel_id: int | None = None,
    ) -> int:
        """DM ``message`` (through ``dm_channel_id``, the DM channel last used, when known);
        returns the DM channel's id. Raises :class:`DeliveryRefused` or
        :class:`DeliveryFailed`."""
        ...

    async def post_in_channel(
        self, channel_id: int, discord_user_id: int, message: OutgoingNotification, *, nonce: str
    ) -> str:
        """Post ``message`` in a channel, mentioning the player; returns the channel's name."""
        ...


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt comes to: the row's new status, why, and when to try again."""

    status: NotificationStatus
    error: str | None = None
    retry_at: datetime | None = None
    counted: bool = True  # False: the attempt does not count towards the limit
    dm_channel_id: int | None = None  # the DM channel it went through


@dataclass(frozen=True, slots=True)
class DeliveryTimings:
    retry: RetryPolicy = field(default_factory=lambda: RetryPolicy(attempts=6, base=5.0, cap=600))
    lease_seconds: float = 120.0  # a row being sent is not taken again for this long
    sweep_seconds: float = 60.0  # look for due rows at least this often
    batch: int = 50
    concurrency: int = 8


class NotificationDelivery:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        notifications: NotificationService,
        sender: NotificationSender,
        *,
        clock: Clock | None = None,
        timings: DeliveryTimings | None = None,
        metrics: Metrics = NO_METRICS,
        fence: Fence = NO_FENCE,
        outage: DatabaseWatch | None = None,
    ) -> None:
        self._metrics = metrics
        self._outage = outage
        self._fence = fence
        self._sessionmaker = sessionmaker
        self._notifications = notifications
        self._sender = sender
        self._clock = clock or SystemClock()
        self._timings = timings or DeliveryTimings()
        self._wakeup = asyncio.Event()
        self._slots = asyncio.Semaphore(self._timings.concurrency)
        self._task: asyncio.Task[None] | None = None
        self._in_flight: set[asyncio.Task[None]] = set()
        # Rows this process took and has not finished with: never taken again here, however
        # long their send waits (a channel's rate limit, a loaded loop) past their lease.
        self._taken: set[int] = set()
        self._outcomes = OutcomeRecorder(sessionmaker, outage)
        self._stopping = False
        self.delivered = 0
        notifications.on_queued(self.wake)

    # -- lifecycle ---------------------------------------------------------------------------

    def wake(self) -> None:
        """Rows were queued: deliver them now rather than at the next sweep."""
        self._wakeup.set()

    async def start(self) -> None:
        """Rows a previous process had leased (and died with) are due again at once."""
        async with self._sessionmaker.begin() as session:
            await self._fence.check(session)
            released = await queries.release_leases(session, self._clock.now())
        if released:
            log.info("%d notifications left in flight by the last run are due again", released)
        self._stopping = False
        self._task = asyncio.get_running_loop().create_task(
            self._run(), name="notification-delivery"
        )

    async def stop(self) -> None:
        """Finish the sends under way (their rows are recorded), then stop. Rows taken but
        not started yet (waiting for one of the ``concurrency`` slots) are not sent: they are
        due again at the next start, here or in the process that takes over, so a handover
        waits for a few sends rather than a batch."""
        self._stopping = True
        self._wakeup.set()
        task, self._task = self._task, None
        if task is not None:
            await wait_or_cancel(task, "Notification delivery")
        if self._in_flight:
            # A send that hangs (no answer from Discord) must not hold the shutdown for ever.
            await wait_all_or_cancel(list(self._in_flight), "Notification send")
        await self._outcomes.close()

    # -- the loop ----------------------------------------------------------------------------

    async def _run(self) -> None:
        """Keep up to a batch of sends under way: take more rows as soon as half are done,
        so one slow send (a channel's rate limit) never holds up the others."""
        while not self._stopping:
            # Cleared before looking, so a wake-up (rows queued, sends done, stop) counts.
            self._wakeup.clear()
            try:
                room = self._timings.batch - len(self._in_flight)
                taken = await self._take(room) if room > 0 else []
                for row in taken:
                    self._spawn(row)
                if taken and len(taken) == room:
                    await self._pause(self._timings.sweep_seconds)  # full: woken as sends end
                elif not self._stopping:
                    await self._wait_for_work()
            except asyncio.CancelledError:
                raise
            except FencedError as fenced:  # this process will never lead again
                log.warning("Notification delivery stops: %s", fenced)
                return
            except Exception as error:
                if self._outage is not None and await self._outage.confirm_outage(error):
                    await self._until_database_back()
                    continue
                log.exception("Notification delivery failed; trying again shortly")
                await self._pause(self._timings.retry.delay(1))

    def _spawn(self, row: DueNotification) -> None:
        task = asyncio.get_running_loop().create_task(
            self._deliver_one(row), name=f"notification-{row.id}"
        )
        self._in_flight.add(task)
        task.add_done_callback(self._sent)

    def _sent(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("Notification send crashed", exc_info=task.exception())
        if len(self._in_flight) <= self._timings.batch // 2:
            self._wakeup.set()  # room for more: take the next rows now

    async def _until_database_back(self) -> None:
        """Wait for the database (the watch says when it went and when it is back), or
        until stopping."""
        assert self._outage is not None
        back = asyncio.ensure_future(self._outage.wait_until_up())
        try:
            while not back.done() and not self._stopping:
                # Woken by stop() too; rows queued meanwhile are taken once it is back.
                woken = asyncio.ensure_future(self._wakeup.wait())
                try:
                    await asyncio.wait({back, woken}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    woken.cancel()
                self._wakeup.clear()
        finally:
            if not back.done():
                back.cancel()
            elif not back.cancelled():
                back.exception()  # retrieved: giving up (stopping) is no error here

    async def _wait_for_work(self) -> None:
        async with self._sessionmaker() as session:
            next_due = await queries.next_due_at(session)
        wait = self._timings.sweep_seconds
        if next_due is not None:
            wait = min(wait, max((next_due - self._clock.now()).total_seconds(), 0.0))
        await self._pause(wait)

    async def _pause(self, seconds: float) -> None:
        """Sleep ``seconds`` on the clock, or less when woken (or stopping)."""
        if self._stopping:
            return
        sleep = asyncio.ensure_future(self._clock.sleep(seconds))
        woken = asyncio.ensure_future(self._wakeup.wait())
        try:
            await asyncio.wait({sleep, woken}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleep.cancel()
            woken.cancel()

    async def deliver_due(self) -> int:
        """Deliver one batch of due rows, all of it; returns how many were taken."""
        due = await self._take(self._timings.batch)
        if due:
            await asyncio.gather(*(self._deliver_one(row) for row in due))
        return len(due)

    async def _take(self, limit: int) -> list[DueNotification]:
        """Lease up to ``limit`` due rows."""
        now = self._clock.now()
        lease = now + timedelta(seconds=self._timings.lease_seconds)
        async with self._sessionmaker.begin() as session:
            await self._fence.check(session)
            due = await queries.take_due(session, now, lease, limit, skip=self._taken)
        self._taken.update(row.id for row in due)
        return due

    async def _deliver_one(self, row: DueNotification) -> None:
        try:
            await self._send_and_record(row)
        finally:
            self._taken.discard(row.id)

    async def _send_and_record(self, row: DueNotification) -> None:
        async with self._slots:
            if self._stopping:
                log.debug("Notification %s left for the next start: stopping", row.id)
                return
            try:
                self._fence.ensure_current()
                outcome = await self._attempt(row)
            except FencedError as fenced:
                # Refused before the send, or by the sender's last check right before its
                # request left (it may have waited out a rate limit meanwhile). Not sent, not
                # recorded: the row's lease runs out for the leader to send it.
                log.warning("Notification %s not sent: %s", row.id, fenced)
                return
        status, error = outcome.status, outcome.error
        try:
            await self._record(row, outcome)
        except DatabaseUnavailableError:
            # Stopping with the database away: the row stays "sending" and is due again at
            # the next start; a DM sent again soon is dropped by Discord (same nonce).
            log.warning("Notification %s: %s, not recorded (the database is away)",
                        row.id, status.value)
            return
        self._metrics.notification_delivered(row.event_type, status.value)
        if status in (NotificationStatus.SENT, NotificationStatus.FALLBACK):
            self.delivered += 1
        log.info("Notification %s (%s) to user %s: %s%s", row.id, row.event_type,
                 row.discord_user_id, status.value, f" ({error})" if error else "")

    async def _record(self, row: DueNotification, outcome: Outcome) -> None:
        """Record an attempt's outcome (with others that finished meanwhile); while the
        database is away, once it is back."""
        new_channel = outcome.dm_channel_id not in (None, row.dm_channel_id)
        await self._outcomes.record(
            AttemptOutcome(
                row.id, outcome.status, self._clock.now(), error=outcome.error,
                retry_at=outcome.retry_at, counted=outcome.counted,
                discord_id=row.discord_user_id,
                dm_channel=outcome.dm_channel_id if new_channel else None,
            )
        )

    async def _attempt(
        self, row: DueNotification
    ) -> Outcome:
        message = OutgoingNotification(
            notification_id=row.id,
            kind=NotificationType(row.event_type)
            if row.event_type in NotificationType.__members__ else None,
            event_type=row.event_type,
            guild_id=row.guild_id,
            content=NotificationContent.from_payload(row.payload),
        )
        key = f"{row.event_id}:{row.discord_user_id}"
        try:
            if row.discord_user_id is None:
                raise DeliveryFailed("the recipient has no Discord account", permanent=True)
            channel_id = await self._sender.send_dm(
                row.discord_user_id, message, nonce=nonce_for("dm:" + key),
                dm_channel_id=row.dm_channel_id,
            )
            return Outcome(NotificationStatus.SENT, dm_channel_id=channel_id)
        except DeliveryRefused as refused:
            return await self._fall_back(row, message, key, str(refused))
        except DeliveryFailed as failed:
            return self._retry_or_fail(row, str(failed), failed)
        except FencedError:
            raise  # this process no longer leads: no outcome to record (see _deliver_one)
        except Exception as error:  # a bug or an unexpected library error: retry, logged
            log.exception("Notification %s: unexpected error while sending", row.id)
            return self._retry_or_fail(row, f"{type(error).__name__}: {error}", None)

    async def _fall_back(
        self, row: DueNotification, message: OutgoingNotification, key: str, refused: str
    ) -> Outcome:
        channel = (
            await self._notifications.fallback_channel(row.guild_id)
            if row.guild_id is not None else None
        )
        if channel is None:
            return Outcome(NotificationStatus.FAILED, f"{refused}; {NO_FALLBACK}")
        assert row.discord_user_id is not None
        try:
            name = await self._sender.post_in_channel(
                channel, row.discord_user_id, message, nonce=nonce_for("fallback:" + key)
            )
        except (DeliveryFailed, DeliveryRefused) as failed:
            reason = f"{refused}; the fallback channel failed too: {failed}"
            if isinstance(failed, DeliveryRefused):
                return Outcome(NotificationStatus.FAILED, reason)
            return self._retry_or_fail(row, reason, failed)
        return Outcome(NotificationStatus.FALLBACK, f"{refused}; posted in {name} instead")

    def _retry_or_fail(
        self, row: DueNotification, reason: str, failed: DeliveryFailed | None
    ) -> Outcome:
        retry = self._timings.retry
        retry_after = failed.retry_after if failed is not None else None
        if failed is not None and failed.rate_limited:
            wait = max(retry_after or 0.0, retry.base)
            return Outcome(NotificationStatus.PENDING, reason, self._after(wait), counted=False)
        if failed is not None and failed.permanent:
            return Outcome(NotificationStatus.FAILED, reason)
        if row.attempts >= retry.attempts:
            why = f"{reason} (gave up after {row.attempts} attempts)"
            return Outcome(NotificationStatus.FAILED, why)
        wait = max(retry.delay(row.attempts), retry_after or 0.0)
        return Outcome(NotificationStatus.PENDING, reason, self._after(wait))

    def _after(self, seconds: float) -> datetime:
        return self._clock.now() + timedelta(seconds=seconds)


__all__ = [
    "DeliveryTimings",
    "NotificationDelivery",
    "NotificationSender",
    "OutgoingNotification",
]
