"""The access policy on the real database: every permission for every kind of actor, against
one table declared here (not read from the rules it checks), and the server's roles."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.access import ADMINISTRATOR, MANAGE_GUILD, AccessPolicy, Actor, Permission
from core.access.rules import RULES, ServerRole
from core.audit import AuditService
from core.errors import PermissionDeniedError
from core.identity import SYSTEM_USER_ID

GUILD, OTHER = 111_111_111_111_111_111, 222_222_222_222_222_222
ORGANIZERS, MODERATORS = 301, 302  # GUILD's roles
OTHER_ORGANIZERS = 401  # OTHER's organizer role
OWNER = 16

ACTORS = {
    "unknown": Actor.unknown(),
    "system": Actor.system(),
    "member": Actor.member(11, GUILD),
    "moderator": Actor.member(12, GUILD, role_ids=[MODERATORS]),
    "organizer": Actor.member(13, GUILD, role_ids=[ORGANIZERS]),
    "server admin": Actor.member(14, GUILD, permissions=MANAGE_GUILD),
    "administrator": Actor.member(15, GUILD, permissions=ADMINISTRATOR),
    "bot owner": Actor.member(OWNER, GUILD),
    "bot owner in DMs": Actor.user(OWNER),
    "organizer of another server": Actor.member(17, OTHER, role_ids=[OTHER_ORGANIZERS]),
    "admin of another server": Actor.member(18, OTHER, permissions=MANAGE_GUILD),
    # Another server's organizer role id means nothing here.
    "member holding another server's role id": Actor.member(19, GUILD, role_ids=[OTHER_ORGANIZERS]),
    "member in DMs": Actor.user(11),
    # Made by a bot owner: a token never has its creator's powers.
    "API token": Actor.api_token(1, GUILD, created_by=OWNER),
    "another server's API token": Actor.api_token(2, OTHER, created_by=18),
}

MEMBERS = {"member", "member holding another server's role id"}
PERSONS_HERE = MEMBERS | {"moderator", "organizer", "server admin", "administrator", "bot owner"}
ADMINS = {"server admin", "administrator"}
ORGANIZERS_HERE = ADMINS | {"organizer"}
MODERATORS_HERE = ORGANIZERS_HERE | {"moderator"}
OWNERS = {"bot owner", "bot owner in DMs"}
# Any person RaceDesk knows, in any server or none (not the system, a token or the unknown).
EVERY_PERSON = PERSONS_HERE | OWNERS | {
    "organizer of another server", "admin of another server", "member in DMs",
}

# Who holds each permission in GUILD.
MAY: dict[Permission, set[str]] = {
    Permission.USE: PERSONS_HERE,
    Permission.VIEW_MATCH_ROOMS: PERSONS_HERE | {"API token"},
    Permission.OPEN_ROOMS: MODERATORS_HERE | {"system", "API token"},
    Permission.LOOK_UP_ACCOUNTS: MODERATORS_HERE,
    Permission.MANAGE_TOURNAMENTS: ORGANIZERS_HERE,
    Permission.SCHEDULE_MATCHES: ORGANIZERS_HERE | {"API token"},
    Permission.CONFIGURE_SERVER: ORGANIZERS_HERE,
    Permission.VIEW_MEMBER_NOTIFICATIONS: ORGANIZERS_HERE,
    Permission.MANAGE_API_TOKENS: ORGANIZERS_HERE,
    Permission.VIEW_RACETIME_BOTS: ORGANIZERS_HERE | OWNERS,
    Permission.VIEW_RACETIME_STATUS: ADMINS | OWNERS,
    Permission.CONFIGURE_ALERTS: ADMINS | OWNERS,
    Permission.SET_ROLES: ADMINS,
    Permission.MANAGE_RACETIME_BOTS: OWNERS,
    Permission.VIEW_EVERY_SERVER: OWNERS,
    # In a race room, asked for someone who is not one of its entrants (see below).
    Permission.VIEW_RACE_ROOM: EVERY_PERSON,
    Permission.ROLL_SEEDS: ORGANIZERS_HERE,
    Permission.LOCK_SEEDS: ORGANIZERS_HERE,
    Permission.REVIEW_RUNS: ORGANIZERS_HERE,
    Permission.CALL_FPA: set(),
    Permission.SET_BREAKS: ORGANIZERS_HERE,
    # A match's players only (asked with entrant=: the service knows who they are).
    Permission.PROPOSE_MATCH_TIMES: set(),
}
# What the room's entrants hold besides (by their linked account, whatever their server).
ENTRANTS_MAY = {Permission.ROLL_SEEDS, Permission.CALL_FPA, Permission.PROPOSE_MATCH_TIMES}


@pytest.fixture
async def policy(db_sessionmaker: async_sessionmaker[AsyncSession]) -> AccessPolicy:
    access = AccessPolicy(db_sessionmaker, AuditService(db_sessionmaker), owner_ids=[OWNER])
    setter = Actor.server_admin(14, GUILD)
    await access.set_roles(
        setter, GUILD, {"organizer_role_id": ORGANIZERS, "moderator_role_id": MODERATORS}
    )
    other_admin = Actor.server_admin(18, OTHER)
    await access.set_roles(other_admin, OTHER, {"organizer_role_id": OTHER_ORGANIZERS})
    return access


def test_every_permission_has_one_rule_and_one_row_here() -> None:
    assert set(RULES) == set(Permission) == set(MAY)


@pytest.mark.parametrize("permission", list(Permission), ids=lambda p: p.value)
async def test_who_holds_each_permission(policy: AccessPolicy, permission: Permission) -> None:
    allowed = {
        name for name, actor in ACTORS.items()
        if await policy.allows(actor, permission, GUILD)
    }
    assert allowed == MAY[permission]
    for name, actor in ACTORS.items():
        if name in allowed:
            await policy.require(actor, permission, GUILD)
            continue
        with pytest.raises(PermissionDeniedError) as refused:
            await policy.require(actor, permission, GUILD)
        assert refused.value.message == permission.refusal


@pytest.mark.parametrize("permission", list(Permission), ids=lambda p: p.value)
async def test_an_entrant_of_the_room_holds_what_entrants_may(
    policy: AccessPolicy, permission: Permission
) -> None:
    """Being an entrant adds the entrants' permissions to a person, never to anyone else."""
    for name, actor in ACTORS.items():
        as_entrant = await policy.allows(actor, permission, GUILD, entrant=True)
        person = actor.is_person
        expected = name in MAY[permission] or (person and permission in ENTRANTS_MAY)
        assert as_entrant == expected, (name, permission)


