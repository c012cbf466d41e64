"""The simulated Discord of the tests and the rehearsal refuses what Discord refuses, with
Discord's own answer, and a refusal fails the test even when the bot catches it.

Each limit is crossed by a throwaway command added to the real tree (or a post sent outside
any interaction); the limit itself comes from ``cogs._shared.discord_limits``, the one place
both RaceDesk and the simulated Discord read it from.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import discord
import pytest
from discord import app_commands
from discord.webhook.async_ import async_context, interaction_response_params

from cogs._shared import discord_limits as limits
from cogs._shared.tree import APOLOGY
from rehearsal.discord_rules import Refusal, RefusedByDiscord
from rehearsal.fake_discord_api import FakeDiscordApi
from rehearsal.guild import ROUND_TRIP_SECONDS
from tests.plugins.discord_bot import DiscordHarness
from tests.plugins.fake_discord import DiscordClients

Handler = Callable[[discord.Interaction], Awaitable[None]]


def add_command(harness: DiscordHarness, name: str, handler: Handler) -> None:
    command = app_commands.Command(name=name, description="test", callback=handler)
    harness.bot.tree.add_command(command)


async def refused(harness: DiscordHarness, name: str, **options: Any) -> RefusedByDiscord:
    with pytest.raises(RefusedByDiscord) as caught:
        await harness.slash(name, **options)
    return caught.value


async def answer_again(interaction: discord.Interaction, kind: int, data: dict[str, Any]) -> None:
    """An answer to the interaction past discord.py's own guards (as a stale copy of the
    interaction, or a second process, would send it)."""
    await async_context.get().create_interaction_response(
        interaction.id, interaction.token, session=None,  # type: ignore[arg-type]
        params=interaction_response_params(kind, data),
    )


def embed(**parts: Any) -> discord.Embed:
    made = discord.Embed(title=parts.pop("title", None),
                         description=parts.pop("description", None))
    for name, value in parts.pop("fields", ()):
        made.add_field(name=name, value=value)
    if "footer" in parts:
        made.set_footer(text=parts.pop("footer"))
    if "author" in parts:
        made.set_author(name=parts.pop("author"))
    return made


TOO_LONG = [
    pytest.param({"content": "x" * (limits.MESSAGE_CONTENT_MAX + 1)},
                 "In data.content: Must be 2000 or fewer in length.", id="content"),
    pytest.param({"embed": embed(title="t" * (limits.EMBED_TITLE_MAX + 1))},
                 "In data.embeds.0.title: Must be 256 or fewer in length.", id="title"),
    pytest.param({"embed": embed(description="d" * (limits.EMBED_DESCRIPTION_MAX + 1))},
                 "In data.embeds.0.description: Must be 4096 or fewer in length.",
                 id="description"),
    pytest.param({"embed": embed(fields=[("n", "v")] * (limits.EMBED_FIELDS_MAX + 1))},
                 "In data.embeds.0.fields: Must be 25 or fewer in length.", id="fields"),
    pytest.param({"embed": embed(fields=[("n" * (limits.EMBED_FIELD_NAME_MAX + 1), "v")])},
                 "In data.embeds.0.fields.0.name: Must be 256 or fewer in length.",
                 id="field-name"),
    pytest.param({"embed": embed(fields=[("n", "v"), ("n", "v" * 1025)])},
                 "In data.embeds.0.fields.1.value: Must be 1024 or fewer in length.",
                 id="field-value"),
    pytest.param({"embed": embed(fields=[("n", "")])},
                 "In data.embeds.0.fields.0.value: This field is required", id="empty-value"),
    pytest.param({"embed": embed(title="t", footer="f" * (limits.EMBED_FOOTER_MAX + 1))},
                 "In data.embeds.0.footer.text: Must be 2048 or fewer in length.", id="footer"),
    pytest.param({"embed": embed(title="t", author="a" * (limits.EMBED_AUTHOR_NAME_MAX + 1))},
                 "In data.embeds.0.author.name: Must be 256 or fewer in length.", id="author"),
    # 4,000 + 2 x (1 + 1,000): each part within its own limit, the whole over 6,000.
    pytest.param({"embed": embed(description="d" * 4000, fields=[("n", "v" * 1000)] * 2)},
                 "In data.embeds: Embed size exceeds maximum size of 6000", id="embed-total"),
    pytest.param({"embeds": [embed(description="d" * 3000), embed(description="e" * 3001)]},
                 "In data.embeds: Embed size exceeds maximum size of 6000",
                 id="total-across-embeds"),
    pytest.param({"content": ""}, "Cannot send an empty message", id="empty"),
]


@pytest.mark.parametrize(("message", "said"), TOO_LONG)
async def test_a_reply_beyond_discords_limits_is_refused_as_discord_refuses_it(
    discord_harness: DiscordHarness, message: dict[str, Any], said: str
) -> None:
    async def handler(interaction: discord.Interaction) -> None:
        await interaction.response.send_message(**message)

    add_command(discord_harness, "too-much", handler)
    error = await refused(discord_harness, "too-much")
    [refusal] = error.refusals
    assert said in str(refusal.exception())
    assert refusal.status == 400
    assert refusal.code == (50006 if said.startswith("Cannot") else 50035)
    # The bot caught discord.py's HTTPException and apologised: the user saw that, not it.
    assert error.result.first.content == APOLOGY


async def test_more_than_ten_embeds_are_refused(discord_harness: DiscordHarness) -> None:
    """discord.py refuses eleven embeds itself; sent past it, Discord refuses them too."""

    async def handler(interaction: discord.Interaction) -> None:
        embeds = [embed(title="t").to_dict()] * (limits.EMBEDS_PER_MESSAGE_MAX + 1)
        await answer_again(interaction, 4, {"embeds": embeds})

    add_command(discord_harness, "eleven", handler)
    error = await refused(discord_harness, "eleven")
    assert "In data.embeds: Must be 10 or fewer in length." in str(error.refusals[0])


async def test_exactly_at_the_limits_is_accepted(discord_harness: DiscordHarness) -> None:
    full = embed(
        title="t" * limits.EMBED_TITLE_MAX,
        description="d" * limits.EMBED_DESCRIPTION_MAX,  # 4,352 so far
        fields=[("n", "v" * 65)] * 24 + [("n", "v" * 63)],  # 24 x 66 + 64 = 1,648
    )
    assert len(full) == limits.EMBED_TOTAL_MAX

    async def handler(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("x" * limits.MESSAGE_CONTENT_MAX, embed=full)

    add_command(discord_harness, "just-fits", handler)
    result = await discord_harness.slash("just-fits")
    assert len(result.first.content or "") == limits.MESSAGE_CONTENT_MAX


async def test_a_follow_up_and_an_edit_are_held_to_the_same_limits(
    discord_harness: DiscordHarness,
) -> None:
    async def follow_up(interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True)
        await interaction.followup.send("x" * (limits.MESSAGE_CONTENT_MAX + 1))

    async def edit(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("short")
        await interaction.edit_original_response(embed=embed(title="t" * 300))

    add_command(discord_harness, "long-follow-up", follow_up)
    add_command(discord_harness, "long-edit", edit)
    error = await refused(discord_harness, "long-follow-up")
    assert "In content: Must be 2000 or fewer in length." in str(error.refusals[0])
    assert "follow-up" in error.refusals[0].what
    error = await refused(discord_harness, "long-edit")
    assert "In embeds.0.title: Must be 256 or fewer in length." in str(error.refusals[0])


class Rows(discord.ui.View):
    """Components as given, past what discord.py itself would let a view hold."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        super().__init__()
        self._rows = rows

    def to_components(self) -> list[dict[str, Any]]:
        return self._rows


