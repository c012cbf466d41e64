"""A tournament's matches as Discord scheduled events (issue 25), in the simulated Discord
server whose scheduled events are kept and refused as Discord's (``rehearsal.scheduled_events``):
made when a match is scheduled, moved with it, pointed at the race room once it is open,
cancelled with the match, ended when its race finishes; none when the tournament has not opted
in or the match's time has passed; once per match however often its events are delivered."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import discord
import pytest
from sqlalchemy import delete, update

from cogs._shared.permissions import actor_of_user
from cogs.discord_events import DiscordEventsCog
from core.event_store.sent_once import SentOnce
from core.events import (
    MatchScheduledEvent,
    RacetimeRaceStatusChangedEvent,
    RacetimeRoomCreatedEvent,
)
from core.identity import SYSTEM_USER_ID
from core.tournaments.discord_events import EVENT_DURATION
from core.tournaments.match_info import MatchInfo
from db.models import Match, MatchDiscordEvent, RaceRoom, RaceStatus, User
from db.secrets import SecretBox
from rehearsal.discord_rules import ACTIVE, CANCELED, COMPLETED, EXTERNAL, GUILD_ONLY, SCHEDULED
from tests.plugins.discord_bot import DiscordHarness, running_harness
from tests.racetime import frames

CATEGORY = str(frames.CATEGORY["slug"])

ROOM = "https://racetime.gg/alttpr/clever-link-1234"


def future(days: int = 2) -> datetime:
    return (datetime.now(UTC) + timedelta(days=days)).replace(microsecond=0)


@pytest.fixture
async def harness(db_url: str, secret_box: SecretBox) -> AsyncIterator[DiscordHarness]:
    async with running_harness(db_url, secret_box) as harness:
        await harness.assign_bot("alttpr", secret_box)
        await harness.services.tournaments.create(
            harness.guild.id, "Winter Cup", category="alttpr", actor=harness.set_up,
        )
        yield harness


async def organizer(harness: DiscordHarness) -> discord.Member:
    return await harness.member_with_permissions(2, manage_guild=True)


async def opt_in(harness: DiscordHarness, **more: Any) -> discord.Member:
    """Discord events on for Winter Cup, as an organizer turns them on."""
    member = await organizer(harness)
    result = await harness.slash("tournament settings", member=member, tournament="Winter Cup",
                                 discord_events=True, **more)
    assert "Discord event" in (result.answer.content or "")
    return member


async def schedule(
    harness: DiscordHarness, member: discord.Member, when: datetime, title: str = "Semi-final"
) -> MatchInfo:
    match = await harness.services.matches.schedule(
        harness.guild.id, "Winter Cup", [harness.member(0).id, harness.member(1).id], when,
        title, actor=actor_of_user(member),
    )
    await harness.services.dispatcher.drain()
    return match


def the_event(harness: DiscordHarness) -> dict[str, Any]:
    [event] = harness.sim.events_of()
    return event


def start_of(event: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(event["scheduled_start_time"])


async def finish(harness: DiscordHarness, match: MatchInfo) -> None:
    """The match's race finished on racetime: its room's final snapshot and the status change
    the engine reports, which the match results listener turns into the match's results."""
    slug = "clever-link-1234"
    racers = (frames.user(1, name="Ada"), frames.user(2, name="Bob"))
    started = frames.BASE_TIME + timedelta(minutes=5)
    final = frames.race(
        version=9, status_value="finished", slug=slug, started_at=started,
        ended_at=started + timedelta(hours=2),
        entrants=[frames.entrant(racers[0], "done", place=1, started_at=started,
                                 finish_time=timedelta(hours=1, seconds=7)),
                  frames.entrant(racers[1], "dnf")],
    )
    async with harness.services.sessionmaker.begin() as session:
        for member, racer in zip((harness.member(0), harness.member(1)), racers, strict=True):
            await session.execute(update(User).where(User.discord_id == member.id)  # type: ignore[arg-type]
                                  .values(racetime_id=racer["id"], racetime_name=racer["name"]))
        await session.execute(update(Match).where(Match.id == match.id)  # type: ignore[arg-type]
                              .values(status=RaceStatus.IN_PROGRESS.value))
        session.add(RaceRoom(category=CATEGORY, slug=slug, match_id=match.id,
                             last_status="finished", last_version=9, is_active=False,
                             last_race_data=final))
    await harness.services.dispatcher.emit(RacetimeRaceStatusChangedEvent(
        category=CATEGORY, room_slug=slug, room_name=f"{CATEGORY}/{slug}",
        old_status="in_progress", new_status="finished", racetime_version=9,
        user_id=SYSTEM_USER_ID, match_id=match.id,
    ))
    await harness.services.dispatcher.drain()


