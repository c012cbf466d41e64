"""Scheduled breaks (``!breaks 5m every 2h30``): announced in the room from the race's actual
start, with a warning five minutes before each break, "break starts" and "break over".

Each room's announcements are numbered (warning, start, end of break 1, then of break 2…);
``RoomBreaks.announced`` counts those done, so a restart goes on with the next and never
repeats one (a message resent after a crash carries the same guid, which racetime drops).
An announcement whose moment passed while RaceDesk was away is skipped once the next one is
due: "break starts" is not posted after the break is over.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.audit import AuditService
from core.clock import Clock
from core.errors import UserFacingError
from core.room_commands.parsing import duration
from core.sending import nonce_for
from core.times.formatting import breaks_text, short_duration
from db.models import RoomBreaks
from db.queries import room_commands as queries

log = logging.getLogger(__name__)

WARNING = timedelta(minutes=5)
RACETIME_LIMIT = timedelta(hours=24)  # no race on racetime.gg runs longer
SHORTEST_BREAK, LONGEST_BREAK = timedelta(minutes=1), timedelta(hours=1)
LONGEST_NAP = 60.0  # seconds the announcer sleeps at most (a new plan wakes it sooner)
_KINDS = 3  # warning, start, end


@dataclass(frozen=True, slots=True)
class BreakPlan:
    duration: timedelta
    every: timedelta

    def describe(self) -> str:
        return breaks_text(self.duration, self.every)

    def announcement(self, index: int, started_at: datetime) -> tuple[datetime, str]:
        """The ``index``-th announcement: when, and what it says."""
        number, kind = index // _KINDS + 1, index % _KINDS
        begins = started_at + self.every * number
        if kind == 0:
            return begins - WARNING, (
                f"Break {number} in 5 minutes: {short_duration(self.duration)} at "
                f"{short_duration(self.every * number)} of race time."
            )
        if kind == 1:
            return begins, (
                f"Break {number} starts now: {short_duration(self.duration)}. The race clock keeps "
                "running."
            )
        return begins + self.duration, f"Break {number} is over. Race on!"

    def count_within(self, limit: timedelta) -> int:
        """How many announcements fall within a race of ``limit`` (its time limit)."""
        breaks = 0
        while self.every * (breaks + 1) < limit:
            breaks += 1
        return breaks * _KINDS


def parse_plan(words: list[str], time_limit: timedelta | None) -> BreakPlan | None:
    """``["5m", "every", "2h30"]`` as a plan; ``["off"]`` as ``None``. Checked against the
    room's time limit (and racetime's 24 hours)."""
    usage = "Write `!breaks 5m every 2h30` (a 5-minute break every 2½ hours) or `!breaks off`."
    if [w.lower() for w in words] == ["off"]:
        return None
    if len(words) != 3 or words[1].lower() != "every":
        raise UserFacingError(usage)
    plan = BreakPlan(duration(words[0]), duration(words[2]))
    if not SHORTEST_BREAK <= plan.duration <= LONGEST_BREAK:
        raise UserFacingError("A break lasts from 1 minute to 1 hour. " + usage)
    if plan.every < plan.duration + WARNING + timedelta(minutes=5):
        raise UserFacingError(
            "Breaks must be further apart: at least the break, its 5-minute warning and "
            "5 minutes of racing. " + usage
        )
    limit = min(time_limit or RACETIME_LIMIT, RACETIME_LIMIT)
    if plan.every >= limit:
        raise UserFacingError(
            f"No break would come before the race's time limit ({short_duration(limit)}). " + usage
        )
    return plan


RoomSender = Callable[[str, str, str], Awaitable[None]]
"""``send(room_name, text, guid)``: post in a room's chat."""
RaceClock = Callable[[str], Awaitable[tuple[str | None, datetime | None, timedelta | None]]]
"""``race_of(room_name)``: the race's status, actual start and time limit."""


