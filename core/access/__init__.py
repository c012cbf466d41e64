"""Who may do what: the one access policy every way into RaceDesk asks.

Owns: who the bot owners are (``[discord] owner_ids``, and only those), what makes someone a
server admin, organizer or moderator of a server (including the server's organizer and
moderator roles, kept in ``guild_settings``), and which :class:`Permission` each action needs.

Services ask :class:`AccessPolicy` with an :class:`Actor` (plain data: a Discord id in the
three-state form of ``core.identity``, the server it acts from, its permission bits and role
ids; never a discord.py object), the server acted on, and a :class:`Permission`. Slash
commands, autocomplete, buttons, modals, the HTTP API (an API token is an actor of its
server) and scheduled jobs (the system actor) all get their answer here; the audience a
command lists and its Discord ``default_permissions`` are derived from the same rules.

May use: ``core`` (identity, errors, audit) and ``db``; never ``discord``.
"""

from core.access.actor import ADMINISTRATOR, MANAGE_GUILD, Actor
from core.access.policy import NOT_ASSIGNED_LIKE, AccessPolicy, BotNotAssignedError
from core.access.rules import Permission, Rule, ServerRole
from core.access.server_roles import ServerRoles

__all__ = [
    "ADMINISTRATOR",
    "MANAGE_GUILD",
    "NOT_ASSIGNED_LIKE",
    "AccessPolicy",
    "Actor",
    "BotNotAssignedError",
    "Permission",
    "Rule",
    "ServerRole",
    "ServerRoles",
]
