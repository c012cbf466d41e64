"""Events about the times players propose for their own match (the proposal service emits
them, with the acting person's user id). Each step of one proposal has a stable id, so a step
recorded twice is one event."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.events.base import written_time
from core.events.matches import MatchEvent


@dataclass(frozen=True, slots=True, kw_only=True)
class MatchProposalEvent(MatchEvent):
    """A step of proposal ``proposal_id`` for its match's time; ``actor_discord_id`` is the
    person who took it."""

    proposal_id: int
    proposed_at: datetime
    actor_discord_id: int

    def stable_key(self) -> str | None:
        return f"{self.kind}:{self.proposal_id}"

    def headline(self) -> str:
        return (
            f"Match #{self.match_id}: proposal #{self.proposal_id} of "
            f"{written_time(self.proposed_at)} changed"
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class MatchTimeProposedEvent(MatchProposalEvent):
    """A player proposed a time; ``ask`` are the other players, who are asked to answer
    (``replaces``: the proposal this one replaced)."""

    ask: tuple[int, ...]
    replaces: int | None = None

    def headline(self) -> str:
        return (
            f"Match #{self.match_id}: time {written_time(self.proposed_at)} proposed "
            f"(proposal #{self.proposal_id})"
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class MatchProposalAcceptedEvent(MatchProposalEvent):
    """One of the other players accepted; ``complete``: every one of them has now, and
    ``needs_approval``: it waits for an organizer before it stands."""

    complete: bool
    needs_approval: bool = False

    def stable_key(self) -> str | None:
        return f"{self.kind}:{self.proposal_id}:{self.actor_discord_id}"

    def headline(self) -> str:
        done = " (everyone has)" if self.complete else ""
        return f"Match #{self.match_id}: proposal #{self.proposal_id} accepted{done}"


@dataclass(frozen=True, slots=True, kw_only=True)
class MatchProposalDeclinedEvent(MatchProposalEvent):
    proposer_discord_id: int

    def headline(self) -> str:
        return f"Match #{self.match_id}: proposal #{self.proposal_id} declined"


@dataclass(frozen=True, slots=True, kw_only=True)
class MatchProposalWithdrawnEvent(MatchProposalEvent):
    def headline(self) -> str:
        return f"Match #{self.match_id}: proposal #{self.proposal_id} withdrawn"


@dataclass(frozen=True, slots=True, kw_only=True)
class MatchProposalApprovedEvent(MatchProposalEvent):
    def headline(self) -> str:
        return f"Match #{self.match_id}: proposal #{self.proposal_id} approved by an organizer"


@dataclass(frozen=True, slots=True, kw_only=True)
class MatchProposalRejectedEvent(MatchProposalEvent):
    proposer_discord_id: int
    reason: str

    def headline(self) -> str:
        return (
            f"Match #{self.match_id}: proposal #{self.proposal_id} rejected by an organizer: "
            f"{self.reason}"
        )
