"""The bot websocket actions (racetime-app ``race_bot_actions.py``) with their error texts."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from fake_racetime import chat
from fake_racetime.chat import CHAT_CLOSED
from fake_racetime.models import ChatMessage, User, new_hashid
from fake_racetime.state import Race, RaceActionError

if TYPE_CHECKING:
    from fake_racetime.server import FakeRacetimeServer

MAX_ACTIONS = 4
MAX_META = 2048
MAX_INFO = 1000



@dataclass
class BotContext:
    server: FakeRacetimeServer
    race: Race
    bot_name: str
    now: datetime

    @property
    def by(self) -> str:
        return f"##bot##{self.bot_name}##"

    def user(self, data: dict[str, Any]) -> User:
        user = self.server.users.get(str(data.get("user") or ""))
        if user is None or user.deleted:
            raise RaceActionError("No user found matching the given ID.")
        return user


def _data(payload: Any) -> dict[str, Any]:
    return payload if isinstance(payload, dict) else {}


def do_message(ctx: BotContext, data: dict[str, Any]) -> None:
    """``BotMessage``: the guid first (a repeat within 300 s is dropped silently, even one
    whose first sending was refused), then ``ChatBotForm``, then a closed chat."""
    race = ctx.race
    if not chat.guid_is_new(ctx.server.guids, str(data.get("guid") or ""), ctx.now):
        return
    text = chat.check_text(data.get("message"))
    direct_to = None
    if data.get("direct_to"):
        direct_to = ctx.server.users.get(str(data["direct_to"]))
        if direct_to is None or direct_to.deleted:
            raise RaceActionError("direct_to: Unrecognised user")
    actions = data.get("actions") or {}
    if direct_to is not None:
        actions = {}  # ChatBotForm.clean_actions: none on a DM
    if not isinstance(actions, dict):
        raise RaceActionError("actions: Enter a valid JSON.")
    if len(actions) > MAX_ACTIONS:
        raise RaceActionError(f"actions: A message may only have up to {MAX_ACTIONS} actions.")
    if race.chat_closed(ctx.now):
        raise RaceActionError(CHAT_CLOSED)
    msg = ChatMessage(
        id=new_hashid(),
        posted_at=ctx.now,
        message=text,
        bot=ctx.bot_name,
        direct_to=direct_to,
        actions=dict(actions),
        pinned=False if direct_to else bool(data.get("pinned")),
    )
    race.messages.append(msg)
    race.outbox.append(("dm" if direct_to else "chat", msg))


def _find_message(race: Race, data: dict[str, Any]) -> ChatMessage:
    msg_id = data.get("message")
    for msg in race.messages:
        if msg.id == msg_id:
            return msg
    raise RaceActionError("Could not find a message with that ID.")


def do_pin(ctx: BotContext, data: dict[str, Any], pinned: bool) -> None:
    """``BotPinMessage``/``BotUnpinMessage`` and ``Message.set_pin``: nothing is sent when
    the message already is (or is not) pinned, or is a DM."""
    if ctx.race.chat_closed(ctx.now):
        raise RaceActionError("This race chat is now closed.")
    msg = _find_message(ctx.race, data)
    if msg.is_dm or msg.pinned == pinned:
        return
    msg.pinned = pinned
    ctx.race.outbox.append(("pin" if pinned else "unpin", msg))


def do_setinfo(ctx: BotContext, data: dict[str, Any]) -> None:
    if "info" in data and "info_user" not in data:
        data = {**data, "info_user": data["info"]}
    errors = []
    for key in ("info_bot", "info_user"):
        value = data.get(key)
        if value is not None and len(str(value)) > MAX_INFO:
            errors.append(
                f"{key}: Ensure this value has at most {MAX_INFO} characters "
                f"(it has {len(str(value))})."
            )
    if errors:
        raise RaceActionError(*errors)
    race = ctx.race
    if "info_bot" in data:
        race.info_bot = data["info_bot"]
    if "info_user" in data:
        race.info_user = data["info_user"]
    race.touch()
    race.post(f"{ctx.by} updated the race information.", now=ctx.now)


def do_setmeta(ctx: BotContext, data: Any) -> None:
    if not isinstance(data, dict):
        raise RaceActionError("Data provided is not valid.")
    merged = {**ctx.race.bot_meta, **data}
    if len(json.dumps(merged)) > MAX_META:
        raise RaceActionError("Data provided is too large to save.")
    ctx.race.bot_meta = merged
    ctx.race.version += 1  # racetime bumps the version but broadcasts nothing


def _active_elsewhere(ctx: BotContext, user: User) -> bool:
    return ctx.server.active_race_of(user, exclude=ctx.race) is not None


ACTIONS: dict[str, Callable[[BotContext, Any], None]] = {
    "message": lambda c, d: do_message(c, _data(d)),
    "pin_message": lambda c, d: do_pin(c, _data(d), True),
    "unpin_message": lambda c, d: do_pin(c, _data(d), False),
    "make_open": lambda c, d: c.race.make_open(c.by, c.now),
    "make_invitational": lambda c, d: c.race.make_invitational(c.by, c.now),
    "begin": lambda c, d: c.race.begin(c.now, by=c.by),
    "cancel": lambda c, d: c.race.cancel(c.now, by=c.by),
    "invite": lambda c, d: c.race.invite(
        u := c.user(_data(d)), c.by, c.now, active_elsewhere=_active_elsewhere(c, u)
    ),
    "accept_request": lambda c, d: c.race.accept_request(c.user(_data(d)), c.by, c.now),
    "force_unready": lambda c, d: c.race.force_unready(c.user(_data(d)), c.by, c.now),
    "remove_entrant": lambda c, d: c.race.remove_entrant(c.user(_data(d)), c.by, c.now),
    "add_monitor": lambda c, d: c.race.add_monitor(c.user(_data(d)), c.by, c.now),
    "remove_monitor": lambda c, d: c.race.remove_monitor(c.user(_data(d)), c.by, c.now),
    "override_stream": lambda c, d: c.race.override_stream(c.user(_data(d)), c.by, c.now),
    "setinfo": lambda c, d: do_setinfo(c, _data(d)),
    "setmeta": do_setmeta,
}
