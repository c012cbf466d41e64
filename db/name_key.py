"""The key a name is looked up and kept unique by, ignoring case and spacing.

SQL ``lower()`` folds ASCII only on SQLite (and depends on the locale on PostgreSQL), so
"Ärger Cup" and "ärger cup" would differ there while Python says they are one name. The key
is computed here, in Python, stored beside the name (``name_key``), compared with ``=`` and
``LIKE`` and unique per server: the same answer on SQLite and PostgreSQL.
"""

from __future__ import annotations

import unicodedata

from sqlalchemy import event

KEY_MAX = 200  # casefolding can lengthen a name ("ß" -> "ss")


def name_key(name: str) -> str:
    """``name`` with its spacing collapsed, Unicode-normalised (NFKC) and casefolded."""
    spaced = " ".join(name.split())
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", spaced).casefold())


def keep_name_key(model: type) -> None:
    """Set ``model.name_key`` from ``model.name`` whenever a row is inserted or updated
    through the ORM, so no writer can forget it."""

    def set_key(_mapper: object, _connection: object, target: object) -> None:
        # (ignored below: any model with name and name_key)
        target.name_key = name_key(target.name)  # type: ignore[attr-defined]

    event.listen(model, "before_insert", set_key)
    event.listen(model, "before_update", set_key)


__all__ = ["KEY_MAX", "keep_name_key", "name_key"]