@pytest.mark.parametrize("permission", list(Permission), ids=lambda p: p.value)
async def test_an_unknown_actor_is_refused_wherever_the_system_passes(
    policy: AccessPolicy, permission: Permission
) -> None:
    for guild_id in (GUILD, OTHER, None):
        assert not await policy.allows(Actor.unknown(), permission, guild_id)
        assert not await policy.allows(Actor.unknown(), permission, guild_id, entrant=True)
        # Unknown is None, never the system's id, whatever else it carries.
        assert not await policy.allows(Actor(None, GUILD, MANAGE_GUILD), permission, guild_id)
    assert Actor.system().discord_id == SYSTEM_USER_ID and Actor.unknown().discord_id is None


async def test_the_server_acted_on_decides_which_roles_count(policy: AccessPolicy) -> None:
    other_organizer = ACTORS["organizer of another server"]
    assert await policy.allows(other_organizer, Permission.MANAGE_TOURNAMENTS, OTHER)
    assert not await policy.allows(other_organizer, Permission.MANAGE_TOURNAMENTS, GUILD)
    assert not await policy.allows(other_organizer, Permission.USE, GUILD)
    assert await policy.server_role(other_organizer, OTHER) is ServerRole.ORGANIZER
    assert await policy.server_role(other_organizer, GUILD) is None
    token = ACTORS["API token"]
    assert await policy.allows(token, Permission.OPEN_ROOMS, GUILD)
    assert not await policy.allows(token, Permission.OPEN_ROOMS, OTHER)
    # Bot owners act in any server, even one they are not in.
    assert await policy.allows(ACTORS["bot owner"], Permission.MANAGE_RACETIME_BOTS, OTHER)


