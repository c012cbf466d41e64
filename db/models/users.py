"""Application users: a Discord account, optionally linked to a racetime.gg account."""

from datetime import datetime

from sqlalchemy import BigInteger, LargeBinary
from sqlmodel import Field, SQLModel

from db.models.base import created_at_field, datetime_field, updated_at_field


class User(SQLModel, table=True):
    """One Discord user; ``racetime_id`` is set once they link their racetime account.

    The OAuth tokens are Fernet ciphertext (see :class:`db.secrets.SecretBox`).
    """

    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    discord_id: int = Field(sa_type=BigInteger, unique=True, nullable=False)
    racetime_id: str | None = Field(default=None, max_length=32, unique=True)
    racetime_name: str | None = Field(default=None, max_length=100)
    access_token_encrypted: bytes | None = Field(default=None, sa_type=LargeBinary)
    refresh_token_encrypted: bytes | None = Field(default=None, sa_type=LargeBinary)
    token_expires_at: datetime | None = datetime_field()
    timezone: str | None = Field(default=None, max_length=64)
    # The bot's DM channel with this user: it never changes, and opening it again costs a
    # request against Discord's global limit (after every restart, for every player).
    discord_dm_channel_id: int | None = Field(default=None, sa_type=BigInteger)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()
