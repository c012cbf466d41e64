"""Times players propose for their own match (issue 25), and what became of each."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, BigInteger
from sqlmodel import Field, SQLModel

from db.models.base import created_at_field, datetime_field, status_check, updated_at_field


class ProposalState(StrEnum):
    """``open``: waiting for the other players; ``accepted``: all of them said yes (the time
    stands, or, when ``needs_approval``, waits for an organizer); the rest are final."""

    OPEN = "open"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"
    REPLACED = "replaced"
    APPROVED = "approved"
    REJECTED = "rejected"


class MatchProposal(SQLModel, table=True):
    """A time one player of a match proposed. Player ids are Discord ids: who the players
    are is the match's business (``match_players``), this row only remembers who said what.

    ``live_match_id`` is the match's id while the proposal is still in play (open, or accepted
    and waiting for an organizer) and NULL after: unique, so a match has at most one such
    proposal, whoever proposes at once, on either database.
    """

    __tablename__ = "match_proposals"
    __table_args__ = (status_check("state", ProposalState),)

    id: int | None = Field(default=None, primary_key=True)
    match_id: int = Field(foreign_key="matches.id", ondelete="CASCADE", index=True)
    live_match_id: int | None = Field(default=None, unique=True)
    proposer_discord_id: int = Field(sa_type=BigInteger)
    proposed_at: datetime = datetime_field(nullable=False)
    state: str = Field(default=ProposalState.OPEN.value, max_length=16)
    needs_approval: bool = Field(default=False)
    # The other players who accepted, as text (JSON readers may round big numbers).
    accepted_by: list[str] = Field(default_factory=list, sa_type=JSON, nullable=False)
    # Who ended it (declined, withdrew, approved, rejected), and why when they said.
    decided_by_discord_id: int | None = Field(default=None, sa_type=BigInteger)
    reason: str | None = Field(default=None, max_length=500)
    replaced_by: int | None = Field(default=None)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()
