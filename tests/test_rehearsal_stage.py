"""The rehearsal's stage: what a step expects is found whenever it arrived, once.

The normal-speed rehearsal once failed because a result posted a moment before its step began
was never looked at; these tests pin the rules that make the rehearsal speed-proof.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import discord
import pytest

from core.events import MatchScheduledEvent
from core.identity import SYSTEM_USER_ID
from rehearsal.stage import Cast, Stage, StepFailed
from rehearsal.timeline import Timeline
from tests.plugins.discord_bot import DiscordHarness


def a_stage(harness: DiscordHarness, out: io.StringIO) -> Stage:
    return Stage(
        guild=harness.sim, dispatcher=harness.services.dispatcher, racetime=None,  # type: ignore[arg-type]
        timeline=Timeline(out), cast=Cast(owner="", admin=""), pace=0.0,
        services=harness.services, web_url="",
    )


def posted(text: str) -> Callable[[discord.Message], bool]:
    return lambda message: message.content == text


async def test_a_message_sent_before_its_step_began_is_still_found(
    discord_harness: DiscordHarness,
) -> None:
    out = io.StringIO()
    stage = a_stage(discord_harness, out)
    async with stage.step("something happens"):
        await discord_harness.channel.send("early")  # comes before the step that expects it
    async with stage.step("the step that expects it"):
        [found] = await stage.expect_sent("the early message", posted("early"), within=1)
    assert found.content == "early"
    timeline = out.getvalue()
    assert timeline.index(": early") < timeline.index("✓          something happens"), timeline


async def test_each_message_answers_one_expectation(discord_harness: DiscordHarness) -> None:
    stage = a_stage(discord_harness, io.StringIO())
    await discord_harness.channel.send("once")
    async with stage.step("the first look"):
        await stage.expect_sent("the message", posted("once"), within=1)
    with pytest.raises(StepFailed, match="a second one"):
        async with stage.step("the second look"):
            await stage.expect_sent("a second one", posted("once"), within=0.3)
    assert stage.unclaimed_sent(posted("once")) == []


async def test_each_event_answers_one_expectation_whenever_it_came(
    discord_harness: DiscordHarness,
) -> None:
    stage = a_stage(discord_harness, io.StringIO())
    when = stage.now()
    await discord_harness.services.dispatcher.emit(
        MatchScheduledEvent(match_id=7, tournament_id=1, scheduled_at=when,
                            user_id=SYSTEM_USER_ID)
    )
    await discord_harness.services.dispatcher.drain()
    async with stage.step("later"):
        event = await stage.expect_event(MatchScheduledEvent, "the match", within=1)
    assert event.match_id == 7
    with pytest.raises(StepFailed):
        await stage.expect_event(MatchScheduledEvent, "the match again", within=0.3)


async def test_events_read_with_names_not_ids(discord_harness: DiscordHarness) -> None:
    out = io.StringIO()
    stage = a_stage(discord_harness, out)
    await discord_harness.services.dispatcher.emit(
        MatchScheduledEvent(match_id=7, tournament_id=1, scheduled_at=stage.now(),
                            user_id=SYSTEM_USER_ID),
        MatchScheduledEvent(match_id=8, tournament_id=1, scheduled_at=stage.now()),
    )
    await stage.settle()
    lines = out.getvalue()
    assert "Match #7 scheduled for " in lines and "(by RaceDesk)" in lines
    assert "(by someone RaceDesk does not know)" in lines
    assert "event_id" not in lines and "id=" not in lines
