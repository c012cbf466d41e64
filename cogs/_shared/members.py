"""Several members in one slash option: a string of mentions (``@Ada @Bob``), read and checked
against the server at the boundary.

Slash commands have no "list of members" option type, and one Member option per player would
cap a match at a fixed size and fill the form with ``player1`` … ``player8``. Discord's client
offers its member picker inside a string option when ``@`` is typed, and inserts ``<@id>``.
"""

from __future__ import annotations

import re

import discord

from cogs._shared.fitting import fit_lines
from core.errors import UserFacingError

_MENTION = re.compile(r"<@!?(\d{15,20})>")
_ROLE = re.compile(r"<@&\d+>")
_HOW = "Mention each player with @, e.g. `@Ada @Bob`."
LISTED_ROOM = 1500  # the members an error names, leaving its sentence room in one message


def mentioned_ids(text: str) -> list[int]:
    """The user ids mentioned in ``text``, in order (repeats kept for the service to refuse);
    anything else in it is refused, since a name typed without @ would be silently lost."""
    if _ROLE.search(text) or "@everyone" in text or "@here" in text:
        raise UserFacingError(f"Players must be members, not roles or @everyone. {_HOW}")
    ids = [int(found) for found in _MENTION.findall(text)]
    rest = _MENTION.sub(" ", text).replace(",", " ").split()
    if rest:
        listed = ", ".join(f"`{word}`" for word in rest[:5])
        raise UserFacingError(f"{listed} is not a mention of a member. {_HOW}")
    if not ids:
        raise UserFacingError(f"No players given. {_HOW}")
    return ids


async def members_of(guild: discord.Guild, ids: list[int]) -> list[discord.Member]:
    """The members of ``guild`` with these ids (repeats kept); refuses ids that are not.

    The member cache answers when it holds everyone (members intent, guild chunked);
    otherwise Discord is asked for each member the cache does not have.
    """
    members: list[discord.Member] = []
    missing: list[int] = []
    for user_id in ids:
        member = guild.get_member(user_id)
        if member is None and not guild.chunked:
            try:
                member = await guild.fetch_member(user_id)
            except discord.NotFound:
                member = None
        if member is None:
            missing.append(user_id)
        else:
            members.append(member)
    if missing:
        listed = fit_lines([f"<@{user_id}>" for user_id in missing], LISTED_ROOM, sep=", ")
        raise UserFacingError(
            f"{listed} {'is' if len(missing) == 1 else 'are'} not a member of this server; "
            "every player must be. Invite them first, or choose someone else."
        )
    bots = [member for member in members if member.bot]
    if bots:
        listed = fit_lines([member.display_name for member in bots], LISTED_ROOM, sep=", ")
        raise UserFacingError(f"{listed} is a bot and cannot race. Mention the players.")
    return members


class GuildMemberNames:
    """The server's members by name, for an imported schedule (``core.tournaments.imports``):
    a username, display name or global name, any case. Names are looked up among the members
    Discord has sent (the members intent keeps them all); ids are asked of Discord when not."""

    def __init__(self, guild: discord.Guild) -> None:
        self._guild = guild

    async def named(self, name: str) -> list[tuple[int, str]]:
        wanted = name.casefold().removeprefix("@")
        return [
            (member.id, member.display_name) for member in self._guild.members
            if not member.bot and wanted in {
                (member.name or "").casefold(), member.display_name.casefold(),
                (member.global_name or "").casefold(),
            }
        ]

    async def display_name(self, discord_id: int) -> str | None:
        member = self._guild.get_member(discord_id)
        if member is None and not self._guild.chunked:
            try:
                member = await self._guild.fetch_member(discord_id)
            except discord.NotFound:
                member = None
        if member is None or member.bot:
            return None
        return member.display_name
