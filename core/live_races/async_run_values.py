"""The plain values of players' own async runs and the checks on what they type: times, VOD
links, comments, and what a preview, a start board and a run show (issue 26). No database:
the service (:mod:`core.live_races.async_runs`) and the Discord side share them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.errors import UserFacingError

SEED_MAX = 1000
COMMENT_MAX = 500
VOD_MAX = 500
GRACE = timedelta(minutes=5)  # a submitted time may exceed the time since the start by this
RUN_LIMIT_MAX_HOURS = 24 * 14
_TIME = re.compile(r"^(?:(\d+):)?([0-5]?\d):([0-5]\d)$")
_URL = re.compile(r"^https?://[^\s/?#]+\.[^\s/?#]+(?:[/?#]\S*)?$", re.IGNORECASE)


def parse_duration(text: str) -> timedelta:
    """``H:MM:SS`` or ``MM:SS`` as a positive duration; a clear message otherwise."""
    found = _TIME.match(text.strip())
    if found is None:
        raise UserFacingError(
            f"`{text.strip()[:20]}` is not a time: write it as H:MM:SS (1:23:45) or MM:SS (42:10)."
        )
    hours, minutes, seconds = (int(part) if part else 0 for part in found.groups())
    duration = timedelta(hours=hours, minutes=minutes, seconds=seconds)
    if duration <= timedelta(0):
        raise UserFacingError("A time must be longer than zero.")
    return duration


def written_duration(duration: timedelta) -> str:
    seconds = int(duration.total_seconds())
    return f"{seconds // 3600}:{seconds // 60 % 60:02}:{seconds % 60:02}"


@dataclass(frozen=True, slots=True)
class SeedInfo:
    id: int
    position: int
    seed: str
    par_time: timedelta | None
    runs: int


@dataclass(frozen=True, slots=True)
class StartPreview:
    """What ``/async start`` offers: the player's next seed of the pool (not its text yet)."""

    tournament_id: int
    tournament: str
    pool: str
    seed_id: int
    position: int
    attempt: int
    seeds: int  # in the pool
    limit_hours: int


@dataclass(frozen=True, slots=True)
class StartBoard:
    """What the organizers' "Start a run" message shows: the tournament, its run limit and
    its pools (id and name, in the order they were added)."""

    tournament_id: int
    tournament: str
    limit_hours: int
    pools: tuple[tuple[int, str], ...]


@dataclass(frozen=True, slots=True)
class RunInfo:
    id: int
    tournament: str
    pool: str
    position: int
    attempt: int
    seed: str
    par_time: timedelta | None
    status: str
    started_at: datetime
    deadline_at: datetime
    finish_time: timedelta | None = None
    vod_url: str | None = None


Submission = tuple[timedelta, str, str | None]  # the time, the VOD link and the comment


def submission(time: str, vod: str, comment: str | None) -> Submission:
    """A submission's time, VOD link and comment, checked (``/async submit`` and the DM's
    form alike); a clear message for what is wrong."""
    finish = parse_duration(time)
    vod = vod.strip()
    if len(vod) > VOD_MAX or not _URL.match(vod):
        raise UserFacingError(
            "The VOD must be a link starting with https:// (or http://), e.g. "
            "https://www.twitch.tv/videos/123."
        )
    comment = (comment or "").strip() or None
    if comment is not None and len(comment) > COMMENT_MAX:
        raise UserFacingError(f"A comment can be at most {COMMENT_MAX} characters.")
    return finish, vod, comment