async def test_bot_owners_are_the_configured_ids_only(policy: AccessPolicy) -> None:
    assert policy.owner_ids == frozenset({OWNER})
    assert policy.is_owner(ACTORS["bot owner"])
    assert not policy.is_owner(ACTORS["API token"])  # created by the owner
    assert not policy.is_owner(ACTORS["server admin"])
    policy.owner_ids = None
    assert not await policy.allows(ACTORS["bot owner"], Permission.MANAGE_RACETIME_BOTS, GUILD)


async def test_a_cross_server_view_is_asked_for_and_for_owners_only(policy: AccessPolicy) -> None:
    owner, admin = ACTORS["bot owner"], ACTORS["server admin"]
    assert not await policy.sees_every_server(owner, every_server=False)
    assert await policy.sees_every_server(owner, every_server=True)
    assert not await policy.sees_every_server(admin, every_server=False)
    with pytest.raises(PermissionDeniedError, match="Only the bot's owners can see every"):
        await policy.sees_every_server(admin, every_server=True)


async def test_the_roles_are_set_cleared_and_audited_by_server_admins_only(
    db_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    audit = AuditService(db_sessionmaker)
    policy = AccessPolicy(db_sessionmaker, audit)
    admin = Actor.server_admin(14, GUILD)
    role = 333_333_333_333_333_333  # past 2**53: a JSON double would round it
    assert (await policy.roles(GUILD)).organizer_role_id is None
    roles = await policy.set_roles(
        admin, GUILD, {"organizer_role_id": role, "moderator_role_id": role + 7}
    )
    assert (roles.organizer_role_id, roles.moderator_role_id) == (role, role + 7)
    await policy.set_roles(admin, GUILD, {"moderator_role_id": None})
    assert (await policy.roles(GUILD)).organizer_role_id == role
    assert (await policy.roles(GUILD)).moderator_role_id is None
    assert (await policy.roles(OTHER)).organizer_role_id is None
    organizer = Actor.member(13, GUILD, role_ids=[role])
    with pytest.raises(PermissionDeniedError, match="Only server admins"):
        await policy.set_roles(organizer, GUILD, {"organizer_role_id": None})
    with pytest.raises(PermissionDeniedError):
        await policy.set_roles(Actor.server_admin(14, OTHER), GUILD, {"organizer_role_id": None})
    with pytest.raises(ValueError, match="not a server role"):
        await policy.set_roles(admin, GUILD, {"admin_channel_id": 1})
    entries = await audit.entries("tournament.roles")
    assert [(e.guild_id, e.details) for e in entries] == [
        (GUILD, {"organizer_role_id": str(role), "moderator_role_id": str(role + 7)}),
        (GUILD, {"moderator_role_id": None}),
    ]


def test_who_may_do_what_is_decided_without_discord() -> None:
    """The policy is asked with plain data, so every way in can ask it: nothing under core/,
    racetime/, web/ or db/ imports discord.py."""
    root = Path(__file__).resolve().parents[2]
    offenders = []
    for folder in ("core", "racetime", "web", "db"):
        for path in sorted((root / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom):
                    names = [node.module or ""]
                else:
                    continue
                offenders += [
                    f"{path.relative_to(root)}: {name}" for name in names
                    if name.split(".")[0] == "discord"
                ]
    assert offenders == []
