"""Who may use a command, as a check that runs in the tree and as metadata for listings."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any, Protocol, TypeVar

import discord
from discord import app_commands

T = TypeVar("T")

AUDIENCE_KEY = "audience"


class Audience(StrEnum):
    """Listed in ``python bot.py commands`` and the README's command table."""

    EVERYONE = "everyone"
    MODERATOR = "moderators"
    ORGANIZER = "organizers"
    ADMIN = "server admins"
    OWNER = "bot owners"


def audience_of(command: app_commands.Command | app_commands.Group) -> Audience:
    node: Any = command
    while node is not None:
        value = node.extras.get(AUDIENCE_KEY)
        if value is not None:
            return Audience(value)
        node = node.parent
    return Audience.EVERYONE


def for_audience(audience: Audience) -> Callable[[T], T]:
    """Record who a command is for; checks that enforce it are added by the cogs."""

    def decorator(command: T) -> T:
        if not isinstance(command, app_commands.Command | app_commands.Group):
            raise TypeError("put @for_audience above @app_commands.command")
        command.extras[AUDIENCE_KEY] = audience.value
        return command

    return decorator


def is_guild_admin(member: discord.abc.User) -> bool:
    return isinstance(member, discord.Member) and member.guild_permissions.manage_guild


# -- organizers --------------------------------------------------------------------------------

ORGANIZERS_ONLY = (
    "Only organizers can do this: members with the Manage Server permission "
    "or the server's organizer role."
)


class OrganizerRoles(Protocol):
    """Where a server's organizer role is kept (``TournamentService``)."""

    async def organizer_role(self, guild_id: int) -> int | None: ...


class HasOrganizerRoles(Protocol):
    """A cog whose commands use :func:`organizers_only`."""

    organizer_roles: OrganizerRoles


async def is_organizer(member: discord.abc.User, roles: OrganizerRoles) -> bool:
    """Manage Server, or the server's organizer role (nobody is an organizer in DMs)."""
    if not isinstance(member, discord.Member):
        return False
    if is_guild_admin(member):
        return True
    role_id = await roles.organizer_role(member.guild.id)
    return role_id is not None and member.get_role(role_id) is not None


def organizers_only() -> Callable[[T], T]:
    """A check for commands of a cog that has ``organizer_roles`` (:class:`HasOrganizerRoles`):
    the role lives in the database, so the check asks the cog's service, not a constant."""

    async def predicate(interaction: discord.Interaction) -> bool:
        command = interaction.command
        cog = getattr(command, "binding", None)
        roles = getattr(cog, "organizer_roles", None)
        if roles is None:
            raise TypeError(f"{cog!r} has no organizer_roles for @organizers_only()")
        if await is_organizer(interaction.user, roles):
            return True
        raise app_commands.CheckFailure(ORGANIZERS_ONLY)

    return app_commands.check(predicate)


# -- moderators --------------------------------------------------------------------------------

MODERATORS_ONLY = (
    "Only moderators can do this: members with the Manage Server permission, "
    "the server's moderator role or its organizer role."
)


class ModeratorRoles(OrganizerRoles, Protocol):
    """Where a server's moderator and organizer roles are kept (``TournamentService``)."""

    async def moderator_role(self, guild_id: int) -> int | None: ...


class HasModeratorRoles(Protocol):
    """A cog whose commands use :func:`moderators_only`."""

    moderator_roles: ModeratorRoles


async def is_moderator(member: discord.abc.User, roles: ModeratorRoles) -> bool:
    """Manage Server, the server's moderator role, or (organizers can do what moderators can)
    the organizer role; nobody is a moderator in DMs."""
    if not isinstance(member, discord.Member):
        return False
    if await is_organizer(member, roles):
        return True
    role_id = await roles.moderator_role(member.guild.id)
    return role_id is not None and member.get_role(role_id) is not None


def moderators_only() -> Callable[[T], T]:
    """A check for commands of a cog that has ``moderator_roles`` (:class:`HasModeratorRoles`),
    like :func:`organizers_only`: the roles live in the database."""

    async def predicate(interaction: discord.Interaction) -> bool:
        command = interaction.command
        cog = getattr(command, "binding", None)
        roles = getattr(cog, "moderator_roles", None)
        if roles is None:
            raise TypeError(f"{cog!r} has no moderator_roles for @moderators_only()")
        if await is_moderator(interaction.user, roles):
            return True
        raise app_commands.CheckFailure(MODERATORS_ONLY)

    return app_commands.check(predicate)


class ServerOnly:
    """A cog whose commands only make sense in a server. Discord hides guild-only commands in
    DMs; a stale client that still sends one is told, whichever command it was."""

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if interaction.guild is None:
            raise app_commands.NoPrivateMessage()
        return True