def buttons(count: int) -> dict[str, Any]:
    return {"type": 1, "components": [
        {"type": 2, "style": 2, "label": f"b{i}", "custom_id": f"b{i}"} for i in range(count)
    ]}


@pytest.mark.parametrize(("rows", "said"), [
    pytest.param([buttons(1)] * 6, "In data.components: Must be 5 or fewer in length.",
                 id="rows"),
    pytest.param([buttons(6)], "In data.components.0.components: Must be 5 or fewer in length.",
                 id="buttons-per-row"),
    pytest.param(
        [{"type": 1, "components": [{
            "type": 3, "custom_id": "pick",
            "options": [{"label": str(i), "value": str(i)} for i in range(26)],
        }]}],
        "In data.components.0.components.0.options: Must be 25 or fewer in length.",
        id="select-options",
    ),
])
async def test_components_beyond_discords_limits_are_refused(
    discord_harness: DiscordHarness, rows: list[dict[str, Any]], said: str
) -> None:
    async def handler(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("pick", view=Rows(rows))

    add_command(discord_harness, "many-buttons", handler)
    error = await refused(discord_harness, "many-buttons")
    assert said in str(error.refusals[0])


async def test_autocomplete_beyond_discords_limits_is_refused(
    discord_harness: DiscordHarness,
) -> None:
    async def handler(interaction: discord.Interaction, pick: str) -> None:
        await interaction.response.send_message(pick)

    command = app_commands.Command(name="pick", description="test", callback=handler)
    offered: list[app_commands.Choice[str]] = []

    @command.autocomplete("pick")
    async def suggest(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return offered

    discord_harness.bot.tree.add_command(command)
    cases = {
        "In data.choices: Must be 25 or fewer in length.":
            [app_commands.Choice(name=str(i), value=str(i)) for i in range(26)],
        "In data.choices.0.name: Must be 100 or fewer in length.":
            [app_commands.Choice(name="n" * 101, value="v")],
        "In data.choices.0.value: Must be 100 or fewer in length.":
            [app_commands.Choice(name="n", value="v" * 101)],
    }
    for said, choices in cases.items():
        offered[:] = choices
        with pytest.raises(RefusedByDiscord) as caught:
            await discord_harness.autocomplete("pick", "pick", "")
        assert said in str(caught.value.refusals[0]), said
    offered[:] = [app_commands.Choice(name="n" * 100, value=str(i)) for i in range(25)]
    assert len(await discord_harness.autocomplete("pick", "pick", "")) == 25


@pytest.mark.parametrize(("title", "label", "said"), [
    pytest.param("t" * 46, "Name", "In data.title: Must be 45 or fewer in length.", id="title"),
    pytest.param("Title", "l" * 46,
                 "In data.components.0.components.0.label: Must be 45 or fewer in length.",
                 id="label"),
])
async def test_a_modal_beyond_discords_limits_is_refused(
    discord_harness: DiscordHarness, title: str, label: str, said: str
) -> None:
    class Form(discord.ui.Modal):
        def __init__(self) -> None:
            super().__init__(title=title)
            self.add_item(discord.ui.TextInput(label=label))

    async def handler(interaction: discord.Interaction) -> None:
        await interaction.response.send_modal(Form())

    add_command(discord_harness, "form", handler)
    error = await refused(discord_harness, "form")
    assert said in str(error.refusals[0])


async def test_a_second_answer_and_a_modal_after_a_defer_are_refused(
    discord_harness: DiscordHarness,
) -> None:
    async def twice(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("first")
        await answer_again(interaction, 4, {"content": "second"})

    async def modal_after_defer(interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True)
        form = discord.ui.Modal(title="Form")
        form.add_item(discord.ui.TextInput(label="Name"))
        await answer_again(interaction, 9, form.to_dict())

    add_command(discord_harness, "twice", twice)
    add_command(discord_harness, "modal-after-defer", modal_after_defer)
    for name in ("twice", "modal-after-defer"):
        error = await refused(discord_harness, name)
        [refusal] = error.refusals
        assert (refusal.status, refusal.code) == (400, 40060)
        assert "Interaction has already been acknowledged." in str(refusal)


async def test_a_follow_up_before_any_answer_is_refused(discord_harness: DiscordHarness) -> None:
    async def handler(interaction: discord.Interaction) -> None:
        await interaction.followup.send("too early")

    add_command(discord_harness, "early", handler)
    error = await refused(discord_harness, "early")
    assert (error.refusals[0].status, error.refusals[0].code) == (404, 10015)


class Clock:
    """The simulated Discord's clock, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_an_answer_after_three_seconds_is_refused_as_unknown_interaction(
    discord_harness: DiscordHarness,
) -> None:
    clock = Clock()
    discord_harness.sim.clock = clock

    async def slow(interaction: discord.Interaction) -> None:
        clock.now += limits.RESPONSE_DEADLINE_SECONDS + 0.01  # a slow step, without waiting
        await interaction.response.send_message("done")

    async def just_in_time(interaction: discord.Interaction) -> None:
        clock.now += limits.RESPONSE_DEADLINE_SECONDS
        await interaction.response.send_message("done")

    add_command(discord_harness, "slow", slow)
    add_command(discord_harness, "just-in-time", just_in_time)
    error = await refused(discord_harness, "slow")
    refusal, apology = error.refusals  # the apology for the failed answer is late too
    assert (refusal.status, refusal.code, refusal.message) == (404, 10062, "Unknown interaction")
    assert isinstance(refusal.exception(), discord.NotFound)
    assert apology.code == 10062
    assert (await discord_harness.slash("just-in-time")).first.content == "done"


async def test_a_defer_buys_fifteen_minutes_for_the_follow_up(
    discord_harness: DiscordHarness,
) -> None:
    clock = Clock()
    discord_harness.sim.clock = clock

    async def deferred(interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        clock.now += 60.0
        await interaction.followup.send("a minute later")

    async def too_late(interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        clock.now += limits.INTERACTION_TOKEN_SECONDS + 1
        await interaction.followup.send("sixteen minutes later")

    add_command(discord_harness, "deferred", deferred)
    add_command(discord_harness, "too-late", too_late)
    result = await discord_harness.slash("deferred")
    assert [m.kind for m in result.messages] == ["defer", "followup"]
    error = await refused(discord_harness, "too-late")
    assert (error.refusals[0].status, error.refusals[0].code) == (401, 50027)


async def test_discord_requests_before_the_answer_count_towards_the_deadline(
    discord_harness: DiscordHarness,
) -> None:
    """Each request to the simulated Discord costs the interaction a round trip on its clock:
    a command that asks Discord for many members before it answers is late, however fast the
    machine."""
    guild = discord_harness.guild
    member_id = discord_harness.member(1).id
    lookups = int(limits.RESPONSE_DEADLINE_SECONDS / ROUND_TRIP_SECONDS) + 1

    async def many_lookups(interaction: discord.Interaction) -> None:
        for _ in range(lookups):
            await guild.fetch_member(member_id)
        await interaction.response.send_message("looked everyone up")

    async def spent(interaction: discord.Interaction) -> None:
        discord_harness.sim.spend(limits.RESPONSE_DEADLINE_SECONDS)  # a deliberately slow step
        await interaction.response.send_message("too slow")

    add_command(discord_harness, "many-lookups", many_lookups)
    add_command(discord_harness, "spent", spent)
    for name in ("many-lookups", "spent"):
        error = await refused(discord_harness, name)
        assert error.refusals[0].code == 10062, name


async def test_a_post_beyond_the_limits_outside_any_interaction_fails_the_test(
    discord_harness: DiscordHarness,
) -> None:
    channel = discord_harness.channel
    with pytest.raises(discord.HTTPException) as caught:
        await channel.send("x" * (limits.MESSAGE_CONTENT_MAX + 1))
    assert caught.value.code == 50035
    assert "In content: Must be 2000 or fewer in length." in str(caught.value)
    with pytest.raises(RefusedByDiscord) as failed:
        discord_harness.sim.check_refusals()  # what the harness does when the test ends
    [refusal] = failed.value.refusals
    assert isinstance(refusal, Refusal) and refusal.what == f"message in #{channel.name}"
    discord_harness.sim.check_refusals()  # reported once


async def test_the_fake_discord_api_refuses_an_oversized_message_over_http(
    fake_discord: FakeDiscordApi, discord_clients: DiscordClients
) -> None:
    channel_id = fake_discord.add_text_channel(1, "results")
    client = await discord_clients.login()
    channel = client.get_partial_messageable(channel_id)
    with pytest.raises(discord.HTTPException) as caught:
        await channel.send(embed=discord.Embed(description="d" * 4097))
    assert caught.value.status == 400 and caught.value.code == 50035
    assert "In embeds.0.description: Must be 4096 or fewer in length." in str(caught.value)
    assert fake_discord.messages_in(channel_id) == []
