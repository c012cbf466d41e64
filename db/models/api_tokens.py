"""Bearer tokens for the HTTP API: one server's, stored as a hash, never as the token."""

from datetime import datetime

from sqlalchemy import BigInteger
from sqlmodel import Field, SQLModel

from db.models.base import created_at_field, datetime_field


class ApiToken(SQLModel, table=True):
    """A token an organizer created for their server; ``token_hash`` is the SHA-256 of the
    token (hex). A revoked token keeps its row (``revoked_at``) for the audit trail."""

    __tablename__ = "api_tokens"

    id: int | None = Field(default=None, primary_key=True)
    guild_id: int = Field(sa_type=BigInteger, index=True)
    name: str = Field(max_length=64)
    token_hash: str = Field(max_length=64, unique=True)
    created_by_discord_id: int = Field(sa_type=BigInteger)
    created_at: datetime = created_at_field()
    last_used_at: datetime | None = datetime_field()
    revoked_at: datetime | None = datetime_field()
