"""Tournaments, their matches and the players in each match."""

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Interval, UniqueConstraint
from sqlmodel import Field, SQLModel

from db.models.base import (
    PlayerStatus,
    RaceStatus,
    created_at_field,
    datetime_field,
    status_check,
    updated_at_field,
)
from db.name_key import KEY_MAX, keep_name_key


class Tournament(SQLModel, table=True):
    """A tournament in one guild; ``settings`` holds racetime room defaults (JSON object)."""

    __tablename__ = "tournaments"
    __table_args__ = (
        UniqueConstraint("guild_id", "name"),
        # Names are one name whatever their case (``db.name_key``): unique by their key.
        UniqueConstraint("guild_id", "name_key"),
    )

    id: int | None = Field(default=None, primary_key=True)
    guild_id: int = Field(sa_type=BigInteger, index=True)
    name: str = Field(max_length=100)
    name_key: str = Field(default="", max_length=KEY_MAX)  # set from ``name`` on every write
    racetime_category: str = Field(max_length=64)
    racetime_goal: str | None = Field(default=None, max_length=200)
    is_async: bool = Field(default=False)
    is_active: bool = Field(default=True)
    settings: dict[str, Any] = Field(default_factory=dict, sa_type=JSON, nullable=False)
    created_by: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


keep_name_key(Tournament)


class Match(SQLModel, table=True):
    """A scheduled race of a tournament; ``status`` is a :class:`RaceStatus` value."""

    __tablename__ = "matches"
    __table_args__ = (
        status_check("status", RaceStatus),
        # One match per line of an imported schedule (``core.tournaments.imports``).
        UniqueConstraint("tournament_id", "import_key"),
        # The scheduler's "rooms due to open" query.
        Index("ix_matches_status_scheduled_at", "status", "scheduled_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    tournament_id: int = Field(foreign_key="tournaments.id", ondelete="CASCADE", index=True)
    title: str = Field(max_length=200)
    # The round it belongs to ("Round 1", "Top 8"): deadlines and imports go by it.
    round: str | None = Field(default=None, max_length=100)
    # Which line of an imported schedule (CSV or HTTP API) made it: ``key:…`` (the file's
    # key column) or ``players:…`` (its round and players); None when scheduled by hand.
    import_key: str | None = Field(default=None, max_length=200)
    scheduled_at: datetime | None = datetime_field()
    status: str = Field(default=RaceStatus.SCHEDULED.value, max_length=16)
    room_open_minutes_before: int = Field(default=30)
    # Per-match overrides; None means the default (tournament goal, invitational, auto-create).
    goal: str | None = Field(default=None, max_length=200)
    invitational: bool | None = Field(default=None)
    auto_create_room: bool | None = Field(default=None)
    # Why the room could not be opened after every retry (for announcements and /match info).
    room_error: str | None = Field(default=None, max_length=1000)
    created_by: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class MatchPlayer(SQLModel, table=True):
    """A user in a match with their result.

    ``finish_time`` is a :class:`~datetime.timedelta` (``INTERVAL`` on PostgreSQL, stored as
    an epoch-offset datetime on SQLite by SQLAlchemy): exact to the microsecond, like
    racetime's ISO 8601 durations, and directly comparable. ``None`` until they finish.
    ``status`` is a :class:`PlayerStatus` value, kept free-form because racetime may add some.
    """

    __tablename__ = "match_players"
    __table_args__ = (UniqueConstraint("match_id", "user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    match_id: int = Field(foreign_key="matches.id", ondelete="CASCADE")
    user_id: int = Field(foreign_key="users.id", ondelete="CASCADE", index=True)
    place: int | None = Field(default=None)
    finish_time: timedelta | None = Field(default=None, sa_type=Interval)
    status: str = Field(default=PlayerStatus.REGISTERED.value, max_length=32)
    # Why racetime refused to invite them to the match's room (None: invited, or not tried).
    invite_error: str | None = Field(default=None, max_length=1000)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()
