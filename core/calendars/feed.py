"""A VCALENDAR (RFC 5545) of matches, built with the ``icalendar`` library: pure, given the
matches and the time.

Each match is one VEVENT whose ``UID`` (``match-<id>@<host>``) never changes, so a calendar
that fetches the feed again updates the event instead of adding another; ``SEQUENCE`` counts
the event's revisions (``core.calendars.service`` keeps them) and ``LAST-MODIFIED`` says
when the last one was seen. A cancelled match stays in the feed as ``STATUS:CANCELLED``, so
calendars strike it out rather than keep a stale copy.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from icalendar import Calendar, Event, vDuration

PRODID = "-//RaceDesk//Calendar feeds//EN"
# How often a calendar should fetch the feed again (RFC 7986 REFRESH-INTERVAL, and the
# X-PUBLISHED-TTL older clients read).
REFRESH = timedelta(minutes=15)
UNLINKED = "a player not linked to racetime.gg"


@dataclass(frozen=True, slots=True)
class FeedMatch:
    """One match as a calendar shows it."""

    id: int
    tournament: str
    title: str
    starts_at: datetime
    cancelled: bool
    finished: bool
    goal: str
    players: tuple[str, ...]  # racetime names ("" for a player who has not linked)
    room_url: str | None  # once the room is open
    round: str | None = None
    # Minutes before the start its room opens by itself; None: an organizer opens it.
    room_opens_minutes_before: int | None = None

    @property
    def summary(self) -> str:
        return f"{self.tournament} · {self.title}"

    def description(self) -> str:
        lines = [f"Match #{self.id} of {self.tournament}"]
        if self.round:
            lines.append(f"Round: {self.round}")
        names = [name or UNLINKED for name in self.players]
        lines.append(f"Players: {' vs '.join(names) or 'none yet'}")
        lines.append(f"Goal: {self.goal}")
        if self.cancelled:
            lines.append("Cancelled.")
        elif self.room_url:
            lines.append(f"Race room: {self.room_url}")
        elif self.finished:
            lines.append("Finished.")
        elif self.room_opens_minutes_before is not None:
            lines.append(
                f"Race room: opens on racetime.gg {self.room_opens_minutes_before} minutes "
                "before the start; this event will link it."
            )
        else:
            lines.append("Race room: not open yet; this event will link it once it is.")
        return "\n".join(lines)

    def fingerprint(self, duration: timedelta) -> str:
        """What a calendar shows of the match: when it changes, the event is a new
        revision."""
        shown = "\x1f".join([
            self.summary, self.description(), self.starts_at.astimezone(UTC).isoformat(),
            str(duration), str(self.cancelled), self.room_url or "",
        ])
        return hashlib.sha256(shown.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Revision:
    """The event's revision number (``SEQUENCE``) and when it was made."""

    sequence: int
    changed_at: datetime


def build_calendar(
    name: str,
    matches: Sequence[tuple[FeedMatch, Revision]],
    *,
    host: str,
    now: datetime,
    duration: timedelta,
) -> bytes:
    """The feed called ``name``; every event lasts ``duration`` (a nominal length: a race
    ends when it ends)."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", name)
    calendar.add("name", name)
    calendar.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", vDuration(REFRESH))
    for match, revision in matches:
        calendar.add_component(_event(match, revision, host=host, now=now, duration=duration))
    body: bytes = calendar.to_ical()
    return body


def match_uid(match_id: int, host: str) -> str:
    return f"match-{match_id}@{host}"


def _event(
    match: FeedMatch, revision: Revision, *, host: str, now: datetime, duration: timedelta
) -> Event:
    starts = match.starts_at.astimezone(UTC)
    event = Event()
    event.add("uid", match_uid(match.id, host))
    event.add("dtstamp", now.astimezone(UTC))
    event.add("dtstart", starts)
    event.add("dtend", starts + duration)
    event.add("summary", match.summary)
    event.add("description", match.description())
    event.add("status", "CANCELLED" if match.cancelled else "CONFIRMED")
    event.add("sequence", revision.sequence)
    event.add("last-modified", revision.changed_at.astimezone(UTC))
    event.add("transp", "TRANSPARENT" if match.cancelled else "OPAQUE")
    if match.room_url and not match.cancelled:
        event.add("url", match.room_url)
        event.add("location", match.room_url)
    return event
