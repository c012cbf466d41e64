"""The access policy: the answer to "may this actor do this, in this server?".

Every refusal is a :class:`PermissionDeniedError` whose message says who may. The rules are
``core.access.rules``; what a person is in a server is decided here, once:

- a **bot owner** is a person whose Discord id is in ``[discord] owner_ids`` (never the
  Discord application's owner or team unless listed there);
- a **server admin** has Manage Server or Administrator in that server;
- an **organizer** is a server admin or has the server's organizer role;
- a **moderator** is an organizer or has the server's moderator role.

Roles count only in the server the person acts from: an organizer of another server is a
stranger here. The system actor holds what its rules grant it anywhere; an API token only in
its own server; an unknown actor holds nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.access.actor import ADMINISTRATOR, MANAGE_GUILD, Actor
from core.access.members import MemberDirectory, NoMembers, actor_in_server
from core.access.rules import Permission, ServerRole
from core.access.server_roles import ServerRoles, read_roles, write_roles
from core.audit import AuditService
from core.errors import PermissionDeniedError, UserFacingError
from db.queries.bot_guilds import bot_serves_guild


class AccessPolicy:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        audit: AuditService | None = None,
        *,
        owner_ids: Iterable[int] = (),
    ) -> None:
        self._sessionmaker = sessionmaker
        self._audit = audit or AuditService(sessionmaker)
        self._owner_ids = frozenset(owner_ids)
        # What people are in a server when they act from outside Discord (racetime chat);
        # the Discord side sets it once it is connected.
        self.members: MemberDirectory = NoMembers()

    # -- the bot's owners --------------------------------------------------------------------

    @property
    def owner_ids(self) -> frozenset[int]:
        """``[discord] owner_ids``: those who manage the racetime bots and get their alerts."""
        return self._owner_ids

    @owner_ids.setter
    def owner_ids(self, ids: Iterable[int] | None) -> None:
        self._owner_ids = frozenset(ids or ())

    def is_owner(self, actor: Actor) -> bool:
        return actor.is_person and actor.discord_id in self._owner_ids

    # -- what a person is in a server --------------------------------------------------------

    async def server_role(self, actor: Actor, guild_id: int | None) -> ServerRole | None:
        """The actor's role in ``guild_id``; ``None`` when it is not a person of that server."""
        if not actor.is_person or guild_id is None or actor.guild_id != guild_id:
            return None
        if actor.permissions & (MANAGE_GUILD | ADMINISTRATOR):
            return ServerRole.ADMIN
        roles = await self.roles(guild_id)
        if roles.organizer_role_id is not None and roles.organizer_role_id in actor.role_ids:
            return ServerRole.ORGANIZER
        if roles.moderator_role_id is not None and roles.moderator_role_id in actor.role_ids:
            return ServerRole.MODERATOR
        return ServerRole.MEMBER

    async def person_in_server(self, discord_id: int | None, guild_id: int | None) -> Actor:
        """The actor for a person RaceDesk knows only by Discord id (a racetime account's
        link): with their roles in ``guild_id`` if they are a member; unknown for ``None``."""
        return await actor_in_server(self.members, discord_id, guild_id)

    # -- decisions ---------------------------------------------------------------------------

    async def allows(
        self,
        actor: Actor,
        permission: Permission,
        guild_id: int | None,
        *,
        entrant: bool = False,
    ) -> bool:
        """Whether ``actor`` holds ``permission`` in the server ``guild_id``; ``entrant``: in
        a race room, the actor is one of its entrants (by their linked racetime account)."""
        rule = permission.rule
        if actor.is_unknown:
            return False
        if actor.is_system:
            return rule.system
        if actor.is_api_token:
            return rule.api_token and guild_id is not None and actor.guild_id == guild_id
        if rule.anyone or (rule.entrants and entrant):
            return True
        if rule.owners and self.is_owner(actor):
            return True
        if rule.server_role is None:
            return False
        if rule.server_role is ServerRole.MEMBER:
            # No role to look up: being a person of that server is enough.
            return guild_id is not None and actor.guild_id == guild_id
        role = await self.server_role(actor, guild_id)
        return role is not None and role >= rule.server_role

    async def require(
        self,
        actor: Actor,
        permission: Permission,
        guild_id: int | None,
        *,
        entrant: bool = False,
    ) -> None:
        """Return if ``actor`` holds ``permission`` in ``guild_id``; else raise
        :class:`PermissionDeniedError` saying who may."""
        if not await self.allows(actor, permission, guild_id, entrant=entrant):
            raise PermissionDeniedError(permission.refusal)

    async def bot_serves(self, guild_id: int, category: str) -> bool:
        """Whether the ``category`` bot is assigned to the server ``guild_id`` (``/racetime bot
        assign``): only then may the server's tournaments open rooms with it."""
        async with self._sessionmaker() as session:
            return await bot_serves_guild(session, category, guild_id)

    async def require_room_opening(
        self, actor: Actor, guild_id: int, category: str, *, change: str
    ) -> None:
        """Return if ``actor`` may open a room in ``guild_id`` with the ``category`` bot: it
        holds :data:`Permission.OPEN_ROOMS` there (the scheduler's system actor does) and the
        bot serves that server *now* (a bot unassigned since the tournament was set up opens
        nothing). Asked by every way a room is opened; ``change`` says how the organizers
        choose another category. Raises :class:`PermissionDeniedError` or
        :class:`BotNotAssignedError`."""
        await self.require(actor, Permission.OPEN_ROOMS, guild_id)
        if not await self.bot_serves(guild_id, category):
            raise BotNotAssignedError(category, change)

    async def sees_every_server(self, actor: Actor, every_server: bool) -> bool:
        """Whether a view spans every server: only when asked for, and only for bot owners
        (a refusal otherwise)."""
        if not every_server:
            return False
        await self.require(actor, Permission.VIEW_EVERY_SERVER, actor.guild_id)
        return True

    # -- the server's roles ------------------------------------------------------------------

    async def roles(self, guild_id: int) -> ServerRoles:
        async with self._sessionmaker() as session:
            return await read_roles(session, guild_id)

    async def set_roles(
        self, actor: Actor, guild_id: int, values: dict[str, int | None]
    ) -> ServerRoles:
        """Set (or with ``None`` clear) the given roles (``organizer_role_id``,
        ``moderator_role_id``), audited; returns both. Server admins only."""
        await self.require(actor, Permission.SET_ROLES, guild_id)
        if values:
            async with self._sessionmaker.begin() as session:
                await write_roles(session, guild_id, values)
                await self._audit.record(
                    session, "tournament.roles", actor_discord_id=actor.discord_id,
                    guild_id=guild_id, details={k: _text(v) for k, v in values.items()},
                )
        return await self.roles(guild_id)


NOT_ASSIGNED = "is no longer assigned to this server"
# A room error saying so, for the schedulers: they keep asking (the owner may assign it again).
NOT_ASSIGNED_LIKE = f"%{NOT_ASSIGNED}%"


class BotNotAssignedError(UserFacingError):
    """The racetime bot of a category no longer serves the server: no room is opened."""

    def __init__(self, category: str, change: str) -> None:
        super().__init__(
            f"The racetime bot for `{category}` {NOT_ASSIGNED}, so no "
            f"room can be opened with it here. Ask the bot's owner to `/racetime bot assign` "
            f"it to this server, or change the category ({change})."
        )
        self.category = category


def _text(value: int | None) -> str | None:
    """A snowflake as text in the audit's JSON, so no reader rounds it."""
    return str(value) if value is not None else None