def room_opened(match: MatchInfo) -> RacetimeRoomCreatedEvent:
    return RacetimeRoomCreatedEvent(
        match_id=match.id, tournament_id=match.tournament_id, category="alttpr",
        room_slug="clever-link-1234", room_url=ROOM, scheduled_at=match.scheduled_at,
    )


async def test_a_match_is_an_event_from_its_scheduling_to_its_finish(
    harness: DiscordHarness,
) -> None:
    member = await opt_in(harness)
    when = future()
    match = await schedule(harness, member, when)

    event = the_event(harness)
    assert event["name"] == "Winter Cup · Semi-final"
    assert (event["entity_type"], event["privacy_level"], event["status"]) == (
        EXTERNAL, GUILD_ONLY, SCHEDULED,
    )
    assert event["entity_metadata"] == {"location": "Winter Cup"}
    assert start_of(event) == when
    assert datetime.fromisoformat(event["scheduled_end_time"]) == when + EVENT_DURATION
    one, two = harness.member(0), harness.member(1)
    assert f"Players: <@{one.id}> vs <@{two.id}>" in event["description"]
    assert event["description"].endswith(f"RaceDesk match #{match.id}")

    later = when + timedelta(hours=5)
    await harness.services.matches.reschedule(harness.guild.id, match.id, later,
                                              actor=actor_of_user(member))
    await harness.services.dispatcher.drain()
    moved = the_event(harness)
    assert moved["id"] == event["id"] and start_of(moved) == later

    await harness.services.dispatcher.emit(room_opened(match))
    await harness.services.dispatcher.drain()
    opened = the_event(harness)
    assert opened["entity_metadata"] == {"location": ROOM}
    assert f"Race room: {ROOM}" in opened["description"]

    await finish(harness, match)
    assert the_event(harness)["status"] == COMPLETED  # started, then ended: as Discord wants


async def test_a_cancelled_match_cancels_its_event(harness: DiscordHarness) -> None:
    member = await opt_in(harness)
    match = await schedule(harness, member, future())

    await harness.services.matches.cancel(harness.guild.id, match.id, "Forfeit",
                                          actor=actor_of_user(member))
    await harness.services.dispatcher.drain()

    assert the_event(harness)["status"] == CANCELED


async def test_without_the_setting_no_event_is_made(harness: DiscordHarness) -> None:
    member = await organizer(harness)
    match = await schedule(harness, member, future())
    await harness.services.dispatcher.emit(room_opened(match))
    await harness.services.dispatcher.drain()

    assert harness.sim.events_of() == []


async def test_a_long_title_is_clipped_not_refused(harness: DiscordHarness) -> None:
    member = await opt_in(harness)
    await schedule(harness, member, future(), title="A" * 200)

    name = the_event(harness)["name"]
    assert len(name) == 100 and name.startswith("Winter Cup · AAA") and name.endswith("…")
    # (running_harness fails the test at its end if Discord refused anything)


