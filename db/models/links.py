"""Pending racetime account links: one row per ``/link-racetime`` click."""

from datetime import datetime

from sqlalchemy import BigInteger
from sqlmodel import Field, SQLModel

from db.models.base import created_at_field, datetime_field


class LinkState(SQLModel, table=True):
    """The OAuth ``state`` handed to racetime, bound to the Discord user who asked.

    Only the SHA-256 of the state is stored: a leaked table cannot complete anyone's link.
    A row is used once (``used_at``) and is worthless after ``expires_at``; used and expired
    rows are kept a day, so a replayed callback can be told apart from a forged one, then
    deleted.
    """

    __tablename__ = "link_states"

    id: int | None = Field(default=None, primary_key=True)
    state_hash: str = Field(max_length=64, unique=True)
    discord_id: int = Field(sa_type=BigInteger, nullable=False, index=True)
    expires_at: datetime = datetime_field(nullable=False, index=True)
    used_at: datetime | None = datetime_field()
    created_at: datetime = created_at_field()
