"""Typed models of the racetime.gg protocol and a fast, never-raising decoder.

Every websocket frame of every watched room passes through :func:`decode_frame`, so the models
are ``msgspec`` Structs decoded in one pass by a C decoder:

* The websocket envelope is a *tagged union* on ``type``. A ``race.data`` frame is decoded
  straight into :class:`RaceDataFrame` (race included) in a single pass; other known frame types
  (``race.renders``, ``chat.message``, ``error``, ``pong``, ...) declare only the keys we use, so
  the rest (for example the HTML ``renders``) is skipped without building Python objects.
* ``chat.history`` keeps its ``messages`` undecoded until :meth:`ChatHistoryFrame.chat_messages`
  turns them into :class:`ChatMessage` one by one: one odd message costs only itself, and the
  frame (the answer to ``gethistory`` a room waits for) is never lost.
* A frame whose ``type`` is not known yet decodes (through a second, light pass that reads only
  ``type`` and ``date``) to :class:`UnknownFrame`, so a new server message type is never an error.
* Unknown keys are ignored everywhere, optional keys may be missing, and ``null`` is accepted
  wherever the server can send it (an entrant's ``user`` is null for a deleted account).
* Garbage (not JSON, not an object, a known type with the wrong shape) decodes to ``None`` and is
  logged; the decode functions never raise.

Datetimes and durations stay the strings the server sent (decoding them eagerly would cost time
on every frame for values that are rarely read, and a malformed one would reject the whole
frame); :func:`parse_racetime_datetime` and :func:`parse_racetime_duration` turn them into
aware UTC ``datetime`` and ``timedelta`` values on demand, and :func:`format_iso_duration` gives
the canonical duration string used in events.

This module never imports ``discord``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Final, TypeAlias

import msgspec

log = logging.getLogger(__name__)

# Only part of a bad payload goes to the log.
_PREVIEW_CHARS: Final = 200


# -- enumerations ----------------------------------------------------------------------------

RACE_STATUSES: Final = frozenset(
    {"open", "invitational", "pending", "in_progress", "finished", "cancelled", "partitioned"}
)
"""Race ``status.value`` values (racetime-protocol.md §2.5)."""

RACE_TERMINAL_STATUSES: Final = frozenset({"finished", "cancelled", "partitioned"})
"""Race statuses after which nothing happens (``finished`` can still be reopened for 10 min)."""

ENTRANT_STATUSES: Final = frozenset(
    {
        "requested",
        "invited",
        "declined",
        "partitioned",
        "dnf",
        "dq",
        "done",
        "in_progress",
        "ready",
        "not_ready",
    }
)
"""Entrant ``status.value`` values (``joined`` is never sent)."""


VERSION_MAX: Final = 2**63 - 1
Version: TypeAlias = Annotated[int, msgspec.Meta(ge=0, le=VERSION_MAX)]
"""A race version: racetime counts saves from 0; anything outside a signed 64-bit integer is
not a version (such a frame is rejected whole, as malformed)."""


# -- helpers for dates and durations ---------------------------------------------------------

_DURATION_RE: Final = re.compile(
    r"(?P<sign>[-+]?)P(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)(?:[.,](?P<frac>\d+))?S)?)?"
)


def parse_racetime_datetime(value: str | None) -> datetime | None:
    """Parse a racetime datetime (``2026-11-23T14:42:13.289Z`` or ``...+00:00``) to aware UTC.

    ``None`` gives ``None``; a value without an offset is taken as UTC. A malformed value
    raises ``ValueError``.
    """
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"not a datetime string: {value!r}")
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_racetime_duration(value: str | None) -> timedelta | None:
    """Parse a Django ISO 8601 duration (``P0DT00H00M07.407000S``, ``P1DT00H00M00S``).

    Also accepts the canonical form of :func:`format_iso_duration` (``PT1H23M45S``). ``None``
    gives ``None``; a malformed value raises ``ValueError``.
    """
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"not a duration string: {value!r}")
    match = _DURATION_RE.fullmatch(value)
    if match is None or value.endswith(("P", "T")):
        raise ValueError(f"not an ISO 8601 duration: {value!r}")
    days, hours, minutes, seconds, frac = match.group("days", "hours", "minutes", "seconds", "frac")
    microseconds = int(frac[:6].ljust(6, "0")) if frac else 0
    result = timedelta(
        days=int(days or 0),
        hours=int(hours or 0),
        minutes=int(minutes or 0),
        seconds=int(seconds or 0),
        microseconds=microseconds,
    )
    return -result if match.group("sign") == "-" else result


def format_iso_duration(value: timedelta) -> str:
    """The canonical ISO 8601 duration used in events: hours never roll over into days.

    ``7.407 s -> "PT7.407S"``, ``1:23:45 -> "PT1H23M45S"``, ``26 h -> "PT26H"``, ``0 -> "PT0S"``,
    negative values get a leading ``-``. Fractional seconds keep up to microseconds, trailing
    zeros removed. Days are not used because a race time is an exact length, not a calendar
    span, and one unit (hours) keeps the strings comparable by eye.
    """
    total_us = (value.days * 86_400 + value.seconds) * 1_000_000 + value.microseconds
    sign = "-" if total_us < 0 else ""
    total_us = abs(total_us)
    total_seconds, micro = divmod(total_us, 1_000_000)
    hours, rest = divmod(total_seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [sign, "PT"]
    if hours:
        parts.append(f"{hours}H")
    if minutes:
        parts.append(f"{minutes}M")
    if seconds or micro or not (hours or minutes):
        if micro:
            parts.append(f"{seconds}.{micro:06d}".rstrip("0") + "S")
        else:
            parts.append(f"{seconds}S")
    return "".join(parts)


# -- shared pieces ---------------------------------------------------------------------------


class _Model(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Base of the decoded models: immutable snapshots, unknown keys ignored."""


