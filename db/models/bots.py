"""racetime.gg category bots, their health history and the guilds they serve."""

from datetime import datetime

from sqlalchemy import BigInteger, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

from db.models.base import (
    BotStatus,
    created_at_field,
    datetime_field,
    updated_at_field,
)


class RacetimeBot(SQLModel, table=True):
    """OAuth client credentials for one racetime category; ``status`` is a :class:`BotStatus`."""

    __tablename__ = "racetime_bots"

    id: int | None = Field(default=None, primary_key=True)
    category: str = Field(max_length=64, unique=True)
    display_name: str = Field(max_length=100)
    client_id: str = Field(max_length=255)
    client_secret_encrypted: bytes = Field(sa_type=LargeBinary, nullable=False)
    is_active: bool = Field(default=True)
    status: int = Field(default=int(BotStatus.UNKNOWN))
    status_message: str | None = Field(default=None, max_length=1000)
    last_connected_at: datetime | None = datetime_field()
    last_status_check_at: datetime | None = datetime_field()
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class RacetimeBotStatusHistory(SQLModel, table=True):
    """One transition of a bot's health status."""

    __tablename__ = "racetime_bot_status_history"

    id: int | None = Field(default=None, primary_key=True)
    bot_id: int = Field(foreign_key="racetime_bots.id", ondelete="CASCADE", index=True)
    old_status: int | None = Field(default=None)
    new_status: int
    status_message: str | None = Field(default=None, max_length=1000)
    changed_at: datetime = created_at_field(index=True)


class RacetimeBotGuild(SQLModel, table=True):
    """Assigns a category bot to a guild (a bot may serve several guilds and vice versa)."""

    __tablename__ = "racetime_bot_guilds"
    __table_args__ = (UniqueConstraint("bot_id", "guild_id"),)

    id: int | None = Field(default=None, primary_key=True)
    bot_id: int = Field(foreign_key="racetime_bots.id", ondelete="CASCADE")
    guild_id: int = Field(sa_type=BigInteger, index=True)
    created_at: datetime = created_at_field()


class RacetimeIncident(SQLModel, table=True):
    """A stretch of trouble of one bot or one of its rooms, alerted once when it opens and
    once when it is resolved (``core.racetime_bots.alerts``).

    ``open_key`` is the subject (``bot:3``, ``room:alttpr/cool-doge-1234``) while the incident
    is open and NULL once resolved: its unique constraint keeps one open incident per subject,
    on both backends (NULLs never collide).
    """

    __tablename__ = "racetime_incidents"

    id: int | None = Field(default=None, primary_key=True)
    bot_id: int = Field(foreign_key="racetime_bots.id", ondelete="CASCADE", index=True)
    subject: str = Field(max_length=200)
    open_key: str | None = Field(default=None, max_length=200, unique=True)
    detail: str | None = Field(default=None, max_length=1000)
    opened_at: datetime = created_at_field()
    resolved_at: datetime | None = datetime_field()


class RacetimeAlert(SQLModel, table=True):
    """One alert to send (an incident opened or was resolved): an outbox row, sent by the
    Discord side and marked ``sent_at``; each of its recipients has its own receipt."""

    __tablename__ = "racetime_alerts"
    __table_args__ = (UniqueConstraint("incident_id", "kind"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="racetime_incidents.id", ondelete="CASCADE")
    kind: str = Field(max_length=20)  # "opened" or "resolved"
    text: str = Field(max_length=2000)
    created_at: datetime = created_at_field()
    sent_at: datetime | None = datetime_field(index=True)
    attempts: int = Field(default=0)
    last_error: str | None = Field(default=None, max_length=1000)
