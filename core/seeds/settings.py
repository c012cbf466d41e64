"""A tournament's seed settings: which provider rolls, its presets and options.

Kept in the tournament's ``settings`` JSON object under ``"seeds"`` (no column of its own):

    {"provider": "alttpr", "presets": ["open", "standard"], "default_preset": "open",
     "template": null, "spoiler": "off", "race": true}

Reading is forgiving (an absent or damaged entry is "no seeds"); changing is strict
(:func:`changed_settings` says what to fix).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any, Final, Literal, cast

from core.errors import UserFacingError
from core.seeds.alttpr_presets import ALTTPR_PRESETS
from core.seeds.template import check_template
from core.seeds.text import listing, one_line

SETTINGS_KEY: Final = "seeds"
PROVIDERS: Final = ("alttpr", "template")
SPOILER_MODES: Final = ("off", "on", "generate")
Provider = Literal["alttpr", "template"]
Spoiler = Literal["off", "on", "generate"]

PRESETS_MAX = 25  # a choice list's length in Discord
PRESET_NAME_MAX = 32
_PRESET_NAME = re.compile(rf"[a-z0-9][a-z0-9_-]{{0,{PRESET_NAME_MAX - 1}}}")
TEMPLATE_DEFAULT_PRESETS: Final = ("default",)


def default_presets(provider: str | None) -> tuple[str, ...]:
    if provider == "alttpr":
        return tuple(ALTTPR_PRESETS)
    if provider == "template":
        return TEMPLATE_DEFAULT_PRESETS
    return ()


@dataclass(frozen=True, slots=True)
class SeedSettings:
    """``provider`` None: the tournament rolls no seeds (the rest is kept for later)."""

    provider: Provider | None = None
    presets: tuple[str, ...] = ()
    default_preset: str | None = None
    template: str | None = None
    spoiler: Spoiler = "off"  # ALTTPR: off, on (the seed's page offers it) or generate
    race: bool = True  # ALTTPR's race mode: the spoiler log and settings are hidden

    @classmethod
    def of(cls, tournament_settings: Mapping[str, Any] | None) -> SeedSettings:
        """The seed settings stored in a tournament's ``settings`` JSON object."""
        stored = (tournament_settings or {}).get(SETTINGS_KEY)
        if not isinstance(stored, Mapping):
            return cls()
        provider = stored.get("provider")
        presets = stored.get("presets")
        spoiler = stored.get("spoiler")
        template = stored.get("template")
        default = stored.get("default_preset")
        return cls(
            provider=cast(Provider, provider) if provider in PROVIDERS else None,
            presets=tuple(p for p in presets if isinstance(p, str))
            if isinstance(presets, list) else default_presets(provider),
            default_preset=default if isinstance(default, str) else None,
            template=template if isinstance(template, str) else None,
            spoiler=cast(Spoiler, spoiler) if spoiler in SPOILER_MODES else "off",
            race=stored.get("race") is not False,
        )

    @property
    def rolls(self) -> bool:
        return self.provider is not None and bool(self.presets)

    @property
    def effective_default(self) -> str | None:
        """The preset ``!seed`` alone rolls: the chosen default, else the first preset."""
        if self.default_preset in self.presets:
            return self.default_preset
        return self.presets[0] if self.presets else None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["presets"] = list(self.presets)
        return data

    def stored_in(self, tournament_settings: Mapping[str, Any] | None) -> dict[str, Any]:
        """A new ``settings`` object with these seed settings in it (a new object, so the
        ORM notices the change)."""
        return {**(tournament_settings or {}), SETTINGS_KEY: self.to_json()}


SETTING_NAMES: Final = ("provider", "presets", "default_preset", "template", "spoiler", "race")


def differences(old: SeedSettings, new: SeedSettings) -> dict[str, tuple[Any, Any]]:
    """Setting -> (old, new), only those that differ."""
    return {
        key: (getattr(old, key), getattr(new, key))
        for key in SETTING_NAMES
        if getattr(old, key) != getattr(new, key)
    }


def parse_presets(text: str | Iterable[str]) -> tuple[str, ...]:
    """Preset names from ``open, standard`` (commas or spaces) or a list; lower case,
    without repeats, each checked."""
    words = text.replace(",", " ").split() if isinstance(text, str) else list(text)
    names: list[str] = []
    for word in words:
        name = word.strip().lower()
        if not _PRESET_NAME.fullmatch(name):
            raise UserFacingError(
                f"`{one_line(word, 40)}` is not a preset name: use up to {PRESET_NAME_MAX} "
                "letters, digits, `-` or `_`, e.g. `open` or `any-percent`."
            )
        if name not in names:
            names.append(name)
    if not names:
        raise UserFacingError("Name at least one preset, e.g. `open, standard`.")
    if len(names) > PRESETS_MAX:
        raise UserFacingError(f"A tournament can have at most {PRESETS_MAX} seed presets.")
    return tuple(names)


def changed_settings(old: SeedSettings, given: Mapping[str, Any]) -> SeedSettings:
    """``old`` with the organizer's ``given`` changes, checked. A new provider without
    presets given takes that provider's presets; a default that is no longer a preset goes."""
    unknown = set(given) - set(SETTING_NAMES)
    if unknown:
        raise ValueError(f"not seed settings: {sorted(unknown)}")
    changes = dict(given)
    provider = changes.get("provider", old.provider)
    if provider is not None and provider not in PROVIDERS:
        raise UserFacingError(
            f"`{one_line(str(provider), 40)}` is not a seed provider: choose "
            f"{listing(PROVIDERS)} or none."
        )
    if changes.get("spoiler", old.spoiler) not in SPOILER_MODES:
        raise UserFacingError(f"The spoiler setting is one of {listing(SPOILER_MODES)}.")
    if "presets" in changes:
        changes["presets"] = parse_presets(changes["presets"])
    elif provider != old.provider:
        changes["presets"] = default_presets(provider)
    if changes.get("template") is not None:
        changes["template"] = check_template(changes["template"])
    if changes.get("default_preset") is not None:
        changes["default_preset"] = changes["default_preset"].strip().lower() or None
    new = replace(old, **changes)
    if new.default_preset is not None and new.default_preset not in new.presets:
        if "default_preset" in given:
            raise UserFacingError(
                f"`{one_line(new.default_preset, 40)}` is not one of the presets "
                f"({listing(new.presets)}): choose one of them as the default."
            )
        new = replace(new, default_preset=None)
    _check_complete(new)
    return new


def _check_complete(settings: SeedSettings) -> None:
    if settings.provider == "alttpr":
        unknown = [name for name in settings.presets if name not in ALTTPR_PRESETS]
        if unknown:
            raise UserFacingError(
                f"RaceDesk has no ALTTPR preset {listing(f'`{n}`' for n in unknown)}. "
                f"Its presets: {listing(ALTTPR_PRESETS)}."
            )
    if settings.provider == "template" and not settings.template:
        raise UserFacingError(
            "A template provider needs a template: give `template:` with the text or URL "
            "players get, e.g. `https://example.org/seed?preset={preset}&seed={seed}`."
        )
