"""What ``/async review`` and ``/async leaderboard`` show: the queue's and the board's
pages, and the player's DM with a review's outcome."""

from __future__ import annotations

import logging

import discord

from cogs._shared.fitting import clip
from cogs._shared.live_races.embeds import headed_pages
from core.live_races.async_reviews import Decision, QueuedRun
from core.live_races.async_run_values import written_duration
from core.live_races.leaderboard import Leaderboard
from core.sending import nonce_for
from core.times.parsing import discord_timestamp

log = logging.getLogger(__name__)


def queue_pages(tournament: str, runs: list[QueuedRun], reviewer_id: int) -> list[str]:
    heading = f"**{tournament}** · runs waiting for review"
    if not runs:
        return [f"{heading}\nNothing waits for review."]
    return headed_pages(heading, [_line(run, reviewer_id) for run in runs])


def _line(run: QueuedRun, reviewer_id: int) -> str:
    again = f" (attempt {run.attempt})" if run.attempt > 1 else ""
    when = f" · {discord_timestamp(run.submitted_at, 'R')}" if run.submitted_at else ""
    vod = f" · <{clip(run.vod_url, 300)}>" if run.vod_url else ""
    own = (" · your own run: another reviewer decides it"
           if run.player_discord_id == reviewer_id else "")
    comment = f"\n  > {clip(run.comment, 200)}" if run.comment else ""
    return (
        f"#{run.id} · **{run.pool}** seed {run.position}{again} · <@{run.player_discord_id}> · "
        f"{written_duration(run.finish_time)}{vod}{when}{own}{comment}"
    )


def decided_text(decision: Decision, told: bool) -> str:
    """The reviewer's answer."""
    run = f"Run #{decision.run_id} by <@{decision.player_discord_id}>"
    if decision.status == "rejected":
        said = f"{run} is rejected: {decision.reason}"
    elif decision.original_time is not None and decision.finish_time is not None:
        said = (f"{run} is approved in {written_duration(decision.finish_time)} (adjusted from "
                f"{written_duration(decision.original_time)}).")
    else:
        assert decision.finish_time is not None
        said = f"{run} is approved in {written_duration(decision.finish_time)}."
    return said + ("" if told else "\nI could not DM the player: tell them yourself.")


async def tell_player(client: discord.Client, decision: Decision) -> bool:
    """DM the player the outcome, once per run (the nonce); ``False`` when it could not go."""
    try:
        user = client.get_user(decision.player_discord_id) or await client.fetch_user(
            decision.player_discord_id
        )
        await user.send(
            decision.for_player(), nonce=nonce_for(f"async-run:{decision.run_id}:review")
        )
    except discord.HTTPException:
        log.info("Could not DM user %s their run's review", decision.player_discord_id)
        return False
    return True


def leaderboard_pages(board: Leaderboard) -> list[str]:
    which = f"**{board.pool}**" if board.pool else "overall"
    heading = f"**{board.tournament}** · leaderboard, {which}"
    if not board.standings:
        return [f"{heading}\nNo approved runs yet."]
    return headed_pages(heading, [
        f"{row.rank}. <@{row.player_discord_id}>{_racetime(row.racetime_name)} · "
        f"{row.total:.2f} points · {row.runs} run(s)"
        for row in board.standings
    ])


def _racetime(name: str | None) -> str:
    """`` (Ada#1234)``: the player's racetime.gg name beside their mention, as text (a name
    with ``*`` or ``@`` is neither formatting nor a mention); nothing for one not linked."""
    if not name:
        return ""
    return f" ({discord.utils.escape_mentions(discord.utils.escape_markdown(clip(name, 100)))})"
