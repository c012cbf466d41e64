"""The persistent buttons of async runs (issue 26), through the real CommandTree, discord.py's
view store and the real database, on a ManualClock: the organizers' "Start a run" post (who
may post it, where, its buttons within Discord's limits), pressing a pool's button (a
participant, someone who did not join, a closed tournament, a pool gone), the seed's DM with
Submit and Forfeit pressed in the DM (no server in the interaction), the Submit form (good,
bad, twice at once), Forfeit with its confirmation, and every button after a restart."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta
from typing import Any

import discord
from discord.ui.view import ViewStore

from cogs._shared.discord_limits import BUTTON_LABEL_MAX
from db.models import AsyncRun
from db.queries.async_tournaments import pools_of, tournament_named
from rehearsal.slash import BotMessage, SlashResult
from tests.cogs.test_async_runs import (  # the scene fixture and its steps
    ASYNC,
    ORGANIZERS_ONLY,
    POOL,
    SEED_1,
    VOD,
    Scene,
    event_kinds,
    final,
    preview,
    runs,
    scene,
    start,
)

__all__ = ["scene"]  # the /async run tests' fixture, used here

FORM = {"Your time (H:MM:SS)": "58:00", "Link to your VOD": VOD}
NOT_JOINED = f"You are not registered for **{ASYNC}**: `/async join` first."
ALREADY = (
    f"You already submitted seed 1 of **{ASYNC}** · **{POOL}** in 0:58:00: it waits for "
    "review. Nothing changed."
)


# -- steps -------------------------------------------------------------------------------------


async def post(scene: Scene, **options: object) -> SlashResult:
    return await scene.harness.slash(
        "async start-button", member=scene.boss, options={"tournament": ASYNC, **options}
    )


def posts(scene: Scene) -> list[discord.Message]:
    return [m for m in scene.harness.sim.sent() if isinstance(m.channel, discord.TextChannel)]


async def board(scene: Scene) -> BotMessage:
    """The organizer posts the Start a run buttons here; the one message posted."""
    await post(scene)
    [posted] = posts(scene)
    return BotMessage.sent(posted)


def the_dm(scene: Scene, member: discord.abc.User) -> BotMessage:
    """The one DM ``member`` got since the last look, as it can be pressed (in the DM)."""
    [dm] = [
        m for m in scene.harness.sim.sent()
        if isinstance(m.channel, discord.DMChannel) and m.channel.recipient is not None
        and m.channel.recipient.id == member.id
    ]
    shown = BotMessage.sent(dm)
    assert shown.in_dm
    return shown


async def started(scene: Scene, member: discord.Member) -> BotMessage:
    """``member`` starts their next seed with ``/async start``; the seed's DM."""
    assert SEED_1 in await start(scene, member)
    return the_dm(scene, member)


def with_buttons(message: BotMessage, buttons: list[dict[str, Any]]) -> BotMessage:
    """``message`` as it is once its buttons are ``buttons``."""
    return dataclasses.replace(message, components=[{"type": 1, "components": buttons}])


def labels(message: BotMessage) -> list[str]:
    return [button["label"] for button in message.buttons]


def only(result: SlashResult) -> BotMessage:
    [message] = result.messages
    return message


async def submit_form(
    scene: Scene, dm: BotMessage, member: discord.Member, values: dict[str, str]
) -> BotMessage:
    """``member`` presses Submit on the DM and sends the form with ``values``."""
    form = await scene.harness.press(dm, "Submit", member=member)
    assert only(form).kind == "modal", form.messages
    return only(await scene.harness.submit_modal(form, values, member=member))


async def run_row(scene: Scene) -> AsyncRun:
    [run] = await runs(scene)
    return run


# -- posting the buttons -----------------------------------------------------------------------


async def test_organizers_post_the_start_buttons_here_players_cannot(scene: Scene) -> None:
    refused = await scene.harness.slash(
        "async start-button", member=scene.ada, options={"tournament": ASYNC}
    )
    assert refused.answer.content == ORGANIZERS_ONLY
    assert posts(scene) == []

    said = await post(scene)
    channel = scene.harness.channel
    assert said.answer.content == (
        f"Posted the Start a run buttons of **{ASYNC}** in {channel.mention} (1 message(s), "
        "one button per pool)."
    )
    assert said.answer.ephemeral
    [posted] = posts(scene)
    assert posted.channel == channel
    assert posted.content.startswith(f"**{ASYNC}** · runs on your own time\n")
    for told in ("One attempt per seed", "12 hours", "link to your VOD",
                 f"`/async join tournament:{ASYNC}`"):
        assert told in posted.content, told
    shown = BotMessage.sent(posted)
    assert labels(shown) == [f"Start a run: {POOL}"]
    [button] = shown.buttons
    async with scene.harness.services.sessionmaker() as session:
        found = await tournament_named(session, scene.harness.guild.id, ASYNC)
        assert found is not None and found.id is not None
        [pool] = await pools_of(session, found.id)
    assert button["custom_id"] == f"async-start:{found.id}:{pool.id}"


