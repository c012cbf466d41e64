"""What race-room chat commands keep: a room's seed, fair-play calls, scheduled breaks."""

from datetime import datetime

from sqlalchemy import BigInteger, UniqueConstraint
from sqlmodel import Field, SQLModel

from db.models.base import created_at_field, datetime_field, updated_at_field


class RoomSeed(SQLModel, table=True):
    """The seed of one race room (one row per room: the seed is rolled once per room).

    ``rolling_since`` is set while a roll is under way: it is the claim that keeps two rolls
    of one room from running at once (a room's ``!seed`` and an organizer's ``/match seed``).
    A claim older than the provider's time limit belongs to a process that stopped mid-roll
    and may be taken over. ``locked`` stops a roll; a successful roll locks the room (an
    organizer's ``!unlock`` allows a re-roll). ``rolls`` counts the seeds rolled in the room.
    """

    __tablename__ = "room_seeds"
    __table_args__ = (UniqueConstraint("category", "slug"),)

    id: int | None = Field(default=None, primary_key=True)
    category: str = Field(max_length=64)
    slug: str = Field(max_length=64)
    match_id: int | None = Field(
        default=None, foreign_key="matches.id", ondelete="SET NULL", index=True
    )
    live_race_id: int | None = Field(
        default=None, foreign_key="async_live_races.id", ondelete="SET NULL"
    )
    preset: str | None = Field(default=None, max_length=100)
    url: str | None = Field(default=None, max_length=500)
    text: str | None = Field(default=None, max_length=1000)
    code: str | None = Field(default=None, max_length=200)
    rolls: int = Field(default=0)
    locked: bool = Field(default=False)
    rolling_since: datetime | None = datetime_field()
    rolling_request: str | None = Field(default=None, max_length=255)
    rolled_by_discord_id: int | None = Field(default=None, sa_type=BigInteger)
    rolled_at: datetime | None = datetime_field()
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class FpaCall(SQLModel, table=True):
    """An entrant invoked the fair-play agreement (``!fpa``); the match is under review until
    an organizer clears it. ``request_id`` is the chat command's event id (once per message)."""

    __tablename__ = "fpa_calls"

    id: int | None = Field(default=None, primary_key=True)
    request_id: str = Field(max_length=255, unique=True)
    category: str = Field(max_length=64)
    slug: str = Field(max_length=64)
    match_id: int | None = Field(
        default=None, foreign_key="matches.id", ondelete="CASCADE", index=True
    )
    live_race_id: int | None = Field(
        default=None, foreign_key="async_live_races.id", ondelete="CASCADE", index=True
    )
    racetime_user_id: str = Field(max_length=64)
    racetime_user_name: str | None = Field(default=None, max_length=100)
    caller_discord_id: int | None = Field(default=None, sa_type=BigInteger)
    reason: str | None = Field(default=None, max_length=500)
    race_time_seconds: float | None = Field(default=None)
    called_at: datetime = datetime_field(nullable=False)
    cleared_at: datetime | None = datetime_field()
    cleared_by_discord_id: int | None = Field(default=None, sa_type=BigInteger)


class RoomBreaks(SQLModel, table=True):
    """Scheduled breaks of one race room (``!breaks 5m every 2h30``).

    ``announced`` counts the announcements already posted (warning, start and end of each
    break, in order), so a restart goes on with the next one and never repeats one.
    """

    __tablename__ = "room_breaks"
    __table_args__ = (UniqueConstraint("category", "slug"),)

    id: int | None = Field(default=None, primary_key=True)
    category: str = Field(max_length=64)
    slug: str = Field(max_length=64)
    duration_seconds: int
    every_seconds: int
    active: bool = Field(default=True, index=True)
    announced: int = Field(default=0)
    set_by_discord_id: int | None = Field(default=None, sa_type=BigInteger)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()
