"""Calendar feeds (iCal): who may read which feed, by a secret URL, and what each match's
event looked like when a calendar last saw it."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Index, LargeBinary, text
from sqlmodel import Field, SQLModel

from db.models.base import created_at_field, datetime_field, status_check


class CalendarFeedKind(StrEnum):
    TOURNAMENT = "tournament"
    PLAYER = "player"


class CalendarFeed(SQLModel, table=True):
    """One secret feed URL: a tournament's (``tournament_id``) or a player's (``user_id``).

    ``token_hash`` (SHA-256, hex) is what a request is looked up by; ``token_encrypted`` keeps
    the token itself (Fernet, like the OAuth tokens) only so that its owner can be shown the
    URL again. A revoked feed keeps its row (``revoked_at``); at most one live feed per
    tournament and per player, by the partial unique indexes.
    """

    __tablename__ = "calendar_feeds"
    __table_args__ = (
        status_check("kind", CalendarFeedKind),
        Index(
            "uq_calendar_feeds_live_tournament", "tournament_id", unique=True,
            sqlite_where=text("revoked_at IS NULL AND tournament_id IS NOT NULL"),
            postgresql_where=text("revoked_at IS NULL AND tournament_id IS NOT NULL"),
        ),
        Index(
            "uq_calendar_feeds_live_user", "user_id", unique=True,
            sqlite_where=text("revoked_at IS NULL AND user_id IS NOT NULL"),
            postgresql_where=text("revoked_at IS NULL AND user_id IS NOT NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)
    guild_id: int | None = Field(default=None, sa_type=BigInteger)  # a tournament feed's
    tournament_id: int | None = Field(
        default=None, foreign_key="tournaments.id", ondelete="CASCADE"
    )
    user_id: int | None = Field(default=None, foreign_key="users.id", ondelete="CASCADE")
    token_hash: str = Field(max_length=64, unique=True)
    token_encrypted: bytes = Field(sa_type=LargeBinary)
    created_by_discord_id: int = Field(sa_type=BigInteger)
    created_at: datetime = created_at_field()
    revoked_at: datetime | None = datetime_field()


class CalendarMatchRevision(SQLModel, table=True):
    """What a match's calendar event said last (``fingerprint``) and its revision number
    (iCal ``SEQUENCE``): it goes up whenever the event changes, whatever changed the match."""

    __tablename__ = "calendar_match_revisions"

    match_id: int = Field(foreign_key="matches.id", ondelete="CASCADE", primary_key=True)
    fingerprint: str = Field(max_length=64)
    sequence: int = Field(default=0)
    changed_at: datetime = datetime_field(nullable=False)
