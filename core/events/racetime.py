"""Events about racetime.gg race rooms and the category bots that watch them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, Literal

from core.events.base import Event, EventPriority
from core.race_time import shown_race_time


def room_partition(category: str, slug: str) -> str:
    """The partition of every event about one room: they are delivered in order."""
    return f"room:{category}/{slug}"


@dataclass(frozen=True, slots=True, kw_only=True)
class RacetimeRoomEvent(Event):
    """Anything that happened in one race room; delivered in order per room.

    ``racetime_version`` is the room's ``version`` the change was seen at; with the room and
    the kind it makes the stable ``event_id``.
    """

    category: str
    room_slug: str
    room_name: str
    match_id: int | None = None
    tournament_id: int | None = None
    live_race_id: int | None = None
    racetime_version: int | None = None

    @property
    def partition_key(self) -> str:
        return room_partition(self.category, self.room_slug)

    @property
    def room_label(self) -> str:
        return f"Race {self.category}/{self.room_slug}"

    def headline(self) -> str:
        return f"{self.room_label} {self.kind} id={self.event_id}"

    def describe(self) -> str:
        """The headline alone: one line per room change, logged for every frame."""
        return self.headline()

    def subject(self) -> str:
        """What, within the room, the event is about (an entrant for entrant events)."""
        return ""

    def change(self) -> str:
        """The change itself (``old>new``), for kinds where one version can carry two."""
        return ""

    def stable_key(self) -> str | None:
        """Room, version, kind, subject and change: racetime can save two different payloads
        under one version, so the version alone does not name a change."""
        if self.racetime_version is None:
            return None
        parts = [f"{self.category}/{self.room_slug}", str(self.racetime_version), self.kind]
        parts.extend(part for part in (self.subject(), self.change()) if part)
        return ":".join(parts)


@dataclass(frozen=True, slots=True, kw_only=True)
class RacetimeRaceStatusChangedEvent(RacetimeRoomEvent):
    priority: ClassVar[EventPriority] = EventPriority.HIGH

    old_status: str | None
    new_status: str
    entrant_count: int = 0
    started_at: datetime | None = None
    ended_at: datetime | None = None

    def change(self) -> str:
        return f"{self.old_status or ''}>{self.new_status}"

    def headline(self) -> str:
        return f"{self.room_label} status changed: {self.old_status or 'none'} -> {self.new_status}"


@dataclass(frozen=True, slots=True, kw_only=True)
class RacetimeEntrantEvent(RacetimeRoomEvent):
    """Base of the events about one entrant of a room."""

    racetime_user_id: str
    racetime_user_name: str | None = None
    race_status: str | None = None

    def subject(self) -> str:
        return self.racetime_user_id

    @property
    def entrant_label(self) -> str:
        return self.racetime_user_name or self.racetime_user_id


@dataclass(frozen=True, slots=True, kw_only=True)
class RacetimeEntrantStatusChangedEvent(RacetimeEntrantEvent):
    old_status: str | None
    new_status: str
    finish_time: str | None = None
    place: int | None = None

    def change(self) -> str:
        change = f"{self.old_status or ''}>{self.new_status}"
        return f"{change}@{self.finish_time}" if self.finish_time else change

    def headline(self) -> str:
        line = (
            f"{self.room_label} entrant {self.entrant_label} status changed: "
            f"{self.old_status or 'none'} -> {self.new_status}"
        )
        extras = []
        if self.place is not None:
            extras.append(f"place {self.place}")
        if self.finish_time is not None:
            extras.append(f"time {shown_race_time(self.finish_time)}")
        return f"{line} ({', '.join(extras)})" if extras else line


@dataclass(frozen=True, slots=True, kw_only=True)
class RacetimeEntrantJoinedEvent(RacetimeEntrantEvent):
    initial_status: str

    def change(self) -> str:
        return self.initial_status

    def headline(self) -> str:
        return f"{self.room_label} entrant {self.entrant_label} joined as {self.initial_status}"


@dataclass(frozen=True, slots=True, kw_only=True)
class RacetimeEntrantLeftEvent(RacetimeEntrantEvent):
    last_status: str

    def change(self) -> str:
        return self.last_status

    def headline(self) -> str:
        return f"{self.room_label} entrant {self.entrant_label} left (was {self.last_status})"


@dataclass(frozen=True, slots=True, kw_only=True)
class RacetimeEntrantInvitedEvent(RacetimeEntrantEvent):
    def headline(self) -> str:
        return f"{self.room_label} entrant {self.entrant_label} invited"


@dataclass(frozen=True, slots=True, kw_only=True)
class RacetimeBotJoinedRaceEvent(RacetimeRoomEvent):
    priority: ClassVar[EventPriority] = EventPriority.HIGH

    race_status: str
    entrant_count: int = 0
    bot_action: Literal["join"] = "join"

    def headline(self) -> str:
        return (
            f"{self.room_label} bot joined: status {self.race_status}, "
            f"{self.entrant_count} entrant(s)"
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class RacetimeBotCreatedRaceEvent(RacetimeRoomEvent):
    priority: ClassVar[EventPriority] = EventPriority.HIGH

    goal: str | None = None
    invitational: bool = False
    bot_action: Literal["create"] = "create"

    def headline(self) -> str:
        kind = "invitational" if self.invitational else "open"
        return f"{self.room_label} created by bot ({kind}, goal {self.goal!r})"


@dataclass(frozen=True, slots=True, kw_only=True)
class RacetimeChatCommandEvent(RacetimeRoomEvent):
    """A person typed a command in the room's chat: a message whose first word starts with
    ``!`` (or clicked a message action that posts one).

    ``user_id`` is the sender's RaceDesk user id through their linked racetime account, or
    ``None`` (unknown: not linked); the system never types. ``command`` is the first word,
    lowercased, without the ``!``; ``text`` is the whole message as racetime's
    ``message_plain`` has it. ``from_history`` says it was found with ``gethistory`` after a
    (re)connect rather than seen as it was posted. The id is racetime's message id: a message
    seen live and again in the history is one event.
    """

    priority: ClassVar[EventPriority] = EventPriority.HIGH

    message_id: str
    racetime_user_id: str
    racetime_user_name: str | None = None
    command: str
    text: str
    posted_at: datetime | None = None
    from_history: bool = False

    def stable_key(self) -> str | None:
        return f"{self.category}/{self.room_slug}:chat:{self.message_id}"

    def subject(self) -> str:
        return self.racetime_user_id

    def headline(self) -> str:
        who = self.racetime_user_name or self.racetime_user_id
        return f"{self.room_label} chat command !{self.command} by {who}"


@dataclass(frozen=True, slots=True, kw_only=True)
class RoomForMatchEvent(Event):
    """A room was made for a match (automatically at its time, or by hand) and its players
    were invited: ``invited_count`` of ``player_count`` are in (what racetime accepted), and
    ``not_invited`` are the application user ids of players racetime refused."""

    priority: ClassVar[EventPriority] = EventPriority.HIGH

    match_id: int | None
    tournament_id: int | None
    category: str
    room_slug: str
    room_url: str
    goal: str | None = None
    invited_count: int = 0
    player_count: int = 0
    scheduled_at: datetime | None = None
    not_invited: tuple[int, ...] = ()

    @property
    def partition_key(self) -> str:
        """The room's partition: ordered with everything else that happens in the room."""
        return room_partition(self.category, self.room_slug)

    def stable_key(self) -> str | None:
        return f"{self.kind}:{self.match_id}:{self.category}/{self.room_slug}"

    def headline(self) -> str:
        how = "on schedule" if isinstance(self, RacetimeRoomCreatedEvent) else "by hand"
        return (
            f"Match #{self.match_id}: room {self.category}/{self.room_slug} opened {how}, "
            f"{self.invited_count} of {self.player_count} player(s) invited"
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class RacetimeRoomCreatedEvent(RoomForMatchEvent):
    """The scheduler opened a match's room on time."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RacetimeRoomOpenedEvent(RoomForMatchEvent):
    """A moderator opened a room by hand (``/open-room``)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RacetimeBotStatusChangedEvent(Event):
    """A category bot's health changed (see ``BotStatus`` in ``db``)."""

    priority: ClassVar[EventPriority] = EventPriority.HIGH

    bot_id: int
    category: str
    old_status: int
    new_status: int
    status_message: str | None = None

    @property
    def partition_key(self) -> str:
        return f"bot:{self.bot_id}"

    def headline(self) -> str:
        old = BOT_STATUS_NAMES.get(self.old_status, str(self.old_status))
        new = BOT_STATUS_NAMES.get(self.new_status, str(self.new_status))
        said = self.status_message
        suffix = f" ({said})" if said and said.lower() != new.lower() else ""
        return f"racetime bot {self.category} status: {old} -> {new}{suffix}"

    def describe(self) -> str:
        """The headline alone: a bot's health changes by itself, nobody causes it."""
        return self.headline()


# The names of ``db.BotStatus`` (core.events may not import db; a test keeps them equal).
BOT_STATUS_NAMES = {
    0: "UNKNOWN",
    1: "CONNECTED",
    2: "AUTH_FAILED",
    3: "CONNECTION_ERROR",
    4: "DISCONNECTED",
}
