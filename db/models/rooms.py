"""racetime.gg race rooms RaceDesk watches."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from db.models.base import created_at_field, updated_at_field


class RaceRoom(SQLModel, table=True):
    """One racetime room, its link to a match or live race, and the last state we saw.

    ``is_active`` is derivable from ``last_status`` but stored (and indexed) so that the
    "rooms to reconnect after a restart" query is one index scan. ``last_race_data`` is the
    last full race snapshot, so change detection survives a restart; ``last_chat_message_id``
    is where its chat was read up to, committed with the commands it held.
    """

    __tablename__ = "race_rooms"
    __table_args__ = (
        UniqueConstraint("category", "slug"),
        Index("ix_race_rooms_is_active_category", "is_active", "category"),
    )

    id: int | None = Field(default=None, primary_key=True)
    category: str = Field(max_length=64)
    slug: str = Field(max_length=64)
    # One match has at most one room, whoever asks and however often.
    match_id: int | None = Field(
        default=None, foreign_key="matches.id", ondelete="SET NULL", unique=True
    )
    live_race_id: int | None = Field(
        default=None, foreign_key="async_live_races.id", ondelete="SET NULL", unique=True
    )
    last_status: str | None = Field(default=None, max_length=32)
    # racetime versions are counted in 64 bits (and validated to fit before they get here).
    last_version: int = Field(default=0, sa_type=BigInteger)
    opened_by_us: bool = Field(default=False)
    is_active: bool = Field(default=True)
    last_race_data: dict[str, Any] | None = Field(default=None, sa_type=JSON(none_as_null=True))
    # The id (a racetime hashid) of the last chat message handled: after a reconnect the
    # room asks racetime for the messages after it (``gethistory``).
    last_chat_message_id: str | None = Field(default=None, max_length=64)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()

    @property
    def name(self) -> str:
        """The racetime room name, ``category/slug``."""
        return f"{self.category}/{self.slug}"