async def test_many_pools_get_buttons_within_discords_limits(scene: Scene) -> None:
    services, actor = scene.harness.services, scene.harness.set_up
    long = "Pool with a very long name that goes on and on beyond what a button can show"
    for number in range(2, 104):  # 103 pools in all
        await services.async_tournaments.add_pool(
            scene.harness.guild.id, ASYNC, f"{long} {number}", actor=actor
        )
    said = await post(scene)
    assert said.answer.content == (
        f"Posted the Start a run buttons of **{ASYNC}** in {scene.harness.channel.mention} "
        "(4 message(s), one button per pool). 3 pool(s) got none: players start those with "
        "`/async start`."
    )
    posted = [BotMessage.sent(message) for message in posts(scene)]
    assert [len(message.buttons) for message in posted] == [25, 25, 25, 25]
    assert all(len(row["components"]) == 5 for m in posted for row in m.components)
    assert [len(message.components) for message in posted] == [5, 5, 5, 5]
    assert posted[1].content == f"**{ASYNC}** · more pools"
    every = [label for message in posted for label in labels(message)]
    assert every[0] == f"Start a run: {POOL}"
    assert all(len(label) <= BUTTON_LABEL_MAX for label in every)
    assert every[1].endswith("…") and every[1].startswith(f"Start a run: {long[:40]}")
    assert len({b["custom_id"] for m in posted for b in m.buttons}) == 100


async def test_it_is_posted_only_where_racedesk_and_the_organizer_can_write(
    scene: Scene,
) -> None:
    harness = scene.harness
    elsewhere = harness.sim.add_text_channel("async-runs")
    said = await post(scene, channel=elsewhere)
    assert said.answer.content is not None and elsewhere.mention in said.answer.content
    assert [m.channel for m in posts(scene)] == [elsewhere]

    harness.sim.set_permissions(elsewhere, harness.guild.me, send_messages=False)
    refused = await post(scene, channel=elsewhere)
    assert refused.answer.content == (
        f"RaceDesk can't post in {elsewhere.mention}: give it View Channel and Send Messages "
        "there, or choose another channel with `channel:`."
    )
    staff = harness.sim.add_text_channel("staff")
    harness.sim.set_permissions(staff, scene.boss, view_channel=False)
    refused = await post(scene, channel=staff)
    assert refused.answer.content == (
        f"You can't post in {staff.mention} yourself, so RaceDesk won't either: choose a "
        "channel you can write in."
    )
    assert posts(scene) == []


async def test_a_closed_tournament_has_nothing_to_post(scene: Scene) -> None:
    await scene.slash("async close", scene.boss, tournament=ASYNC)
    said = await post(scene)
    assert said.answer.content == f"**{ASYNC}** is closed: no run starts any more."
    assert posts(scene) == []


# -- pressing Start a run ----------------------------------------------------------------------


async def test_start_a_run_previews_for_the_presser_only_then_start_dms_the_seed(
    scene: Scene,
) -> None:
    posted = await board(scene)
    label = f"Start a run: {POOL}"
    for member in (scene.ada, scene.bob):
        shown = only(await scene.harness.press(posted, label, member=member))
        assert shown.ephemeral and shown.kind == "response"
        assert shown.content is not None and "your next seed is seed 1 of 2" in shown.content
        assert SEED_1 not in shown.content
        assert labels(shown) == ["Start", "Cancel"]
    assert await runs(scene) == []

    shown = only(await scene.harness.press(posted, label, member=scene.ada))
    answer = final(await scene.harness.press(shown, "Start", member=scene.ada))
    assert SEED_1 in answer and answer.endswith("The seed is in your DMs too.")
    dm = the_dm(scene, scene.ada)
    assert dm.content is not None and SEED_1 in dm.content
    assert "with **Submit** below" in dm.content
    assert labels(dm) == ["Submit", "Forfeit"]
    run = await run_row(scene)
    assert [b["custom_id"] for b in dm.buttons] == [
        f"async-run:{run.id}:submit", f"async-run:{run.id}:forfeit",
    ]
    again = only(await scene.harness.press(posted, label, member=scene.ada))
    assert again.content == (
        f"You have a run of **{ASYNC}** in progress: `/async submit` or `/async forfeit` it "
        "first."
    )
    assert await event_kinds(scene) == ["AsyncRunStartedEvent"]


