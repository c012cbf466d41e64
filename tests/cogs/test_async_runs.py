"""Players' own runs of an async tournament's pool seeds (issue 26), through the real
CommandTree and the real database, on a ManualClock: seeds, a start confirmed with a button
(the seed DMed once), one attempt per seed unless an organizer allows another, a double click
that starts one run, submissions good and bad, forfeits, and the run limit's forfeit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import discord
import pytest
from sqlmodel import col, select

from core.clock import ManualClock
from db.models import AsyncRun, EventLogEntry
from db.secrets import SecretBox
from rehearsal.slash import BotMessage, SlashResult
from tests.plugins.discord_bot import DiscordHarness, running_harness

ASYNC = "Winter Async"
POOL = "Pool A"
SEED_1 = "https://alttpr.com/h/seedOne"
SEED_2 = "https://alttpr.com/h/seedTwo"
VOD = "https://www.twitch.tv/videos/123"
START = datetime(2026, 12, 5, 18, 0, tzinfo=UTC)
ORGANIZERS_ONLY = (
    "Only organizers can do this: members with the Manage Server permission "
    "or the server's organizer role."
)


@dataclass
class Scene:
    harness: DiscordHarness
    clock: ManualClock
    ada: discord.Member
    bob: discord.Member
    boss: discord.Member

    async def slash(self, command: str, who: discord.Member, /, **options: object) -> str:
        result = await self.harness.slash(command, member=who, options=options)
        assert result.first.ephemeral
        return result.first.content or ""


@pytest.fixture
async def scene(db_url: str, secret_box: SecretBox) -> AsyncIterator[Scene]:
    """An async tournament with one pool of two seeds, made by the organizer; Ada and Bob
    joined it."""
    clock = ManualClock(START)
    async with running_harness(db_url, secret_box, clock=clock) as harness:
        ada, bob = harness.member(0), harness.member(1)
        boss = await harness.member_with_permissions(2, manage_guild=True)
        await harness.assign_bot("alttpr", secret_box)
        scene = Scene(harness, clock, ada, bob, boss)
        assert await scene.slash("async create", boss, name=ASYNC, category="alttpr") == (
            f"Created the async tournament **{ASYNC}**."
        )
        await scene.slash("async pool add", boss, tournament=ASYNC, name=POOL)
        assert await scene.slash(
            "async seed add", boss, tournament=ASYNC, pool=POOL, seed=SEED_1, par="1:30:00"
        ) == f"Added seed 1 to **{POOL}** (par 1:30:00)."
        assert await scene.slash(
            "async seed add", boss, tournament=ASYNC, pool=POOL, seed=SEED_2
        ) == f"Added seed 2 to **{POOL}**."
        for member in (ada, bob):
            await scene.slash("async join", member, tournament=ASYNC)
        harness.sim.sent()
        yield scene


async def preview(scene: Scene, member: discord.Member) -> BotMessage:
    return (await scene.harness.slash(
        "async start", member=member, options={"tournament": ASYNC, "pool": POOL}
    )).first


def final(result: SlashResult) -> str:
    """What a pressed Start finally shows: the preview edited in place, then again."""
    assert [m.kind for m in result.messages] == ["update", "edit"], result.messages
    return result.messages[-1].content or ""


async def start(scene: Scene, member: discord.Member) -> str:
    shown = await preview(scene, member)
    assert [b["label"] for b in shown.buttons] == ["Start", "Cancel"], shown
    return final(await scene.harness.press(shown, "Start", member=member))


def dms_to(messages: list[discord.Message], member: discord.abc.User) -> list[str]:
    return [
        m.content for m in messages
        if isinstance(m.channel, discord.DMChannel)
        and m.channel.recipient is not None and m.channel.recipient.id == member.id
    ]


async def runs(scene: Scene) -> list[AsyncRun]:
    async with scene.harness.services.sessionmaker() as session:
        result = await session.execute(select(AsyncRun).order_by(col(AsyncRun.id)))
        return list(result.scalars().all())


async def event_kinds(scene: Scene) -> list[str]:
    await scene.harness.services.dispatcher.drain()
    async with scene.harness.services.sessionmaker() as session:
        result = await session.execute(
            select(EventLogEntry.kind).where(col(EventLogEntry.kind).like("AsyncRun%"))
            .order_by(col(EventLogEntry.seq))
        )
        return list(result.scalars().all())


async def submit(scene: Scene, member: discord.Member, time: str, vod: str = VOD) -> str:
    return await scene.slash("async submit", member, tournament=ASYNC, time=time, vod=vod)


# -- seeds ---------------------------------------------------------------------------------------


async def test_organizers_list_and_remove_seeds_players_cannot(scene: Scene) -> None:
    listed = await scene.slash("async seed list", scene.boss, tournament=ASYNC, pool=POOL)
    assert listed == (
        f"**{ASYNC}** · **{POOL}**\n1. {SEED_1} · par 1:30:00 · 0 run(s)\n"
        f"2. {SEED_2} · 0 run(s)"
    )
    for name, options in (
        ("async seed list", {"pool": POOL}),
        ("async seed add", {"pool": POOL, "seed": "x"}),
        ("async seed remove", {"pool": POOL, "number": 1}),
        ("async reattempt", {"member": scene.bob, "pool": POOL, "number": 1}),
        ("async run-limit", {"hours": 2}),
    ):
        assert await scene.slash(name, scene.ada, tournament=ASYNC, **options) == ORGANIZERS_ONLY
    assert "not a time" in await scene.slash(
        "async seed add", scene.boss, tournament=ASYNC, pool=POOL, seed="x", par="soon"
    )
    await start(scene, scene.ada)
    assert await scene.slash(
        "async seed remove", scene.boss, tournament=ASYNC, pool=POOL, number=1
    ) == f"Seed 1 of **{POOL}** has runs, so it stays: its runs would lose their seed."
    assert await scene.slash(
        "async seed remove", scene.boss, tournament=ASYNC, pool=POOL, number=2
    ) == f"Removed seed 2 from **{POOL}**."
    assert await scene.slash(
        "async seed remove", scene.boss, tournament=ASYNC, pool=POOL, number=2
    ) == f"**{POOL}** has no seed 2. `/async seed list` shows its seeds."


# -- starting ------------------------------------------------------------------------------------


async def test_start_asks_then_records_dms_the_seed_once_and_answers(scene: Scene) -> None:
    shown = await preview(scene, scene.ada)
    assert shown.ephemeral
    assert shown.content is not None and "your next seed is seed 1 of 2" in shown.content
    assert SEED_1 not in shown.content, "the seed is secret until the run starts"
    assert await runs(scene) == []
    refused = await scene.harness.press(shown, "Start", member=scene.bob)
    assert refused.first.content == (
        f"This preview is {scene.ada.display_name}'s. `/async start` shows your own next seed."
    )
    answer = final(await scene.harness.press(shown, "Start", member=scene.ada))
    assert SEED_1 in answer and "Par time: 1:30:00" in answer
    assert answer.endswith("The seed is in your DMs too.")
    again = await scene.harness.press(shown, "Start", member=scene.ada)
    assert again.messages == [], "a pressed preview answers nothing more"
    [dm] = dms_to(scene.harness.sim.sent(), scene.ada)
    assert SEED_1 in dm
    [run] = await runs(scene)
    assert (run.status, run.attempt, run.started_at) == ("started", 1, START)
    assert run.deadline_at == START + timedelta(hours=12)
    assert await event_kinds(scene) == ["AsyncRunStartedEvent"]


async def test_cancel_starts_nothing(scene: Scene) -> None:
    shown = await preview(scene, scene.ada)
    [cancelled] = (await scene.harness.press(shown, "Cancel", member=scene.ada)).messages
    assert cancelled.content == "Nothing started. `/async start` shows your next seed again."
    assert await runs(scene) == []


async def test_one_run_at_a_time_and_one_attempt_per_seed_unless_allowed(scene: Scene) -> None:
    await start(scene, scene.ada)
    assert await scene.slash("async start", scene.ada, tournament=ASYNC, pool=POOL) == (
        f"You have a run of **{ASYNC}** in progress: `/async submit` or `/async forfeit` it "
        "first."
    )
    await scene.clock.advance(3600)
    await submit(scene, scene.ada, "58:00")
    assert "seed 2 of 2" in (await preview(scene, scene.ada)).content  # type: ignore[operator]
    assert SEED_2 in await start(scene, scene.ada)
    assert await scene.slash("async forfeit", scene.ada, tournament=ASYNC) == (
        f"Forfeit seed 2 of **{ASYNC}** · **{POOL}**."
    )
    assert await scene.slash("async start", scene.ada, tournament=ASYNC, pool=POOL) == (
        f"You have played every seed of **{POOL}**. An organizer can allow a re-attempt "
        "(`/async reattempt`)."
    )
    allowed = await scene.slash(
        "async reattempt", scene.boss, tournament=ASYNC, member=scene.ada, pool=POOL, number=2
    )
    assert allowed == (
        f"<@{scene.ada.id}> may play seed 2 of **{POOL}** again: their next `/async start` "
        "picks it."
    )
    assert "already" in await scene.slash(
        "async reattempt", scene.boss, tournament=ASYNC, member=scene.ada, pool=POOL, number=2
    )
    assert "has not played" in await scene.slash(
        "async reattempt", scene.boss, tournament=ASYNC, member=scene.bob, pool=POOL, number=2
    )
    shown = await preview(scene, scene.ada)
    assert shown.content is not None and "seed 2 of 2 (attempt 2)" in shown.content
    assert SEED_2 in final(await scene.harness.press(shown, "Start", member=scene.ada))
    assert [(r.seed_id, r.attempt, r.status) for r in await runs(scene)] == [
        (1, 1, "submitted"), (2, 1, "forfeit"), (2, 2, "started"),
    ]


async def test_a_double_click_on_two_previews_starts_one_run(scene: Scene) -> None:
    first, second = await preview(scene, scene.ada), await preview(scene, scene.ada)
    answers = await asyncio.gather(
        scene.harness.press(first, "Start", member=scene.ada),
        scene.harness.press(second, "Start", member=scene.ada),
    )
    texts = sorted(final(answer) for answer in answers)
    assert sum(SEED_1 in text for text in texts) == 1, texts
    assert any("already started" in text for text in texts), texts
    assert len(await runs(scene)) == 1
    assert len(dms_to(scene.harness.sim.sent(), scene.ada)) == 1
    assert await event_kinds(scene) == ["AsyncRunStartedEvent"]


async def test_a_player_who_did_not_join_cannot_start(scene: Scene) -> None:
    assert await scene.slash("async start", scene.boss, tournament=ASYNC, pool=POOL) == (
        f"You are not registered for **{ASYNC}**: `/async join` first."
    )


# -- submitting and forfeiting -------------------------------------------------------------------


async def test_submissions_good_and_bad(scene: Scene) -> None:
    no_run = (
        f"You have no run of **{ASYNC}** in progress (a run is submitted or forfeit once): "
        "`/async start` starts one."
    )
    assert await submit(scene, scene.ada, "1:00:00") == no_run
    await start(scene, scene.ada)
    await scene.clock.advance(3600 + 60)  # 1:01:00 since the start
    assert await submit(scene, scene.ada, "1h05") == (
        "`1h05` is not a time: write it as H:MM:SS (1:23:45) or MM:SS (42:10)."
    )
    assert await submit(scene, scene.ada, "0:00:00") == "A time must be longer than zero."
    assert await submit(scene, scene.ada, "1:06:01") == (
        "1:06:01 is longer than the time since you started (1:01:00): check the time."
    )
    for vod in ("twitch.tv/videos/1", "ftp://x.example/v", "https://", "https://no space.tv"):
        assert (await submit(scene, scene.ada, "1:00:00", vod)).startswith(
            "The VOD must be a link"
        ), vod
    assert await runs(scene) and (await runs(scene))[0].status == "started"
    assert await submit(scene, scene.ada, "1:06:00") == (  # within the 5 minutes' grace
        f"Submitted seed 1 of **{ASYNC}** · **{POOL}** in 1:06:00. It waits for review."
    )
    assert await submit(scene, scene.ada, "1:06:00") == no_run
    [run] = await runs(scene)
    assert (run.status, run.finish_time, run.vod_url) == ("submitted", timedelta(minutes=66), VOD)
    assert run.ended_at == START + timedelta(minutes=61) and run.running_tournament_id is None
    assert await event_kinds(scene) == ["AsyncRunStartedEvent", "AsyncRunSubmittedEvent"]


async def test_a_forfeit_ends_the_run(scene: Scene) -> None:
    await start(scene, scene.ada)
    await scene.slash("async forfeit", scene.ada, tournament=ASYNC)
    assert "no run" in await scene.slash("async forfeit", scene.ada, tournament=ASYNC)
    [run] = await runs(scene)
    assert (run.status, run.forfeit_reason) == ("forfeit", "player")
    assert await event_kinds(scene) == ["AsyncRunStartedEvent", "AsyncRunForfeitedEvent"]


# -- the run limit -------------------------------------------------------------------------------


async def test_the_sweep_forfeits_a_run_past_the_limit_once_and_not_before(
    scene: Scene,
) -> None:
    services = scene.harness.services
    assert await scene.slash(
        "async run-limit", scene.boss, tournament=ASYNC, hours=2
    ) == f"Runs of **{ASYNC}** started from now on have 2 hour(s) to be submitted."
    await start(scene, scene.ada)
    clock = scene.clock

    async def swept() -> None:
        """The sweeper has swept and sleeps again (a sweep waits for the database)."""
        async with asyncio.timeout(5):
            while clock.sleepers != 1:  # noqa: ASYNC110 - the sweep runs in another task
                await asyncio.sleep(0.01)

    await services.async_run_sweeper.start()
    try:
        await swept()
        await clock.advance(2 * 3600 - 61)
        await swept()
        assert [r.status for r in await runs(scene)] == ["started"]
        await clock.advance(60)  # the next sweep comes a minute after the last one
        await swept()
        assert [r.status for r in await runs(scene)] == ["started"], "1 second to go"
        await clock.advance(60)
        await swept()
        [run] = await runs(scene)
        assert (run.status, run.forfeit_reason) == ("forfeit", "timeout")
        await scene.clock.advance(3600)
        assert await services.async_runs.sweep() == 0
    finally:
        await services.async_run_sweeper.stop()
    assert await event_kinds(scene) == ["AsyncRunStartedEvent", "AsyncRunTimedOutEvent"]
    assert "no run" in await submit(scene, scene.ada, "1:00:00")


async def test_a_submission_past_the_limit_is_a_forfeit(scene: Scene) -> None:
    await start(scene, scene.ada)
    await scene.clock.advance(12 * 3600)
    assert await submit(scene, scene.ada, "1:00:00") == (
        f"Your run of **{ASYNC}** was not submitted within 12 hours, so it is a forfeit."
    )
    [run] = await runs(scene)
    assert (run.status, run.forfeit_reason) == ("forfeit", "timeout")
    assert await scene.harness.services.async_runs.sweep() == 0
    assert await event_kinds(scene) == ["AsyncRunStartedEvent", "AsyncRunTimedOutEvent"]


async def test_past_the_limit_a_forfeit_is_the_timeout_and_the_next_seed_can_start(
    scene: Scene,
) -> None:
    await start(scene, scene.ada)
    await start(scene, scene.bob)
    await scene.clock.advance(12 * 3600)
    assert await scene.slash("async forfeit", scene.ada, tournament=ASYNC) == (
        f"Your run of **{ASYNC}** was not submitted within 12 hours, so it is a forfeit."
    )
    shown = await preview(scene, scene.bob)  # no sweep ran: the start ends the old run first
    assert shown.content is not None and "seed 2 of 2" in shown.content
    assert [(r.status, r.forfeit_reason) for r in await runs(scene)] == [
        ("forfeit", "timeout"), ("forfeit", "timeout"),
    ]
    assert await event_kinds(scene) == [
        "AsyncRunStartedEvent", "AsyncRunStartedEvent", "AsyncRunTimedOutEvent",
        "AsyncRunTimedOutEvent",
    ]
