"""A match's Discord scheduled event: which one RaceDesk made for it (issue 25)."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger
from sqlmodel import Field, SQLModel

from db.models.base import created_at_field, status_check, updated_at_field


class DiscordEventPhase(StrEnum):
    """Where RaceDesk last left the Discord event: ``scheduled`` (or under way), then
    ``cancelled`` or ``ended``; a finished one is never edited again (Discord refuses)."""

    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"
    ENDED = "ended"


class MatchDiscordEvent(SQLModel, table=True):
    """At most one per match (``match_id`` is unique): a redelivered match event edits the
    Discord event stored here instead of creating a second one."""

    __tablename__ = "match_discord_events"
    __table_args__ = (status_check("phase", DiscordEventPhase),)

    id: int | None = Field(default=None, primary_key=True)
    match_id: int = Field(foreign_key="matches.id", ondelete="CASCADE", unique=True)
    guild_id: int = Field(sa_type=BigInteger, index=True)
    discord_event_id: int = Field(sa_type=BigInteger)
    phase: str = Field(default=DiscordEventPhase.SCHEDULED.value, max_length=16)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()
