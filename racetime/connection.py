"""One supervised websocket connection to one race room.

racetime-bot's ``RaceHandler.handle`` dies on the first ``error`` frame, never reconnects,
keeps its connect-time token until it expires, and stops at ``finished`` although a race can
be un-finished (see racetime-protocol.md). This connection fixes each of those and keeps the
library's ``RaceHandler`` only for what it does well: formatting the bot actions.

- Any drop reconnects with exponential backoff and jitter; the first retry comes within a
  second. Events that happened while disconnected are reported once, by diffing the first
  snapshot after the reconnect against the last one we had.
- The socket is reconnected before its connect-time token expires, and at once (with a fresh
  token) when an action is refused with "Permission denied".
- ``error`` frames never end the connection: they are logged and handed to the caller of the
  action that caused them. Each action is followed by a ``ping``, and its outcome is known at
  that ping's ``pong``: an ``error`` that came before it belongs to the action. racetime
  sends a refused action's ``error`` and its ``pong`` as two writes, a moment apart; the next
  action waits for that ``pong``, and pongs are counted per socket, so a late one is never
  taken as the answer to a later action (see :class:`_PendingAction`).
- ``cancelled`` and ``partitioned`` end the connection; ``finished`` keeps it open (and the
  room active in the database, so a restart rejoins it) for the un-finish window, then ends it.
- Every snapshot is saved with the events it produced, in one commit (``RoomStore.save``). The
  first snapshot of a room without a stored one is the baseline: it is saved with
  :class:`RacetimeBotJoinedRaceEvent` (and :class:`RacetimeBotCreatedRaceEvent` for rooms we
  opened). After a restart the stored snapshot is the baseline, so the first diff reports every
  net change made while we were away, under the version it was seen at.
- Chat is heard (racetime replays nothing on connect). After the first ``race.data`` of every
  socket the room sends ``gethistory`` with ``last_message``: the id of the last message it
  handled (none yet: no ``data``). Live ``chat.message`` frames that come before the
  ``chat.history`` answer wait; then the history is handled oldest first, then the waiting
  ones. A message seen twice (in the history and live) is handled once: skipped here by id,
  and its event's id (``<category>/<slug>:chat:<message id>``) is one row in the event log.
  A command (see :mod:`racetime.chat`) becomes a :class:`RacetimeChatCommandEvent` with the
  sender's linked user id or ``None``; every message, command or not, moves the position, and
  the events and the new position are saved together (``RoomStore.save(..., last_message=)``).
- **The first time.** With no position stored, a room we opened has every message of its
  history handled (they were all posted in our room). In a room someone else opened, history
  messages posted before RaceDesk started watching it (``RoomRecord.watching_since``, when its
  row was made) are not RaceDesk's to answer: they only move the position. The same holds if
  racetime does not know the stored id (it then sends the whole history). racetime's history
  holds the last 100 messages (and the pinned ones): more posted while we were away are lost.
- Waiting (backoff, token renewal, the un-finish window) runs on the injected ``Clock``.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import msgspec
from racetime_bot import RaceHandler
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from core.clock import Clock, SystemClock
from core.events import Event, RacetimeChatCommandEvent
from core.metrics import NO_METRICS, Metrics
from racetime import chat
from racetime.backoff import Backoff
from racetime.diff import (
    RoomContext,
    bot_created_event,
    bot_joined_event,
    diff_race,
)
from racetime.errors import RacetimeActionError, RacetimeError, RoomConnectionClosedError
from racetime.models import (
    ChatHistoryFrame,
    ChatMessage,
    ChatMessageFrame,
    ErrorFrame,
    PongFrame,
    Race,
    RaceDataFrame,
    decode_frame,
)
from racetime.ports import RoomRecord, RoomStore
from racetime.validation import admit

log = logging.getLogger(__name__)

PERMISSION_DENIED = "Permission denied. Check your authorization token."
FINISHED_LINGER_SECONDS = 11 * 60  # racetime allows an un-finish for 10 minutes
ACTION_TIMEOUT_SECONDS = 10.0
ACTION_ATTEMPTS = 3  # the first try, then a new socket twice after "Permission denied"
OPEN_TIMEOUT_SECONDS = 10.0
# A race.data frame is about 700 bytes per entrant: 16 MB is over 20,000 entrants.
MAX_FRAME_BYTES = 16 * 1024 * 1024
MESSAGE_TOO_BIG = 1009  # the websocket close code for a frame over max_size
MAX_NOTES = 100  # distinct frame problems remembered per room (a hostile server sends many)
REFUSALS_BEFORE_CHECK = 3  # refused handshakes in a row before asking whether the room exists
_PING = msgspec.json.encode({"action": "ping"}).decode()
# Live chat messages kept while the history is awaited (far more than a room posts meanwhile).
MAX_WAITING_MESSAGES = 1000
_ENDED = frozenset({"cancelled", "partitioned"})  # nothing can happen in the room any more



@dataclass(slots=True)
class _PendingAction:
    """An action sent and waiting for racetime's answer: the ``pong`` of the ``ping`` sent
    after it (the socket's ``ping``-th), with the ``error`` frames that came before it."""

    ping: int
    future: asyncio.Future[None]
    errors: list[str] = field(default_factory=list)

    def settle(self) -> None:
        """Its pong came: refused if an error came first, else accepted."""
        if self.future.done():
            return
        if self.errors:
            self.future.set_exception(RacetimeActionError(list(self.errors)))
        else:
            self.future.set_result(None)

class AccessTokenLike(Protocol):
    @property
    def value(self) -> str: ...

    @property
    def expires_at(self) -> datetime: ...

    @property
    def renew_at(self) -> datetime: ...


TokenProvider = Callable[[AccessTokenLike | None], Awaitable[AccessTokenLike]]
"""``await tokens(stale)``: a valid token of the room's category bot, never ``stale`` (the
one this room found refused or about to expire). Rooms share tokens: when many find the
same token stale at once, only the first causes a new token request."""


@dataclass(frozen=True, slots=True)
class ConnectionTimings:
    backoff: Backoff = field(default_factory=Backoff)
    finished_linger: float = FINISHED_LINGER_SECONDS
    action_timeout: float = ACTION_TIMEOUT_SECONDS
    open_timeout: float = OPEN_TIMEOUT_SECONDS
    # A connection that ends sooner than this counts as a failure: the backoff grows
    # instead of starting over, so a socket that keeps dying never becomes a loop.
    stable_after: float = 10.0
    # Never renew a socket sooner than this after connecting, whatever the token says.
    min_renew_seconds: float = 30.0


@dataclass(frozen=True, slots=True)
class CreatedRoom:
    """Set when we opened the room, so the first snapshot announces its creation."""

    goal: str | None
    invitational: bool


def frame_type(frame: object) -> str:
    """A frame's type for a metric's label: one of racetime's known types, ``unknown`` (a
    type we do not know; racetime's own name for it is not used, it could be anything) or
    ``invalid`` (not a frame)."""
    if frame is None:
        return "invalid"
    config = getattr(type(frame), "__struct_config__", None)
    return getattr(config, "tag", None) or "unknown"


class _ActionSender(RaceHandler):  # type: ignore[misc]  # racetime-bot has no type hints
    """racetime-bot's action formatting, without its reader loop or its raising ``error``."""

    def __init__(self, room_name: str) -> None:
        super().__init__(logger=log, conn=None, state={})
        self.data = {"name": room_name}

    async def error(self, data: dict[str, Any]) -> None:
        log.warning("[%s] racetime error: %s", self.data.get("name"), data.get("errors"))


class _Reconnect(Exception):
    """Leave the read loop and reconnect at once (fresh token)."""


class RoomConnection:
    """Watches one room; reconnects until the race is over or :meth:`stop` is called."""

    def __init__(
        self,
        *,
        record: RoomRecord,
        ws_url: str,
        tokens: TokenProvider,
        store: RoomStore,
        timings: ConnectionTimings | None = None,
        created: CreatedRoom | None = None,
        room_exists: Callable[[], Awaitable[bool | None]] | None = None,
        clock: Clock | None = None,
        on_trouble: Callable[[], None] | None = None,
        metrics: Metrics = NO_METRICS,
    ) -> None:
        self.name = record.name
        self._metrics = metrics
        self._on_trouble = on_trouble
        self._created = created
        self._room_exists = room_exists
        self._ws_url = ws_url
        self._tokens = tokens
        self._store = store
        self._timings = timings or ConnectionTimings()
        self._clock: Clock = clock or SystemClock()
        self.record = record
        self._context = self._context_of(record)
        self._sender = _ActionSender(record.name)
        self._last: Race | None = record.last_race
        self._linked: dict[str, int | None] = {}
        self._link_lookup: asyncio.Task[dict[str, int]] | None = None
        self._ws: ClientConnection | None = None
        self._connected = asyncio.Event()
        self._action_lock = asyncio.Lock()
        self._pending_action: _PendingAction | None = None
        # On the current socket: pings sent after actions, and pongs seen. Pongs come in the
        # order of their pings, so the n-th pong answers the action of the n-th ping.
        self._pings_sent = 0
        self._pongs_seen = 0
        self._stale_token: AccessTokenLike | None = None
        self._token_in_use: AccessTokenLike | None = None
        self._reconnect_requested = False
        self._renew_at = 0.0  # clock.monotonic() when the socket moves to a new token
        self._finished_at: float | None = None  # clock.monotonic() when finished was seen
        self._expired: str | None = None  # which deadline closed the socket
        self._watchdog: asyncio.Task[None] | None = None
        self._done = False
        self._task: asyncio.Task[None] | None = None
        self._failures = 0  # consecutive failed connections (the backoff's step)
        self._admitted = False  # this connection brought at least one acceptable frame
        self._noted: set[str] = set()  # problems with this room's frames, logged once each
        # Chat: the id of the last message handled (asked from on every reconnect), the ids
        # handled lately, and per socket whether the history was asked for ("asked", at
        # ``_history_asked_at``) and answered ("done"), with the live messages that came
        # before the answer.
        self._chat_position: str | None = record.last_chat_message_id
        self._chat_seen = chat.RecentIds()
        self._history = "none"
        self._history_asked_at = 0.0
        self._chat_waiting: list[ChatMessage] = []
        self.connect_count = 0
        # Settings racetime dropped when we opened the room (see CategoryBot.create_room).
        self.settings_not_taken: tuple[str, ...] = ()

    @staticmethod
    def _context_of(record: RoomRecord) -> RoomContext:
        return RoomContext(
            category=record.category,
            room_slug=record.slug,
            room_name=record.name,
            match_id=record.match_id,
            tournament_id=record.tournament_id,
            live_race_id=record.live_race_id,
        )

    def attach(self, record: RoomRecord) -> None:
        """The room was linked to a match or live race: events from now on carry it."""
        self.record = record
        self._context = self._context_of(record)

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> asyncio.Task[None]:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._supervise(), name=f"racetime-room:{self.name}"
            )
        return self._task

    async def stop(self) -> None:
        """Stop watching; waits for every task of this room and never raises."""
        self._done = True
        tasks = [t for t in (self._task, self._link_lookup, self._watchdog) if t is not None]
        for task in tasks:
            task.cancel()
        if tasks:
            # wait, not await: a cancellation of stop() itself is not mistaken for the tasks'
            await asyncio.wait(tasks)
        for task in tasks:
            if not task.cancelled() and task.exception() is not None:
                log.error("Room %s: a task failed while stopping", self.name,
                          exc_info=task.exception())

    async def wait_closed(self) -> None:
        if self._task is not None:
            await asyncio.shield(self._task)

    @property
    def finished(self) -> bool:
        return self._done

    @property
    def is_connected(self) -> bool:
        return self._connected.is_set()

    @property
    def chat_position(self) -> str | None:
        """The id of the last chat message handled (``None``: none yet)."""
        return self._chat_position

    @property
    def chat_caught_up(self) -> bool:
        """This socket's chat history has been read: new messages are handled as they come."""
        return self._history == "done"

    @property
    def last_race(self) -> Race | None:
        return self._last

    @property
    def context(self) -> RoomContext:
        """The room as events describe it (category, slug, match, live race, tournament)."""
        return self._context

    async def wait_connected(self) -> None:
        """Until the socket is up and :attr:`last_race` is what racetime shows now."""
        await self._connected.wait()

    async def _supervise(self) -> None:
        refused = 0
        while not self._done:
            started = self._clock.monotonic()
            self._admitted = False
            try:
                token = await self._tokens(self._stale_token)
                self._stale_token = None
                self._token_in_use = token
                async with connect(
                    self._ws_url,
                    additional_headers={"Authorization": f"Bearer {token.value}"},
                    open_timeout=self._timings.open_timeout,
                    max_size=MAX_FRAME_BYTES,
                    close_timeout=2,
                    # No permessage-deflate: each room's zlib context cost about 50 KB of
                    # memory, and inflating every frame a tenth of the loop's time at a
                    # season's peak, to save bandwidth on frames of a few KB.
                    compression=None,
                ) as ws:
                    self.connect_count += 1
                    refused = 0
                    await self._read(ws, token)
            except asyncio.CancelledError:
                raise
            except _Reconnect:
                if self._clock.monotonic() - started >= self._timings.stable_after:
                    self._failures = 0
                    continue
                log.info("Room %s: the connection lasted only moments; backing off", self.name)
                self._admitted = False  # a reconnect loop is a failure, however it started
            except InvalidHandshake as error:
                refused += 1
                self._refused(error)
                if refused >= REFUSALS_BEFORE_CHECK and await self._room_is_gone():
                    log.warning("Room %s no longer exists on racetime; leaving it", self.name)
                    self._done = True
                    self._store.save(self.record.category, self.record.slug, active=False)
            except ConnectionClosed as error:
                self._lost(error)
            except (OSError, TimeoutError) as error:
                log.warning("Room %s connection lost: %s", self.name, type(error).__name__)
                self._trouble()
            except RacetimeError as error:
                log.warning("Room %s: no token to connect with: %s", self.name, error)
            except Exception:
                log.exception("Room %s connection failed", self.name)
            finally:
                self._detach()
            if self._done:
                break
            if self._admitted:
                self._failures = 0  # it worked: the next failure starts the backoff over
            delay = self._timings.backoff.delay(self._failures)
            self._failures += 1
            self._metrics.room_reconnecting(self.record.category)
            log.info(
                "Room %s reconnecting in %.2fs (attempt %d)", self.name, delay, self._failures
            )
            await self._clock.sleep(delay)
        log.info("Room %s: stopped watching", self.name)

    def _refused(self, error: InvalidHandshake) -> None:
        """racetime refused the socket: a missing room, or a token it no longer takes."""
        status = getattr(getattr(error, "response", None), "status_code", None)
        if status in (401, 403):
            log.warning("Room %s: racetime refused the token; using a new one", self.name)
            self._stale_token = self._token_in_use
        else:
            log.warning("Room %s refused the websocket: %s", self.name, error)
            self._trouble()

    def _lost(self, error: ConnectionClosed) -> None:
        code = error.rcvd.code if error.rcvd is not None else None
        if code is None and error.sent is not None:
            code = error.sent.code
        if code == MESSAGE_TOO_BIG:
            log.error(
                "Room %s: racetime sent a frame over %d MB; the room is not followed until a "
                "smaller one comes (retrying with a growing backoff)",
                self.name, MAX_FRAME_BYTES // (1024 * 1024),
            )
            return
        log.warning("Room %s connection lost: %s", self.name, type(error).__name__)
        self._trouble()

    def _trouble(self) -> None:
        if self._on_trouble is not None:
            self._on_trouble()

    def _detach(self) -> None:
        self._ws = None
        self._connected.clear()
        self._stop_watchdog()
        pending = self._pending_action
        if pending is not None and not pending.future.done():
            pending.future.set_exception(
                RoomConnectionClosedError(
                    f"the connection to {self.name} dropped before racetime confirmed the action"
                )
            )

    async def _read(self, ws: ClientConnection, token: AccessTokenLike) -> None:
        self._ws = ws
        self._pings_sent = self._pongs_seen = 0  # a new socket: its own pings and pongs
        self._history = "none"  # and its own chat history to ask for
        self._chat_waiting = []
        self._sender.ws = ws
        self._expired = None
        self._renew_at = self._clock.monotonic() + self._renew_in(token)
        self._start_watchdog()
        async for raw in ws:
            await self._on_frame(raw)
            if self._done and not self._awaiting_action():
                return
        if self._expired == "linger":
            log.info("Room %s: finished and no un-finish came; closing", self.name)
            self._done = True
            self._store.save(self.record.category, self.record.slug, active=False)
            return
        if self._expired == "renew":
            log.info("Room %s: reconnecting before the token expires", self.name)
            self._stale_token = self._token_in_use
            raise _Reconnect
        if self._reconnect_requested:
            self._reconnect_requested = False
            raise _Reconnect
        log.info("Room %s: the server closed the connection", self.name)
        raise ConnectionClosed(None, None)

    # -- deadlines: token renewal and the un-finish window -----------------------------------

    def _start_watchdog(self) -> None:
        """(Re)start the task that closes the socket when its next deadline comes."""
        self._stop_watchdog()
        ws = self._ws
        if ws is not None:
            self._watchdog = asyncio.get_running_loop().create_task(
                self._watch_deadlines(ws), name=f"racetime-room-deadline:{self.name}"
            )

    def _stop_watchdog(self) -> None:
        if self._watchdog is not None and self._watchdog is not asyncio.current_task():
            self._watchdog.cancel()
        self._watchdog = None

    async def _watch_deadlines(self, ws: ClientConnection) -> None:
        while True:
            at, reason = self._next_deadline()
            wait = at - self._clock.monotonic()
            if wait > 0:
                # A later deadline (an un-finish) is found on waking; an earlier one (a finish)
                # restarts this task.
                await self._clock.sleep(wait)
                continue
            self._expired = reason
            await ws.close()
            return

    def _next_deadline(self) -> tuple[float, str]:
        if self._finished_at is not None:
            linger_end = self._finished_at + self._timings.finished_linger
            if linger_end <= self._renew_at:
                return linger_end, "linger"
        return self._renew_at, "renew"

    async def _room_is_gone(self) -> bool:
        if self._room_exists is None:
            return False
        try:
            return await self._room_exists() is False
        except Exception:
            log.exception("Room %s: could not check whether it still exists", self.name)
            return False

    def _renew_in(self, token: AccessTokenLike) -> float:
        """Seconds until this socket should move to a new token.

        From the token's half-life (when its bot renews it) to three quarters of its life,
        at random, so the rooms of a category (which share one token) do not all reconnect
        in the same second; never sooner than ``min_renew_seconds``.
        """
        now = self._clock.now()
        half = (token.renew_at - now).total_seconds()
        quarter = (token.expires_at - token.renew_at).total_seconds() / 2
        spread = half + quarter * random.random()  # noqa: S311 - spreading load, not secrecy
        return max(spread, self._timings.min_renew_seconds)

    def _awaiting_action(self) -> bool:
        """An action's answer is still due (e.g. the ``pong`` after a ``cancel``)."""
        pending = self._pending_action
        return pending is not None and not pending.future.done()

    # -- frames ------------------------------------------------------------------------------

    async def _on_frame(self, raw: str | bytes) -> None:
        frame = decode_frame(raw)
        self._metrics.frame_processed(self.record.category, frame_type(frame))
        if frame is None:
            return
        if type(frame) is RaceDataFrame:
            await self._on_race(frame.race)
            if self._history == "none":
                await self._ask_history()
        elif type(frame) is ChatMessageFrame:
            await self._on_chat(frame.message)
        elif type(frame) is ChatHistoryFrame:
            await self._on_history(frame)
        elif type(frame) is ErrorFrame:
            self._on_error(list(frame.errors or []))
        elif type(frame) is PongFrame:
            self._on_pong()

    def _answering(self) -> _PendingAction | None:
        """The action whose ``pong`` comes next, if it is still waited for (not one given up
        on after a timeout, whose late answers must not count for the next action)."""
        pending = self._pending_action
        if pending is None or pending.future.done() or pending.ping != self._pongs_seen + 1:
            return None
        return pending

    def _on_pong(self) -> None:
        pending = self._answering()
        self._pongs_seen += 1
        if pending is not None:
            pending.settle()

    def _on_error(self, errors: list[str]) -> None:
        pending = self._answering()
        if pending is not None:
            pending.errors.extend(errors)
        else:
            log.warning("Room %s: racetime error frame: %s", self.name, "; ".join(errors))

    async def _on_race(self, raw_race: Race) -> None:
        previous = self._last
        if raw_race.name == self.name:
            self._admitted = True  # racetime is talking about this room: the socket works
        race = admit(previous, raw_race, self.name, self._note)
        if race is None:
            self._connected.set()  # what we have is the latest the room showed
            return  # another room's, old, repeated or implausible: never a step back
        if previous is None:
            events = self._baseline_events(race)
        else:
            if self._link_lookup is not None and not self._link_lookup.done():
                await self._link_lookup
            linked = await self._linked_users(race)
            events = diff_race(previous, race, self._context, linked_users=linked)
        self._last = race
        # Connected means "``last_race`` is what racetime shows now": set once the frame is in,
        # so that whoever waited for it (a reconcile after a restart) never reads the snapshot
        # stored before the socket came back.
        self._connected.set()
        status = race.status.value
        self._store.save(
            self.record.category,
            self.record.slug,
            events,
            race=race,
            active=status not in _ENDED,
        )
        self._track_terminal(status)
        self._look_up_links_ahead(race)

    def _note(self, key: str, message: str) -> None:
        """A problem with this room's frames, logged once per room and kind of problem."""
        if key not in self._noted and len(self._noted) < MAX_NOTES:
            self._noted.add(key)
            log.warning("Room %s: %s", self.name, message)

    def _baseline_events(self, race: Race) -> list[Event]:
        """The first snapshot of a room we have none of: we joined (and maybe opened) it."""
        events: list[Event] = []
        if self.record.opened_by_us:
            created = self._created
            events.append(
                bot_created_event(
                    race,
                    self._context,
                    created.goal if created else None,
                    created.invitational if created else None,
                )
            )
        events.append(bot_joined_event(race, self._context))
        return events

    def _look_up_links_ahead(self, race: Race) -> None:
        """Resolve new entrants' linked ids off the frame path, before their first change."""
        if self._link_lookup is not None and not self._link_lookup.done():
            return
        if any(
            e.user is not None and e.user.id and e.user.id not in self._linked
            for e in race.entrants
        ):
            self._link_lookup = asyncio.get_running_loop().create_task(
                self._linked_users(race), name=f"racetime-links:{self.name}"
            )

    def _track_terminal(self, status: str) -> None:
        if status in _ENDED:
            self._done = True
        elif status == "finished":
            if self._finished_at is None:
                self._finished_at = self._clock.monotonic()
                self._start_watchdog()
        else:
            self._finished_at = None

    async def _linked_users(self, race: Race) -> dict[str, int]:
        missing = [
            e.user.id
            for e in race.entrants
            if e.user is not None and e.user.id and e.user.id not in self._linked
        ]
        if missing:
            try:
                found = await self._store.linked_user_ids(missing)
            except Exception:
                log.exception("Room %s: could not look up linked users", self.name)
                found = None
            if found is not None:
                for racetime_id in missing:
                    self._linked[racetime_id] = found.get(racetime_id)
        return {k: v for k, v in self._linked.items() if v is not None}

    async def linked_user_id(self, racetime_user_id: str) -> int | None:
        if racetime_user_id not in self._linked:
            try:
                found = await self._store.linked_user_ids([racetime_user_id])
            except Exception:
                log.exception("Room %s: could not look up a linked user", self.name)
                return None
            self._linked[racetime_user_id] = found.get(racetime_user_id)
        return self._linked[racetime_user_id]

    # -- chat --------------------------------------------------------------------------------

    async def _ask_history(self) -> None:
        """Ask for the messages after the last one handled (all of them without one)."""
        ws = self._ws
        if ws is None:
            return
        action: dict[str, object] = {"action": "gethistory"}
        if self._chat_position is not None:
            action["data"] = {"last_message": self._chat_position}
        self._history = "asked"
        self._history_asked_at = self._clock.monotonic()
        await ws.send(msgspec.json.encode(action).decode())

    async def _on_chat(self, message: ChatMessage) -> None:
        if self._history == "done":
            await self._handle_chat([(message, False)])
            return
        if len(self._chat_waiting) >= MAX_WAITING_MESSAGES:
            self._note("chat-waiting", "too many chat messages before the history; some dropped")
        else:
            self._chat_waiting.append(message)
        if (
            self._history == "asked"
            and self._clock.monotonic() - self._history_asked_at > self._timings.action_timeout
        ):
            # racetime answers gethistory at once; a request lost on its way is asked again.
            self._note("history-late", "racetime did not answer gethistory in time; asking again")
            await self._ask_history()

    async def _on_history(self, frame: ChatHistoryFrame) -> None:
        """The answer to ``gethistory``: the history oldest first, then the live messages
        that came while it was awaited."""
        if self._history != "asked":
            self._note("history-unasked", "a chat.history nobody asked for was ignored")
            return
        waiting, self._chat_waiting = self._chat_waiting, []
        self._history = "done"
        batch = [(m, True) for m in chat.chronological(frame.chat_messages())]
        batch.extend((m, False) for m in waiting)
        await self._handle_chat(batch)

    async def _handle_chat(self, batch: list[tuple[ChatMessage, bool]]) -> None:
        """Turn the commands among ``batch`` (message, from the history) into events, saved
        with the new position: the id of the last message of the batch."""
        events: list[Event] = []
        last: str | None = None
        for message, from_history in batch:
            message_id = chat.message_id(message)
            if message_id is None:
                self._note("chat-id", "a chat message without a racetime id was ignored")
                continue
            if message_id in self._chat_seen:
                continue  # in the history and live too: handled once
            self._chat_seen.add(message_id)
            last = message_id
            if from_history and self._before_watching(message):
                continue
            command = chat.command_in(message)
            if command is not None:
                events.append(await self._command_event(command, from_history))
        if last is None:
            return
        self._chat_position = last
        self._store.save(self.record.category, self.record.slug, events, last_message=last)

    def _before_watching(self, message: ChatMessage) -> bool:
        """Posted before RaceDesk watched a room it did not open: not RaceDesk's to answer."""
        since = self.record.watching_since
        if self.record.opened_by_us or since is None:
            return False
        posted = chat.posted_at(message)
        return posted is None or posted < since

    async def _command_event(
        self, command: chat.ChatCommand, from_history: bool
    ) -> RacetimeChatCommandEvent:
        context = self._context
        return RacetimeChatCommandEvent(
            category=context.category,
            room_slug=context.room_slug,
            room_name=context.room_name,
            match_id=context.match_id,
            tournament_id=context.tournament_id,
            live_race_id=context.live_race_id,
            racetime_version=self._last.version if self._last is not None else None,
            entity_id=context.room_name,
            user_id=await self._sender_user_id(command.racetime_user_id),
            occurred_at=command.posted_at or self._clock.now(),
            message_id=command.message_id,
            racetime_user_id=command.racetime_user_id,
            racetime_user_name=command.racetime_user_name,
            command=command.command,
            text=command.text,
            posted_at=command.posted_at,
            from_history=from_history,
        )

    async def _sender_user_id(self, racetime_user_id: str) -> int | None:
        """The sender's linked user id, or None. Looked up again while unknown: someone told
        to link their account first may have done so since their last command."""
        if self._linked.get(racetime_user_id) is None:
            self._linked.pop(racetime_user_id, None)
        return await self.linked_user_id(racetime_user_id)

    # -- actions -----------------------------------------------------------------------------

    async def _act(self, send: Callable[[], Awaitable[None]], what: str) -> None:
        """Send one action and wait until racetime accepted or refused it.

        A "Permission denied" refusal means the socket's token expired or was revoked:
        reconnect with a fresh token and try again. The first retry may get the bot's
        current token (another room already replaced the refused one); if racetime refuses
        that one too, the second retry gets a token requested for it.
        """
        for attempt in range(ACTION_ATTEMPTS):
            try:
                await self._act_once(send)
                return
            except RacetimeActionError as error:
                if attempt < ACTION_ATTEMPTS - 1 and PERMISSION_DENIED in error.errors:
                    log.info("Room %s: token refused; reconnecting with a new one", self.name)
                    await self._reconnect_with_fresh_token()
                    continue
                log.warning("Room %s: %s refused: %s", self.name, what, error)
                raise

    async def _act_once(self, send: Callable[[], Awaitable[None]]) -> None:
        if self._done:
            raise RoomConnectionClosedError(f"{self.name} is no longer being watched")
        async with self._action_lock:
            try:
                async with asyncio.timeout(self._timings.action_timeout):
                    await self.wait_connected()
            except TimeoutError:
                raise RoomConnectionClosedError(
                    f"could not reach {self.name} on racetime; try again shortly"
                ) from None
            ws = self._ws
            assert ws is not None
            pending = _PendingAction(
                ping=self._pings_sent + 1,
                future=asyncio.get_running_loop().create_future(),
            )
            self._pending_action = pending
            try:
                await send()
                await ws.send(_PING)
                self._pings_sent += 1
                async with asyncio.timeout(self._timings.action_timeout):
                    await pending.future
            except ConnectionClosed:
                raise RoomConnectionClosedError(
                    f"the connection to {self.name} dropped; try again shortly"
                ) from None
            except TimeoutError:
                if pending.errors:  # refused, though its pong never came
                    raise RacetimeActionError(pending.errors) from None
                raise RoomConnectionClosedError(
                    f"racetime did not answer in time for {self.name}; try again"
                ) from None
            finally:
                self._pending_action = None

    async def _reconnect_with_fresh_token(self) -> None:
        self._stale_token = self._token_in_use
        self._reconnect_requested = True
        ws = self._ws
        self._connected.clear()
        if ws is not None:
            await ws.close()

    async def _send(self, text: str) -> None:
        ws = self._ws
        assert ws is not None  # the action lock waited for the socket
        await ws.send(text)

    async def send_message(
        self,
        message: str,
        *,
        pinned: bool = False,
        actions: Mapping[str, Mapping[str, Any]] | None = None,
        direct_to: str | None = None,
        guid: str | None = None,
    ) -> None:
        """Post ``message`` in the room (or to one racetime user, ``direct_to``).

        ``actions`` are the message's buttons, label -> ``{"message", "submit"?, "survey"?,
        "help"?}`` or ``{"url", "help"?}``, at most four; not on a DM, nor ``pinned``
        (``ValueError``). ``guid`` defaults to a new one; pass a fixed one (``[0-9a-z-]``) to
        make a resend after a crash harmless: racetime drops a guid it saw in the last 300 s.
        """
        frame = chat.message_action(
            message, pinned=pinned, actions=actions, direct_to=direct_to, guid=guid
        )
        await self._act(lambda: self._send(frame), "message")

    async def pin_message(self, message_id: str) -> None:
        await self._act(lambda: self._sender.pin_message(message_id), "pin_message")

    async def unpin_message(self, message_id: str) -> None:
        await self._act(lambda: self._sender.unpin_message(message_id), "unpin_message")

    async def invite(self, racetime_user_id: str) -> None:
        await self._act(lambda: self._sender.invite_user(racetime_user_id), "invite")

    async def accept_request(self, racetime_user_id: str) -> None:
        await self._act(lambda: self._sender.accept_request(racetime_user_id), "accept_request")

    async def set_bot_info(self, info: str) -> None:
        await self._act(lambda: self._sender.set_bot_raceinfo(info), "setinfo")

    async def force_start(self) -> None:
        await self._act(self._sender.force_start, "begin")

    async def cancel(self) -> None:
        await self._act(self._sender.cancel_race, "cancel")

    async def add_monitor(self, racetime_user_id: str) -> None:
        await self._act(lambda: self._sender.add_monitor(racetime_user_id), "add_monitor")
