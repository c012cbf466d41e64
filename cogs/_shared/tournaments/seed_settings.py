"""The seed settings options shared by ``/tournament seeds`` and ``/async seeds``: their help,
their choices, what was given, and the answer to a change."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from discord import app_commands

from cogs._shared.choices import choices
from cogs._shared.tournaments.tournament_embeds import (
    SEED_LABELS,
    SEED_PROVIDER_CHOICES,
    SPOILER_CHOICES,
    seeds_text,
    show_seed_setting,
)
from core.seeds import SeedChange, SeedSettings
from core.seeds.alttpr_presets import ALTTPR_PRESETS

SEED_OPTION_HELP = {
    "provider": "Who rolls the seeds",
    "presets": "The presets that may be rolled, e.g. open, standard",
    "default_preset": "The preset rolled when none is named (default: the first preset)",
    "template": "Template seeds: the text or URL players get; {preset} and {seed} are filled in",
    "spoiler": "ALTTPR: the spoiler log (default off)",
    "race": "ALTTPR race mode: the seed's page hides the spoiler log and settings (default on)",
}
SEED_OPTION_CHOICES: dict[str, list[app_commands.Choice[str]]] = {
    "provider": [app_commands.Choice(name=text, value=key)
                 for key, text in SEED_PROVIDER_CHOICES.items()],
    "spoiler": [app_commands.Choice(name=text, value=key)
                for key, text in SPOILER_CHOICES.items()],
}


def given_seed_settings(
    provider: str | None, presets: str | None, default_preset: str | None,
    template: str | None, spoiler: str | None, race: bool | None,
) -> dict[str, Any]:
    """The settings an organizer gave (``provider`` "none": no provider)."""
    given: dict[str, Any] = {
        "presets": presets, "default_preset": default_preset, "template": template,
        "spoiler": spoiler, "race": race,
    }
    given = {key: value for key, value in given.items() if value is not None}
    if provider is not None:
        given["provider"] = None if provider == "none" else provider
    return given


def seed_settings_shown(name: str, settings: SeedSettings, command: str) -> str:
    return (f"Seeds of **{name}**:\n{seeds_text(settings)}\n"
            f"Change them with `{command} tournament:{name}`.")


def seed_change_text(change: SeedChange) -> str:
    name = change.tournament_name
    if not change.changed:
        return f"Nothing changed: **{name}** already had those seeds."
    lines = [
        f"**{SEED_LABELS[key]}:** {show_seed_setting(key, old)} → {show_seed_setting(key, new)}"
        for key, (old, new) in change.changed.items()
    ]
    return f"Updated the seeds of **{name}**:\n" + "\n".join(lines)


def suggested_presets(
    typed: str, provider: str | None, settings: SeedSettings | None
) -> list[app_commands.Choice[str]]:
    """The presets to suggest: the tournament's, else (and while ALTTPR is being chosen)
    RaceDesk's ALTTPR presets."""
    names: Iterable[str] = ALTTPR_PRESETS
    if provider != "alttpr" and settings is not None and settings.presets:
        names = settings.presets
    current = typed.strip().lower()
    return choices((name, name) for name in names if current in name)
