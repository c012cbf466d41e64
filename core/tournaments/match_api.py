"""The HTTP API's matches: create (or update by import key), update and cancel, for an API
token of a server, with the same checks, audit and events as the slash commands.

Creating is one line of an imported schedule (``core.tournaments.imports``): the same body
twice changes nothing, and a body whose match (its ``key``, else its round and players)
already exists updates it. A match of another server is "not found", never "forbidden".
Bad input (a time without a zone, an unknown player, a title too long) is
:class:`BadRequestError`; what the match's state refuses (cancelled, its room open) stays a
plain :class:`UserFacingError`, a conflict.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from core.access import Actor
from core.errors import NotFoundError, UserFacingError
from core.tournaments.imports import (
    Outcome,
    PlannedLine,
    ScheduleImports,
    ScheduleLine,
    read_time,
)
from core.tournaments.match_info import MatchInfo
from core.tournaments.matches import MatchService, clean_round, clean_title
from core.tournaments.tournaments import UNSET, _Unset, clean_goal


class BadRequestError(UserFacingError):
    """The request itself is wrong; ``field`` names the part of it."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class MatchChange:
    """What a call did to a match: ``outcome`` is created, updated or unchanged."""

    match: MatchInfo
    outcome: str
    changed: tuple[str, ...] = ()


def not_found(match_id: int) -> NotFoundError:
    return NotFoundError(
        f"There is no match #{match_id} in the server of this API token; use the id of one "
        "of its matches."
    )


class MatchApiService:
    def __init__(self, matches: MatchService, imports: ScheduleImports) -> None:
        self._matches = matches
        self._imports = imports

    async def create(
        self,
        actor: Actor,
        *,
        tournament: str,
        round: str,
        players: Sequence[str],
        when: str,
        title: str | None = None,
        goal: str | None = None,
        key: str | None = None,
    ) -> MatchChange:
        """Schedule a match of the token's server, or update the one with the same key."""
        guild_id = _guild(actor)
        line = ScheduleLine(
            line=1, round=round, players=tuple(players), when=when, title=title, goal=goal,
            key=key, tournament=tournament,
        )
        plan = await self._imports.plan(guild_id, [line], actor=actor)
        planned = plan.lines[0]
        if planned.outcome is Outcome.REFUSED:
            raise _refusal(planned)
        done = await self._imports.apply_line(guild_id, planned, actor=actor)
        if done.outcome is Outcome.REFUSED:
            raise UserFacingError(done.why or "The match could not be scheduled.")
        assert done.match_id is not None
        match = await self._matches.info(guild_id, done.match_id)
        outcome = {Outcome.CREATE: "created", Outcome.UPDATE: "updated"}.get(
            done.outcome, "unchanged"
        )
        return MatchChange(match, outcome)

    async def update(
        self,
        actor: Actor,
        match_id: int,
        *,
        when: str | None = None,
        title: str | None = None,
        goal: str | _Unset | None = UNSET,
        round: str | _Unset | None = UNSET,
    ) -> MatchChange:
        """Change the time, title, goal or round of the token's server's match."""
        guild_id = _guild(actor)
        changes: dict[str, Any] = {}
        with _about("when"):
            if when is not None:
                changes["when"] = read_time(when, self._matches.now())
        with _about("title"):
            if title is not None:
                changes["title"] = clean_title(title)
        with _about("goal"):
            if not isinstance(goal, _Unset):
                changes["goal"] = clean_goal(goal)
        with _about("round"):
            if not isinstance(round, _Unset):
                changes["round"] = clean_round(round)
        if not changes:
            raise BadRequestError("Give at least one of `when`, `title`, `goal`, `round`.")
        try:
            info, changed = await self._matches.update(
                guild_id, match_id, actor=actor, **changes
            )
        except NotFoundError:
            raise not_found(match_id) from None
        return MatchChange(info, "updated" if changed else "unchanged", changed)

    async def cancel(self, actor: Actor, match_id: int, reason: str) -> MatchChange:
        guild_id = _guild(actor)
        try:
            info = await self._matches.cancel(guild_id, match_id, reason, actor=actor)
        except NotFoundError:
            raise not_found(match_id) from None
        return MatchChange(info, "cancelled")


def _guild(actor: Actor) -> int:
    assert actor.guild_id is not None, "an API token acts in its server"
    return actor.guild_id


def _refusal(planned: PlannedLine) -> UserFacingError:
    """A line the plan refused: its match's state (a conflict), else the request (bad)."""
    why = planned.why or "The match was refused."
    if planned.match_id is not None:
        return UserFacingError(why)
    return BadRequestError(why)


@contextmanager
def _about(field: str) -> Iterator[None]:
    """Turn a refusal of one field's value into a :class:`BadRequestError` naming it."""
    try:
        yield
    except UserFacingError as error:
        raise BadRequestError(f"{field}: {error.message}", field=field) from error