class Status(_Model, frozen=True, kw_only=True):
    """A race or entrant status: ``{"value", "verbose_value", "help_text"}``."""

    value: str
    verbose_value: str | None = None
    help_text: str | None = None


class User(_Model, frozen=True, kw_only=True):
    """A user summary (racetime ``User.api_dict_summary``)."""

    id: str
    full_name: str | None = None
    name: str | None = None
    discriminator: str | None = None
    url: str | None = None
    avatar: str | None = None
    pronouns: str | None = None
    flair: str | None = None
    twitch_name: str | None = None
    twitch_display_name: str | None = None
    twitch_channel: str | None = None
    can_moderate: bool = False

    @property
    def display_name(self) -> str:
        """``name#1234`` (or ``name``), falling back to the id."""
        return self.full_name or self.name or self.id


class Goal(_Model, frozen=True, kw_only=True):
    name: str | None = None
    custom: bool = False


class CategorySummary(_Model, frozen=True, kw_only=True):
    """The ``category`` object inside race data."""

    name: str | None = None
    short_name: str | None = None
    slug: str | None = None
    url: str | None = None
    data_url: str | None = None
    image: str | None = None


class Team(_Model, frozen=True, kw_only=True):
    name: str | None = None
    slug: str | None = None
    formal: bool = False
    url: str | None = None
    data_url: str | None = None
    avatar: str | None = None


class Entrant(_Model, frozen=True, kw_only=True):
    """One entrant of a race. ``user`` is ``None`` when the account was deleted."""

    user: User | None = None
    status: Status
    team: Team | None = None
    finish_time: str | None = None
    finished_at: str | None = None
    place: int | None = None
    place_ordinal: str | None = None
    score: float | None = None
    score_change: float | None = None
    comment: str | None = None
    has_comment: bool = False
    stream_live: bool = False
    stream_override: bool = False
    actions: list[str] = []

    @property
    def user_id(self) -> str | None:
        return self.user.id if self.user is not None else None

    @property
    def display_name(self) -> str | None:
        return self.user.display_name if self.user is not None else None

    def finish_duration(self) -> timedelta | None:
        return parse_racetime_duration(self.finish_time)

    def finished_at_datetime(self) -> datetime | None:
        return parse_racetime_datetime(self.finished_at)


