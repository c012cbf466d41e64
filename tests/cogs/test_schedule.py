"""Players schedule their own match (issue 25), through the real CommandTree on a real
database: /schedule propose, the DM's Accept / Decline buttons, withdraw, replace, approval,
deadlines and overdue matches, and a match without a time everywhere else."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import discord
import pytest
from sqlalchemy import select
from sqlmodel import col

from core.events import LoggedEvent, MatchTimeProposedEvent
from core.events.codec import decode_event
from core.notifications.listeners import NO_TIME_YET
from core.times.parsing import show_time
from db.models import (
    AuditLog,
    EventLogEntry,
    Match,
    MatchProposal,
    NotificationLog,
    RaceRoom,
    RacetimeBot,
    RacetimeBotGuild,
)
from db.secrets import SecretBox
from rehearsal.slash import BotMessage
from tests.plugins.discord_bot import DiscordHarness, running_harness

CUP = "Spring Cup"
PLAYERS_ONLY = "Only the match's players can propose its time or answer a proposal for it."


@pytest.fixture
async def harness(db_url: str, secret_box: SecretBox) -> AsyncIterator[DiscordHarness]:
    async with running_harness(db_url, secret_box) as harness:
        async with harness.services.sessionmaker.begin() as session:
            bot = RacetimeBot(category="alttpr", display_name="alttpr", client_id="id",
                              client_secret_encrypted=secret_box.encrypt("secret"))
            session.add(bot)
            await session.flush()
            assert bot.id is not None
            session.add(RacetimeBotGuild(bot_id=bot.id, guild_id=harness.guild.id))
        await harness.services.tournaments.create(
            harness.guild.id, CUP, category="alttpr", actor=harness.set_up,
            auto_create_rooms=True,
        )
        await harness.services.tournaments.update_settings(
            harness.guild.id, CUP, actor=harness.set_up, scheduling="players"
        )
        yield harness


def later(harness: DiscordHarness, days: int = 2, hours: int = 0) -> datetime:
    moment = harness.services.clock.now() + timedelta(days=days, hours=hours)
    return moment.replace(microsecond=0)


def stamp(moment: datetime) -> str:
    return f"<t:{int(moment.timestamp())}:F>"


async def organizer(harness: DiscordHarness) -> discord.Member:
    return await harness.member_with_permissions(2, manage_guild=True)


async def a_match(
    harness: DiscordHarness, *players: discord.Member, round_: str | None = None
) -> int:
    """A match of the cup without a time, scheduled by an organizer (member 2)."""
    who = players or (harness.member(0), harness.member(1))
    options: dict[str, Any] = {"round": round_} if round_ else {}
    made = await harness.slash(
        "match schedule", member=await organizer(harness), tournament=CUP,
        players=" ".join(p.mention for p in who), title="Quarter-final", **options,
    )
    assert "no time yet" in (made.answer.content or ""), made.answer.content
    await harness.services.dispatcher.drain()
    harness.sim.sent()  # the players' "match scheduled" DMs
    async with harness.services.sessionmaker() as session:
        match_id = (await session.execute(select(col(Match.id)))).scalars().all()[-1]
    assert match_id is not None
    return match_id


async def propose(
    harness: DiscordHarness, member: discord.Member, match_id: int, when: str
) -> BotMessage:
    result = await harness.slash("schedule propose", member=member, match=str(match_id),
                                 when=when)
    await harness.services.dispatcher.drain()
    return result.first


def dms_to(messages: list[discord.Message], member: discord.abc.User) -> list[discord.Message]:
    return [
        m for m in messages
        if isinstance(m.channel, discord.DMChannel)
        and m.channel.recipient is not None and m.channel.recipient.id == member.id
    ]


def as_reply(message: discord.Message) -> BotMessage:
    """A message the bot sent (a DM), as pressing its buttons needs it."""
    return BotMessage(
        message.content, list(message.embeds), False, "response",
        components=[row.to_dict() for row in message.components],  # type: ignore[misc]
    )


async def press(
    harness: DiscordHarness, dm: discord.Message, label: str, member: discord.Member
) -> BotMessage:
    pressed = await harness.press(as_reply(dm), label, member=member)
    await harness.services.dispatcher.drain()
    return pressed.first


async def match_time(harness: DiscordHarness, match_id: int) -> datetime | None:
    async with harness.services.sessionmaker() as session:
        match = await session.get(Match, match_id)
        assert match is not None
        return match.scheduled_at


async def proposals(harness: DiscordHarness) -> list[tuple[int, str, bool]]:
    async with harness.services.sessionmaker() as session:
        rows = (await session.execute(
            select(MatchProposal).order_by(col(MatchProposal.id))
        )).scalars().all()
    return [(p.id or 0, p.state, p.live_match_id is not None) for p in rows]


async def logged(harness: DiscordHarness, kind: str) -> int:
    async with harness.services.sessionmaker() as session:
        rows = (await session.execute(
            select(EventLogEntry).where(col(EventLogEntry.kind) == kind)
        )).scalars().all()
    return len(rows)


# -- a match without a time ---------------------------------------------------------------------


async def test_a_match_without_a_time_is_refused_where_organizers_schedule(
    harness: DiscordHarness,
) -> None:
    await harness.services.tournaments.update_settings(
        harness.guild.id, CUP, actor=harness.set_up, scheduling="organizers"
    )
    refused = await harness.slash(
        "match schedule", member=await organizer(harness), tournament=CUP,
        players=f"{harness.member(0).mention} {harness.member(1).mention}", title="Final",
    )
    assert refused.answer.content == (
        f"Give the match a time (`when`): in **{CUP}** organizers set every match's time. To "
        "let the players agree on one, change the tournament's `scheduling` with "
        "`/tournament settings`."
    )


async def test_a_match_without_a_time_is_listed_unscheduled_and_gets_no_room(
    harness: DiscordHarness,
) -> None:
    match_id = await a_match(harness)
    listed = await harness.slash("match list", member=harness.member(0))
    [field] = listed.answer.embeds[0].fields
    assert field.value is not None
    assert f"{CUP} · no time yet" in field.value
    assert "no room until the match has a time" in field.value
    info = await harness.slash("match info", member=harness.member(0), match=str(match_id))
    embed = info.first.embeds[0]
    assert embed.description == f"**{CUP}** · no time yet"
    assert "Room opens" not in [f.name for f in embed.fields]
    # The players' DM says there is no time yet, and how to set one.
    async with harness.services.sessionmaker() as session:
        payloads = (await session.execute(
            select(col(NotificationLog.payload))
            .where(col(NotificationLog.event_type) == "MATCH_SCHEDULED")
        )).scalars().all()
    assert len(payloads) == 2
    assert all(NO_TIME_YET in str(payload) for payload in payloads)
    # The room scheduler plans nothing for it.
    assert await harness.services.match_scheduler.replan(match_id) is None
    assert await harness.services.match_scheduler.due() == []


# -- proposing ----------------------------------------------------------------------------------


async def test_both_other_players_accept_and_the_time_stands(harness: DiscordHarness) -> None:
    ada, bob, cid = harness.member(0), harness.member(1), await organizer(harness)
    match_id = await a_match(harness, ada, bob, cid)
    when = later(harness)
    answer = await propose(harness, ada, match_id, stamp(when))
    assert answer.ephemeral
    assert answer.content == (
        f"Proposed {show_time(when)} for match **#{match_id}** (Quarter-final, {CUP}).\n"
        f"<@{bob.id}>, <@{cid.id}> get a DM to accept or decline it."
    )
    sent = harness.sim.sent()
    assert dms_to(sent, ada) == []
    [to_bob], [to_cid] = dms_to(sent, bob), dms_to(sent, cid)
    assert to_bob.embeds[0].title == "🗓️ A time is proposed for your match"
    assert to_bob.embeds[0].fields[0].value == show_time(when)
    first = await press(harness, to_bob, "Accept", bob)
    assert first.kind == "update"
    assert first.embeds[0].fields[-1].value == f"You accepted. Still waiting for <@{cid.id}>."
    assert await match_time(harness, match_id) is None
    last = await press(harness, to_cid, "Accept", cid)
    assert last.embeds[0].fields[-1].value == (
        f"Everyone accepted: match #{match_id} is set for this time."
    )
    assert await match_time(harness, match_id) == when
    # Through the same path as /match reschedule: the event, the DMs, the room's plan.
    assert await logged(harness, "MatchRescheduledEvent") == 1
    assert await harness.services.match_scheduler.replan(match_id) == when - timedelta(hours=1)
    async with harness.services.sessionmaker() as session:
        told = (await session.execute(
            select(col(NotificationLog.user_id))
            .where(col(NotificationLog.event_type) == "MATCH_RESCHEDULED")
        )).scalars().all()
    assert len(told) == 3, "every player's DM is queued"
    assert await proposals(harness) == [(1, "accepted", False)]
    # Pressed again: it says what became of it.
    again = await press(harness, to_bob, "Accept", bob)
    assert again.ephemeral
    assert again.content == (
        f"This proposal ({show_time(when)} for match #{match_id}) was agreed; the match is set "
        "for that time."
    )


async def test_one_declines_and_the_proposer_is_told(harness: DiscordHarness) -> None:
    ada, bob = harness.member(0), harness.member(1)
    match_id = await a_match(harness)
    when = later(harness)
    await propose(harness, ada, match_id, stamp(when))
    [dm] = dms_to(harness.sim.sent(), bob)
    declined = await press(harness, dm, "Decline", bob)
    assert declined.embeds[0].fields[-1].value == "You declined it; the proposer is told."
    [told] = dms_to(harness.sim.sent(), ada)
    assert told.content == (
        f"<@{bob.id}> declined your proposal of {show_time(when)} for match #{match_id} "
        f"(Quarter-final, {CUP}). Propose another time with `/schedule propose`."
    )
    assert await match_time(harness, match_id) is None
    assert await proposals(harness) == [(1, "declined", False)]
    late = await press(harness, dm, "Accept", bob)
    assert late.content == (
        f"This proposal ({show_time(when)} for match #{match_id}) was declined; the proposer "
        "can propose another time."
    )


async def test_a_withdrawn_proposal_cannot_be_accepted(harness: DiscordHarness) -> None:
    ada, bob = harness.member(0), harness.member(1)
    match_id = await a_match(harness)
    when = later(harness)
    await propose(harness, ada, match_id, stamp(when))
    [dm] = dms_to(harness.sim.sent(), bob)
    # Only the proposer withdraws.
    nothing = await harness.slash("schedule withdraw", member=bob, match=str(match_id))
    assert nothing.first.content == (
        f"You have no proposal waiting for match #{match_id}; nothing to withdraw."
    )
    withdrawn = await harness.slash("schedule withdraw", member=ada, match=str(match_id))
    assert withdrawn.first.content == (
        f"Withdrew your proposal of {show_time(when)} for match #{match_id}; its buttons no "
        "longer work."
    )
    pressed = await press(harness, dm, "Accept", bob)
    assert pressed.content == (
        f"This proposal ({show_time(when)} for match #{match_id}) was withdrawn by "
        f"<@{ada.id}>; nothing to answer."
    )
    assert await match_time(harness, match_id) is None


async def test_a_new_proposal_replaces_the_old_one(harness: DiscordHarness) -> None:
    ada, bob = harness.member(0), harness.member(1)
    match_id = await a_match(harness)
    first, second = later(harness), later(harness, days=3)
    await propose(harness, ada, match_id, stamp(first))
    [old_dm] = dms_to(harness.sim.sent(), bob)
    # The other player proposes instead: it replaces the first.
    answer = await propose(harness, bob, match_id, stamp(second))
    assert answer.content is not None
    assert answer.content.endswith(
        f"It replaces <@{ada.id}>'s proposal ({show_time(first)})."
    )
    [new_dm] = dms_to(harness.sim.sent(), ada)
    assert await proposals(harness) == [(1, "replaced", False), (2, "open", True)]
    old = await press(harness, old_dm, "Accept", bob)
    assert old.content == (
        f"This proposal ({show_time(first)} for match #{match_id}) was replaced by a newer one "
        "(#2): answer that one instead."
    )
    await press(harness, new_dm, "Accept", ada)
    assert await match_time(harness, match_id) == second
    async with harness.services.sessionmaker() as session:
        actions = (await session.execute(
            select(col(AuditLog.action)).where(col(AuditLog.action).startswith("match."))
            .order_by(col(AuditLog.id))
        )).scalars().all()
    assert actions == [
        "match.schedule", "match.proposal.propose", "match.proposal.replace",
        "match.proposal.propose", "match.reschedule", "match.proposal.accept",
    ]


async def test_only_the_matchs_players_may_propose(harness: DiscordHarness) -> None:
    match_id = await a_match(harness)
    boss = await organizer(harness)  # an organizer, but not a player of this match
    refused = await harness.slash("schedule propose", member=boss, match=str(match_id),
                                  when=stamp(later(harness)))
    assert refused.first.content == PLAYERS_ONLY
    assert await proposals(harness) == []


async def test_the_buttons_pressed_by_someone_else_change_nothing(
    harness: DiscordHarness,
) -> None:
    ada, bob = harness.member(0), harness.member(1)
    match_id = await a_match(harness)
    await propose(harness, ada, match_id, stamp(later(harness)))
    [dm] = dms_to(harness.sim.sent(), bob)
    stranger = await press(harness, dm, "Accept", await organizer(harness))
    assert stranger.ephemeral
    assert stranger.content == PLAYERS_ONLY
    own = await press(harness, dm, "Accept", ada)
    assert own.content == (
        "This is your own proposal: the other players answer it. `/schedule withdraw` takes "
        "it back."
    )
    assert await proposals(harness) == [(1, "open", True)]
    assert await match_time(harness, match_id) is None


async def test_a_time_in_the_past_is_refused(harness: DiscordHarness) -> None:
    match_id = await a_match(harness)
    past = later(harness, days=-1)
    refused = await harness.slash("schedule propose", member=harness.member(0),
                                  match=str(match_id), when=stamp(past))
    assert refused.first.content is not None
    assert refused.first.content.startswith(f"{show_time(past)} is in the past.")
    assert await proposals(harness) == []


def last_sunday(year: int, month: int) -> date:
    end = date(year, month, 31)
    return end - timedelta(days=(end.weekday() + 1) % 7)


def next_clock_change(now: datetime, month: int) -> date:
    """The next last Sunday of ``month`` (Europe's clock changes) at least two days ahead."""
    for year in (now.year, now.year + 1):
        day = last_sunday(year, month)
        if day > (now + timedelta(days=2)).date():
            return day
    raise AssertionError("no clock change ahead")


async def test_a_time_a_clock_change_skips_or_repeats_in_the_players_zone_is_refused(
    harness: DiscordHarness,
) -> None:
    ada = harness.member(0)
    match_id = await a_match(harness)
    await harness.slash("timezone set", member=ada, zone="Europe/Paris")
    now = harness.services.clock.now()
    spring, autumn = next_clock_change(now, 3), next_clock_change(now, 10)
    gap = await harness.slash("schedule propose", member=ada, match=str(match_id),
                              when=f"{spring:%Y-%m-%d} 02:30")
    assert gap.first.content == (
        f"`{spring:%Y-%m-%d} 02:30` does not exist in Europe/Paris: the clocks skip that hour "
        f"for daylight saving time. Pick another time, e.g. `{spring:%Y-%m-%d} 03:30`."
    )
    twice = await harness.slash("schedule propose", member=ada, match=str(match_id),
                                when=f"{autumn:%Y-%m-%d} 02:30")
    assert twice.first.content == (
        f"`{autumn:%Y-%m-%d} 02:30` happens twice in Europe/Paris, when the clocks go back. "
        f"Say which one with its offset: `{autumn:%Y-%m-%d}T02:30+02:00` (the first) or "
        f"`{autumn:%Y-%m-%d}T02:30+01:00` (the second)."
    )
    assert await proposals(harness) == []
    # Read in the player's zone: 20:00 in Paris.
    evening = await propose(harness, ada, match_id, f"{spring:%Y-%m-%d} 20:00")
    expected = datetime(spring.year, spring.month, spring.day, 18, 0, tzinfo=UTC)
    assert show_time(expected) in (evening.content or "")


async def test_after_the_room_opened_the_time_can_no_longer_change(
    harness: DiscordHarness,
) -> None:
    ada, bob = harness.member(0), harness.member(1)
    match_id = await a_match(harness)
    await propose(harness, ada, match_id, stamp(later(harness)))
    [dm] = dms_to(harness.sim.sent(), bob)
    async with harness.services.sessionmaker.begin() as session:
        session.add(RaceRoom(category="alttpr", slug="odd-ganon-0042", match_id=match_id,
                             last_status="open"))
    refused = await harness.slash("schedule propose", member=bob, match=str(match_id),
                                  when=stamp(later(harness, days=3)))
    expected = (
        f"Match #{match_id}'s room is already open (https://racetime.gg/alttpr/odd-ganon-0042), "
        "so its time can no longer change. Race at the set time in the open room, or ask an "
        "organizer if it must move."
    )
    assert refused.first.content == expected
    accepted = await press(harness, dm, "Accept", bob)
    assert accepted.content == expected
    assert await match_time(harness, match_id) is None


# -- approval -----------------------------------------------------------------------------------


async def test_in_approval_mode_an_organizer_approves_or_rejects(
    harness: DiscordHarness,
) -> None:
    await harness.services.tournaments.update_settings(
        harness.guild.id, CUP, actor=harness.set_up, scheduling="approval"
    )
    ada, bob, boss = harness.member(0), harness.member(1), await organizer(harness)
    first_match, second_match = await a_match(harness), await a_match(harness)
    when = later(harness)
    for match_id in (first_match, second_match):
        answer = await propose(harness, ada, match_id, stamp(when))
        assert "Once they accept, an organizer approves it." in (answer.content or "")
        [dm] = dms_to(harness.sim.sent(), bob)
        accepted = await press(harness, dm, "Accept", bob)
        assert accepted.embeds[0].fields[-1].value == (
            "Everyone accepted: it now waits for an organizer's approval."
        )
    assert await match_time(harness, first_match) is None
    # Players may not approve; organizers list and decide.
    refused = await harness.slash("schedule approve", member=bob, proposal=1)
    assert refused.first.content == (
        "Only organizers can do this: members with the Manage Server permission or the "
        "server's organizer role."
    )
    pending = await harness.slash("schedule pending", member=boss)
    names = [f.name for f in pending.first.embeds[0].fields]
    assert names == [f"Proposal #1 · match #{first_match} · Quarter-final",
                     f"Proposal #2 · match #{second_match} · Quarter-final"]
    approved = await harness.slash("schedule approve", member=boss, proposal=1)
    assert approved.first.content == (
        f"Approved: match **#{first_match}** (Quarter-final, {CUP}) is set for "
        f"{show_time(when)}. The players are told by DM."
    )
    assert await match_time(harness, first_match) == when
    harness.sim.sent()
    rejected = await harness.slash("schedule reject", member=boss, proposal=2,
                                   reason="The restream is busy then")
    assert rejected.first.content == (
        f"Rejected proposal #2 ({show_time(when)} for match #{second_match}); <@{ada.id}> is "
        "told why."
    )
    await harness.services.dispatcher.drain()
    [told] = dms_to(harness.sim.sent(), ada)
    assert "The restream is busy then" in (told.content or "")
    assert await match_time(harness, second_match) is None
    again = await harness.slash("schedule approve", member=boss, proposal=2)
    assert again.first.content == (
        f"Proposal #2 ({show_time(when)} for match #{second_match}) does not wait for "
        "approval: it was rejected by an organizer; propose another time."
    )
    assert await proposals(harness) == [(1, "approved", False), (2, "rejected", False)]
    empty = await harness.slash("schedule pending", member=boss)
    assert empty.first.embeds[0].description == (
        "None: every proposal players agreed on is decided."
    )


async def test_where_organizers_schedule_players_cannot_propose(
    harness: DiscordHarness,
) -> None:
    match_id = await a_match(harness)
    await harness.services.tournaments.update_settings(
        harness.guild.id, CUP, actor=harness.set_up, scheduling="organizers"
    )
    refused = await harness.slash("schedule propose", member=harness.member(0),
                                  match=str(match_id), when=stamp(later(harness)))
    assert refused.first.content == (
        f"In **{CUP}** organizers set every match's time; players do not propose one. Tell "
        "an organizer the time you agreed on."
    )


# -- deadlines ----------------------------------------------------------------------------------


async def test_past_the_rounds_deadline_proposals_are_refused_and_the_match_is_overdue(
    harness: DiscordHarness,
) -> None:
    boss = await organizer(harness)
    late_match = await a_match(harness, round_="Round 1")
    await a_match(harness, round_="Round 2")
    deadline = later(harness, days=-1)
    set_it = await harness.slash("tournament deadline", member=boss, tournament=CUP,
                                 round="round 1", when=stamp(deadline))
    assert set_it.first.content == (
        f"**{CUP}**: round 1 matches must have a time by {show_time(deadline)}. After it "
        "players can no longer propose one, and `/schedule overdue` lists the matches still "
        "without a time."
    )
    await harness.slash("tournament deadline", member=boss, tournament=CUP, round="Round 2",
                        when=stamp(later(harness, days=5)))
    refused = await harness.slash("schedule propose", member=harness.member(0),
                                  match=str(late_match), when=stamp(later(harness)))
    assert refused.first.content == (
        f"The deadline for scheduling Round 1 matches of **{CUP}** was {show_time(deadline)}, "
        "so players can no longer propose a time. Ask an organizer to set it "
        "(`/match reschedule`) or to move the deadline (`/tournament deadline`)."
    )
    overdue = await harness.slash("schedule overdue", member=boss, tournament=CUP)
    [field] = overdue.answer.embeds[0].fields
    assert field.name == f"#{late_match} · Quarter-final"
    assert field.value is not None
    assert field.value.startswith(f"Round 1 · deadline {show_time(deadline)}")
    not_boss = await harness.slash("schedule overdue", member=harness.member(0), tournament=CUP)
    assert not_boss.first.content is not None
    assert not_boss.first.content.startswith("Only organizers can do this")
    removed = await harness.slash("tournament deadline", member=boss, tournament=CUP,
                                  round="Round 1", remove=True)
    assert removed.first.content == f"**{CUP}**: Round 1 has no scheduling deadline now."
    answer = await propose(harness, harness.member(0), late_match, stamp(later(harness)))
    assert (answer.content or "").startswith("Proposed ")


# -- the DMs ------------------------------------------------------------------------------------


async def test_a_redelivered_proposal_is_not_sent_twice(harness: DiscordHarness) -> None:
    ada, bob = harness.member(0), harness.member(1)
    match_id = await a_match(harness)
    await propose(harness, ada, match_id, stamp(later(harness)))
    assert len(dms_to(harness.sim.sent(), bob)) == 1
    async with harness.services.sessionmaker() as session:
        row = (await session.execute(
            select(EventLogEntry).where(col(EventLogEntry.kind) == "MatchTimeProposedEvent")
        )).scalar_one()
    # The same event, id and all, delivered again.
    again = decode_event(row.kind, row.payload)  # type: ignore[arg-type]
    assert isinstance(again, MatchTimeProposedEvent)
    dispatcher = harness.services.dispatcher
    dispatcher.publish([LoggedEvent(row.seq, again)])
    await dispatcher.drain()
    assert harness.sim.sent() == []


async def test_a_refused_dm_goes_to_the_fallback_channel_or_the_proposer_is_told(
    harness: DiscordHarness,
) -> None:
    ada, bob = harness.member(0), harness.member(1)
    harness.sim.refuse_dms(bob)
    match_id = await a_match(harness)
    await propose(harness, ada, match_id, stamp(later(harness)))
    [told] = dms_to(harness.sim.sent(), ada)
    assert told.content == (
        f"I could not reach <@{bob.id}> by DM (they do not accept DMs from the bot) and this "
        "server has no fallback channel, so they have not seen your proposal. Tell them, or "
        "ask an organizer to set the time."
    )
    notices = harness.sim.add_text_channel("notices")
    await harness.slash("notifications channel", member=await organizer(harness),
                        channel=notices)
    second = later(harness, days=3)
    await propose(harness, ada, match_id, stamp(second))
    [post] = [m for m in harness.sim.sent() if m.channel == notices]
    assert post.content == f"<@{bob.id}>, I could not send you this by DM:"
    # Its buttons work there too.
    await press(harness, post, "Accept", bob)
    assert await match_time(harness, match_id) == second


async def test_an_organizer_can_still_set_the_time_of_a_match_without_one(
    harness: DiscordHarness,
) -> None:
    match_id = await a_match(harness)
    when = later(harness)
    moved = await harness.slash("match reschedule", member=await organizer(harness),
                                match=str(match_id), when=stamp(when))
    assert moved.first.content == (
        f"Moved match **#{match_id}** (**Quarter-final**, {CUP}) to {show_time(when)}. The "
        "players are told by DM."
    )
    assert await match_time(harness, match_id) == when
    assert await harness.services.match_scheduler.replan(match_id) == when - timedelta(hours=1)


async def test_a_time_set_or_a_match_cancelled_meanwhile_ends_the_proposal(
    harness: DiscordHarness,
) -> None:
    ada, bob, boss = harness.member(0), harness.member(1), await organizer(harness)
    moved_match, cancelled_match = await a_match(harness), await a_match(harness)
    proposed, set_time = later(harness), later(harness, days=4)
    for match_id in (moved_match, cancelled_match):
        await propose(harness, ada, match_id, stamp(proposed))
    first_dm, second_dm = dms_to(harness.sim.sent(), bob)
    await harness.slash("match reschedule", member=boss, match=str(moved_match),
                        when=stamp(set_time))
    await harness.slash("match cancel", member=boss, match=str(cancelled_match),
                        reason="No-show")
    late = await press(harness, first_dm, "Accept", bob)
    assert late.content == (
        f"This proposal ({show_time(proposed)} for match #{moved_match}) no longer counts: "
        "the match's time was set meanwhile."
    )
    gone = await press(harness, second_dm, "Accept", bob)
    assert gone.content == (
        f"This proposal ({show_time(proposed)} for match #{cancelled_match}) no longer "
        "counts: the match was cancelled."
    )
    assert await match_time(harness, moved_match) == set_time
    assert await proposals(harness) == [(1, "replaced", False), (2, "replaced", False)]
