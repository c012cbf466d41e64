"""A race room's chat: which messages are commands, their order, and the ``message`` action.

Pure functions (no I/O), used by :mod:`racetime.connection`:

* :func:`command_in`: a message is a command when a person typed it in the room (not a bot,
  not the system, not a DM) and its first word (split on whitespace) starts with ``!`` and is
  more than ``!``. The command is that word lowercased without the ``!``; the text is
  racetime's ``message_plain`` (markup stripped), as typed otherwise. racetime-bot splits on
  single spaces and lowercases the arguments too; RaceDesk keeps the text as typed.
* :func:`chronological`: racetime's ``chat.history`` lists the unpinned messages first and the
  pinned ones after them (``order_by('pinned', 'posted_at')`` in racetime-app's
  ``utils.get_chat_history``); sorted by ``posted_at``, the last one is the newest, which is
  the position to ask from next time.
* :func:`message_action`: the ``message`` action frame, checked as racetime checks it (a
  ``guid`` of ``[0-9a-z-]``, at most four actions, no actions or pin on a DM), so a mistake is
  a ``ValueError`` here rather than a refusal from racetime.
"""

from __future__ import annotations

import re
import uuid
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import msgspec

from racetime.models import ChatMessage, parse_racetime_datetime

# racetime message and user ids are 16-character hashids; allow slack, never unbounded text.
_HASHID: Final = re.compile(r"[A-Za-z0-9]{1,64}")
_GUID: Final = re.compile(r"^[0-9a-z\-]+$")
MAX_ACTIONS: Final = 4  # racetime-app models/chat.py Message.MAX_ACTIONS
MAX_MESSAGE_CHARS: Final = 1000  # racetime refuses longer messages
# A person's message is at most 1000 characters on racetime; a longer one did not come from
# racetime, and never becomes a command (or a stored event).
MAX_COMMAND_TEXT: Final = 4 * MAX_MESSAGE_CHARS
_ACTION_KEYS: Final = frozenset({"message", "submit", "survey", "help"})
_LINK_KEYS: Final = frozenset({"url", "help"})


@dataclass(frozen=True, slots=True)
class ChatCommand:
    """A command typed in the room, as :func:`command_in` found it."""

    message_id: str
    racetime_user_id: str
    racetime_user_name: str | None
    command: str
    text: str
    posted_at: datetime | None


def message_id(message: ChatMessage) -> str | None:
    """The message's racetime id, or ``None`` when it is not one (then it is not handled)."""
    value = message.id
    return value if isinstance(value, str) and _HASHID.fullmatch(value) else None


def posted_at(message: ChatMessage) -> datetime | None:
    """When racetime says the message was posted; ``None`` when missing or malformed."""
    try:
        return parse_racetime_datetime(message.posted_at)
    except (ValueError, TypeError, OverflowError):
        return None


def command_in(message: ChatMessage) -> ChatCommand | None:
    """The command ``message`` carries, or ``None`` (not typed by a person, or not a command)."""
    if message.is_bot or message.is_system or message.is_dm or message.bot is not None:
        return None
    if message.direct_to is not None:
        return None
    user = message.user
    mid = message_id(message)
    if user is None or mid is None or not _HASHID.fullmatch(user.id or ""):
        return None
    text = message.message_plain if message.message_plain is not None else message.message
    if len(text) > MAX_COMMAND_TEXT:
        return None
    words = text.split(maxsplit=1)
    if not words:
        return None
    first = words[0]
    if not first.startswith("!") or len(first) < 2:
        return None
    return ChatCommand(
        message_id=mid,
        racetime_user_id=user.id,
        racetime_user_name=user.full_name or user.name,
        command=first[1:].lower(),
        text=text,
        posted_at=posted_at(message),
    )


def chronological(messages: Sequence[ChatMessage]) -> list[ChatMessage]:
    """``messages`` oldest first, by ``posted_at``; a message without a readable time keeps
    its place after the one sent before it (a stable sort on the last readable time)."""
    keyed: list[tuple[datetime | None, int, ChatMessage]] = []
    last: datetime | None = None
    for index, message in enumerate(messages):
        when = posted_at(message)
        if when is not None:
            last = when
        keyed.append((last, index, message))
    if all(key is None for key, _, _ in keyed):
        return list(messages)
    floor = min(key for key, _, _ in keyed if key is not None)
    keyed.sort(key=lambda item: (item[0] or floor, item[1]))
    return [message for _, _, message in keyed]


class RecentIds:
    """The ids of the last ``limit`` messages handled (a message in both the history and the
    live frames is handled once, without asking the database)."""

    def __init__(self, limit: int = 2000) -> None:
        self._limit = limit
        self._ids: OrderedDict[str, None] = OrderedDict()

    def __contains__(self, value: object) -> bool:
        return value in self._ids

    def add(self, value: str) -> None:
        self._ids[value] = None
        self._ids.move_to_end(value)
        while len(self._ids) > self._limit:
            self._ids.popitem(last=False)


def new_guid() -> str:
    """A fresh guid for a message (racetime drops a repeated one within 300 s)."""
    return str(uuid.uuid4())


def message_action(
    message: str,
    *,
    pinned: bool = False,
    actions: Mapping[str, Mapping[str, Any]] | None = None,
    direct_to: str | None = None,
    guid: str | None = None,
) -> str:
    """The ``message`` action frame (JSON text), or ``ValueError`` for a guid or actions
    racetime would refuse (the text itself, empty or too long, is left for racetime to refuse:
    callers handle its refusal as any other).

    ``actions`` maps a button's label to ``{"message", "submit"?, "survey"?, "help"?}`` (a
    button that posts ``message`` as the person who clicks it, after filling ``${name}`` from
    the survey's answers) or ``{"url", "help"?}`` (a link).
    """
    if not isinstance(message, str):
        raise ValueError("a chat message is text")
    guid = new_guid() if guid is None else guid
    if not isinstance(guid, str) or not _GUID.match(guid):
        raise ValueError("a message guid is made of lowercase letters, digits and '-'")
    if direct_to is not None and (actions or pinned):
        raise ValueError("a direct message cannot have actions or be pinned")
    data = {
        "message": message,
        "direct_to": direct_to,
        "actions": _checked_actions(actions) if actions else None,
        "pinned": pinned,
        "guid": guid,
    }
    return msgspec.json.encode({"action": "message", "data": data}).decode()


def _checked_actions(actions: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    if len(actions) > MAX_ACTIONS:
        raise ValueError(f"a message may have at most {MAX_ACTIONS} actions")
    checked: dict[str, dict[str, Any]] = {}
    for label, action in actions.items():
        if not isinstance(label, str) or not label.strip():
            raise ValueError("an action needs a label")
        if not isinstance(action, Mapping):
            raise ValueError(f"action {label!r} must be a mapping")
        keys = set(action)
        if "url" in keys:
            allowed, required = _LINK_KEYS, "url"
        else:
            allowed, required = _ACTION_KEYS, "message"
        if not isinstance(action.get(required), str) or not action[required]:
            raise ValueError(f"action {label!r} needs a {required!r}")
        if keys - allowed:
            raise ValueError(
                f"action {label!r} has unknown keys: {', '.join(sorted(keys - allowed))}"
            )
        survey = action.get("survey")
        if survey is not None and not _is_survey(survey):
            raise ValueError(f"action {label!r}: a survey is a list of questions (mappings)")
        checked[label] = dict(action)
        if survey is not None:
            checked[label]["survey"] = [dict(question) for question in survey]
    return checked


def _is_survey(value: object) -> bool:
    return isinstance(value, list | tuple) and all(isinstance(q, Mapping) for q in value)

