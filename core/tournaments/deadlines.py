"""Scheduling deadlines per round: by when a round's players must have agreed on a time.

Kept in the tournament's ``settings`` JSON under :data:`DEADLINES_KEY` (round name -> ISO 8601
UTC time), beside the settings ``TournamentSettings`` knows (which keeps other keys as they
are). Rounds are matched as people type them: any case, any spacing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

DEADLINES_KEY = "schedule_deadlines"


def round_key(round_: str) -> str:
    return " ".join(round_.split()).casefold()


def deadlines_of(settings: Mapping[str, Any] | None) -> dict[str, tuple[str, datetime]]:
    """round key -> (the round as the organizer wrote it, its deadline)."""
    stored = (settings or {}).get(DEADLINES_KEY) or {}
    found = {}
    for name, when in stored.items():
        try:
            found[round_key(name)] = (name, datetime.fromisoformat(when))
        except (TypeError, ValueError):
            continue  # a hand-edited value that is not a time: no deadline
    return found


def deadline_for(settings: Mapping[str, Any] | None, round_: str | None) -> datetime | None:
    if round_ is None:
        return None
    found = deadlines_of(settings).get(round_key(round_))
    return found[1] if found is not None else None


def with_deadline(
    settings: Mapping[str, Any] | None, round_: str, when: datetime | None
) -> dict[str, Any]:
    """A new settings object with ``round_``'s deadline set to ``when`` (``None``: removed)."""
    json = dict(settings or {})
    kept = {
        name: text for name, text in (json.get(DEADLINES_KEY) or {}).items()
        if round_key(name) != round_key(round_)
    }
    if when is not None:
        kept[round_] = when.isoformat()
    json[DEADLINES_KEY] = kept
    return json
