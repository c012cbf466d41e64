"""Async tournaments: pools of seeds, participants and scheduled live races."""

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Interval, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from db.models.base import (
    RaceStatus,
    created_at_field,
    datetime_field,
    status_check,
    updated_at_field,
)
from db.name_key import KEY_MAX, keep_name_key


class AsyncTournament(SQLModel, table=True):
    """An async tournament in one guild (its own table: its rules differ from live ones)."""

    __tablename__ = "async_tournaments"
    __table_args__ = (
        UniqueConstraint("guild_id", "name"),
        UniqueConstraint("guild_id", "name_key"),  # one name whatever its case
    )

    id: int | None = Field(default=None, primary_key=True)
    guild_id: int = Field(sa_type=BigInteger, index=True)
    name: str = Field(max_length=100)
    name_key: str = Field(default="", max_length=KEY_MAX)  # set from ``name`` on every write
    racetime_category: str = Field(max_length=64)
    goal: str | None = Field(default=None, max_length=200)
    is_active: bool = Field(default=True)
    # How long a player has to submit a run they started; later, it is a forfeit (issue 26).
    run_limit_hours: int = Field(default=12)
    # Members with this role review its runs (organizers always may).
    reviewer_role_id: int | None = Field(default=None, sa_type=BigInteger)
    # Its seed provider, under ``"seeds"`` (``core.seeds.settings``), rolls its pools' seeds;
    # ``"public"``: anyone may read its page on the web server (``core.pages``).
    settings: dict[str, Any] = Field(default_factory=dict, sa_type=JSON, nullable=False)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class AsyncPool(SQLModel, table=True):
    """A named pool of an async tournament."""

    __tablename__ = "async_pools"
    __table_args__ = (
        UniqueConstraint("tournament_id", "name"),
        UniqueConstraint("tournament_id", "name_key"),  # one name whatever its case
    )

    id: int | None = Field(default=None, primary_key=True)
    tournament_id: int = Field(foreign_key="async_tournaments.id", ondelete="CASCADE")
    name: str = Field(max_length=100)
    name_key: str = Field(default="", max_length=KEY_MAX)  # set from ``name`` on every write
    description: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = created_at_field()


keep_name_key(AsyncTournament)
keep_name_key(AsyncPool)


