"""What every seed provider promises: roll a preset, give back what players are shown."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from core.errors import UserFacingError

# What players are shown fits one racetime chat message (1000 characters) with room to spare
# for the words around it, and a Discord message.
SEED_TEXT_MAX = 500


@dataclass(frozen=True, slots=True)
class RolledSeed:
    """One rolled seed. ``text`` is what players are shown, e.g.
    ``https://alttpr.com/h/abc123 (code: Bow/Bombs/Hookshot/Boots/Lamp)``."""

    preset: str
    url: str | None
    text: str
    code: str | None = None  # ALTTPR's file-select hash, e.g. "Bow/Bombs/Hookshot/Boots/Lamp"
    spoiler_url: str | None = None  # where the spoiler log is readable, when the seed has one


class SeedProviderError(UserFacingError):
    """No seed was rolled; the message is for a racer reading the room's chat (no secret, no
    traceback) and says whether trying again may help."""


class SeedProvider(Protocol):
    async def roll(self, preset: str) -> RolledSeed:
        """Roll one seed of ``preset`` (a name the provider knows), or raise
        :class:`SeedProviderError`."""
        ...
