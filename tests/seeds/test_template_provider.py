"""Seeds from an organizer's template: rendering, and what a template may hold."""

from __future__ import annotations

import pytest

from core.errors import UserFacingError
from core.seeds.base import SEED_TEXT_MAX, SeedProviderError
from core.seeds.template import TEMPLATE_MAX, TemplateProvider, check_template


async def test_a_url_template_is_rendered_with_the_preset_and_a_seed_number() -> None:
    rolls = TemplateProvider(
        "https://example.org/gen?preset={preset}&seed={seed}", ("any", "glitched"),
        seed_number=lambda: 424242,
    )

    seed = await rolls.roll("glitched")

    assert seed.text == "https://example.org/gen?preset=glitched&seed=424242"
    assert seed.url == seed.text
    assert seed.preset == "glitched"
    assert seed.code is None and seed.spoiler_url is None


async def test_a_text_template_has_no_url_and_keeps_literal_braces() -> None:
    rolls = TemplateProvider("Seed {seed} {{{preset}}}", ("default",), seed_number=lambda: 7)

    seed = await rolls.roll("default")

    assert seed.text == "Seed 7 {default}"
    assert seed.url is None


async def test_the_seed_number_is_random_by_default() -> None:
    rolls = TemplateProvider("{seed}", ("default",))
    numbers = {(await rolls.roll("default")).text for _ in range(20)}
    assert len(numbers) > 1
    assert all(text.isdigit() and len(text) <= 9 for text in numbers)


async def test_an_unknown_preset_names_the_presets() -> None:
    with pytest.raises(SeedProviderError) as refused:
        await TemplateProvider("{seed}", ("any", "glitched")).roll("100")
    assert refused.value.message == "Unknown preset '100'. Presets: any, glitched."


async def test_the_shown_text_is_bounded() -> None:
    rolls = TemplateProvider("{preset}" * 30, ("a" * 32,))
    seed = await rolls.roll("a" * 32)
    assert len(seed.text) <= SEED_TEXT_MAX


@pytest.mark.parametrize(
    ("template", "says"),
    [
        ("https://x.org/{room}", "unknown placeholder `{room}`"),
        ("{seed:08d}", "unknown placeholder `{seed:08d}`"),
        ("{seed!r}", "unknown placeholder `{seed!r}`"),
        ("{}", "unknown placeholder `{}`"),
        ("{preset.upper}", "unknown placeholder `{preset.upper}`"),
        ("seed {seed", "without its partner"),
        ("seed }", "without its partner"),
        ("   ", "is empty"),
        ("a\nb", "is one line"),
        ("x" * (TEMPLATE_MAX + 1), f"at most {TEMPLATE_MAX} characters"),
    ],
)
def test_a_template_with_a_mistake_is_refused_with_what_to_fix(template: str, says: str) -> None:
    with pytest.raises(UserFacingError) as refused:
        check_template(template)
    assert says in refused.value.message
    if "placeholder" in says or "partner" in says:
        assert "{preset}, {seed}" in refused.value.message


def test_a_good_template_is_trimmed() -> None:
    assert check_template("  Seed {seed} ({preset})  ") == "Seed {seed} ({preset})"
