"""``/tournament seeds`` through the real CommandTree (dpytest): who may use it, what it
shows, what each change and mistake is told, and the tournament embed's seeds."""

from __future__ import annotations

from collections.abc import AsyncIterator

import discord
import pytest

from core.seeds import SeedSettings
from db.models import RacetimeBot, RacetimeBotGuild
from db.secrets import SecretBox
from tests.plugins.discord_bot import DiscordHarness, running_harness

ORGANIZERS_ONLY = (
    "Only organizers can do this: members with the Manage Server permission "
    "or the server's organizer role."
)


@pytest.fixture
async def harness(db_url: str, secret_box: SecretBox) -> AsyncIterator[DiscordHarness]:
    async with running_harness(db_url, secret_box) as harness:
        async with harness.services.sessionmaker.begin() as session:
            bot = RacetimeBot(
                category="alttpr", display_name="alttpr", client_id="id",
                client_secret_encrypted=secret_box.encrypt("secret"),
            )
            session.add(bot)
            await session.flush()
            assert bot.id is not None
            session.add(RacetimeBotGuild(bot_id=bot.id, guild_id=harness.guild.id))
        yield harness


async def organizer(harness: DiscordHarness) -> discord.Member:
    boss = await harness.member_with_permissions(2, manage_guild=True)
    await harness.slash(
        "tournament create", member=boss, options={"name": "Winter Cup", "category": "alttpr"}
    )
    return boss


async def seeds_of(harness: DiscordHarness) -> SeedSettings:
    shown = await harness.services.seeds.view(harness.set_up, harness.guild.id, "Winter Cup")
    return shown.settings


async def test_a_player_may_not_see_or_change_the_seeds(harness: DiscordHarness) -> None:
    await organizer(harness)
    player = harness.member(0)
    for options in ({}, {"provider": "alttpr"}):
        refused = await harness.slash(
            "tournament seeds", member=player, tournament="Winter Cup", **options
        )
        assert refused.first.content == ORGANIZERS_ONLY
        assert refused.first.ephemeral
    assert await seeds_of(harness) == SeedSettings()
    assert await harness.services.audit.entries("tournament.seeds") == []


async def test_without_options_the_seed_settings_are_shown(harness: DiscordHarness) -> None:
    boss = await organizer(harness)

    shown = await harness.slash("tournament seeds", member=boss, tournament="winter cup")

    assert shown.first.content == (
        "Seeds of **Winter Cup**:\n**Seeds:** none: rooms roll no seeds\n"
        "Change them with `/tournament seeds tournament:Winter Cup`."
    )
    assert shown.first.ephemeral


async def test_a_change_echoes_what_changed_and_is_audited(harness: DiscordHarness) -> None:
    boss = await organizer(harness)

    changed = await harness.slash(
        "tournament seeds", member=boss, tournament="Winter Cup", provider="alttpr",
        presets="open, standard", default_preset="standard", race=False,
    )

    assert changed.first.content == (
        "Updated the seeds of **Winter Cup**:\n"
        "**Seeds:** none → ALTTPR (alttpr.com)\n"
        "**Presets:** none → `open`, `standard`\n"
        "**Default preset:** the first preset → `standard`\n"
        "**Race mode:** on (spoiler log and settings hidden) → off"
    )
    assert await seeds_of(harness) == SeedSettings(
        provider="alttpr", presets=("open", "standard"), default_preset="standard", race=False
    )
    [entry] = await harness.services.audit.entries("tournament.seeds")
    assert sorted(entry.details["changed"]) == ["default_preset", "presets", "provider", "race"]
    same = await harness.slash(
        "tournament seeds", member=boss, tournament="Winter Cup", spoiler="off"
    )
    assert same.first.content == "Nothing changed: **Winter Cup** already had those seeds."

    shown = await harness.slash("tournament seeds", member=boss, tournament="Winter Cup")
    assert shown.first.content == (
        "Seeds of **Winter Cup**:\n"
        "**Seeds:** ALTTPR (alttpr.com)\n"
        "**Presets:** `open`, `standard`\n"
        "**Default preset:** `standard`\n"
        "**Spoiler log:** off\n"
        "**Race mode:** off\n"
        "Change them with `/tournament seeds tournament:Winter Cup`."
    )


