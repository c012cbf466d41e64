"""A tournament run by RaceDesk: a match scheduled, its room opened on time by the scheduler,
the players invited, the race, and the results on the match and in the results channel."""

from __future__ import annotations

from collections.abc import Callable

import discord

from core.events import (
    MatchResultEvent,
    MatchScheduledEvent,
    RacetimeEntrantInvitedEvent,
    RacetimeRaceStatusChangedEvent,
    RacetimeRoomCreatedEvent,
    RacetimeRoomOpenedEvent,
)
from core.tournaments.tournaments import MATCH_ROOM_MINUTES_MIN
from rehearsal.matchers import entrant
from rehearsal.racetime_api import FakeRacetimeApi
from rehearsal.stage import Scene, Stage

TOURNAMENT, MATCH, SECOND = "Spring Cup", "Final", "Semi-final 2"
OPEN_MINUTES = MATCH_ROOM_MINUTES_MIN  # the soonest a tournament's rooms may open
# The room falls due this long after the match is scheduled (--fast: sooner).
LEAD_SECONDS, FAST_LEAD_SECONDS = 8, 3
FINISH = {"RacerOne": ("done", "1:37:21.3"), "RacerTwo": ("done", "1:39:44.8")}
COUNTDOWN_SECONDS = 15  # racetime's start delay in RaceDesk's rooms


def posted_in(channel: discord.TextChannel) -> Callable[[discord.Message], bool]:
    return lambda message: message.channel.id == channel.id


def on_time(late: float) -> str:
    """How late a scheduled room opened, as a person would say it (and the same on every run
    that opens it within the second)."""
    if late < 1:
        return "on time (less than a second after it fell due)"
    return f"{late:.0f} s after it fell due"


async def link(
    stage: Stage, name: str, *, dms_open: bool = True, racetime_id: str | None = None
) -> None:
    """``name`` links their racetime.gg account (a racer's, or ``racetime_id``): /link-racetime,
    the button, racetime's authorization page (they are signed in there and approve), back on
    RaceDesk's page."""
    member = stage.member(name)
    await stage.racetime.authorize_as(racetime_id or stage.cast.racers[name])
    reply = await stage.slash(name, "link-racetime")
    url = next(m for m in reply.messages if m.components).link_url
    page = await stage.browse(name, url, "the [Link on racetime.gg] button")
    if "✅ Linked" not in page:
        raise stage.fail("the page saying they are linked", page[:300])
    if not dms_open:
        stage.timeline.line(name, "gets no confirmation DM: their DMs are closed (scene 4)")
        return
    await stage.expect_sent(
        f"a DM confirming {name}'s link",
        lambda m: isinstance(m.channel, discord.DMChannel) and m.channel.recipient == member
        and "now linked to racetime.gg" in (m.content or ""),
    )


async def accept_and_ready(stage: Stage, race: str, names: tuple[str, ...]) -> None:
    """Each of ``names`` accepts their invitation to ``race`` and readies up (a step each)."""
    for name in names:
        async with stage.step(f"{name} accepts the invitation and readies up"):
            user = stage.cast.racers[name]
            await stage.racetime_acts(name, "accepts the invitation",
                                      stage.racetime.racer(race, user, "accept_invite"))
            await stage.racetime_acts(name, "readies up", stage.racetime.racer(race, user, "ready"))


class RaceClock:
    """racetime's clock in one race, which the scene moves to each racer's finish: racetime's
    time stands still otherwise (see the runner), so a race time is what the script says."""

    def __init__(self, api: FakeRacetimeApi, elapsed: float) -> None:
        self._api = api
        self._elapsed = elapsed

    async def to(self, race_time: str) -> None:
        """Move on to ``race_time`` (``1:34:12.4``) since the start."""
        hours, minutes, seconds = race_time.split(":")
        target = int(hours) * 3600 + int(minutes) * 60 + float(seconds)
        await self._api.advance(round(target - self._elapsed, 3))
        self._elapsed = target


async def countdown(stage: Stage, slug: str) -> RaceClock:
    """Everyone is ready: racetime counts down and the race starts; returns its clock."""
    await stage.expect_event(
        RacetimeRaceStatusChangedEvent, "the countdown",
        lambda e: e.room_slug == slug and e.new_status == "pending",
    )
    await stage.racetime_acts("racetime", "counts down… GO!",
                              stage.racetime.advance(COUNTDOWN_SECONDS + 1))
    return RaceClock(stage.racetime, elapsed=1.0)


