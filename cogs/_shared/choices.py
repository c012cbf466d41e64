"""Autocomplete's answer within Discord's limits (:mod:`cogs._shared.discord_limits`)."""

from __future__ import annotations

from collections.abc import Iterable

from discord import app_commands

from cogs._shared.discord_limits import (
    AUTOCOMPLETE_CHOICES_MAX,
    CHOICE_NAME_MAX,
    CHOICE_VALUE_MAX,
)
from cogs._shared.fitting import clip


def choices(named: Iterable[tuple[str, str]]) -> list[app_commands.Choice[str]]:
    """(shown name, value) pairs as choices: the first 25, each name shortened to Discord's
    100 characters. A value Discord would not take (over 100 characters) could never be
    chosen, so it is not offered."""
    return [
        app_commands.Choice(name=clip(name, CHOICE_NAME_MAX), value=value)
        for name, value in named
        if 0 < len(value) <= CHOICE_VALUE_MAX
    ][:AUTOCOMPLETE_CHOICES_MAX]
