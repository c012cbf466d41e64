"""Commands, autocomplete, buttons and modals ask ``core.access``: this module turns an
interaction into an :class:`~core.access.Actor` and the policy's refusal into Discord's.

``@requires(Permission.X)`` on a command records the permission (its audience and Discord
``default_permissions`` are derived from it) and adds a check that asks the policy before the
command runs; the tree asks the same for the command's autocomplete (:func:`may_complete`).
The services ask again, so every other way in gets the same answer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol, TypeVar

import discord
from discord import app_commands

from core.access import AccessPolicy, Actor, Permission, ServerRole
from core.errors import PermissionDeniedError

T = TypeVar("T")

# A command of any cog, with any parameters and return type.
AnyCommand = app_commands.Command[Any, ..., Any]
PERMISSION_KEY = "permission"
# What Discord hides a top-level command behind when nothing under it is for everyone: server
# admins see it, and can let other roles (the organizers', the moderators') see it in Server
# Settings → Integrations → RaceDesk. The check in the command still runs either way.
HIDDEN_BEHIND = discord.Permissions(manage_guild=True)


class HasAccess(Protocol):
    """A cog whose commands use :func:`requires`: it is given the policy."""

    access: AccessPolicy


class AccessRefused(app_commands.CheckFailure):
    """The policy said no; the message says who may (the tree replies with it)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def actor_of(interaction: discord.Interaction) -> Actor:
    """Who asks: a member with their server-wide permissions and roles, or (in DMs) a user."""
    return actor_of_user(interaction.user)


def actor_of_user(user: discord.abc.User) -> Actor:
    if isinstance(user, discord.Member):
        return Actor.member(
            user.id,
            user.guild.id,
            permissions=user.guild_permissions.value,
            role_ids=(role.id for role in user.roles),
        )
    return Actor.user(user.id)


def policy_of(interaction: discord.Interaction) -> AccessPolicy:
    cog = getattr(interaction.command, "binding", None)
    access = getattr(cog, "access", None)
    if not isinstance(access, AccessPolicy):
        raise TypeError(f"{cog!r} has no access policy for @requires()")
    return access


def requires(permission: Permission) -> Callable[[T], T]:
    """The command runs only for those the policy gives ``permission`` in this server.

    Put it above ``@app_commands.command``; the cog must have ``access`` (:class:`HasAccess`).
    """

    async def predicate(interaction: discord.Interaction) -> bool:
        try:
            await policy_of(interaction).require(
                actor_of(interaction), permission, interaction.guild_id
            )
        except PermissionDeniedError as refused:
            raise AccessRefused(refused.message) from None
        return True

    def decorator(command: T) -> T:
        if not isinstance(command, app_commands.Command):
            raise TypeError("put @requires above @app_commands.command")
        command.extras[PERMISSION_KEY] = permission
        command.add_check(predicate)
        return command

    return decorator


def permission_of(command: Any) -> Permission | None:
    """The permission a command asks for (``None``: anyone in the server may run it)."""
    extras = getattr(command, "extras", None) or {}
    permission = extras.get(PERMISSION_KEY)
    return permission if isinstance(permission, Permission) else None


def audience_of(command: AnyCommand | app_commands.Group) -> str:
    """Who may run it, from its permission: ``everyone``, ``organizers``, ``bot owners``..."""
    permission = permission_of(command)
    return permission.audience if permission is not None else Permission.USE.audience


async def may_complete(interaction: discord.Interaction) -> bool:
    """Whether the actor may see suggestions for the command being typed: only those who may
    run it (suggestions show the server's data: token names, matches, tournaments)."""
    permission = permission_of(interaction.command)
    if permission is None:
        return True
    return await policy_of(interaction).allows(
        actor_of(interaction), permission, interaction.guild_id
    )


# -- Discord's default permissions ------------------------------------------------------------


def _leaves(command: AnyCommand | app_commands.Group) -> Iterable[AnyCommand]:
    if isinstance(command, app_commands.Group):
        for child in command.commands:
            yield from _leaves(child)
    else:
        yield command


def for_everyone(command: AnyCommand) -> bool:
    permission = permission_of(command)
    return permission is None or permission.rule.server_role is ServerRole.MEMBER


def default_permissions_for(
    root: AnyCommand | app_commands.Group,
) -> discord.Permissions | None:
    """What Discord hides a top-level command behind (it applies it to every subcommand):
    nothing when anything under it is for everyone, else :data:`HIDDEN_BEHIND`."""
    if any(for_everyone(leaf) for leaf in _leaves(root)):
        return None
    return HIDDEN_BEHIND


def apply_default_permissions(tree: app_commands.CommandTree) -> None:
    """Set every top-level command's ``default_permissions`` from its permissions."""
    for root in tree.get_commands():
        if isinstance(root, app_commands.Command | app_commands.Group):
            root.default_permissions = default_permissions_for(root)


def permission_names(permissions: discord.Permissions | None) -> list[str] | None:
    """``["manage_guild"]`` as ``bot.py commands --json`` lists it (``None``: everyone)."""
    if permissions is None:
        return None
    return [name for name, granted in permissions if granted]


class ServerOnly:
    """A cog whose commands only make sense in a server. Discord hides guild-only commands in
    DMs; a stale client that still sends one is told, whichever command it was."""

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if interaction.guild is None:
            raise app_commands.NoPrivateMessage()
        return True
