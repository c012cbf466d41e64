"""Events about players' own runs of an async tournament's pool seeds (issue 26): started,
submitted, given up, and forfeit by the tournament's run limit. ``user_id`` is the acting
person's user id (the system's for a timeout); each step of one run has a stable id, so a
step recorded twice is one event."""

from __future__ import annotations

from dataclasses import dataclass

from core.events.base import Event


@dataclass(frozen=True, slots=True, kw_only=True)
class AsyncRunEvent(Event):
    """A step of run ``run_id``: ``player_discord_id`` plays seed ``seed_position`` of the
    pool, attempt ``attempt``."""

    run_id: int
    tournament_id: int
    pool_id: int
    seed_id: int
    seed_position: int
    attempt: int
    player_discord_id: int

    @property
    def partition_key(self) -> str:
        return f"async_run:{self.run_id}"

    def stable_key(self) -> str | None:
        return f"{self.kind}:{self.run_id}"

    def headline(self) -> str:
        return f"Async run #{self.run_id} changed"

    def _of(self) -> str:
        again = f" (attempt {self.attempt})" if self.attempt > 1 else ""
        return (
            f"Async run #{self.run_id} of seed {self.seed_position}{again} "
            f"by <@{self.player_discord_id}>"
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class AsyncRunStartedEvent(AsyncRunEvent):
    def headline(self) -> str:
        return f"{self._of()} started"


@dataclass(frozen=True, slots=True, kw_only=True)
class AsyncRunSubmittedEvent(AsyncRunEvent):
    finish_seconds: int  # the time the player gave
    vod_url: str

    def headline(self) -> str:
        return f"{self._of()} submitted in {_clock(self.finish_seconds)}"


@dataclass(frozen=True, slots=True, kw_only=True)
class AsyncRunForfeitedEvent(AsyncRunEvent):
    def headline(self) -> str:
        return f"{self._of()} forfeit by the player"


@dataclass(frozen=True, slots=True, kw_only=True)
class AsyncRunTimedOutEvent(AsyncRunEvent):
    limit_hours: int

    def headline(self) -> str:
        return f"{self._of()} forfeit: not submitted within {self.limit_hours} hours"


def _clock(seconds: int) -> str:
    return f"{seconds // 3600}:{seconds // 60 % 60:02}:{seconds % 60:02}"


@dataclass(frozen=True, slots=True, kw_only=True)
class AsyncRunReviewedEvent(AsyncRunEvent):
    """A reviewer (``reviewer_discord_id``, also the acting ``user_id``'s person) decided a
    submitted run, once: the stable id is the run's review."""

    reviewer_discord_id: int
    reason: str | None = None

    def stable_key(self) -> str | None:
        return f"AsyncRunReviewed:{self.run_id}"


@dataclass(frozen=True, slots=True, kw_only=True)
class AsyncRunApprovedEvent(AsyncRunReviewedEvent):
    finish_seconds: int

    def headline(self) -> str:
        return f"{self._of()} approved in {_clock(self.finish_seconds)}"


@dataclass(frozen=True, slots=True, kw_only=True)
class AsyncRunRejectedEvent(AsyncRunReviewedEvent):
    def headline(self) -> str:
        return f"{self._of()} rejected: {self.reason}"


@dataclass(frozen=True, slots=True, kw_only=True)
class AsyncRunAdjustedEvent(AsyncRunReviewedEvent):
    finish_seconds: int  # the corrected time, approved
    original_seconds: int  # the time the player gave

    def headline(self) -> str:
        return (
            f"{self._of()} approved with its time adjusted from "
            f"{_clock(self.original_seconds)} to {_clock(self.finish_seconds)}"
        )
