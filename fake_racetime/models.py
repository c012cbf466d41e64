"""Plain records of the fake server: users, categories, bot apps, tokens, chat messages."""

from __future__ import annotations

import itertools
import random
import secrets
import string
from dataclasses import dataclass, field
from datetime import datetime

HASHID_ALPHABET = string.ascii_letters + string.digits

ALL_SCOPES: tuple[str, ...] = ("read", "chat_message", "race_action", "create_race")


def new_hashid(rng: random.Random | None = None) -> str:
    """A 16-character id like racetime's hashids (users, messages); ``rng`` makes it
    repeatable."""
    choose = (rng or secrets.SystemRandom()).choice
    return "".join(choose(HASHID_ALPHABET) for _ in range(16))


@dataclass
class User:
    id: str
    name: str
    discriminator: str | None = None
    twitch_channel: str | None = None
    stream_live: bool = False
    deleted: bool = False
    flair: str = ""

    @property
    def full_name(self) -> str:
        if self.discriminator is None or self.discriminator == "0000":
            return self.name
        return f"{self.name}#{self.discriminator}"

    def __str__(self) -> str:
        return self.full_name


@dataclass
class Category:
    slug: str
    name: str
    short_name: str
    goals: list[str] = field(default_factory=lambda: ["Beat the game"])
    owners: list[User] = field(default_factory=list)
    moderators: list[User] = field(default_factory=list)
    image: str | None = None
    info: str | None = None
    streaming_required: bool = False
    allow_partitionable: bool = False
    allow_hide_entrants: bool = False

    def can_moderate(self, user: User) -> bool:
        return any(u.id == user.id for u in (*self.owners, *self.moderators))


@dataclass
class BotApp:
    """An OAuth application registered as the bot of one category."""

    client_id: str
    client_secret: str
    category: str
    name: str = "TestBot"
    active: bool = True

    def __repr__(self) -> str:
        return f"BotApp(client_id={self.client_id!r}, category={self.category!r})"


@dataclass
class Token:
    value: str
    client_id: str
    scopes: tuple[str, ...]
    expires_at: datetime
    revoked: bool = False
    user_id: str | None = None  # set for a person's token (authorization-code grant)

    def __repr__(self) -> str:
        return f"Token(client_id={self.client_id!r}, scopes={self.scopes!r})"

    def valid_at(self, now: datetime) -> bool:
        return not self.revoked and now < self.expires_at


# racetime's message ids are hashids of one table's auto-increment key: ``gethistory`` sends
# the messages with a greater key than ``last_message``'s. ``seq`` is that key.
_message_seq = itertools.count(1)


@dataclass
class ChatMessage:
    """A chat message. ``is_monitor`` and ``delay`` are not stored: racetime computes them
    whenever it sends the message (``serialize.chat_message_dict``)."""

    id: str
    posted_at: datetime
    message: str
    user: User | None = None
    bot: str | None = None
    direct_to: User | None = None
    actions: dict[str, object] = field(default_factory=dict)
    pinned: bool = False
    highlight: bool = False
    is_system: bool = False
    seq: int = field(default_factory=lambda: next(_message_seq))

    @property
    def is_dm(self) -> bool:
        return self.direct_to is not None
