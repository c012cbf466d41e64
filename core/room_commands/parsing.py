"""Reading what was typed after a command: arguments and durations (``5m``, ``2h30``)."""

from __future__ import annotations

import re
from datetime import timedelta

from core.errors import UserFacingError

_DURATION = re.compile(
    r"^(?:(?P<h>\d{1,2})h(?P<hm>\d{1,2})?)?(?:(?P<m>\d{1,4})m(?:in)?)?$", re.IGNORECASE
)


def arguments(text: str) -> list[str]:
    """The words after the command (``!seed Open`` gives ``["Open"]``)."""
    return text.split()[1:]


def rest_of(text: str) -> str:
    """Everything typed after the command, as typed (a reason, with its spaces)."""
    parts = text.strip().split(maxsplit=1)
    return parts[1].strip() if len(parts) > 1 else ""


def duration(word: str) -> timedelta:
    """``5m``, ``90m``, ``2h``, ``2h30``, ``2h30m`` as a duration; anything else is refused
    with the forms that work."""
    found = _DURATION.match(word.strip())
    if not word.strip() or found is None or not any(found.groupdict().values()):
        raise UserFacingError(
            f"“{word}” is not a duration. Write minutes or hours: 5m, 90m, 2h, 2h30."
        )
    hours = int(found["h"] or 0)
    minutes = int(found["hm"] or 0) + int(found["m"] or 0)
    if found["hm"] and found["m"]:
        raise UserFacingError(f"“{word}” is not a duration. Write 2h30 or 150m, not both.")
    return timedelta(hours=hours, minutes=minutes)
