"""Who may use a command, as a check that runs in the tree and as metadata for listings."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any, TypeVar

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