class Race(_Model, frozen=True, kw_only=True):
    """Race data (``Race.as_dict``): the HTTP ``/data`` body and ``race`` of ``race.data``."""

    version: Version = 0
    name: str
    slug: str = ""
    status: Status
    url: str | None = None
    data_url: str | None = None
    websocket_url: str | None = None
    websocket_bot_url: str | None = None
    websocket_oauth_url: str | None = None
    category: CategorySummary | None = None
    goal: Goal | None = None
    info: str | None = None
    info_bot: str | None = None
    info_user: str | None = None
    team_race: bool = False
    entrants_count: int = 0
    entrants_count_finished: int = 0
    entrants_count_inactive: int = 0
    entrants: list[Entrant] = []
    opened_at: str | None = None
    start_delay: str | None = None
    started_at: str | None = None
    ended_at: str | None = None
    cancelled_at: str | None = None
    ranked: bool = False
    unlisted: bool = False
    time_limit: str | None = None
    time_limit_auto_complete: bool = False
    require_even_teams: bool = False
    streaming_required: bool = False
    auto_start: bool = False
    opened_by: User | None = None
    opened_by_bot: str | None = None
    monitors: list[User] = []
    recordable: bool = False
    recorded: bool = False
    recorded_by: User | None = None
    disqualify_unready: bool = False
    allow_comments: bool = False
    hide_comments: bool = False
    hide_entrants: bool = False
    chat_restricted: bool = False
    allow_prerace_chat: bool = False
    allow_midrace_chat: bool = False
    allow_non_entrant_chat: bool = False
    chat_message_delay: str | None = None
    bot_meta: dict[str, Any] = {}

    @property
    def category_slug(self) -> str:
        """The category slug, from ``category`` or else the ``category/slug`` name."""
        if self.category is not None and self.category.slug:
            return self.category.slug
        return self.name.partition("/")[0]

    @property
    def room_slug(self) -> str:
        """The room slug, from ``slug`` or else the ``category/slug`` name."""
        return self.slug or self.name.rpartition("/")[2]

    @property
    def is_terminal(self) -> bool:
        return self.status.value in RACE_TERMINAL_STATUSES

    def opened_at_datetime(self) -> datetime | None:
        return parse_racetime_datetime(self.opened_at)

    def started_at_datetime(self) -> datetime | None:
        return parse_racetime_datetime(self.started_at)

    def ended_at_datetime(self) -> datetime | None:
        return parse_racetime_datetime(self.ended_at)

    def cancelled_at_datetime(self) -> datetime | None:
        return parse_racetime_datetime(self.cancelled_at)


class RaceSummary(_Model, frozen=True, kw_only=True):
    """A race in a category's ``current_races`` (no entrants, no ``websocket_bot_url``)."""

    name: str
    status: Status
    url: str | None = None
    data_url: str | None = None
    goal: Goal | None = None
    info: str | None = None
    entrants_count: int = 0
    entrants_count_finished: int = 0
    entrants_count_inactive: int = 0
    opened_at: str | None = None
    started_at: str | None = None
    time_limit: str | None = None
    opened_by_bot: str | None = None

    @property
    def category_slug(self) -> str:
        return self.name.partition("/")[0]

    @property
    def slug(self) -> str:
        return self.name.rpartition("/")[2]


class CategoryData(_Model, frozen=True, kw_only=True):
    """``GET /<category>/data`` (or ``/o/<category>/data``)."""

    name: str | None = None
    short_name: str | None = None
    slug: str
    url: str | None = None
    data_url: str | None = None
    image: str | None = None
    info: str | None = None
    streaming_required: bool = False
    owners: list[User] = []
    moderators: list[User] = []
    goals: list[str] = []
    current_races: list[RaceSummary] = []
    emotes: dict[str, Any] = {}


class ChatMessage(_Model, frozen=True, kw_only=True):
    """A chat message dict. ``user`` and ``bot`` are null for system messages."""

    id: str | None = None
    user: User | None = None
    bot: str | None = None
    direct_to: User | str | None = None
    posted_at: str | None = None
    message: str = ""
    message_plain: str | None = None
    highlight: bool = False
    is_dm: bool = False
    is_bot: bool = False
    is_monitor: bool | None = None
    is_system: bool = False
    is_pinned: bool = False
    delay: float | None = None
    actions: dict[str, Any] | list[Any] | None = None


