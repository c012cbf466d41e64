"""A match's claim on its racetime room, taken before ``startrace`` is sent."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger
from sqlmodel import Field, SQLModel

from db.models.base import created_at_field, datetime_field, status_check, updated_at_field


class ClaimState(StrEnum):
    """``opening``: claimed, the room may or may not exist on racetime yet; ``opened``: the
    room is known (``slug``); ``failed``: every attempt failed (``last_error`` says why)."""

    OPENING = "opening"
    OPENED = "opened"
    FAILED = "failed"


class MatchRoomClaim(SQLModel, table=True):
    """At most one per match (``match_id`` is unique): whoever inserts it opens the room.

    A table of its own rather than a slug-less ``race_rooms`` row: the engine treats every
    ``race_rooms`` row as a room that exists on racetime, and a claim may have none yet.
    """

    __tablename__ = "match_room_claims"
    __table_args__ = (status_check("state", ClaimState),)

    id: int | None = Field(default=None, primary_key=True)
    match_id: int = Field(foreign_key="matches.id", ondelete="CASCADE", unique=True)
    state: str = Field(default=ClaimState.OPENING.value, max_length=16, index=True)
    category: str = Field(max_length=64)
    slug: str | None = Field(default=None, max_length=64)
    # The room's info text: how a room whose startrace answer was lost is recognised.
    info: str = Field(max_length=1000)
    reason: str = Field(max_length=16)  # "scheduled" or "manual"
    actor_user_id: int | None = Field(default=None)
    # The leader lease's epoch the claim was taken or last renewed under (issue 27; None for
    # a process running alone): a claim of an older epoch is taken over at once.
    leader_epoch: int | None = Field(default=None, sa_type=BigInteger)
    attempts: int = Field(default=0)
    last_error: str | None = Field(default=None, max_length=1000)
    opened_at: datetime | None = datetime_field()
    details_posted_at: datetime | None = datetime_field()
    # When the room was announced (RoomForMatchEvent), once its players were invited.
    announced_at: datetime | None = datetime_field()
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()
