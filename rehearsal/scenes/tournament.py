"""A tournament run by RaceDesk: a match scheduled, its room opened on time by the scheduler,
the players invited, the race, and the results on the match and in the results channel."""

from __future__ import annotations

import time

import discord

from core.events import (
    MatchResultEvent,
    MatchScheduledEvent,
    RacetimeEntrantInvitedEvent,
    RacetimeRaceStatusChangedEvent,
    RacetimeRoomCreatedEvent,
    RacetimeRoomOpenedEvent,
)
from rehearsal.stage import Scene, Stage

TOURNAMENT, MATCH, SECOND = "Spring Cup", "Final", "Semi-final 2"
OPEN_MINUTES = 30  # the shortest "room open minutes before" a tournament may have
# The room falls due this long after the match is scheduled (--fast: sooner).
LEAD_SECONDS, FAST_LEAD_SECONDS = 8, 3
FINISH = {"RacerOne": "done", "RacerTwo": "done"}


def posted_in(channel: discord.TextChannel, sent: list[discord.Message]) -> list[discord.Message]:
    return [m for m in sent if m.channel.id == channel.id]


async def link(stage: Stage, name: str, *, dms_open: bool = True) -> None:
    """``name`` links their racetime.gg account: /link-racetime, the button, racetime's
    authorization page (they are signed in there and approve), back on RaceDesk's page."""
    member = stage.member(name)
    await stage.racetime.authorize_as(stage.cast.racers[name])
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
        lambda sent: any(
            isinstance(m.channel, discord.DMChannel) and m.channel.recipient == member
            and "now linked to racetime.gg" in (m.content or "") for m in sent
        ),
    )


async def accept_and_ready(stage: Stage, race: str, names: tuple[str, ...]) -> None:
    """Each of ``names`` accepts their invitation to ``race`` and readies up (a step each)."""
    for name in names:
        async with stage.step(f"{name} accepts the invitation and readies up"):
            user = stage.cast.racers[name]
            await stage.racetime_acts(name, "accepts the invitation",
                                      stage.racetime.racer(race, user, "accept_invite"))
            await stage.racetime_acts(name, "readies up", stage.racetime.racer(race, user, "ready"))


async def countdown(stage: Stage, slug: str) -> None:
    """Everyone is ready: racetime counts down, the race starts and runs a few seconds."""
    await stage.expect_event(
        RacetimeRaceStatusChangedEvent, "the countdown",
        lambda e: e.room_slug == slug and e.new_status == "pending",
    )
    await stage.racetime_acts("racetime", "counts down… GO!", stage.racetime.advance(16))
    await stage.racetime.advance(6)


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

    async with stage.step(f"{two} looks up their opponent's racetime.gg account with /profile"):
        reply = await stage.slash(two, "profile", member=stage.member(one))
        stage.expect_reply(reply, f"{one}#")

    lead = FAST_LEAD_SECONDS if stage.fast else LEAD_SECONDS
    starts = int(time.time()) + OPEN_MINUTES * 60 + lead
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
        late = time.time() - (starts - OPEN_MINUTES * 60)
        race = f"{created.category}/{created.room_slug}"
        stage.timeline.line("RaceDesk", f"opened {race} {late:.1f} s after it fell due")
        for name in (one, two):
            await stage.expect_event(
                RacetimeEntrantInvitedEvent, f"{name} to be invited",
                lambda e, user=cast.racers[name]: e.room_slug == created.room_slug
                and e.racetime_user_id == user,
            )
        await stage.expect_sent(
            "the room announced in #announcements",
            lambda sent: bool(posted_in(announcements, sent)),
        )

    await accept_and_ready(stage, race, (one, two))

    async with stage.step("the race starts and both finish"):
        await countdown(stage, created.room_slug)
        for name, action in FINISH.items():
            await stage.racetime_acts(name, "finishes", api.racer(race, cast.racers[name], action))
            await api.advance(3)

    async with stage.step("the results land on the match and in #results"):
        await stage.expect_event(
            MatchResultEvent, "the match's results",
            lambda e: e.match_id == created.match_id,
        )
        await stage.expect_sent(
            "the results posted in #results", lambda sent: bool(posted_in(results, sent)),
        )
        info = await stage.slash(one, "match info", match=str(created.match_id))
        stage.expect_reply(info, "1.")

    await open_by_hand(stage)


async def schedule_without_room(
    stage: Stage, organizer: str, names: list[str], title: str, *, hours: int
) -> MatchScheduledEvent:
    """``organizer`` schedules a match of ``names`` in ``hours``, its room left to be opened
    by hand (or by a tool); returns the match's event."""
    starts = int(time.time()) + hours * 3600
    players = " ".join(stage.member(name).mention for name in names)
    reply = await stage.slash(
        organizer, "match schedule", tournament=TOURNAMENT, players=players,
        when=f"<t:{starts}:F>", title=title, auto_create=False,
    )
    stage.expect_reply(reply, title)
    return await stage.expect_event(
        MatchScheduledEvent, f"the {title}", lambda e: e.scheduled_at.timestamp() == starts
    )


async def open_by_hand(stage: Stage) -> None:
    """A second match without an automatic room: a moderator opens it with /open-room."""
    cast, organizer, moderator = stage.cast, stage.cast.admin, stage.cast.owner
    one, three = "RacerOne", "RacerThree"
    async with stage.step(f"{organizer} makes {moderator} a moderator"):
        role = await stage.guild.add_role("Moderators", stage.member(moderator))
        stage.timeline.names[role.id] = role.name
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
