"""Per-guild settings (a Discord guild is one organization)."""

from datetime import datetime

from sqlalchemy import BigInteger
from sqlmodel import Field, SQLModel

from db.models.base import created_at_field, updated_at_field


class GuildSettings(SQLModel, table=True):
    """Roles and channels RaceDesk uses in one guild; absent row means defaults."""

    __tablename__ = "guild_settings"

    guild_id: int = Field(
        sa_type=BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False}
    )
    organizer_role_id: int | None = Field(default=None, sa_type=BigInteger)
    moderator_role_id: int | None = Field(default=None, sa_type=BigInteger)
    announcement_channel_id: int | None = Field(default=None, sa_type=BigInteger)
    results_channel_id: int | None = Field(default=None, sa_type=BigInteger)
    notification_fallback_channel_id: int | None = Field(default=None, sa_type=BigInteger)
    # Where racetime bot alerts go (``/racetime alerts channel``).
    admin_channel_id: int | None = Field(default=None, sa_type=BigInteger)
    default_timezone: str = Field(default="UTC", max_length=64)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()
