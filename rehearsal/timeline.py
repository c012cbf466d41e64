"""The rehearsal's output: one timestamped line per thing that happens, readable as a story.

``[00:03.2] Ada        /racetime status`` — who acted or spoke, then what. Replies and
embeds are rendered as text (embeds as a boxed block), so the timeline shows what a Discord
user would have seen.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import TextIO

import discord

from core.accounts.api_tokens import TOKEN_PREFIX
from rehearsal.slash import BotMessage

WHO_WIDTH = 10
MASK = "••••••"
# An API token shown once by /api-token create: the timeline is a log, so never in it.
_API_TOKEN = re.compile(re.escape(TOKEN_PREFIX) + r"[A-Za-z0-9_-]{8,}")
_TIMESTAMP = re.compile(r"<t:(-?\d+)(?::([tTdDfFR]))?>")
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_MENTION = re.compile(r"<(@[!&]?|#)(\d+)>")  # a member's, a role's or a channel's
_UNITS = [("year", 365 * 86400), ("month", 30 * 86400), ("day", 86400), ("hour", 3600),
          ("minute", 60), ("second", 1)]


def relative(seconds: int) -> str:
    """A duration as Discord shows a relative timestamp: "in 2 days", "5 minutes ago"."""
    size = abs(seconds)
    if size < 45:
        return "in a few seconds" if seconds > 0 else "a few seconds ago"
    name, unit = next(((n, u) for n, u in _UNITS if size >= u), ("second", 1))
    count = round(size / unit)
    amount = f"{count} {name}{'s' if count != 1 else ''}"
    return f"in {amount}" if seconds > 0 else f"{amount} ago"


Names = Callable[[int], str | None]  # a Discord id to the name a reader knows it by


def full_time(moment: datetime) -> str:
    """``Saturday 5 December 2026 19:00 UTC``: how the timeline shows Discord's ``<t:…:F>``
    (RaceDesk reads it back, should someone copy it into a command)."""
    moment = moment.astimezone(UTC)
    return f"{moment:%A} {moment.day} {moment:%B %Y %H:%M} UTC"


def as_seen(text: str, names: Names | None = None, *, at: datetime | None = None) -> str:
    """Discord markup as a reader sees it: timestamps as times (UTC here), relative ones as
    seen at ``at`` (when the message was sent; default now), mentions as @names and
    #channels, no bold stars."""
    seen_at = at or datetime.now(UTC)

    def timestamp(match: re.Match[str]) -> str:
        moment = datetime.fromtimestamp(int(match.group(1)), UTC)
        if match.group(2) == "R":
            return relative(int((moment - seen_at).total_seconds()))
        return full_time(moment)

    def mention(match: re.Match[str]) -> str:
        name = names(int(match.group(2))) if names else None
        if name is None:
            return match.group(0)
        return f"#{name}" if match.group(1) == "#" else f"@{name}"

    text = _MENTION.sub(mention, _TIMESTAMP.sub(timestamp, text))
    text = _API_TOKEN.sub(TOKEN_PREFIX + MASK, text)
    return _BOLD.sub(r"\1", text)


class Timeline:
    def __init__(self, out: TextIO | None = None) -> None:
        self._out = out or sys.stdout
        self._start = time.monotonic()
        self.names: dict[int, str] = {}  # Discord ids to the names mentions show
        self.lookup: Names | None = None  # asked for ids ``names`` does not know

    def name_of(self, discord_id: int) -> str | None:
        known = self.names.get(discord_id)
        return known if known is not None or self.lookup is None else self.lookup(discord_id)

    def _stamp(self) -> str:
        elapsed = time.monotonic() - self._start
        minutes, seconds = divmod(elapsed, 60)
        return f"[{int(minutes):02d}:{seconds:04.1f}]"

    def line(
        self, who: str, text: str, more: Iterable[str] = (), *, at: datetime | None = None
    ) -> None:
        """One happening; ``more`` lines are indented under it. Relative times read as they
        did ``at`` (when a message was sent), by default now."""
        stamp = self._stamp()
        seen = as_seen(text, self.name_of, at=at)
        print(f"{stamp} {who:<{WHO_WIDTH}} {seen}", file=self._out)
        pad = " " * (len(stamp) + WHO_WIDTH + 2)
        for extra in more:
            print(f"{pad}{as_seen(extra, self.name_of, at=at)}", file=self._out)
        self._out.flush()

    def heading(self, text: str) -> None:
        print(f"\n{self._stamp()} == {text}", file=self._out)
        self._out.flush()

    def note(self, text: str) -> None:
        print(text, file=self._out)
        self._out.flush()


def embed_lines(embed: discord.Embed) -> list[str]:
    """An embed as a small box of text."""
    lines = []
    if embed.title:
        lines.append(f"┌ {embed.title}")
    if embed.description:
        lines += [f"│ {part}" for part in embed.description.splitlines()]
    for field in embed.fields:
        lines.append(f"│ {field.name}")
        lines += [f"│   {part}" for part in str(field.value).splitlines()]
    if embed.footer and embed.footer.text:
        lines.append(f"└ {embed.footer.text}")
    return lines


def reply_lines(message: BotMessage) -> tuple[str, list[str]]:
    """(first line, further lines) for one reply of the bot."""
    if message.kind == "defer":
        return "is thinking…", []
    text = message.content or ""
    first, *rest = text.splitlines() or [""]
    more = list(rest)
    for embed in message.embeds:
        more += embed_lines(embed)
    return first, more


def message_lines(message: discord.Message) -> tuple[str, list[str]]:
    """A channel post or DM the bot sent: where, and what."""
    recipient = getattr(message.channel, "recipient", None)
    where = (
        f"DM to {recipient.display_name if recipient else '?'}"
        if isinstance(message.channel, discord.DMChannel)
        else f"#{getattr(message.channel, 'name', '?')}"
    )
    first, *rest = (message.content or "").splitlines() or [""]
    more = list(rest)
    for embed in message.embeds:
        more += embed_lines(embed)
    return f"{where}: {first}".rstrip(), more
