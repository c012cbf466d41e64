"""The ALTTPR presets RaceDesk ships: alttpr.com randomizer settings, as SahasrahBot's
presets (``presets/alttpr/*.yaml`` in tcprescott/sahasrahbot) send them to
``/api/randomizer``.

``spoilers`` and ``tournament`` are not part of a preset: the tournament's seed settings
choose them on every roll (``core.seeds.alttpr``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any


@dataclass(frozen=True, slots=True)
class AlttprPreset:
    name: str
    description: str
    settings: Mapping[str, Any]


def _settings(*, mode: str, dungeon_items: str = "standard") -> dict[str, Any]:
    return {
        "glitches": "none",
        "item_placement": "advanced",
        "dungeon_items": dungeon_items,
        "accessibility": "items",
        "goal": "ganon",
        "crystals": {"ganon": "7", "tower": "7"},
        "mode": mode,
        "entrances": "none",
        "hints": "off",
        "weapons": "randomized",
        "item": {"pool": "normal", "functionality": "normal"},
        "enemizer": {
            "boss_shuffle": "none",
            "enemy_shuffle": "none",
            "enemy_damage": "default",
            "enemy_health": "default",
        },
        "lang": "en",
        "allow_quickswap": True,
    }


_PRESETS = (
    AlttprPreset("open", "Open mode, 7 crystals, defeat Ganon.", _settings(mode="open")),
    AlttprPreset(
        "standard", "Standard world state (the escape first), randomized weapons.",
        _settings(mode="standard"),
    ),
    AlttprPreset(
        "inverted", "Inverted: you start in the Dark World.", _settings(mode="inverted")
    ),
    AlttprPreset(
        "keysanity", "Open mode with every map, compass and key shuffled anywhere.",
        _settings(mode="open", dungeon_items="full"),
    ),
)

ALTTPR_PRESETS: Mapping[str, AlttprPreset] = MappingProxyType({p.name: p for p in _PRESETS})
"""The built-in presets by name (lower case)."""