async def test_start_a_run_tells_who_did_not_join_and_when_it_closed_or_went(
    scene: Scene,
) -> None:
    posted = await board(scene)
    label = f"Start a run: {POOL}"
    assert only(await scene.harness.press(posted, label, member=scene.boss)).content == (
        NOT_JOINED
    )
    [button] = posted.buttons
    _, tournament_id, pool_id = button["custom_id"].split(":")
    for custom_id, told in (
        (f"async-start:{tournament_id}:999999", f"This pool is no longer part of **{ASYNC}**. "
         "`/async pool list` shows its pools."),
        (f"async-start:999999:{pool_id}", "This async tournament no longer exists."),
    ):
        gone = with_buttons(posted, [{**button, "custom_id": custom_id}])
        assert only(await scene.harness.press(gone, label, member=scene.ada)).content == told

    await scene.slash("async close", scene.boss, tournament=ASYNC)
    closed = only(await scene.harness.press(posted, label, member=scene.ada))
    assert closed.ephemeral
    assert closed.content == f"**{ASYNC}** is closed: no run starts any more."
    assert await runs(scene) == []


# -- the DM's Submit ---------------------------------------------------------------------------


async def test_submit_from_the_dm_then_a_second_press_says_it_is_submitted(
    scene: Scene,
) -> None:
    dm = await started(scene, scene.ada)
    await scene.clock.advance(3600)
    form = await scene.harness.press(dm, "Submit", member=scene.ada)
    modal = only(form)
    assert modal.kind == "modal" and modal.content == f"Submit seed 1 · {ASYNC}"
    assert list(modal.fields) == [
        "Your time (H:MM:SS)", "Link to your VOD", "Comment for the reviewers (optional)",
    ]
    assert all(field["max_length"] for field in modal.fields.values())
    done = only(await scene.harness.submit_modal(
        form, {**FORM, "Comment for the reviewers (optional)": "gg"}, member=scene.ada
    ))
    assert done.kind == "update", "the DM itself says so"
    assert done.content is not None and SEED_1 in done.content
    assert done.content.endswith(
        f"✅ Submitted seed 1 of **{ASYNC}** · **{POOL}** in 0:58:00. It waits for review."
    )
    assert done.components == [], "its buttons are gone"
    run = await run_row(scene)
    assert (run.status, run.finish_time, run.vod_url, run.comment) == (
        "submitted", timedelta(minutes=58), VOD, "gg"
    )

    for label in ("Submit", "Forfeit"):  # the DM as it was, e.g. in another client
        pressed = only(await scene.harness.press(dm, label, member=scene.ada))
        assert (pressed.kind, pressed.ephemeral, pressed.content) == ("response", True, ALREADY)
    assert await event_kinds(scene) == ["AsyncRunStartedEvent", "AsyncRunSubmittedEvent"]


async def test_a_bad_time_or_vod_in_the_form_is_told_and_records_nothing(scene: Scene) -> None:
    dm = await started(scene, scene.ada)
    await scene.clock.advance(3600)
    for values, told in (
        ({**FORM, "Your time (H:MM:SS)": "1h05"},
         "`1h05` is not a time: write it as H:MM:SS (1:23:45) or MM:SS (42:10)."),
        ({**FORM, "Link to your VOD": "twitch.tv/videos/1"},
         "The VOD must be a link starting with https:// (or http://), e.g. "
         "https://www.twitch.tv/videos/123."),
        ({**FORM, "Your time (H:MM:SS)": "1:06:00"},
         "1:06:00 is longer than the time since you started (1:00:00): check the time."),
    ):
        answer = await submit_form(scene, dm, scene.ada, values)
        assert (answer.kind, answer.ephemeral, answer.content) == ("response", True, told)
        assert (await run_row(scene)).status == "started"
    assert (await submit_form(scene, dm, scene.ada, FORM)).kind == "update"
    assert await event_kinds(scene) == ["AsyncRunStartedEvent", "AsyncRunSubmittedEvent"]


async def test_two_forms_sent_at_once_submit_once(scene: Scene) -> None:
    dm = await started(scene, scene.ada)
    await scene.clock.advance(3600)
    forms = [await scene.harness.press(dm, "Submit", member=scene.ada) for _ in range(2)]
    answers = await asyncio.gather(*(
        scene.harness.submit_modal(form, FORM, member=scene.ada) for form in forms
    ))
    kinds = sorted((only(a).kind, only(a).content or "") for a in answers)
    assert [kind for kind, _ in kinds] == ["response", "update"], kinds
    assert kinds[0][1] == ALREADY
    assert await event_kinds(scene) == ["AsyncRunStartedEvent", "AsyncRunSubmittedEvent"]


