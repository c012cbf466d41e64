"""The simulated Discord's scheduled events refuse what Discord refuses, with Discord's answer,
through discord.py's own calls (``Guild.create_scheduled_event``, ``ScheduledEvent.edit``,
``start``/``end``/``cancel``, ``fetch_scheduled_event``, ``delete``); a refusal of what the bot
sent (400) fails the test even when the bot catches it, one that is the server's doing (no
Manage Events: 403; deleted: 404) does not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import discord
import pytest

from cogs._shared import discord_limits as limits
from rehearsal.discord_rules import RefusedByDiscord
from rehearsal.fake_discord_api import FakeDiscordApi
from tests.plugins.discord_bot import DiscordHarness
from tests.plugins.fake_discord import DiscordClients

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
START = NOW + timedelta(days=1)


@pytest.fixture
def harness(discord_harness: DiscordHarness) -> DiscordHarness:
    discord_harness.sim.scheduled_events.now = lambda: NOW
    return discord_harness


async def create(harness: DiscordHarness, **changes: Any) -> discord.ScheduledEvent:
    options: dict[str, Any] = {
        "name": "Winter Cup · Final", "description": "Ada vs Bob", "start_time": START,
        "end_time": START + timedelta(hours=3), "location": "Winter Cup",
        "entity_type": discord.EntityType.external,
        "privacy_level": discord.PrivacyLevel.guild_only,
    }
    options.update(changes)
    return await harness.guild.create_scheduled_event(**options)


def refused_with(harness: DiscordHarness, caught: pytest.ExceptionInfo[Any]) -> dict[str, Any]:
    """The one refusal kept for the test, with discord.py's exception's text."""
    [refusal] = harness.sim.take_refusals()
    assert isinstance(caught.value, discord.HTTPException)
    assert caught.value.code == refusal.code
    return refusal.body()


async def test_an_external_event_is_kept_as_discord_keeps_it(harness: DiscordHarness) -> None:
    made = await create(harness)

    assert made.status is discord.EventStatus.scheduled
    assert made.entity_type is discord.EntityType.external
    assert made.location == "Winter Cup" and made.start_time == START
    assert made.creator_id == harness.bot.user.id  # type: ignore[union-attr]
    fetched = await harness.guild.fetch_scheduled_event(made.id)
    assert fetched.name == "Winter Cup · Final" and fetched.end_time == START + timedelta(hours=3)
    [listed] = await harness.guild.fetch_scheduled_events()
    assert listed.id == made.id


@pytest.mark.parametrize(("changes", "path", "code"), [
    ({"name": "x" * (limits.SCHEDULED_EVENT_NAME_MAX + 1)}, ("name",), "BASE_TYPE_BAD_LENGTH"),
    ({"description": "x" * (limits.SCHEDULED_EVENT_DESCRIPTION_MAX + 1)}, ("description",),
     "BASE_TYPE_MAX_LENGTH"),
    ({"location": "x" * (limits.SCHEDULED_EVENT_LOCATION_MAX + 1)},
     ("entity_metadata", "location"), "BASE_TYPE_BAD_LENGTH"),
    ({"start_time": NOW - timedelta(minutes=1), "end_time": NOW + timedelta(hours=1)},
     ("scheduled_start_time",), "GUILD_SCHEDULED_EVENT_SCHEDULE_PAST"),
    ({"end_time": START - timedelta(minutes=1)}, ("scheduled_end_time",),
     "GUILD_SCHEDULED_EVENT_END_BEFORE_START"),
    # discord.py infers "external" from a location but does not send it: Discord needs it.
    ({"entity_type": discord.utils.MISSING}, ("entity_type",), "BASE_TYPE_REQUIRED"),
    ({"privacy_level": discord.utils.MISSING}, ("privacy_level",), "BASE_TYPE_REQUIRED"),
])
async def test_what_discord_refuses_at_creation_is_refused(
    harness: DiscordHarness, changes: dict[str, Any], path: tuple[str, ...], code: str
) -> None:
    with pytest.raises(discord.HTTPException) as caught:
        await create(harness, **changes)

    body = refused_with(harness, caught)
    assert (caught.value.status, body["code"]) == (400, 50035)
    node = body["errors"]
    for key in path:
        node = node[key]
    assert node["_errors"][0]["code"] == code
    assert harness.sim.events_of() == []


async def test_exactly_at_the_limits_is_taken(harness: DiscordHarness) -> None:
    await create(
        harness, name="x" * limits.SCHEDULED_EVENT_NAME_MAX,
        description="x" * limits.SCHEDULED_EVENT_DESCRIPTION_MAX,
        location="x" * limits.SCHEDULED_EVENT_LOCATION_MAX,
    )
    assert len(harness.sim.events_of()) == 1


async def test_status_goes_scheduled_active_completed_and_a_finished_event_is_not_edited(
    harness: DiscordHarness,
) -> None:
    made = await create(harness)
    started = await made.start()
    ended = await started.end()
    assert ended.status is discord.EventStatus.completed

    with pytest.raises(discord.HTTPException) as caught:
        await ended.edit(name="Again")
    assert refused_with(harness, caught)["code"] == 180000  # Cannot update a finished event


async def test_a_scheduled_event_is_not_completed_without_starting(
    harness: DiscordHarness,
) -> None:
    made = await create(harness)
    with pytest.raises(discord.HTTPException) as caught:
        await made.edit(status=discord.EventStatus.completed)
    body = refused_with(harness, caught)
    assert body["errors"]["status"]["_errors"][0]["code"] == (
        "GUILD_SCHEDULED_EVENT_INVALID_STATUS_TRANSITION"
    )
    cancelled = await made.cancel()
    assert cancelled.status is discord.EventStatus.cancelled
    with pytest.raises(discord.HTTPException):
        await cancelled.edit(location="Elsewhere")
    harness.sim.take_refusals()


async def test_a_move_into_the_past_is_refused(harness: DiscordHarness) -> None:
    made = await create(harness)
    with pytest.raises(discord.HTTPException) as caught:
        await made.edit(start_time=NOW - timedelta(hours=1), end_time=NOW + timedelta(hours=1))
    assert refused_with(harness, caught)["code"] == 50035


async def test_without_manage_events_discord_answers_403_and_the_test_goes_on(
    harness: DiscordHarness,
) -> None:
    made = await create(harness)
    harness.sim.allow_manage_events(False)
    with pytest.raises(discord.Forbidden) as caught:
        await create(harness)
    assert caught.value.code == 50013
    with pytest.raises(discord.Forbidden):
        await made.edit(name="Moved")
    assert harness.sim.take_refusals() == []  # the server's doing, not the bot's


async def test_a_deleted_event_is_unknown(harness: DiscordHarness) -> None:
    made = await create(harness)
    await made.delete()
    with pytest.raises(discord.NotFound) as caught:
        await harness.guild.fetch_scheduled_event(made.id)
    assert caught.value.code == 10070
    assert harness.sim.take_refusals() == []


async def test_a_refusal_the_bot_catches_still_fails_the_test(harness: DiscordHarness) -> None:
    with pytest.raises(discord.HTTPException):
        await create(harness, name="x" * 101)
    with pytest.raises(RefusedByDiscord):
        harness.sim.check_refusals()


async def test_the_fake_discord_api_keeps_and_refuses_scheduled_events_over_http(
    fake_discord: FakeDiscordApi, discord_clients: DiscordClients
) -> None:
    fake_discord.scheduled_events.now = lambda: NOW
    client = await discord_clients.login()
    payload = {
        "name": "Winter Cup · Final", "scheduled_start_time": START.isoformat(),
        "scheduled_end_time": (START + timedelta(hours=3)).isoformat(),
        "entity_type": discord.EntityType.external.value,
        "privacy_level": discord.PrivacyLevel.guild_only.value,
        "entity_metadata": {"location": "Winter Cup"},
    }
    made = await client.http.create_guild_scheduled_event(1, **payload)
    fetched = await client.http.get_scheduled_event(1, made["id"], False)
    assert fetched["name"] == "Winter Cup · Final"

    with pytest.raises(discord.HTTPException) as caught:
        await client.http.edit_scheduled_event(1, made["id"], name="x" * 101)
    assert caught.value.status == 400 and caught.value.code == 50035
    assert "In name: Must be between 1 and 100 in length." in str(caught.value)
    [refusal] = fake_discord.refusals
    assert refusal.what == "edit a scheduled event"
    await client.http.delete_scheduled_event(1, made["id"])
    assert await client.http.get_scheduled_events(1, False) == []