# -- websocket frames ------------------------------------------------------------------------


class Frame(msgspec.Struct, frozen=True, kw_only=True, gc=False, tag_field="type"):
    """Base of the known websocket frames; ``type`` is the tag of each subclass."""

    date: str | None = None

    @property
    def type(self) -> str:
        return str(self.__struct_config__.tag)

    def date_datetime(self) -> datetime | None:
        return parse_racetime_datetime(self.date)


class RaceDataFrame(Frame, tag="race.data", frozen=True, kw_only=True):
    race: Race
    version: Version | None = None


class RaceRendersFrame(Frame, tag="race.renders", frozen=True, kw_only=True):
    """Only the version is kept; the HTML ``renders`` are skipped by the decoder."""

    version: int | None = None


class ChatMessageFrame(Frame, tag="chat.message", frozen=True, kw_only=True):
    message: ChatMessage


class ChatHistoryFrame(Frame, tag="chat.history", frozen=True, kw_only=True):
    """``messages`` as sent: decoded one by one by :meth:`chat_messages`, so one odd message
    (or a ``messages`` that is not a list) never hides the frame or the other messages."""

    messages: Any = None

    def chat_messages(self) -> list[ChatMessage]:
        """The messages that have a chat message's shape, in the order sent; others left out
        (logged)."""
        if not isinstance(self.messages, list):
            if self.messages is not None:
                log.warning("Ignoring a chat.history whose messages are not a list")
            return []
        result: list[ChatMessage] = []
        bad = 0
        for item in self.messages:
            try:
                result.append(msgspec.convert(item, ChatMessage))
            except Exception:
                bad += 1
        if bad:
            log.warning("Ignoring %d malformed messages of a chat.history", bad)
        return result


class ChatDmFrame(Frame, tag="chat.dm", frozen=True, kw_only=True):
    message: str | None = None
    from_user: User | None = None
    from_bot: str | None = None
    to: User | None = None


class ChatPinFrame(Frame, tag="chat.pin", frozen=True, kw_only=True):
    message: ChatMessage


class ChatUnpinFrame(Frame, tag="chat.unpin", frozen=True, kw_only=True):
    message: ChatMessage


class ChatDeleteFrame(Frame, tag="chat.delete", frozen=True, kw_only=True):
    delete: dict[str, Any] = {}


class ChatPurgeFrame(Frame, tag="chat.purge", frozen=True, kw_only=True):
    purge: dict[str, Any] = {}


class RaceSplitFrame(Frame, tag="race.split", frozen=True, kw_only=True):
    split: dict[str, Any] = {}


class ErrorFrame(Frame, tag="error", frozen=True, kw_only=True):
    errors: list[Any] = []


class PongFrame(Frame, tag="pong", frozen=True, kw_only=True):
    pass


class AuthenticatedFrame(Frame, tag="authenticated", frozen=True, kw_only=True):
    user: User | None = None