async def test_template_seeds_and_turning_seeds_off(harness: DiscordHarness) -> None:
    boss = await organizer(harness)

    changed = await harness.slash(
        "tournament seeds", member=boss, tournament="Winter Cup", provider="template",
        template="https://example.org/seed?p={preset}&n={seed}",
    )
    assert changed.first.content == (
        "Updated the seeds of **Winter Cup**:\n"
        "**Seeds:** none → from a template\n"
        "**Presets:** none → `default`\n"
        "**Template:** none → `https://example.org/seed?p={preset}&n={seed}`"
    )
    off = await harness.slash(
        "tournament seeds", member=boss, tournament="Winter Cup", provider="none"
    )
    assert off.first.content == (
        "Updated the seeds of **Winter Cup**:\n**Seeds:** from a template → none\n"
        "**Presets:** `default` → none"
    )


async def test_mistakes_get_their_messages(harness: DiscordHarness) -> None:
    boss = await organizer(harness)
    cases = [
        ({"provider": "template", "template": "{room}"},
         "The seed template has an unknown placeholder `{room}`. Placeholders are "
         "{preset}, {seed}; write `{{` or `}}` for a brace itself."),
        ({"provider": "alttpr", "presets": "open doors"},
         "RaceDesk has no ALTTPR preset `doors`. Its presets: open, standard, inverted, "
         "keysanity."),
        ({"provider": "template"},
         "A template provider needs a template: give `template:` with the text or URL players "
         "get, e.g. `https://example.org/seed?preset={preset}&seed={seed}`."),
    ]
    for options, message in cases:
        result = await harness.slash(
            "tournament seeds", member=boss, tournament="Winter Cup", **options
        )
        assert result.first.content == message
    missing = await harness.slash(
        "tournament seeds", member=boss, tournament="Autumn Cup", provider="alttpr"
    )
    assert (missing.first.content or "").startswith("There is no tournament called `Autumn Cup`")
    assert await seeds_of(harness) == SeedSettings()


async def test_the_tournament_embed_shows_the_seeds(harness: DiscordHarness) -> None:
    boss = await organizer(harness)
    await harness.slash("tournament seeds", member=boss, tournament="Winter Cup",
                        provider="alttpr", spoiler="generate")

    for command in ("tournament info", "tournament settings"):
        shown = await harness.slash(command, member=boss, tournament="Winter Cup")
        seeds = next(f for f in shown.first.embeds[0].fields if f.name == "Seeds")
        assert seeds.value == (
            "**Seeds:** ALTTPR (alttpr.com)\n"
            "**Presets:** `open`, `standard`, `inverted`, `keysanity`\n"
            "**Default preset:** the first preset\n"
            "**Spoiler log:** generated, not shown\n"
            "**Race mode:** on (spoiler log and settings hidden)"
        ), command


async def test_the_longest_change_fits_one_message(harness: DiscordHarness) -> None:
    boss = await organizer(harness)
    names = [f"{n:02d}" + "p" * 30 for n in range(25)]
    for presets, template in ((names[:25], "{seed}" + "a" * 294),
                              (list(reversed(names)), "{preset}" + "b" * 292)):
        result = await harness.slash(
            "tournament seeds", member=boss, tournament="Winter Cup", provider="template",
            presets=" ".join(presets), template=template,
        )
        assert (result.first.content or "").startswith("Updated the seeds")
        assert "and 13 more" in (result.first.content or "")


async def test_default_presets_are_suggested(harness: DiscordHarness) -> None:
    boss = await organizer(harness)
    await harness.slash("tournament seeds", member=boss, tournament="Winter Cup",
                        provider="template", presets="any hundred", template="{seed}")

    async def suggested(typed: str, **options: str) -> list[str]:
        choices = await harness.sim.autocomplete(
            "tournament seeds", "default_preset", typed, member=boss, **options
        )
        return [choice.value for choice in choices]

    assert await suggested("", tournament="Winter Cup") == ["any", "hundred"]
    assert await suggested("HUN", tournament="Winter Cup") == ["hundred"]
    # Choosing ALTTPR in the same command: its presets.
    assert await suggested("", tournament="Winter Cup", provider="alttpr") == [
        "open", "standard", "inverted", "keysanity",
    ]
    everything = ["open", "standard", "inverted", "keysanity"]
    assert await suggested("", tournament="Nope Cup") == everything  # RaceDesk's presets
    assert await suggested("") == everything
    refused = await harness.sim.autocomplete(
        "tournament seeds", "default_preset", "", member=harness.member(0),
        tournament="Winter Cup",
    )
    assert refused == []
