"""What a room accepts from its socket: a frame about this room, plausible, in known terms.

:func:`admit` takes the room's last accepted snapshot and a newly decoded one and returns the
snapshot to diff and store, or ``None`` when the frame must be ignored. It never raises.

* **Another room's frame** (its ``name`` is not the socket's room) is ignored.
* **Versions.** An older version is a stale copy and is ignored. An *equal* version is kept
  when its content differs (racetime can save two different payloads under one version, see
  racetime-protocol.md §6); the diff then reports what changed. A version more than
  :data:`MAX_VERSION_JUMP` ahead of the last one is not a real save count (racetime adds one
  per save) and is ignored, so one hostile frame cannot freeze the room by making every later
  real frame look old. Versions outside a signed 64-bit integer never get here: the decoder
  rejects them.
* **Unknown statuses** never become events. An unknown race status keeps the last known one;
  an entrant with an unknown status keeps its last known status, or is left out until it has
  a known one if it is new. Each (room, value) is reported once, through ``notes``.
* **Entrants.** A repeated user id keeps its first entry; an entrant whose user id is not a
  racetime id is treated like a deleted account (no identity). More new entrants than saves
  since the last snapshot allow (:data:`ENTRANTS_PER_VERSION` each) is not a real change
  (racetime saves once per join) and the frame is ignored.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

import msgspec

from racetime.models import ENTRANT_STATUSES, RACE_STATUSES, Entrant, Race

MAX_VERSION_JUMP: Final = 1_000_000
ENTRANTS_PER_VERSION: Final = 2
# racetime user ids are 16-character hashids; allow some slack, never unbounded text.
_USER_ID = re.compile(r"[A-Za-z0-9]{1,32}")

Note = Callable[[str, str], None]
"""``note(key, message)``: report a problem; the caller logs each key once per room."""


def admit(previous: Race | None, race: Race, room_name: str, note: Note) -> Race | None:
    """The snapshot to accept for ``race`` (maybe normalised), or ``None`` to ignore it."""
    if race.name != room_name:
        name = race.name[:100]
        note(f"name:{name}", f"a frame for another room ({name!r}) was ignored")
        return None
    if previous is not None:
        if race.version < previous.version:
            return None
        if race.version - previous.version > MAX_VERSION_JUMP:
            note(
                "version-jump",
                f"a frame jumping from version {previous.version} to {race.version} was ignored",
            )
            return None
    status = race.status
    if status.value not in RACE_STATUSES:
        note(f"race-status:{status.value[:50]}", f"unknown race status {status.value[:50]!r}")
        if previous is None:
            return None
        status = previous.status
    entrants = _known_entrants(previous, race.entrants, note)
    if previous is not None:
        added = _new_entrants(previous, entrants)
        if added > ENTRANTS_PER_VERSION * max(race.version - previous.version, 1):
            note("entrants", f"a frame adding {added} entrants was ignored")
            return None
    if status is not race.status or entrants is not race.entrants:
        race = msgspec.structs.replace(race, status=status, entrants=entrants)
    if previous is not None and race.version == previous.version and race == previous:
        return None  # the same snapshot again
    return race


def _known_entrants(previous: Race | None, entrants: list[Entrant], note: Note) -> list[Entrant]:
    """Entrants with known statuses and distinct ids; the same list when nothing changes."""
    last: dict[str, Entrant] | None = None
    result: list[Entrant] = []
    seen: set[str] = set()
    changed = False
    for entrant in entrants:
        user = entrant.user
        if user is not None and not _USER_ID.fullmatch(user.id or ""):
            bad = (user.id or "")[:40]
            note(f"user-id:{bad}", f"an entrant id {bad!r} is not a racetime id")
            entrant = msgspec.structs.replace(entrant, user=None)
            user = None
            changed = True
        if user is not None:
            if user.id in seen:
                changed = True
                continue
            seen.add(user.id)
        value = entrant.status.value
        if value not in ENTRANT_STATUSES:
            note(f"entrant-status:{value[:50]}", f"unknown entrant status {value[:50]!r}")
            changed = True
            if last is None:
                last = _by_id(previous)
            known = last.get(user.id) if user is not None else None
            if known is None:
                continue
            entrant = msgspec.structs.replace(entrant, status=known.status)
        result.append(entrant)
    return result if changed else entrants


def _by_id(race: Race | None) -> dict[str, Entrant]:
    if race is None:
        return {}
    return {e.user.id: e for e in race.entrants if e.user is not None and e.user.id}


def _new_entrants(previous: Race, entrants: list[Entrant]) -> int:
    before = {e.user.id for e in previous.entrants if e.user is not None}
    return sum(1 for e in entrants if e.user is not None and e.user.id not in before)
