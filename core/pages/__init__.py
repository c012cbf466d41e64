"""Public pages (issue 26): what anyone may read of a tournament its organizers made public
(``TournamentSettings.public``; an async tournament's ``"public"`` setting), without logging
in.

Owns: which tournaments are public and at which address (``slugs``), the plain-data view of a
public tournament (its live, upcoming, finished and cancelled matches, its calendar feed), of
a public async tournament (its pools, live races and leaderboards) and of a server's index of
them (``service.PublicPageService``). Uses: ``core.tournaments`` (settings),
``core.calendars`` (the tournament's feed URL), ``core.live_races`` (live races' goals, the
leaderboards' ranking), ``db``. The web server renders them (``web/routes/pages.py``, Jinja2
templates in ``web/templates/``); ``/tournament info`` and ``/async page`` show organizers the
address.
"""

from core.pages.service import PublicPageService
from core.pages.view import (
    AsyncPage,
    IndexEntry,
    PageMatch,
    PagePlayer,
    ServerIndex,
    TournamentPage,
)

__all__ = [
    "AsyncPage",
    "IndexEntry",
    "PageMatch",
    "PagePlayer",
    "PublicPageService",
    "ServerIndex",
    "TournamentPage",
]
