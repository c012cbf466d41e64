"""alttpr.com's checks of ``/api/randomizer`` settings, as its Laravel validator answers
them: ``{"message": "The given data was invalid.", "errors": {"field": ["..."]}}``."""

from __future__ import annotations

from typing import Any

ALLOWED: dict[str, tuple[str, ...]] = {
    "glitches": ("none", "overworld_glitches", "hybrid_major_glitches", "major_glitches",
                 "no_logic"),
    "item_placement": ("basic", "advanced"),
    "dungeon_items": ("standard", "mc", "mcs", "full"),
    "accessibility": ("items", "locations", "none"),
    "goal": ("ganon", "fast_ganon", "dungeons", "pedestal", "triforce-hunt"),
    "mode": ("open", "standard", "inverted", "retro"),
    "entrances": ("none",),  # the entrance randomizer is another endpoint
    "hints": ("on", "off"),
    "weapons": ("randomized", "assured", "vanilla", "swordless"),
    "spoilers": ("on", "off", "generate", "mystery"),
}
REQUIRED = ("glitches", "item_placement", "dungeon_items", "accessibility", "goal", "mode",
            "weapons")


def errors_of(settings: Any) -> dict[str, list[str]]:
    """The validation errors of ``settings`` (empty: valid)."""
    if not isinstance(settings, dict):
        return {"settings": ["The settings must be a JSON object."]}
    errors: dict[str, list[str]] = {}
    for field in REQUIRED:
        if field not in settings:
            errors[field] = [f"The {field} field is required."]
    for field, allowed in ALLOWED.items():
        if field in settings and settings[field] not in allowed:
            errors.setdefault(field, []).append(f"The selected {field} is invalid.")
    if "tournament" in settings and not isinstance(settings["tournament"], bool):
        errors["tournament"] = ["The tournament field must be true or false."]
    return errors
