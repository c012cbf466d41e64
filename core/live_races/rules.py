"""Who may take part in a live race, and what its room looks like. Pure functions of rows.

A participant counts in a live race when they are an active participant of its tournament,
play its pool (a participant who joined one pool plays only that one), have not completed
that pool already (a run this very race recorded does not count against them) and have
linked a racetime.gg account. The first rule that fails is the reason given.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from core.rooms.rules import DEFAULT_GOAL, race_settings, scheduled_text
from db.models import (
    AsyncLiveRace,
    AsyncParticipant,
    AsyncPool,
    AsyncPoolRun,
    AsyncTournament,
    User,
)
from db.queries import async_tournaments as queries
from racetime.client import RaceSettings

LINK_COMMAND = "/link-racetime"
# Room settings an organizer may choose for a live race (besides ``invitational``).
CHOOSABLE = {"streaming_required"}


@dataclass(frozen=True, slots=True)
class Candidate:
    """One participant of the tournament and whether they count in the live race."""

    user: User
    participant: AsyncParticipant
    reason: str | None  # ``None``: eligible

    @property
    def eligible(self) -> bool:
        return self.reason is None


def why_not(
    race: AsyncLiveRace,
    participant: AsyncParticipant,
    user: User,
    runs: list[AsyncPoolRun],
    pools: dict[int, AsyncPool],
) -> str | None:
    """Why ``participant`` does not count in ``race`` (``None``: they do)."""
    if not participant.is_active:
        return "left the tournament"
    if (
        race.pool_id is not None
        and participant.pool_id is not None
        and participant.pool_id != race.pool_id
    ):
        return f"plays pool {pools[participant.pool_id].name} only"
    if race.pool_id is not None:
        for run in runs:
            done = run.user_id == user.id and run.pool_id == race.pool_id
            if done and run.live_race_id != race.id:
                return f"already completed pool {pools[race.pool_id].name}"
    if not user.racetime_id:
        return f"has not linked a racetime.gg account ({LINK_COMMAND})"
    return None


async def candidates(session: AsyncSession, race: AsyncLiveRace) -> list[Candidate]:
    """Every participant of the race's tournament, eligible or not, in the order they joined."""
    pools = {pool.id: pool for pool in await queries.pools_of(session, race.tournament_id)}
    runs = await queries.runs_of_tournament(session, race.tournament_id)
    return [
        # (ignored below: stored pools have their ids)
        Candidate(user, participant, why_not(race, participant, user, runs, pools))  # type: ignore[arg-type]
        for participant, user in await queries.participants_of(session, race.tournament_id)
    ]


async def eligible_users(session: AsyncSession, race: AsyncLiveRace) -> list[User]:
    return [c.user for c in await candidates(session, race) if c.eligible]


# -- the room ----------------------------------------------------------------------------------


def opens_at(race: AsyncLiveRace) -> datetime:
    return race.scheduled_at - timedelta(minutes=race.room_open_minutes_before)


def goal(race: AsyncLiveRace, tournament: AsyncTournament) -> str:
    return race.goal or tournament.goal or DEFAULT_GOAL


def room_info(race: AsyncLiveRace, tournament: AsyncTournament, pool: AsyncPool | None) -> str:
    what = f"Live race, pool {pool.name}" if pool is not None else "Live race"
    return f"{tournament.name} - {what} - Scheduled: {scheduled_text(race.scheduled_at)}"


def room_marker(live_race_id: int) -> str:
    return f"RaceDesk live race #{live_race_id}"


def is_room_of(summary_info: str | None, live_race_id: int) -> bool:
    lines = [line.strip() for line in (summary_info or "").splitlines()]
    return room_marker(live_race_id) in lines


def room_settings(
    race: AsyncLiveRace,
    tournament: AsyncTournament,
    pool: AsyncPool | None,
    category_goals: list[str] | None = None,
) -> RaceSettings:
    """The room's settings: the race's choices (``room_settings``) over the defaults."""
    assert race.id is not None
    chosen = dict(race.room_settings or {})
    return race_settings(
        goal(race, tournament), category_goals,
        invitational=bool(chosen.pop("invitational", True)),
        info_user=room_info(race, tournament, pool), info_bot=room_marker(race.id),
        **{key: value for key, value in chosen.items() if key in CHOOSABLE},
    )


def details_message(
    race: AsyncLiveRace, tournament: AsyncTournament, pool: AsyncPool | None, eligible: int
) -> str:
    what = f"pool {pool.name}" if pool is not None else "live race"
    return (
        f"{tournament.name} - {what}. Scheduled: {scheduled_text(race.scheduled_at)}. "
        f"Goal: {goal(race, tournament)}. {eligible} participant(s) invited. This race counts "
        f"as each invited participant's run of the {what}; other entrants' results do not "
        "count."
    )


def not_counted_message(name: str, tournament: str, reason: str) -> str:
    return f"{name}: your result in this race will not count for {tournament} ({reason})."