async def test_submit_after_the_run_limit_says_it_is_a_forfeit(scene: Scene) -> None:
    dm = await started(scene, scene.ada)
    await scene.clock.advance(12 * 3600)
    first = only(await scene.harness.press(dm, "Submit", member=scene.ada))
    assert first.content == (
        f"Your run of **{ASYNC}** was not submitted within 12 hours, so it is a forfeit."
    )
    again = only(await scene.harness.press(dm, "Submit", member=scene.ada))
    assert again.content == (
        f"Your run of seed 1 of **{ASYNC}** · **{POOL}** was not submitted within its time "
        "limit, so it is a forfeit. Nothing changed."
    )
    assert (await run_row(scene)).forfeit_reason == "timeout"
    assert await event_kinds(scene) == ["AsyncRunStartedEvent", "AsyncRunTimedOutEvent"]


async def test_only_the_runs_player_still_in_the_server_may_press(scene: Scene) -> None:
    dm = await started(scene, scene.ada)
    run = await run_row(scene)
    for label in ("Submit", "Forfeit"):
        stranger = only(await scene.harness.press(dm, label, member=scene.bob))
        assert stranger.content == f"You have no run #{run.id}. `/async start` starts one."
    scene.harness.sim.remove_member(scene.ada)
    gone = only(await scene.harness.press(dm, "Submit", member=scene.ada))
    assert gone.content == (
        f"Only members of the server of **{ASYNC}** can submit or forfeit its runs."
    )
    assert (await run_row(scene)).status == "started"


async def test_when_the_dm_is_refused_the_answer_carries_the_buttons(scene: Scene) -> None:
    scene.harness.sim.refuse_dms(scene.ada)
    shown = await preview(scene, scene.ada)
    result = await scene.harness.press(shown, "Start", member=scene.ada)
    assert final(result).endswith("I could not DM you the seed: keep this message.")
    answer = result.messages[-1]
    assert labels(answer) == ["Submit", "Forfeit"]
    await scene.clock.advance(3600)
    done = await submit_form(scene, answer, scene.ada, FORM)
    assert done.kind == "update" and done.components == []
    assert (await run_row(scene)).status == "submitted"


# -- the DM's Forfeit --------------------------------------------------------------------------


async def test_forfeit_asks_first_in_place_then_gives_up_once(scene: Scene) -> None:
    dm = await started(scene, scene.ada)
    asked = only(await scene.harness.press(dm, "Forfeit", member=scene.ada))
    assert asked.kind == "update" and asked.content is None, "the seed's text stays"
    assert labels(asked) == ["Yes, give up this run", "No, keep playing"]
    asked = with_buttons(dm, asked.buttons)
    kept = only(await scene.harness.press(asked, "No, keep playing", member=scene.ada))
    assert labels(kept) == ["Submit", "Forfeit"]
    assert (await run_row(scene)).status == "started"

    gave_up = only(await scene.harness.press(asked, "Yes, give up this run", member=scene.ada))
    assert gave_up.kind == "update" and gave_up.components == []
    assert gave_up.content is not None and SEED_1 in gave_up.content
    assert gave_up.content.endswith(f"🏳️ You gave up seed 1 of **{ASYNC}** · **{POOL}**.")
    run = await run_row(scene)
    assert (run.status, run.forfeit_reason) == ("forfeit", "player")
    again = only(await scene.harness.press(asked, "Yes, give up this run", member=scene.ada))
    assert again.content == (
        f"You already gave up your run of seed 1 of **{ASYNC}** · **{POOL}**: it is a forfeit. "
        "Nothing changed."
    )
    assert await event_kinds(scene) == ["AsyncRunStartedEvent", "AsyncRunForfeitedEvent"]


# -- after a restart ---------------------------------------------------------------------------


async def test_every_button_works_after_a_restart(scene: Scene) -> None:
    harness = scene.harness
    posted = await board(scene)
    dm = await started(scene, scene.ada)
    await scene.clock.advance(3600)
    state = harness.bot._connection
    state._view_store = ViewStore(state)  # a new process: discord.py remembers no view
    assert (await harness.press(posted, f"Start a run: {POOL}", member=scene.bob)).messages == []

    await harness.bot.reload_extension("cogs.async_tournament")  # loading the cog registers
    shown = only(await harness.press(posted, f"Start a run: {POOL}", member=scene.bob))
    assert shown.content is not None and "your next seed is seed 1 of 2" in shown.content
    assert (await submit_form(scene, dm, scene.ada, FORM)).kind == "update"
    assert (await run_row(scene)).status == "submitted"
