"""Fitting what grows with data into Discord's limits (:mod:`cogs._shared.discord_limits`).

Lists are cut between their lines, never inside one: what fits is shown whole, and a last line
says how many more there are and where to see them (:func:`fit_lines`), or the list is split
into pages (:func:`page_lines`, :func:`embed_pages`, :func:`embed_groups`) that
:mod:`cogs._shared.pages` turns with buttons. Only a single line longer than the whole space
is shortened, at a word, with "…" (:func:`clip`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import accumulate

import discord

from cogs._shared.discord_limits import (
    EMBED_FIELD_NAME_MAX,
    EMBED_FIELD_VALUE_MAX,
    EMBED_FIELDS_MAX,
    EMBED_TOTAL_MAX,
    EMBEDS_PER_MESSAGE_MAX,
)

ELLIPSIS = "…"

More = Callable[[int], str]  # the line that says how many were left out, and where they are


def clip(text: str, limit: int) -> str:
    """``text`` when it fits in ``limit`` characters; else shortened at a word, with "…"."""
    if len(text) <= limit:
        return text
    cut = text[: limit - len(ELLIPSIS)]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip() + ELLIPSIS


def and_more(hint: str | None = None) -> More:
    """``… and 3 more`` (``: hint``, e.g. the command that shows them all)."""
    return lambda count: f"… and {count} more" + (f": {hint}" if hint else "")


def fit_lines(
    lines: Sequence[str], limit: int, *, more: More | None = None, sep: str = "\n"
) -> str:
    """As many of ``lines`` as fit whole in ``limit`` characters, in order, joined by ``sep``;
    when some are left out, a last line from ``more`` (count left out) says so."""
    lines = [clip(line, limit) for line in lines]
    if len(sep.join(lines)) <= limit:
        return sep.join(lines)
    tail = more or and_more()
    # lengths[k]: the first k lines joined (k separators counted, one before the tail).
    lengths = [0, *accumulate(len(line) + len(sep) for line in lines)]
    for kept in range(len(lines) - 1, -1, -1):
        last = tail(len(lines) - kept)
        if lengths[kept] + len(last) <= limit:
            return sep.join([*lines[:kept], last])
    return clip(tail(len(lines)), limit)


def page_lines(lines: Sequence[str], limit: int, *, sep: str = "\n") -> list[str]:
    """``lines`` split into pages of at most ``limit`` characters, each line whole on one
    page (a line longer than a page is shortened)."""
    pages: list[list[str]] = [[]]
    size = 0
    for line in (clip(line, limit) for line in lines):
        added = len(line) + (len(sep) if pages[-1] else 0)
        if pages[-1] and size + added > limit:
            pages.append([])
            added = len(line)
            size = 0
        pages[-1].append(line)
        size += added
    return [sep.join(page) for page in pages]


@dataclass(frozen=True, slots=True)
class Field:
    """One embed field, within Discord's limits for a field's name and value."""

    name: str
    value: str
    inline: bool = False

    @classmethod
    def of(cls, name: str, value: str, *, inline: bool = False) -> Field:
        return cls(clip(name, EMBED_FIELD_NAME_MAX), clip(value, EMBED_FIELD_VALUE_MAX), inline)

    @property
    def size(self) -> int:
        return len(self.name) + len(self.value)


def add_fields(embed: discord.Embed, fields: Sequence[Field]) -> discord.Embed:
    for field in fields:
        embed.add_field(name=field.name, value=field.value, inline=field.inline)
    return embed


def embed_pages(
    make: Callable[[], discord.Embed], fields: Sequence[Field], *,
    fields_per_page: int = EMBED_FIELDS_MAX,
) -> list[discord.Embed]:
    """``fields`` on as many embeds from ``make`` (title, description, footer: the same on
    every page) as Discord's limits of fields per embed and of an embed's size need; at least
    one embed."""
    room = EMBED_TOTAL_MAX - len(make())
    pages: list[list[Field]] = [[]]
    size = 0
    for field in fields:
        if pages[-1] and (len(pages[-1]) >= fields_per_page or size + field.size > room):
            pages.append([])
            size = 0
        pages[-1].append(field)
        size += field.size
    return [add_fields(make(), page) for page in pages]


def embed_groups(embeds: Sequence[discord.Embed]) -> list[list[discord.Embed]]:
    """``embeds`` in messages of at most :data:`EMBEDS_PER_MESSAGE_MAX` embeds and
    :data:`EMBED_TOTAL_MAX` characters in all (each embed must fit on its own)."""
    groups: list[list[discord.Embed]] = [[]]
    size = 0
    for embed in embeds:
        length = len(embed)
        if groups[-1] and (
            len(groups[-1]) >= EMBEDS_PER_MESSAGE_MAX or size + length > EMBED_TOTAL_MAX
        ):
            groups.append([])
            size = 0
        groups[-1].append(embed)
        size += length
    return groups
