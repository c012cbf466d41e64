"""An async tournament run on the players' own time: the organizer rolls a pool's seeds with
the tournament's seed provider and posts a Start a run button; a player starts their seed, gets
it by DM and submits their time from that DM; a reviewer approves it, the leaderboard ranks it
and the tournament's public page shows it."""

from __future__ import annotations

import html
import re
from collections.abc import Callable

import discord

from core.events import AsyncRunStartedEvent, AsyncRunSubmittedEvent
from core.events.async_runs import AsyncRunApprovedEvent
from rehearsal.stage import Scene, Stage

WEEKLY, POOL = "Sunday Weekly", "Week 1"
# The rehearsal's clock runs for real, so a seed of a few minutes stands in for one of hours:
# a time may not be longer than the time since the start (and a grace of five minutes).
PAR, TIME = "4:30", "4:41"
VOD = "https://www.twitch.tv/videos/2026120601"
_ROW = re.compile(r"<tr><td>(.*?)</tr>", re.S)  # a leaderboard's row on the public page
_CELL = re.compile(r"(?:^|<td[^>]*>)([^<]*)</td>")


def dm_to(stage: Stage, name: str, text: str) -> Callable[[discord.Message], bool]:
    member = stage.member(name)

    def check(message: discord.Message) -> bool:
        channel = message.channel
        return (isinstance(channel, discord.DMChannel) and channel.recipient == member
                and text in (message.content or ""))

    return check


def posted(text: str) -> Callable[[discord.Message], bool]:
    def check(message: discord.Message) -> bool:
        return not isinstance(message.channel, discord.DMChannel) and text in (
            message.content or ""
        )

    return check


async def play(stage: Stage) -> None:
    organizer, player = stage.cast.admin, "RacerOne"  # linked to racetime.gg earlier

    async with stage.step(f"{organizer} creates {WEEKLY} with {POOL}, whose two seeds "
                          "alttpr.com rolls"):
        reply = await stage.slash(organizer, "async create", name=WEEKLY,
                                  category=stage.cast.category)
        stage.expect_reply(reply, f"Created the async tournament **{WEEKLY}**")
        reply = await stage.slash(organizer, "async pool add", tournament=WEEKLY, name=POOL)
        stage.expect_reply(reply, f"Added the pool **{POOL}**")
        reply = await stage.slash(organizer, "async seeds", tournament=WEEKLY,
                                  provider="alttpr", presets="open")
        stage.expect_reply(reply, "ALTTPR")
        reply = await stage.slash(organizer, "async seed generate", tournament=WEEKLY,
                                  pool=POOL, count=2, par=PAR)
        stage.expect_reply(reply, f"Rolled 2 `open` seed(s) into **{POOL}**")

    async with stage.step(f"{organizer} posts the Start a run button and makes {WEEKLY}'s "
                          "page public"):
        reply = await stage.slash(organizer, "async start-button", tournament=WEEKLY)
        stage.expect_reply(reply, "Posted the Start a run buttons")
        [board] = await stage.expect_sent("the Start a run post", posted(WEEKLY))
        reply = await stage.slash(organizer, "async page", tournament=WEEKLY, public=True)
        stage.expect_reply(reply, "is now public")
        public = next(word.strip("<>().") for word in reply.text.split() if "/t/" in word)
        # The page's address on the public URL in the config; here, this web server's.
        page_url = stage.web_url + "/t/" + public.split("/t/", 1)[1]

    async with stage.step(f"{player} joins, presses Start a run and starts: the seed comes "
                          "by DM, with a Submit button"):
        reply = await stage.slash(player, "async join", tournament=WEEKLY)
        stage.expect_reply(reply, "now registered")
        preview = await stage.press_sent(player, board, f"Start a run: {POOL}")
        stage.expect_reply(preview, "your next seed is seed 1 of 2")
        await stage.press(player, preview, "Start")
        started = await stage.expect_event(AsyncRunStartedEvent, "the run's start")
        [dm] = await stage.expect_sent(f"the seed in {player}'s DMs",
                                       dm_to(stage, player, "your run started"))

    async with stage.step(f"{player} finishes and submits from the DM: time and VOD"):
        form = await stage.press_sent(player, dm, "Submit")
        [modal] = [message for message in form.messages if message.kind == "modal"]
        labels = list(modal.fields)
        await stage.submit(player, form, dict(zip(labels, (TIME, VOD), strict=False)))
        await stage.expect_event(AsyncRunSubmittedEvent, "the submission",
                                 lambda e: e.run_id == started.run_id)

    async with stage.step(f"{organizer} reviews: the queue, then approves; {player} is told"):
        reply = await stage.slash(organizer, "async review queue", tournament=WEEKLY)
        stage.expect_reply(reply, f"#{started.run_id}")
        reply = await stage.slash(organizer, "async review approve", run=started.run_id)
        stage.expect_reply(reply, "is approved in 0:04:41")
        await stage.expect_event(AsyncRunApprovedEvent, "the approval",
                                 lambda e: e.run_id == started.run_id)
        await stage.expect_sent(f"{player} told", dm_to(stage, player, "approved"))

    async with stage.step("the leaderboard ranks the run; anyone opens the public page"):
        reply = await stage.slash(player, "async leaderboard", tournament=WEEKLY)
        stage.expect_reply(reply, "1. ")
        page = await stage.browse(player, page_url, f"{WEEKLY}'s public page")
        rows = [" · ".join(html.unescape(cell) for cell in _CELL.findall(row))
                for row in _ROW.findall(page)]
        if not rows or "95.93" not in rows[0] or "RacerOne" not in rows[0]:
            raise stage.fail("the leaderboard with RacerOne's racetime.gg name and 95.93 "
                             "points", repr(rows[:2] or page[:200]))
        stage.timeline.line("browser", f"the leaderboard: {rows[0]}")


SCENE = Scene("An async tournament on the players' own time: a seed started by button, "
              "submitted from the DM, reviewed, ranked, on the public page", play)
