"""People's chat in the fake: what racetime lets a user post, and what a message action posts.

Mirrors racetime-app: ``race_actions.Message`` (the guid, the 1000-character limit and
``assert_can_chat``: anonymised races, pre-race and mid-race chat, non-entrants during the
race, a closed chat, more than 10 messages in 5 seconds) and the site's ``race.js``, which
turns a click on a bot message's action into the user's own chat message: the action's
``message`` as is, or with each ``${name}`` filled from the survey's answers (the first
occurrence of each, as JavaScript's ``String.replace`` does, with its ``$`` patterns).
Not modelled: ``.`` commands (``.ready`` typed in chat) and DMs between people.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from fake_racetime.models import ChatMessage, User
from fake_racetime.state import Race, RaceActionError

MAX_MESSAGE = 1000
RATE_WINDOW = timedelta(seconds=5)
RATE_LIMIT = 10  # more than this many messages within the window is refused
GUID_RE = re.compile(r"^[0-9a-z\-]+$")
GUID_TTL = timedelta(seconds=300)

NO_GUID = (
    "Bad request, no GUID supplied. A unique string is required to prevent duplicate messaging."
)
CHAT_CLOSED = "This race chat is now closed. No new messages may be added."


def site_guid() -> str:
    """A guid as the site makes one for each message (lowercase letters and digits)."""
    return secrets.token_hex(13)


def guid_is_new(guids: dict[str, datetime], guid: str, now: datetime) -> bool:
    """racetime's ``guid_is_new``: a bad guid is refused; one seen within 300 s is a repeat
    (users' and bots' messages share the cache). Remembered before the message is checked."""
    if not GUID_RE.match(guid):
        raise RaceActionError(NO_GUID)
    seen = guids.get(guid)
    if seen is not None and now - seen < GUID_TTL:
        return False
    guids[guid] = now
    return True


def check_text(text: object) -> str:
    """The ``message`` field of racetime's chat forms: Django strips it, then requires it."""
    if isinstance(text, str):
        text = text.strip()
    if not isinstance(text, str) or not text:
        raise RaceActionError("message: This field is required.")
    if len(text) > MAX_MESSAGE:
        raise RaceActionError(
            f"message: Ensure this value has at most {MAX_MESSAGE} characters "
            f"(it has {len(text)})."
        )
    return text


def assert_can_chat(race: Race, user: User, now: datetime) -> None:
    """``Message.assert_can_chat`` for a person (their texts, in its order)."""
    can_moderate = race.category.can_moderate(user)
    can_monitor = race.can_monitor(user)
    running = race.status in ("pending", "in_progress")
    if not can_moderate and race.hide_entrants and not race.is_done:
        raise RaceActionError("Chat is disabled for anonymised races.")
    if not can_monitor and not race.allow_prerace_chat and race.is_preparing:
        raise RaceActionError("You do not have permission to chat prior to the race.")
    if not can_monitor and not race.allow_midrace_chat and running:
        raise RaceActionError("You do not have permission to chat during the race.")
    if (
        not can_monitor
        and not race.allow_non_entrant_chat
        and race.entrant(user) is None
        and running
    ):
        raise RaceActionError("You do not have permission to chat during the race.")
    if not can_moderate and race.chat_closed(now):
        raise RaceActionError(CHAT_CLOSED)
    if not can_moderate:
        recent = sum(
            1
            for m in race.messages
            if m.user is not None and m.user.id == user.id and m.posted_at >= now - RATE_WINDOW
        )
        if recent > RATE_LIMIT:
            raise RaceActionError("You are chatting too much. Please wait a few seconds.")


def clicked_text(message: ChatMessage, label: str, values: Mapping[str, Any] | None) -> str:
    """What clicking ``label`` on ``message`` posts as the person who clicked (``race.js``).

    ``values`` are the survey's answers by question name; a question not answered keeps its
    default (a radio button without one is left out, as the browser leaves it out). A link
    action posts nothing: ``RaceActionError``.
    """
    if message.is_dm or label not in message.actions:
        raise RaceActionError(f"The message has no action {label!r}.")
    action = message.actions[label]
    if not isinstance(action, Mapping) or "url" in action:
        raise RaceActionError(f"The action {label!r} is a link; clicking it posts nothing.")
    text = action.get("message")
    if not isinstance(text, str):
        raise RaceActionError(f"The action {label!r} has no message.")
    survey = action.get("survey")
    if not survey:
        return text
    for name, value in _form_data(survey, values or {}):
        text = _js_replace_first(text, "${" + name + "}", value)
    return text


def _form_data(survey: Any, values: Mapping[str, Any]) -> list[tuple[str, str]]:
    """jQuery's ``serializeArray`` of the survey's fields (checkboxes left out), then each
    checkbox as its name when ticked, else empty: the order ``race.js`` fills them in."""
    fields: list[tuple[str, str]] = []
    boxes: list[tuple[str, str]] = []
    for item in survey if isinstance(survey, list) else []:
        if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
            continue
        name = item["name"]
        kind = item.get("type")
        given = values.get(name)
        default = item.get("default")
        raw_options = item.get("options")
        options: Mapping[Any, Any] = raw_options if isinstance(raw_options, Mapping) else {}
        if kind == "input":
            fields.append((name, str(given if given is not None else (default or ""))))
        elif kind == "radio":
            chosen = given if given is not None else default
            if chosen is not None and str(chosen) in options:
                fields.append((name, str(chosen)))
        elif kind == "select":
            chosen = given if given is not None else default
            if chosen is None or str(chosen) not in options:
                chosen = next(iter(options), "")
            fields.append((name, str(chosen)))
        elif kind == "bool":
            ticked = bool(given) if given is not None else bool(default)
            boxes.append((name, name if ticked else ""))
    return fields + boxes


def _js_replace_first(text: str, pattern: str, value: str) -> str:
    """JavaScript's ``text.replace(pattern, value)`` with a string pattern: the first
    occurrence, and ``$$``, ``$&``, ``$``` and ``$'`` in ``value`` mean what they mean there."""
    at = text.find(pattern)
    if at < 0:
        return text
    before, after = text[:at], text[at + len(pattern) :]
    out: list[str] = []
    i = 0
    while i < len(value):
        char = value[i]
        nxt = value[i + 1] if i + 1 < len(value) else ""
        if char == "$" and nxt in ("$", "&", "`", "'"):
            out.append({"$": "$", "&": pattern, "`": before, "'": after}[nxt])
            i += 2
            continue
        out.append(char)
        i += 1
    return before + "".join(out) + after