async def test_a_match_whose_time_has_passed_gets_no_event(
    harness: DiscordHarness, caplog: pytest.LogCaptureFixture
) -> None:
    member = await opt_in(harness)
    match = await schedule(harness, member, future())
    async with harness.services.sessionmaker.begin() as session:  # as if delivered late
        await session.execute(delete(MatchDiscordEvent))
    harness.sim.scheduled_events.events.clear()
    past = datetime.now(UTC) - timedelta(minutes=5)

    async with harness.services.sessionmaker.begin() as session:
        await session.execute(update(Match).where(Match.id == match.id)  # type: ignore[arg-type]
                              .values(scheduled_at=past))
    with caplog.at_level(logging.INFO, logger="core.tournaments.discord_events"):
        await harness.services.dispatcher.emit(MatchScheduledEvent(
            match_id=match.id, tournament_id=match.tournament_id, scheduled_at=past,
        ))
        await harness.services.dispatcher.drain()

    assert harness.sim.events_of() == []
    assert f"Match #{match.id} started at" in caplog.text


async def test_a_redelivered_event_edits_the_same_discord_event(
    harness: DiscordHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    member = await opt_in(harness)
    when = future()
    match = await schedule(harness, member, when)
    scheduled = MatchScheduledEvent(match_id=match.id, tournament_id=match.tournament_id,
                                    scheduled_at=when)
    cog = cast("DiscordEventsCog", harness.bot.get_cog("DiscordEventsCog"))

    await cog.on_match_event(scheduled)  # a repeat, its receipt kept: nothing at all
    async def never_done(_self: SentOnce, _event_id: str) -> bool:
        return False

    monkeypatch.setattr(SentOnce, "done", never_done)
    await cog.on_match_event(scheduled)  # a repeat whose receipt was lost: edits the event
    assert len(harness.sim.events_of()) == 1
    # Made just before a crash, its id never kept: found again by its description.
    async with harness.services.sessionmaker.begin() as session:
        await session.execute(delete(MatchDiscordEvent))
    await cog.on_match_event(scheduled)
    [event] = harness.sim.events_of()
    await harness.services.matches.cancel(harness.guild.id, match.id, "Forfeit",
                                          actor=actor_of_user(member))
    await harness.services.dispatcher.drain()
    assert the_event(harness)["status"] == CANCELED and the_event(harness)["id"] == event["id"]


async def test_without_manage_events_the_organizers_are_told_once(
    harness: DiscordHarness,
) -> None:
    staff = harness.sim.add_text_channel("staff")
    member = await opt_in(harness, staff_channel=staff)
    harness.sim.sent()
    harness.sim.allow_manage_events(False)

    await schedule(harness, member, future())
    await schedule(harness, member, future(3), title="Final")

    assert harness.sim.events_of() == []
    notes = [m for m in harness.sim.sent() if m.channel.id == staff.id]
    assert len(notes) == 1
    assert "Manage Events" in notes[0].content


async def test_an_event_under_way_is_ended_when_cancelled(harness: DiscordHarness) -> None:
    member = await opt_in(harness)
    match = await schedule(harness, member, future())
    [event] = harness.sim.events_of()
    event["status"] = ACTIVE  # an organizer started it in Discord

    await harness.services.matches.cancel(harness.guild.id, match.id, "Forfeit",
                                          actor=actor_of_user(member))
    await harness.services.dispatcher.drain()

    assert the_event(harness)["status"] == COMPLETED


async def test_after_a_restart_the_same_event_is_moved(harness: DiscordHarness) -> None:
    """The Discord side keeps nothing in memory: a new cog (a restart) edits the event it made."""
    member = await opt_in(harness)
    when = future()
    match = await schedule(harness, member, when)
    await harness.bot.reload_extension("cogs.discord_events")

    await harness.services.matches.reschedule(harness.guild.id, match.id, when + timedelta(days=1),
                                              actor=actor_of_user(member))
    await harness.services.dispatcher.drain()

    assert start_of(the_event(harness)) == when + timedelta(days=1)
