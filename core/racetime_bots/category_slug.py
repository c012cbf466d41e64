"""A racetime category as people type it: the slug from its URL, e.g. ``alttpr``.

One definition for every service (racetime bots, tournaments, async tournaments): surrounding
spaces and slashes go (``/alttpr/`` as copied from a URL path), case is folded, and anything
that cannot be a slug (a space or a slash inside, nothing at all) is refused.
"""

from __future__ import annotations

from core.errors import UserFacingError

NOT_A_SLUG = "The category is the slug from its URL, e.g. `alttpr`."


def normalise_category(category: str) -> str:
    slug = category.strip().strip("/").strip().lower()
    if not slug or "/" in slug or any(character.isspace() for character in slug):
        raise UserFacingError(NOT_A_SLUG)
    return slug
