"""Seeds from a template, for categories without a randomizer API.

Organizers write a text or URL with placeholders: ``{preset}`` (the preset asked for) and
``{seed}`` (a random number from :mod:`secrets`); ``{{`` and ``}}`` are literal braces, e.g.
``https://example.org/generate?preset={preset}&seed={seed}`` or ``Seed {seed} ({preset})``.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Callable

from core.errors import UserFacingError
from core.seeds.base import SEED_TEXT_MAX, RolledSeed, SeedProviderError
from core.seeds.text import one_line, unknown_preset

TEMPLATE_MAX = 300
PLACEHOLDERS = ("preset", "seed")
SEED_NUMBER_BELOW = 10**9  # at most nine digits


def _placeholders_help() -> str:
    return ", ".join(f"{{{name}}}" for name in PLACEHOLDERS)


def check_template(template: str) -> str:
    """The template, trimmed, or :class:`UserFacingError` saying what to fix."""
    cleaned = template.strip()
    if not cleaned:
        raise UserFacingError(
            f"The seed template is empty. Write the text or URL players get, with "
            f"{_placeholders_help()} where the preset and a random number go."
        )
    if len(cleaned) > TEMPLATE_MAX:
        raise UserFacingError(
            f"A seed template can be at most {TEMPLATE_MAX} characters; this one has "
            f"{len(cleaned)}."
        )
    if any(ord(char) < 32 for char in cleaned):
        raise UserFacingError("A seed template is one line: remove the line breaks and tabs.")
    try:
        parsed = list(string.Formatter().parse(cleaned))
    except ValueError:
        raise UserFacingError(
            "The seed template has a `{` or `}` without its partner. Placeholders are "
            f"{_placeholders_help()}; write `{{{{` or `}}}}` for a brace itself."
        ) from None
    for _, field, spec, conversion in parsed:
        if field is None:
            continue
        if field not in PLACEHOLDERS or spec or conversion:
            shown = one_line("{" + field + (f"!{conversion}" if conversion else "")
                             + (f":{spec}" if spec else "") + "}", 40)
            raise UserFacingError(
                f"The seed template has an unknown placeholder `{shown}`. Placeholders are "
                f"{_placeholders_help()}; write `{{{{` or `}}}}` for a brace itself."
            )
    return cleaned


class TemplateProvider:
    """Renders the template for a preset; never fails once the template passed
    :func:`check_template`. The result is a URL when the whole text is one."""

    def __init__(
        self,
        template: str,
        presets: tuple[str, ...],
        *,
        seed_number: Callable[[], int] = lambda: secrets.randbelow(SEED_NUMBER_BELOW),
    ) -> None:
        self._template = check_template(template)
        self._presets = presets
        self._seed_number = seed_number

    async def roll(self, preset: str) -> RolledSeed:
        if preset not in self._presets:
            raise SeedProviderError(unknown_preset(preset, self._presets))
        text = self._template.format(preset=preset, seed=self._seed_number())
        text = one_line(text, SEED_TEXT_MAX)
        is_url = text.startswith(("https://", "http://")) and " " not in text
        return RolledSeed(preset=preset, url=text if is_url else None, text=text)
