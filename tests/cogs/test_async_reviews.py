"""Review of players' own async runs (issue 26), through the real CommandTree and database on
a ManualClock: the reviewer role, the queue, approve, reject with a reason, adjust (keeping
the player's time), never one's own run, non-reviewers refused, two reviewers at once decide
once, and the player's DM sent once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import discord
import discord.ext.test as dpytest
import discord.ext.test.backend as dpytest_backend
import pytest
from sqlmodel import select

from core.access import Actor
from core.access.actor import MANAGE_GUILD
from core.clock import ManualClock
from core.errors import UserFacingError
from db.models import AsyncPool, AsyncPoolRun, AsyncRunStatus
from db.queries.users import get_or_create_user_by_discord_id
from db.secrets import SecretBox
from tests.cogs.test_async_runs import (
    ASYNC,
    POOL,
    START,
    VOD,
    Scene,
    dms_to,
    event_kinds,
    runs,
    start,
    submit,
)
from tests.plugins.discord_bot import running_harness

NOT_REVIEWER = (
    f"Only **{ASYNC}**'s reviewers (its reviewer role) and the server's organizers can review "
    "its runs."
)


@pytest.fixture
async def scene(db_url: str, secret_box: SecretBox) -> AsyncIterator[Scene]:
    """An async tournament with one pool and a seed; Ada and Bob joined it, and Bob submitted
    his run of seed 1 in 1:20:00."""
    clock = ManualClock(START)
    async with running_harness(db_url, secret_box, clock=clock) as harness:
        ada, bob = harness.member(0), harness.member(1)
        boss = await harness.member_with_permissions(2, manage_guild=True)
        await harness.assign_bot("alttpr", secret_box)
        scene = Scene(harness, clock, ada, bob, boss)
        await scene.slash("async create", boss, name=ASYNC, category="alttpr")
        await scene.slash("async pool add", boss, tournament=ASYNC, name=POOL)
        await scene.slash("async seed add", boss, tournament=ASYNC, pool=POOL,
                          seed="https://alttpr.com/h/one", par="1:30:00")
        for member in (ada, bob):
            await scene.slash("async join", member, tournament=ASYNC)
        await start(scene, bob)
        await clock.advance(timedelta(hours=1, minutes=25).total_seconds())
        assert "It waits for review." in await submit(scene, bob, "1:20:00")
        harness.sim.sent()
        yield scene


async def make_reviewer(scene: Scene, member: discord.Member) -> discord.Member:
    role = dpytest_backend.make_role("Async reviewers", scene.harness.guild)
    await dpytest.add_role(member, role)
    said = await scene.slash("async reviewers", scene.boss, tournament=ASYNC, role=role)
    assert said.startswith(f"Members with {role.mention} now review the runs of **{ASYNC}**")
    found = scene.harness.guild.get_member(member.id)
    assert found is not None
    return found


async def run_id(scene: Scene) -> int:
    (run,) = await runs(scene)
    assert run.id is not None
    return run.id


async def test_queue_lists_submitted_runs_for_reviewers_only(scene: Scene) -> None:
    assert await scene.slash("async review queue", scene.ada, tournament=ASYNC) == NOT_REVIEWER
    ada = await make_reviewer(scene, scene.ada)
    number = await run_id(scene)
    shown = await scene.slash("async review queue", ada, tournament=ASYNC)
    assert shown.startswith(f"**{ASYNC}** · runs waiting for review\n#{number} · **{POOL}** "
                            f"seed 1 · {scene.bob.mention} · 1:20:00 · <{VOD}>")
    assert await scene.slash("async review queue", scene.bob, tournament=ASYNC) == NOT_REVIEWER


async def test_reviewer_approves_once_and_the_player_is_told_once(scene: Scene) -> None:
    ada = await make_reviewer(scene, scene.ada)
    number = await run_id(scene)
    said = await scene.slash("async review approve", ada, run=number)
    assert said == f"Run #{number} by {scene.bob.mention} is approved in 1:20:00."
    again = await scene.slash("async review approve", scene.boss, run=number)
    assert again == f"Async run #{number} was already approved by {ada.mention}."
    sent = scene.harness.sim.sent()
    assert dms_to(sent, scene.bob) == [
        f"Your run of seed 1 of **{ASYNC}** · **{POOL}** was approved in 1:20:00."
    ]
    (run,) = await runs(scene)
    assert run.status == AsyncRunStatus.APPROVED.value
    assert run.reviewer_discord_id == ada.id and run.reviewed_at == START + timedelta(
        hours=1, minutes=25
    )
    assert await event_kinds(scene) == [
        "AsyncRunStartedEvent", "AsyncRunSubmittedEvent", "AsyncRunApprovedEvent"
    ]
    assert "Nothing waits for review." in await scene.slash(
        "async review queue", ada, tournament=ASYNC
    )


async def test_reject_needs_a_reason_and_tells_it(scene: Scene) -> None:
    number = await run_id(scene)
    said = await scene.slash("async review reject", scene.boss, run=number, reason="VOD cut")
    assert said == f"Run #{number} by {scene.bob.mention} is rejected: VOD cut"
    assert dms_to(scene.harness.sim.sent(), scene.bob) == [
        f"Your run of seed 1 of **{ASYNC}** · **{POOL}** was rejected: VOD cut"
    ]
    (run,) = await runs(scene)
    assert (run.status, run.review_reason, run.reviewer_discord_id) == (
        "rejected", "VOD cut", scene.boss.id
    )
    assert (await event_kinds(scene))[-1] == "AsyncRunRejectedEvent"


async def test_adjust_approves_with_the_corrected_time_and_keeps_the_original(
    scene: Scene,
) -> None:
    number = await run_id(scene)
    assert "not a time" in await scene.slash(
        "async review adjust", scene.boss, run=number, time="soon"
    )
    said = await scene.slash(
        "async review adjust", scene.boss, run=number, time="1:21:30", reason="timer late"
    )
    assert said == (f"Run #{number} by {scene.bob.mention} is approved in 1:21:30 (adjusted "
                    "from 1:20:00).")
    assert dms_to(scene.harness.sim.sent(), scene.bob) == [
        f"Your run of seed 1 of **{ASYNC}** · **{POOL}** was approved with its time adjusted "
        "from 1:20:00 to 1:21:30 (timer late)."
    ]
    (run,) = await runs(scene)
    assert run.status == "approved"
    assert run.finish_time == timedelta(hours=1, minutes=21, seconds=30)
    assert run.original_finish_time == timedelta(hours=1, minutes=20)
    assert (await event_kinds(scene))[-1] == "AsyncRunAdjustedEvent"


async def test_nobody_reviews_their_own_run_and_non_reviewers_are_refused(
    scene: Scene,
) -> None:
    number = await run_id(scene)
    assert await scene.slash("async review approve", scene.ada, run=number) == NOT_REVIEWER
    bob = await make_reviewer(scene, scene.bob)
    assert await scene.slash("async review approve", bob, run=number) == (
        "You can't review your own run: another reviewer will."
    )
    assert "no async run #999" in await scene.slash("async review approve", bob, run=999)
    (run,) = await runs(scene)
    assert run.status == "submitted"
    assert dms_to(scene.harness.sim.sent(), scene.bob) == []


async def test_two_reviewers_at_once_decide_once(scene: Scene) -> None:
    ada = await make_reviewer(scene, scene.ada)
    number = await run_id(scene)
    answers = await asyncio.gather(
        scene.slash("async review approve", ada, run=number),
        scene.slash("async review reject", scene.boss, run=number, reason="no VOD"),
    )
    decided = [a for a in answers if a.startswith(f"Run #{number}")]
    assert len(decided) == 1, answers
    assert len([a for a in answers if "was already" in a]) == 1, answers
    assert len(dms_to(scene.harness.sim.sent(), scene.bob)) == 1
    kinds = await event_kinds(scene)
    assert len([k for k in kinds if k in ("AsyncRunApprovedEvent", "AsyncRunRejectedEvent")]) == 1


# -- the leaderboard ---------------------------------------------------------------------------


async def live_finishes(scene: Scene, times: dict[int, timedelta]) -> None:
    """Live race results of the pool, as the live race results listener records them."""
    async with scene.harness.services.sessionmaker.begin() as session:
        pool = (await session.execute(select(AsyncPool))).scalars().one()
        for discord_id, time in times.items():
            user = await get_or_create_user_by_discord_id(session, discord_id)
            session.add(AsyncPoolRun(pool_id=pool.id, user_id=user.id, status="done",
                                     finish_time=time, event_id=f"race:{discord_id}"))


async def test_leaderboard_ranks_approved_runs_and_live_race_finishes(scene: Scene) -> None:
    empty = await scene.slash("async leaderboard", scene.ada, tournament=ASYNC)
    assert empty == f"**{ASYNC}** · leaderboard, overall\nNo approved runs yet."
    number = await run_id(scene)
    await scene.slash("async review approve", scene.boss, run=number)
    await live_finishes(scene, {scene.ada.id: timedelta(hours=1, minutes=40)})
    board = await scene.slash("async leaderboard", scene.ada, tournament=ASYNC, pool=POOL)
    # Bob 1:20:00 against par 1:30:00: 111.11, clamped to 105; Ada's live race 1:40:00
    # against the pool's par (its seeds' mean, 1:30:00): 88.89.
    assert board == (
        f"**{ASYNC}** · leaderboard, **{POOL}**\n"
        f"1. {scene.bob.mention} · 105.00 points · 1 run(s)\n"
        f"2. {scene.ada.mention} · 88.89 points · 1 run(s)"
    )


async def test_a_long_leaderboard_is_paged(scene: Scene) -> None:
    await live_finishes(scene, {
        10**17 + index: timedelta(hours=1, minutes=30, seconds=index) for index in range(120)
    })
    result = await scene.harness.slash(
        "async leaderboard", member=scene.ada, options={"tournament": ASYNC}
    )
    first = result.first
    assert first.content is not None and first.content.startswith("**Winter Async**")
    assert "1. <@100000000000000000> · 100.00 points" in first.content
    labels = [button["label"] for button in first.buttons]
    assert labels[1].startswith("Page 1 of ") and labels[1] != "Page 1 of 1", labels


async def test_two_decisions_through_the_service_at_once_decide_once(scene: Scene) -> None:
    """Straight to the service, so both calls overlap in the database (on PostgreSQL, two
    transactions at once): the conditional update lets one win."""
    number = await run_id(scene)
    reviews = scene.harness.services.async_reviews
    guild = scene.harness.guild.id
    actors = [Actor.member(900 + index, guild, permissions=MANAGE_GUILD) for index in range(4)]
    outcomes = await asyncio.gather(
        *(reviews.approve(guild, number, actor=actors[0]),
          reviews.reject(guild, number, "late", actor=actors[1]),
          reviews.adjust(guild, number, "1:21:00", actor=actors[2]),
          reviews.approve(guild, number, actor=actors[3])),
        return_exceptions=True,
    )
    won = [o for o in outcomes if not isinstance(o, BaseException)]
    lost = [o for o in outcomes if isinstance(o, UserFacingError)]
    assert len(won) == 1 and len(lost) == 3, outcomes
    assert all("was already" in str(o) for o in lost)
    kinds = await event_kinds(scene)
    assert len([k for k in kinds if k.startswith(("AsyncRunApproved", "AsyncRunRejected",
                                                  "AsyncRunAdjusted"))]) == 1
    with pytest.raises(UserFacingError, match="needs a reason"):
        await reviews.reject(guild, number, "  ", actor=actors[0])