async def play(stage: Stage) -> None:
    cast, api = stage.cast, stage.racetime
    one, two = "RacerOne", "RacerTwo"
    organizer = cast.admin

    async with stage.step(f"{organizer} creates {TOURNAMENT}: rooms open by themselves, "
                          f"{OPEN_MINUTES} minutes ahead"):
        stage.timeline.line(organizer, "creates #announcements and #results")
        announcements = stage.guild.add_text_channel("announcements")
        results = stage.guild.add_text_channel("results")
        reply = await stage.slash(
            organizer, "tournament create", name=TOURNAMENT, category=cast.category,
            auto_create_rooms=True, room_open_minutes_before=OPEN_MINUTES,
            announcement_channel=announcements, results_channel=results,
        )
        stage.expect_reply(reply, TOURNAMENT)

    for name in (one, two):
        async with stage.step(f"{name} links their racetime.gg account with /link-racetime"):
            await link(stage, name, dms_open=name != two)

    async with stage.step(f"{two} looks up their opponent's racetime.gg account (/profile show)"):
        reply = await stage.slash(two, "profile show", member=stage.member(one))
        stage.expect_reply(reply, f"{one}#")

    lead = FAST_LEAD_SECONDS if stage.fast else LEAD_SECONDS
    starts = int(stage.now().timestamp()) + OPEN_MINUTES * 60 + lead
    async with stage.step(f"{organizer} schedules the {MATCH}: its room falls due "
                          f"{lead} s from now"):
        players = f"{stage.member(one).mention} {stage.member(two).mention}"
        reply = await stage.slash(
            organizer, "match schedule", tournament=TOURNAMENT, players=players,
            when=f"<t:{starts}:F>", title=MATCH,
        )
        stage.expect_reply(reply, f"<t:{starts}:F>")

    async with stage.step("the scheduler opens the room on time and invites both players"):
        created = await stage.expect_event(
            RacetimeRoomCreatedEvent, "the scheduler to open the room",
            lambda e: e.match_id is not None, within=lead + 20,
        )
        late = stage.now().timestamp() - (starts - OPEN_MINUTES * 60)
        race = f"{created.category}/{created.room_slug}"
        stage.timeline.line("RaceDesk", f"opened {race} {on_time(late)}")
        for name in (one, two):
            await stage.expect_event(
                RacetimeEntrantInvitedEvent, f"{name} to be invited",
                entrant(cast.racers[name], room=created.room_slug),
            )
        await stage.expect_sent("the room announced in #announcements", posted_in(announcements))

    await accept_and_ready(stage, race, (one, two))

    (first, (action, first_time)), (last, (last_action, last_time)) = FINISH.items()
    async with stage.step(f"the race starts; {first} finishes"):
        clock = await countdown(stage, created.room_slug)
        await clock.to(first_time)
        await stage.racetime_acts(first, f"finishes in {first_time}",
                                  api.racer(race, cast.racers[first], action))

    async with stage.step(f"{last} finishes: the results land on the match and in #results"):
        await clock.to(last_time)
        await stage.racetime_acts(last, f"finishes in {last_time}",
                                  api.racer(race, cast.racers[last], last_action))
        await stage.expect_event(
            MatchResultEvent, "the match's results",
            lambda e: e.match_id == created.match_id,
        )
        await stage.expect_sent("the results posted in #results", posted_in(results))
        info = await stage.slash(one, "match info", match=str(created.match_id))
        stage.expect_reply(info, "1.")

    await open_by_hand(stage)


async def schedule_without_room(
    stage: Stage, organizer: str, names: list[str], title: str, *, hours: int
) -> MatchScheduledEvent:
    """``organizer`` schedules a match of ``names`` in ``hours``, its room left to be opened
    by hand (or by a tool); returns the match's event."""
    starts = int(stage.now().timestamp()) + hours * 3600
    players = " ".join(stage.member(name).mention for name in names)
    reply = await stage.slash(
        organizer, "match schedule", tournament=TOURNAMENT, players=players,
        when=f"<t:{starts}:F>", title=title, auto_create=False,
    )
    stage.expect_reply(reply, title)
    return await stage.expect_event(
        MatchScheduledEvent, f"the {title}",
        lambda e: e.scheduled_at is not None and e.scheduled_at.timestamp() == starts,
    )


async def open_by_hand(stage: Stage) -> None:
    """A second match without an automatic room: a moderator opens it with /open-room."""
    cast, organizer, moderator = stage.cast, stage.cast.admin, stage.cast.owner
    one, three = "RacerOne", "RacerThree"
    async with stage.step(f"{organizer} makes {moderator} a moderator"):
        role = await stage.guild.add_role("Moderators", stage.member(moderator))
        stage.timeline.line(organizer, f"gives {moderator} the @Moderators role")
        reply = await stage.slash(organizer, "tournament roles", moderator=role)
        stage.expect_reply(reply, f"**Moderator role:** {role.mention}")

    async with stage.step(f"{organizer} schedules a second match, its room to be opened "
                          "by hand"):
        match_id = await schedule_without_room(stage, organizer, [one, three], SECOND, hours=2)

    async with stage.step(f"{moderator} previews the room with /open-room: {three} has not "
                          "linked racetime.gg"):
        preview = await stage.slash(moderator, "open-room", match=str(match_id.match_id))
        stage.expect_reply(preview, f"Not linked, not invited (1): {stage.member(three).mention}")

    async with stage.step(f"{moderator} confirms: the room opens, {one} is invited"):
        confirmed = await stage.press(moderator, preview, "Confirm")
        opened = await stage.expect_event(
            RacetimeRoomOpenedEvent, "the room opened by the moderator",
            lambda e: e.match_id == match_id.match_id,
        )
        await stage.expect_event(
            RacetimeEntrantInvitedEvent, f"{one} to be invited",
            lambda e: e.room_slug == opened.room_slug
            and e.racetime_user_id == cast.racers[one],
        )
        stage.expect_reply(confirmed, opened.room_slug)


SCENE = Scene("A tournament match: scheduled, opened on time, raced, results recorded", play)
