"""Scheduling where tournaments schedule: the players agree on their match's time (one
proposes, the other accepts), the match becomes a Discord event in the server, its players are
reminded before it, and the organizer imports the next round from a spreadsheet (CSV)."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import discord

from core.events import MatchRescheduledEvent, MatchScheduledEvent
from rehearsal.slash import BotMessage
from rehearsal.stage import Scene, Stage

SERIES = "Summer Series"
REMIND_MINUTES = 5  # the soonest a reminder may come
# The reminder falls due this long after the players agree (--fast: sooner).
LEAD_SECONDS, FAST_LEAD_SECONDS = 8, 4
PROPOSAL_TITLE = "🗓️ A time is proposed for your match"
REMINDER_TITLE = "⏰ Match reminder"


def as_reply(message: discord.Message) -> BotMessage:
    """A message RaceDesk posted (a DM, a fallback post), as pressing its buttons needs it."""
    return BotMessage(
        message.content, list(message.embeds), False, "response",
        components=[row.to_dict() for row in message.components],  # type: ignore[misc]
    )


def reminder_for(member: discord.Member) -> Callable[[discord.Message], bool]:
    """The Summer Series reminder for ``member``: by DM, or in the fallback channel."""

    def matches(message: discord.Message) -> bool:
        embed = message.embeds[0] if message.embeds else None
        return (
            embed is not None and embed.title == REMINDER_TITLE
            and SERIES in (embed.description or "")
            and (getattr(message.channel, "recipient", None) == member
                 or member.mention in (message.content or ""))
        )

    return matches


def names(stage: Stage, *who: str) -> str:
    return " ".join(stage.member(name).mention for name in who)


async def play(stage: Stage) -> None:
    organizer, one, two, three = stage.cast.admin, "RacerOne", "RacerTwo", "RacerThree"

    async with stage.step(f"{organizer} creates {SERIES}: the players agree on their times, "
                          f"reminders {REMIND_MINUTES} minutes ahead, matches as Discord events"):
        reply = await stage.slash(organizer, "tournament create", name=SERIES,
                                  category=stage.cast.category)
        stage.expect_reply(reply, SERIES)
        reply = await stage.slash(organizer, "tournament settings", tournament=SERIES,
                                  scheduling="players", reminder_minutes=REMIND_MINUTES,
                                  discord_events=True)
        stage.expect_reply(reply, "players agree and it stands")

    async with stage.step(f"{organizer} pairs {one} and {two} for Round 1, without a time"):
        reply = await stage.slash(organizer, "match schedule", tournament=SERIES,
                                  players=names(stage, one, two), title="Round 1 · A",
                                  round="Round 1")
        stage.expect_reply(reply, "Round 1 · A")
        scheduled = await stage.expect_event(
            MatchScheduledEvent, "the match without a time", lambda e: e.scheduled_at is None
        )
        match_id = scheduled.match_id

    lead = FAST_LEAD_SECONDS if stage.fast else LEAD_SECONDS
    starts = int(stage.now().timestamp()) + REMIND_MINUTES * 60 + lead
    async with stage.step(f"{one} proposes a time; {two} accepts it, and it stands"):
        reply = await stage.slash(one, "schedule propose", match=str(match_id),
                                  when=f"<t:{starts}:F>")
        stage.expect_reply(reply, f"<t:{starts}:F>")
        # RacerTwo's DMs are closed (scene 4): the buttons come in #race-notices.
        [asked] = await stage.expect_sent(
            f"the proposal, with its buttons, for {two}",
            lambda m: bool(m.embeds) and m.embeds[0].title == PROPOSAL_TITLE
            and stage.member(two).mention in (m.content or "") + str(m.embeds[0].to_dict()),
        )
        stage.timeline.line(two, "presses [Accept]")
        pressed = await stage.guild.press(as_reply(asked), "Accept", member=stage.member(two))
        if not pressed.messages:
            raise stage.fail("an answer to the Accept button", "nothing")
        await stage.expect_event(
            MatchRescheduledEvent, "the agreed time",
            lambda e: e.match_id == match_id and e.old_scheduled_at is None,
        )

    async with stage.step("the match is a Discord event in the server"):
        events: list[dict[str, object]] = []

        async def listed() -> bool:
            events[:] = [e for e in stage.guild.events_of()
                         if "Round 1 · A" in str(e.get("name"))]
            return bool(events)

        await stage.wait_until("a Discord event for the match", listed)
        event = events[0]
        metadata = event.get("entity_metadata")
        where = metadata.get("location") if isinstance(metadata, dict) else None
        stage.timeline.line("Discord", f"Events: {event['name']}, "
                                       f"{event['scheduled_start_time']}, at {where}")

    async with stage.step(f"{REMIND_MINUTES} minutes before the match, its players are "
                          "reminded"):
        for name in (one, two):
            member = stage.member(name)
            await stage.expect_sent(f"the reminder for {name}", reminder_for(member),
                                    within=lead + 20)

    async with stage.step(f"{organizer} imports Round 2 from the spreadsheet: a preview, then "
                          "Confirm"):
        when = datetime.fromtimestamp(starts, UTC) + timedelta(days=2)
        sheet = Path(tempfile.mkdtemp(prefix="racedesk-sheet-")) / "round2.csv"
        sheet.write_text(
            "round,players,when,title,key\n"
            f"Round 2,{one}|{three},{when:%Y-%m-%dT%H:%M}+00:00,Round 2 · A,R2-A\n"
            f"Round 2,{two}|{three},{when + timedelta(hours=2):%Y-%m-%dT%H:%M}+00:00,"
            "Round 2 · B,R2-B\n",
            encoding="utf-8",
        )
        stage.timeline.line(organizer, f"saves the sheet as {sheet.name}")
        preview = await stage.slash(organizer, "match import", file=sheet, tournament=SERIES)
        stage.expect_reply(preview, "2 to create")
        confirmed = await stage.press(organizer, preview, "Confirm")
        stage.expect_reply(confirmed, "2")
        for title in ("Round 2 · A", "Round 2 · B"):
            await stage.expect_event(MatchScheduledEvent, title,
                                     lambda e: e.scheduled_at is not None)

        async def on_discord() -> bool:
            listed = [str(e.get("name")) for e in stage.guild.events_of()]
            return all(any(title in name for name in listed)
                       for title in ("Round 2 · A", "Round 2 · B"))

        await stage.wait_until("the imported matches as Discord events", on_discord)
        shown = sorted(str(e.get("name")) for e in stage.guild.events_of()
                       if SERIES in str(e.get("name")))
        stage.timeline.line("Discord", f"Events: {', '.join(shown)}")


SCENE = Scene("Scheduling: players agree on a time, a reminder, Discord events, an import",
              play)
