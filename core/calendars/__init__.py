"""Calendar feeds (iCal, RFC 5545): a tournament's matches and a player's, each behind a
secret, revocable URL that calendar apps subscribe to.

Owns: the feeds' URLs (``service.CalendarFeedService``: made, shown again, reset), the
VCALENDAR they serve (``feed.build_calendar``, pure) and each match's revision number.
Uses: ``core.tournaments`` (tournaments, goals), ``core.accounts`` (token hashing),
``core.access``, ``core.audit``, ``db``. The web server (``web/routes/calendars.py``) serves
the feeds; ``/profile calendar`` and ``/tournament calendar`` hand out the URLs.
"""

from core.calendars.service import CalendarFeedService, FeedLink, RenderedFeed
from core.calendars.settings import CalendarSettings

__all__ = ["CalendarFeedService", "CalendarSettings", "FeedLink", "RenderedFeed"]