class UnknownFrame(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A frame of a type this module does not model (only ``type`` and ``date`` are read)."""

    type: str
    date: str | None = None


KnownFrame: TypeAlias = (
    RaceDataFrame
    | RaceRendersFrame
    | ChatMessageFrame
    | ChatHistoryFrame
    | ChatDmFrame
    | ChatPinFrame
    | ChatUnpinFrame
    | ChatDeleteFrame
    | ChatPurgeFrame
    | RaceSplitFrame
    | ErrorFrame
    | PongFrame
    | AuthenticatedFrame
)
AnyFrame: TypeAlias = KnownFrame | UnknownFrame

KNOWN_FRAME_TYPES: Final = frozenset(
    str(cls.__struct_config__.tag)
    for cls in (
        RaceDataFrame,
        RaceRendersFrame,
        ChatMessageFrame,
        ChatHistoryFrame,
        ChatDmFrame,
        ChatPinFrame,
        ChatUnpinFrame,
        ChatDeleteFrame,
        ChatPurgeFrame,
        RaceSplitFrame,
        ErrorFrame,
        PongFrame,
        AuthenticatedFrame,
    )
)


class _Envelope(msgspec.Struct, gc=False):
    """The light second pass: only ``type`` (anything) and ``date``."""

    type: Any = None
    date: Any = None


_frame_decoder: Final = msgspec.json.Decoder(KnownFrame)
_envelope_decoder: Final = msgspec.json.Decoder(_Envelope)
_race_decoder: Final = msgspec.json.Decoder(Race)
_category_decoder: Final = msgspec.json.Decoder(CategoryData)

_Raw: TypeAlias = bytes | bytearray | memoryview | str


def _preview(data: object) -> str:
    if isinstance(data, bytes | bytearray | memoryview):
        data = bytes(data[:_PREVIEW_CHARS]).decode("utf-8", "replace")
    text = data if isinstance(data, str) else repr(data)
    return text[:_PREVIEW_CHARS]


def decode_frame(data: _Raw) -> AnyFrame | None:
    """Decode one websocket frame; ``None`` (logged) for anything that is not a valid frame.

    ``race.data`` frames whose race lacks ``version`` get the envelope's ``version``.
    """
    try:
        frame = _frame_decoder.decode(data)
    except Exception as exc:  # the contract is "never raises"
        return _decode_fallback(data, exc)
    if type(frame) is RaceDataFrame and frame.version is not None and not frame.race.version:
        frame = msgspec.structs.replace(
            frame, race=msgspec.structs.replace(frame.race, version=frame.version)
        )
    return frame


def _decode_fallback(data: _Raw, exc: Exception) -> UnknownFrame | None:
    try:
        envelope = _envelope_decoder.decode(data)
    except Exception:
        log.warning("Ignoring a racetime frame that is not a JSON object: %r", _preview(data))
        return None
    frame_type = envelope.type
    if not isinstance(frame_type, str):
        log.warning("Ignoring a racetime frame without a string type: %r", _preview(data))
        return None
    if frame_type in KNOWN_FRAME_TYPES:
        log.warning(
            "Ignoring a malformed racetime %s frame (%s): %r", frame_type, exc, _preview(data)
        )
        return None
    log.debug("Racetime frame of unknown type %r", frame_type)
    date = envelope.date if isinstance(envelope.date, str) else None
    return UnknownFrame(type=frame_type, date=date)


def decode_race(data: _Raw) -> Race | None:
    """Decode HTTP race data (``GET /<category>/<race>/data``); ``None`` when malformed."""
    try:
        return _race_decoder.decode(data)
    except Exception as exc:
        log.warning("Ignoring malformed racetime race data (%s): %r", exc, _preview(data))
        return None


def race_from_dict(data: Mapping[str, Any]) -> Race | None:
    """Race data already parsed to a dict (racetime-bot's ``handler.data``); ``None`` if bad."""
    try:
        return msgspec.convert(data, Race)
    except Exception as exc:
        log.warning("Ignoring malformed racetime race data (%s): %r", exc, _preview(data))
        return None


def decode_category(data: _Raw) -> CategoryData | None:
    """Decode category data (``GET /<category>/data``); ``None`` when malformed."""
    try:
        return _category_decoder.decode(data)
    except Exception as exc:
        log.warning("Ignoring malformed racetime category data (%s): %r", exc, _preview(data))
        return None


__all__ = [
    "ENTRANT_STATUSES",
    "KNOWN_FRAME_TYPES",
    "RACE_STATUSES",
    "RACE_TERMINAL_STATUSES",
    "AnyFrame",
    "AuthenticatedFrame",
    "CategoryData",
    "CategorySummary",
    "ChatDeleteFrame",
    "ChatDmFrame",
    "ChatHistoryFrame",
    "ChatMessage",
    "ChatMessageFrame",
    "ChatPinFrame",
    "ChatPurgeFrame",
    "ChatUnpinFrame",
    "Entrant",
    "ErrorFrame",
    "Frame",
    "Goal",
    "KnownFrame",
    "PongFrame",
    "Race",
    "RaceDataFrame",
    "RaceRendersFrame",
    "RaceSplitFrame",
    "RaceSummary",
    "Status",
    "Team",
    "UnknownFrame",
    "User",
    "decode_category",
    "decode_frame",
    "decode_race",
    "format_iso_duration",
    "parse_racetime_datetime",
    "parse_racetime_duration",
    "race_from_dict",
]