class Breaks:
    """Keeps each room's plan and posts its announcements when they fall due."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        clock: Clock,
        send: RoomSender,
        race_of: RaceClock,
        audit: AuditService | None = None,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._audit = audit or AuditService(sessionmaker)
        self._clock = clock
        self._send = send
        self._race_of = race_of
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def set_plan(
        self,
        category: str,
        slug: str,
        plan: BreakPlan | None,
        *,
        actor_discord_id: int | None,
        guild_id: int | None = None,
    ) -> bool:
        """Set (or with ``None`` turn off) the room's breaks, audited; returns whether it
        changed."""
        changed = await self._write_plan(category, slug, plan, actor_discord_id, guild_id)
        if changed:
            self._wake.set()
        return changed

    async def _write_plan(
        self,
        category: str,
        slug: str,
        plan: BreakPlan | None,
        actor_discord_id: int | None,
        guild_id: int | None,
    ) -> bool:
        async with self._sessionmaker.begin() as session:
            row = await queries.room_breaks(session, category, slug)
            if plan is None:
                if row is None:
                    return False
                await session.delete(row)  # off: no plan (a finished race keeps its own)
            else:
                if row is None:
                    row = RoomBreaks(category=category, slug=slug, duration_seconds=0,
                                     every_seconds=0)
                    session.add(row)
                row.duration_seconds = int(plan.duration.total_seconds())
                row.every_seconds = int(plan.every.total_seconds())
                row.active, row.announced = True, 0
                row.set_by_discord_id = actor_discord_id
            await self._audit.record(
                session, "room.breaks", actor_discord_id=actor_discord_id, guild_id=guild_id,
                details={"room": f"{category}/{slug}",
                         "breaks": plan.describe() if plan is not None else "off"},
            )
        return True

    async def plan_of(self, category: str, slug: str) -> BreakPlan | None:
        async with self._sessionmaker() as session:
            row = await queries.room_breaks(session, category, slug)
        return _plan(row) if row is not None and row.active else None

    # -- announcing --------------------------------------------------------------------------

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name="racedesk-room-breaks"
            )

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                nap = await self.announce_due()
            except Exception:
                log.exception("Room breaks: announcing failed; trying again shortly")
                nap = LONGEST_NAP
            sleeper = asyncio.ensure_future(self._clock.sleep(nap))
            waker = asyncio.ensure_future(self._wake.wait())
            try:
                await asyncio.wait((sleeper, waker), return_when=asyncio.FIRST_COMPLETED)
            finally:
                sleeper.cancel()
                waker.cancel()

    async def announce_due(self) -> float:
        """Post every announcement that fell due; returns seconds until the next one."""
        async with self._sessionmaker() as session:
            rows = await queries.active_breaks(session)
        nap = LONGEST_NAP
        for row in rows:
            try:
                wait = await self._announce_room(row)
            except Exception as error:
                # One room out of reach (its bot stopped, racetime refusing) never holds up
                # the others; it is tried again within a minute.
                log.warning("Room %s/%s: breaks not announced now: %s",
                            row.category, row.slug, error)
                continue
            if wait is not None:
                nap = min(nap, wait)
        return max(nap, 0.0)

    async def _announce_room(self, row: RoomBreaks) -> float | None:
        name = f"{row.category}/{row.slug}"
        status, started_at, limit = await self._race_of(name)
        if status in ("finished", "cancelled", "partitioned"):
            await self._advance(row, row.announced, active=False)
            return None
        if status != "in_progress" or started_at is None:
            return None  # not started yet: the plan waits for the start
        plan = _plan(row)
        total = plan.count_within(min(limit or RACETIME_LIMIT, RACETIME_LIMIT))
        index = row.announced
        now = self._clock.now()
        while index < total:
            at, text = plan.announcement(index, started_at)
            if now < at:
                break
            following = plan.announcement(index + 1, started_at)[0] if index + 1 < total else None
            if following is None or now < following:
                await self._send(name, text, nonce_for(f"breaks:{name}:{row.id}:{index}"))
            index += 1
            await self._advance(row, index, active=index < total)
        if index >= total:
            return None
        at, _ = plan.announcement(index, started_at)
        return (at - now).total_seconds()

    async def _advance(self, row: RoomBreaks, announced: int, *, active: bool) -> None:
        async with self._sessionmaker.begin() as session:
            stored = await session.get(RoomBreaks, row.id)
            if stored is not None:
                stored.announced, stored.active = announced, active
        row.announced, row.active = announced, active


def _plan(row: RoomBreaks) -> BreakPlan:
    return BreakPlan(
        timedelta(seconds=row.duration_seconds), timedelta(seconds=row.every_seconds)
    )
