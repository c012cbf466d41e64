"""Addresses of public pages: ``/t/<guild_id>`` (the server's index),
``/t/<guild_id>/<tournament>`` (a match tournament) and ``/t/<guild_id>/async/<tournament>``
(an async tournament: its own table, its own ids, so its own path; no match tournament's
address has two segments, so none is ever shadowed).

A tournament is reached by its id (the address shown to organizers: it never changes) or by
its slug, its name in lower case with dashes (``Winter Cup 2026`` -> ``winter-cup-2026``),
which reads better when shared. A segment of digits is always an id; ``12-winter-cup`` is
tournament 12 (the words are for people). Two public tournaments of a server with one slug:
the slug reaches the newest.
"""

from __future__ import annotations

import re
import unicodedata

PATH_PREFIX = "/t"
ASYNC_SEGMENT = "async"
SLUG_MAX = 80
_NOT_WORD = re.compile(r"[^0-9a-z]+")
_ID = re.compile(r"(\d{1,18})(?:-.*)?")


def slug_of(name: str) -> str:
    """``Winter Cup 2026`` -> ``winter-cup-2026``; accents dropped; ``""`` when nothing is left
    (a name of emoji, say: then only the id reaches it)."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return _NOT_WORD.sub("-", ascii_name.lower()).strip("-")[:SLUG_MAX].strip("-")


def id_in(segment: str) -> int | None:
    """The tournament id a path segment names, or None when it is a slug."""
    found = _ID.fullmatch(segment)
    return int(found.group(1)) if found else None


def index_path(guild_id: int) -> str:
    return f"{PATH_PREFIX}/{guild_id}"


def page_path(guild_id: int, tournament_id: int) -> str:
    return f"{PATH_PREFIX}/{guild_id}/{tournament_id}"


def async_page_path(guild_id: int, tournament_id: int) -> str:
    return f"{PATH_PREFIX}/{guild_id}/{ASYNC_SEGMENT}/{tournament_id}"
