"""Who acts: a person (by Discord id, with their permission bits and roles in the server they
act from), the system (scheduled jobs), an API token of a server, or nobody known.

Plain data only, so the HTTP API, the scheduler and a racetime chat command can build one as
easily as a slash command can; ``cogs/_shared/permissions.py`` builds it from an interaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from core.identity import SYSTEM_USER_ID, is_authenticated_user_id, is_system_user_id

# Discord's permission bits that make a member a server admin.
ADMINISTRATOR = 1 << 3
MANAGE_GUILD = 1 << 5  # "Manage Server" in Discord's client


@dataclass(frozen=True, slots=True)
class Actor:
    """The one asking.

    ``discord_id`` is three-state (see ``core.identity``): a Discord user id, ``SYSTEM_USER_ID``
    (automation) or ``None`` (unknown). ``guild_id`` is the server the actor acts from (``None``
    in DMs); ``permissions`` and ``role_ids`` are theirs *in that server*. An API token's actor
    has ``api_token_id``, its server as ``guild_id`` and, as ``discord_id``, the organizer who
    created it (for the audit only: a token never has its creator's powers).
    """

    discord_id: int | None
    guild_id: int | None = None
    permissions: int = 0
    role_ids: frozenset[int] = field(default_factory=frozenset)
    api_token_id: int | None = None

    # -- the kinds ---------------------------------------------------------------------------

    @classmethod
    def member(
        cls,
        discord_id: int,
        guild_id: int,
        *,
        permissions: int = 0,
        role_ids: Iterable[int] = (),
    ) -> Actor:
        """A person acting in a server, with their server-wide permission bits and roles."""
        return cls(discord_id, guild_id, permissions, frozenset(role_ids))

    @classmethod
    def server_admin(cls, discord_id: int, guild_id: int) -> Actor:
        """A member with Manage Server (for scripts and tests that act as a server's admin)."""
        return cls.member(discord_id, guild_id, permissions=MANAGE_GUILD)

    @classmethod
    def user(cls, discord_id: int) -> Actor:
        """A person outside any server (in DMs): no server role anywhere."""
        return cls(discord_id)

    @classmethod
    def system(cls) -> Actor:
        """RaceDesk's own automation (the room schedulers)."""
        return cls(SYSTEM_USER_ID)

    @classmethod
    def unknown(cls) -> Actor:
        """Nobody RaceDesk knows: refused everything."""
        return cls(None)

    @classmethod
    def api_token(cls, token_id: int, guild_id: int, *, created_by: int) -> Actor:
        """An API token of ``guild_id``, created by the organizer ``created_by``."""
        return cls(created_by, guild_id, api_token_id=token_id)

    # -- what it is --------------------------------------------------------------------------

    @property
    def is_person(self) -> bool:
        """A Discord user acting themselves (not through a token, not automation)."""
        return self.api_token_id is None and is_authenticated_user_id(self.discord_id)

    @property
    def is_system(self) -> bool:
        """Automation; never true for an unknown actor (``discord_id`` None)."""
        return self.api_token_id is None and is_system_user_id(self.discord_id)

    @property
    def is_api_token(self) -> bool:
        return self.api_token_id is not None and self.guild_id is not None

    @property
    def is_unknown(self) -> bool:
        return not (self.is_person or self.is_system or self.is_api_token)
