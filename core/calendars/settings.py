"""Where feeds are published and how long a match lasts in a calendar."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from core.config import WebSettings

EVENT_MINUTES_DEFAULT = 120
FEED_PATH = "/calendars/{kind}/{token}.ics"


@dataclass(frozen=True, slots=True)
class CalendarSettings:
    """``public_url`` is ``[web] public_url`` (feed URLs and the events' UIDs are built from
    it); ``event_minutes`` is ``[web] calendar_event_minutes``, the nominal length of a match
    in a calendar (a race has no end time until it ends)."""

    public_url: str = "http://localhost:8080"
    event_minutes: int = EVENT_MINUTES_DEFAULT

    @classmethod
    def from_config(cls, web: WebSettings) -> CalendarSettings:
        return cls(public_url=str(web.public_url), event_minutes=web.calendar_event_minutes)

    @property
    def duration(self) -> timedelta:
        return timedelta(minutes=self.event_minutes)

    @property
    def host(self) -> str:
        """The public host: the domain of every event's UID, so UIDs stay stable."""
        return urlsplit(self.public_url).hostname or "localhost"

    def feed_url(self, kind: str, token: str) -> str:
        return self.public_url.rstrip("/") + FEED_PATH.format(kind=kind, token=token)
