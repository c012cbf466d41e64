"""The commands RaceDesk answers in a race room: their usage, help line and permission.

One table, so that ``!help`` lists what a sender may use, the guides list them all, and the
permission each asks for is the one the access policy decides on (``core.access.rules``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from core.access import Permission


class Command(StrEnum):
    HELP = "help"
    MATCH = "match"
    SEED = "seed"
    LOCK = "lock"
    UNLOCK = "unlock"
    FPA = "fpa"
    BREAKS = "breaks"


@dataclass(frozen=True, slots=True)
class CommandSpec:
    command: Command
    usage: str
    help: str
    permission: Permission
    match_rooms_only: bool = False  # live races get their seeds elsewhere


CATALOG: dict[Command, CommandSpec] = {
    spec.command: spec
    for spec in (
        CommandSpec(Command.HELP, "!help", "the commands you may use here",
                    Permission.VIEW_RACE_ROOM),
        CommandSpec(Command.MATCH, "!match",
                    "this room's match: tournament, players, time, goal",
                    Permission.VIEW_RACE_ROOM),
        CommandSpec(Command.SEED, "!seed [preset]",
                    "roll the tournament's seed (once, before the start)",
                    Permission.ROLL_SEEDS, match_rooms_only=True),
        CommandSpec(Command.LOCK, "!lock", "stop the seed from being rolled (again)",
                    Permission.LOCK_SEEDS, match_rooms_only=True),
        CommandSpec(Command.UNLOCK, "!unlock", "allow the seed to be rolled (again)",
                    Permission.LOCK_SEEDS, match_rooms_only=True),
        CommandSpec(Command.FPA, "!fpa [reason]",
                    "call the fair-play agreement; the organizers are told",
                    Permission.CALL_FPA),
        CommandSpec(Command.BREAKS, "!breaks 5m every 2h30 | !breaks off",
                    "scheduled breaks, announced in the room",
                    Permission.SET_BREAKS),
    )
}


def command_named(word: str) -> Command | None:
    """The command a typed first word (``!Seed``) names, or ``None`` (not ours: silence)."""
    try:
        return Command(word.lower())
    except ValueError:
        return None