class AsyncParticipant(SQLModel, table=True):
    """A user who joined an async tournament."""

    __tablename__ = "async_participants"
    __table_args__ = (UniqueConstraint("tournament_id", "user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    tournament_id: int = Field(foreign_key="async_tournaments.id", ondelete="CASCADE")
    user_id: int = Field(foreign_key="users.id", ondelete="CASCADE", index=True)
    joined_at: datetime = created_at_field()
    # Leaving keeps the row (and the runs): a participant who comes back is active again.
    is_active: bool = Field(default=True)
    # The one pool they play; ``None``: every pool of the tournament.
    pool_id: int | None = Field(default=None, foreign_key="async_pools.id", ondelete="SET NULL")


class AsyncLiveRace(SQLModel, table=True):
    """A live race of an async tournament; ``status`` is a :class:`RaceStatus` value."""

    __tablename__ = "async_live_races"
    __table_args__ = (
        status_check("status", RaceStatus),
        Index("ix_async_live_races_status_scheduled_at", "status", "scheduled_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    tournament_id: int = Field(foreign_key="async_tournaments.id", ondelete="CASCADE", index=True)
    pool_id: int | None = Field(default=None, foreign_key="async_pools.id", ondelete="SET NULL")
    scheduled_at: datetime = datetime_field(nullable=False)
    status: str = Field(default=RaceStatus.SCHEDULED.value, max_length=16)
    room_open_minutes_before: int = Field(default=15)
    racetime_slug: str | None = Field(default=None, max_length=64)
    created_by: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    cancelled_reason: str | None = Field(default=None, max_length=500)
    goal: str | None = Field(default=None, max_length=200)
    # Room settings chosen at creation (``invitational``, ``streaming_required``, ...).
    room_settings: dict[str, Any] = Field(default_factory=dict, sa_type=JSON, nullable=False)
    # The claim on the room (``ClaimState`` values; ``None``: not claimed): set by a
    # conditional update, so one caller in one process opens it. ``room_claimed_at`` is the
    # claim's lease, renewed before every attempt.
    room_state: str | None = Field(default=None, max_length=16)
    room_claimed_at: datetime | None = datetime_field()
    # The leader lease's epoch the claim was taken or last renewed under (issue 27; None for
    # a process running alone): a claim of an older epoch is taken over at once.
    room_claim_epoch: int | None = Field(default=None, sa_type=BigInteger)
    room_error: str | None = Field(default=None, max_length=1000)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class AsyncPoolRun(SQLModel, table=True):
    """A participant's run of a pool (one per pool and user), as a live race recorded it.

    ``status`` is racetime's final entrant status (``done``, ``dnf``, ``dq``); ``event_id``
    is the race event that recorded it. A live race without a pool records runs with no pool.
    """

    __tablename__ = "async_pool_runs"
    __table_args__ = (UniqueConstraint("pool_id", "user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    pool_id: int | None = Field(
        default=None, foreign_key="async_pools.id", ondelete="CASCADE", index=True
    )
    user_id: int = Field(foreign_key="users.id", ondelete="CASCADE", index=True)
    live_race_id: int | None = Field(
        default=None, foreign_key="async_live_races.id", ondelete="SET NULL", index=True
    )
    status: str = Field(max_length=16)
    place: int | None = Field(default=None)
    finish_time: timedelta | None = Field(default=None, sa_type=Interval)
    event_id: str = Field(max_length=200)
    created_at: datetime = created_at_field()


class AsyncPoolSeed(SQLModel, table=True):
    """A seed of a pool, given by an organizer (a permalink or text), played in ``position``
    order; ``par_time`` is what a good run takes (a leaderboard's score comes from it)."""

    __tablename__ = "async_pool_seeds"
    __table_args__ = (UniqueConstraint("pool_id", "position"),)

    id: int | None = Field(default=None, primary_key=True)
    pool_id: int = Field(foreign_key="async_pools.id", ondelete="CASCADE", index=True)
    position: int
    seed: str = Field(sa_type=Text)
    par_time: timedelta | None = Field(default=None, sa_type=Interval)
    added_by_discord_id: int | None = Field(default=None, sa_type=BigInteger)
    created_at: datetime = created_at_field()


class AsyncRunStatus(StrEnum):
    """Where a player's own run of a seed is: ``started`` until submitted or forfeit (by the
    player, or by the tournament's run limit); review turns a submitted run ``approved`` or
    ``rejected``."""

    STARTED = "started"
    SUBMITTED = "submitted"
    FORFEIT = "forfeit"
    APPROVED = "approved"
    REJECTED = "rejected"


class AsyncRun(SQLModel, table=True):
    """A player's run of a pool seed on their own time (issue 26).

    Not an :class:`AsyncPoolRun`: those are live races' results, one per pool and player with
    racetime's statuses; these are one per seed and attempt, timed by the player, and go on to
    review. ``running_tournament_id`` is the tournament while the run is ``started`` and
    ``None`` after: unique with the player, so a player has one run in progress per
    tournament (NULLs never collide). ``reattempt_allowed``: an organizer lets the player
    play this seed again (a new run, ``attempt`` + 1).
    """

    __tablename__ = "async_runs"
    __table_args__ = (
        status_check("status", AsyncRunStatus),
        UniqueConstraint("seed_id", "user_id", "attempt"),
        UniqueConstraint("user_id", "running_tournament_id"),
        Index("ix_async_runs_status_deadline_at", "status", "deadline_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    tournament_id: int = Field(foreign_key="async_tournaments.id", ondelete="CASCADE", index=True)
    pool_id: int = Field(foreign_key="async_pools.id", ondelete="CASCADE")
    seed_id: int = Field(foreign_key="async_pool_seeds.id", ondelete="CASCADE")
    user_id: int = Field(foreign_key="users.id", ondelete="CASCADE", index=True)
    attempt: int = Field(default=1)
    status: str = Field(default=AsyncRunStatus.STARTED.value, max_length=16)
    running_tournament_id: int | None = Field(default=None)
    started_at: datetime = datetime_field(nullable=False)
    deadline_at: datetime = datetime_field(nullable=False)
    ended_at: datetime | None = datetime_field()  # submitted or forfeit
    finish_time: timedelta | None = Field(default=None, sa_type=Interval)
    vod_url: str | None = Field(default=None, max_length=500)
    comment: str | None = Field(default=None, max_length=500)
    forfeit_reason: str | None = Field(default=None, max_length=16)  # "player" | "timeout"
    reattempt_allowed: bool = Field(default=False)
    # Review: who decided (approved, rejected or adjusted), when and why; an adjusted run keeps
    # the time the player gave in ``original_finish_time``.
    reviewer_discord_id: int | None = Field(default=None, sa_type=BigInteger)
    reviewed_at: datetime | None = datetime_field()
    review_reason: str | None = Field(default=None, max_length=500)
    original_finish_time: timedelta | None = Field(default=None, sa_type=Interval)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()
