"""A slash command that has not answered in time is acknowledged for it, and its answer takes
the acknowledgement's place; one that answers in time answers in one message.

Each command is a throwaway added to RaceDesk's real tree (``RaceDeskTree``), driven through
the simulated Discord, which refuses a second answer and an answer after 3 seconds. The
simulated Discord turns the acknowledgement off for every other test (it depends on the
machine's speed); here the tree's ``acknowledge_after`` is set, short, so that "slow" takes
a moment of real time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import discord
import pytest
from discord import app_commands

from cogs._shared.answer_deadline import (
    ACKNOWLEDGE_AFTER_SECONDS,
    ANSWERS_WITH_FORM,
    TOO_BUSY_FOR_FORM,
)
from cogs._shared.discord_limits import RESPONSE_DEADLINE_SECONDS
from cogs._shared.replies import reply
from tests.plugins.discord_bot import DiscordHarness

Handler = Callable[[discord.Interaction], Awaitable[None]]

AFTER = 0.05  # the tree's acknowledge_after in these tests
SLOW = 0.3  # a command's work, well past AFTER


def add_command(harness: DiscordHarness, name: str, handler: Handler, **extras: object) -> None:
    command = app_commands.Command(
        name=name, description="test", callback=handler, extras=dict(extras)
    )
    harness.bot.tree.add_command(command)


def credentials_form() -> discord.ui.Modal:
    form = discord.ui.Modal(title="Credentials")
    form.add_item(discord.ui.TextInput(label="Client id"))
    return form


@pytest.fixture
def harness(discord_harness: DiscordHarness) -> DiscordHarness:
    discord_harness.bot.tree.acknowledge_after = AFTER  # type: ignore[attr-defined]
    return discord_harness


def test_the_acknowledgement_comes_well_inside_discords_deadline() -> None:
    assert ACKNOWLEDGE_AFTER_SECONDS <= RESPONSE_DEADLINE_SECONDS / 2


async def test_a_fast_command_answers_in_one_message(harness: DiscordHarness) -> None:
    async def fast(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("at once", ephemeral=True)

    add_command(harness, "fast", fast)
    result = await harness.slash("fast")
    await asyncio.sleep(2 * AFTER)  # the acknowledgement it no longer needs never comes
    assert [(m.kind, m.content) for m in result.messages] == [("response", "at once")]


@pytest.mark.parametrize("answer", ["send_message", "reply"])
async def test_a_slow_command_is_acknowledged_and_its_answer_takes_its_place(
    harness: DiscordHarness, answer: str
) -> None:
    async def slow(interaction: discord.Interaction) -> None:
        await asyncio.sleep(SLOW)
        if answer == "reply":
            await reply(interaction, "done at last")
        else:
            await interaction.response.send_message("done at last", ephemeral=True)

    add_command(harness, "slow", slow)
    result = await harness.slash("slow")  # nothing refused: a refusal fails the step
    kinds = [(m.kind, m.ephemeral) for m in result.messages]
    assert kinds == [("defer", True), ("followup", True)]
    assert result.answer.content == "done at last"


async def test_a_command_that_defers_itself_after_the_acknowledgement_is_not_refused(
    harness: DiscordHarness,
) -> None:
    async def late_defer(interaction: discord.Interaction) -> None:
        await asyncio.sleep(SLOW)
        await interaction.response.defer(ephemeral=True, thinking=True)
        await interaction.followup.send("listed")

    add_command(harness, "late-defer", late_defer)
    result = await harness.slash("late-defer")
    assert [m.kind for m in result.messages] == ["defer", "followup"]
    assert result.answer.content == "listed"


async def test_an_answer_under_way_is_never_crossed_by_the_acknowledgement(
    harness: DiscordHarness,
) -> None:
    """The acknowledgement falls due while the command's own answer is being sent: it
    waits its turn, finds the interaction answered, and sends nothing."""
    sending = asyncio.Event()

    async def answering(interaction: discord.Interaction) -> None:
        response = interaction.response
        turn = response._turn  # type: ignore[attr-defined]
        async with turn:  # as send_message holds it while its request is on its way
            sending.set()
            await asyncio.sleep(SLOW)
        await response.send_message("answered", ephemeral=True)

    add_command(harness, "answering", answering)
    result = await harness.slash("answering")
    assert sending.is_set()
    assert [(m.kind, m.content) for m in result.messages] == [("response", "answered")]


async def test_a_command_answering_with_a_form_is_left_alone(harness: DiscordHarness) -> None:
    async def form(interaction: discord.Interaction) -> None:
        await asyncio.sleep(SLOW)
        await interaction.response.send_modal(credentials_form())

    add_command(harness, "form", form, **{ANSWERS_WITH_FORM: True})
    result = await harness.slash("form")
    assert [m.kind for m in result.messages] == ["modal"]


async def test_a_form_after_the_acknowledgement_is_explained(harness: DiscordHarness) -> None:
    """A command that did not say it answers with a form, and was too slow to: the user is
    told to run it again, in the acknowledgement's place."""

    async def form(interaction: discord.Interaction) -> None:
        await asyncio.sleep(SLOW)
        await interaction.response.send_modal(credentials_form())

    add_command(harness, "unmarked-form", form)
    result = await harness.slash("unmarked-form")
    assert [m.kind for m in result.messages] == ["defer", "followup"]
    assert result.answer.content == TOO_BUSY_FOR_FORM
