"""Which permission each action needs, and who holds it: the one declared table.

A :class:`Rule` says which server role (and everything above it) holds a permission in its own
server, and whether bot owners (in any server), the system (scheduled jobs) or an API token of
the server hold it too. An unknown actor holds nothing, not even what everyone may do.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum


class ServerRole(IntEnum):
    """What a person is in one server; each includes the ones below it."""

    MEMBER = 0
    MODERATOR = 1  # the server's moderator role (or above)
    ORGANIZER = 2  # the server's organizer role (or above)
    ADMIN = 3  # Manage Server or Administrator


ROLE_AUDIENCE = {
    ServerRole.MEMBER: "everyone",
    ServerRole.MODERATOR: "moderators",
    ServerRole.ORGANIZER: "organizers",
    ServerRole.ADMIN: "server admins",
}

MODERATORS_ONLY = (
    "Only moderators can do this: members with the Manage Server permission, "
    "the server's moderator role or its organizer role."
)
ORGANIZERS_ONLY = (
    "Only organizers can do this: members with the Manage Server permission "
    "or the server's organizer role."
)
ADMINS_ONLY = "Only server admins can do this: members with the Manage Server permission."
LINK_FIRST = (
    "Link your racetime.gg account to RaceDesk first: /link-racetime in the tournament's "
    "Discord server."
)
ADMINS_AND_OWNERS_ONLY = (
    "Only server admins (members with the Manage Server permission) and the bot's owners "
    "can do this."
)


@dataclass(frozen=True, slots=True)
class Rule:
    """Who holds a permission. ``server_role``: the least role that holds it in its own
    server (``None``: no server role does)."""

    server_role: ServerRole | None
    owners: bool = False  # bot owners ([discord] owner_ids), in any server
    system: bool = False  # RaceDesk's automation
    api_token: bool = False  # an API token of the server acted on
    # In a race room: the room's entrants (by their linked account), and any person RaceDesk
    # knows (a linked account), whatever their server.
    entrants: bool = False
    anyone: bool = False
    refusal: str = ""  # what a refused person is told; "" derives it from the roles

    @property
    def refusal_text(self) -> str:
        if self.refusal:
            return self.refusal
        if self.server_role is ServerRole.MODERATOR:
            return MODERATORS_ONLY
        if self.server_role is ServerRole.ORGANIZER:
            return ORGANIZERS_ONLY
        if self.server_role is ServerRole.ADMIN:
            return ADMINS_AND_OWNERS_ONLY if self.owners else ADMINS_ONLY
        if self.server_role is None and self.owners:
            return "Only the bot's owners can do this."
        return "You can't do this here."

    @property
    def audience(self) -> str:
        """Who may, as the command listing and the README say it (people only)."""
        if self.anyone:
            return "anyone with a linked racetime.gg account"
        parts = [ROLE_AUDIENCE[self.server_role]] if self.server_role is not None else []
        if self.entrants:
            parts.insert(0, "the race's entrants")
        if self.owners and self.server_role is not ServerRole.MEMBER:
            parts.append("bot owners")
        return ", ".join(parts) or "nobody"


class Permission(StrEnum):
    """Every action above what any member may do, and what any member may do (``USE``)."""

    USE = "use"
    VIEW_MATCH_ROOMS = "view match rooms"
    OPEN_ROOMS = "open rooms"
    LOOK_UP_ACCOUNTS = "look up accounts"
    MANAGE_TOURNAMENTS = "manage tournaments"
    SCHEDULE_MATCHES = "schedule matches"
    CONFIGURE_SERVER = "configure the server"
    VIEW_MEMBER_NOTIFICATIONS = "view members' notifications"
    MANAGE_API_TOKENS = "manage API tokens"
    VIEW_RACETIME_BOTS = "view racetime bots"
    VIEW_RACETIME_STATUS = "view racetime status"
    CONFIGURE_ALERTS = "configure alerts"
    SET_ROLES = "set roles"
    MANAGE_RACETIME_BOTS = "manage racetime bots"
    VIEW_EVERY_SERVER = "view every server"
    # Race-room chat commands (issue 24): asked with ``entrant=`` for the room's entrants.
    VIEW_RACE_ROOM = "see a race room's match"
    ROLL_SEEDS = "roll seeds"
    LOCK_SEEDS = "lock seeds"
    CALL_FPA = "call the fair-play agreement"
    SET_BREAKS = "set breaks"
    # Players schedule their own match (issue 25): asked with ``entrant=`` for its players.
    PROPOSE_MATCH_TIMES = "propose and answer match times"
    # Review async runs (issue 26): organizers here; the service also lets in members with
    # the async tournament's reviewer role, and never one's own run.
    REVIEW_RUNS = "review async runs"

    @property
    def rule(self) -> Rule:
        return RULES[self]

    @property
    def refusal(self) -> str:
        return self.rule.refusal_text

    @property
    def audience(self) -> str:
        return self.rule.audience


RULES: dict[Permission, Rule] = {
    # Anyone in the server: see its matches and races, join, their own settings.
    Permission.USE: Rule(ServerRole.MEMBER),
    # The state of a match's room (the API's GET; /match info shows it to members).
    Permission.VIEW_MATCH_ROOMS: Rule(ServerRole.MEMBER, api_token=True),
    # Open a match's or a live race's room: by hand, through the API, or on schedule.
    Permission.OPEN_ROOMS: Rule(ServerRole.MODERATOR, system=True, api_token=True),
    # A member's racetime.gg link with its details (/racetime whois).
    Permission.LOOK_UP_ACCOUNTS: Rule(ServerRole.MODERATOR),
    # Tournaments, their matches, async tournaments and pools, live races, and adding or
    # removing another member of an async tournament.
    Permission.MANAGE_TOURNAMENTS: Rule(ServerRole.ORGANIZER),
    # Schedule, change and cancel a tournament's matches: by hand, by importing a schedule,
    # or through the API (a scheduling sheet or bracket tool pushing its schedule).
    Permission.SCHEDULE_MATCHES: Rule(ServerRole.ORGANIZER, api_token=True),
    # The server's defaults: its timezone, and where refused DMs go.
    Permission.CONFIGURE_SERVER: Rule(ServerRole.ORGANIZER),
    # Other members' notifications, and the ones that did not arrive.
    Permission.VIEW_MEMBER_NOTIFICATIONS: Rule(ServerRole.ORGANIZER),
    # The server's HTTP API tokens: create, list (also as suggestions), revoke.
    Permission.MANAGE_API_TOKENS: Rule(ServerRole.ORGANIZER),
    # The racetime bots serving the server, and their status history.
    Permission.VIEW_RACETIME_BOTS: Rule(ServerRole.ORGANIZER, owners=True),
    # The server's racetime health: its bots by state, its rooms connected or in trouble.
    Permission.VIEW_RACETIME_STATUS: Rule(ServerRole.ADMIN, owners=True),
    # Where alerts about the server's racetime bots and rooms go.
    Permission.CONFIGURE_ALERTS: Rule(ServerRole.ADMIN, owners=True),
    # The server's organizer and moderator roles.
    Permission.SET_ROLES: Rule(ServerRole.ADMIN),
    # Add, change, start, stop and remove racetime bots; which servers each one serves.
    Permission.MANAGE_RACETIME_BOTS: Rule(
        None, owners=True, refusal="Only the bot's owners can manage racetime bots."
    ),
    # Every server's bots, rooms and health at once: an explicit choice, never a default.
    Permission.VIEW_EVERY_SERVER: Rule(
        None, owners=True,
        refusal="Only the bot's owners can see every server's racetime bots and rooms.",
    ),
    # !help and !match in a match's or live race's room: anyone RaceDesk knows.
    Permission.VIEW_RACE_ROOM: Rule(None, anyone=True, refusal=LINK_FIRST),
    # !seed (and the room's "Roll seed" button; /match seed from Discord): the race's
    # entrants before the start, and the tournament's organizers.
    Permission.ROLL_SEEDS: Rule(
        ServerRole.ORGANIZER, entrants=True,
        refusal="Only the race's entrants and the tournament's organizers can roll the seed.",
    ),
    # !lock / !unlock: whether the seed may be rolled (again).
    Permission.LOCK_SEEDS: Rule(ServerRole.ORGANIZER),
    # !fpa: an entrant invokes the fair-play agreement during the race.
    Permission.CALL_FPA: Rule(
        None, entrants=True,
        refusal="Only the race's entrants can call the fair-play agreement.",
    ),
    # !breaks: scheduled breaks announced in the room.
    Permission.SET_BREAKS: Rule(ServerRole.ORGANIZER),
    # /schedule propose and withdraw, the Accept / Decline buttons of a proposal: the match's
    # players (asked with ``entrant=``: a player of that match; to answer, one the proposal
    # asks). Not a server role: the proposal service decides who the players are.
    Permission.PROPOSE_MATCH_TIMES: Rule(
        None, entrants=True,
        refusal="Only the match's players can propose its time or answer a proposal for it.",
    ),
    # Approve, reject or adjust async runs: organizers; members with an async tournament's
    # reviewer role are let in by the review service, for that tournament only.
    Permission.REVIEW_RUNS: Rule(
        ServerRole.ORGANIZER,
        refusal="Only the async tournament's reviewers and the server's organizers can "
        "review runs.",
    ),
}
