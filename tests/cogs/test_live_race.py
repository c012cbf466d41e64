"""/async and /liverace through the real CommandTree, against the fake racetime server over
real sockets and the real database, with notifications delivered into the simulated Discord:
the whole lifecycle from /liverace create to recorded runs (each DM checked), eligibility
rule by rule, cancelling from Discord and from racetime, an un-finish, the channel fallback
for closed DMs, permissions and bad input."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import discord
import pytest
from sqlmodel import select

from cogs._shared.permissions import actor_of_user
from core.config import RacetimeSettings
from core.events import RacetimeRaceStatusChangedEvent, decode_event
from core.times.formatting import utc_text
from core.times.parsing import example_time
from db.models import AsyncLiveRace, AsyncPoolRun, EventLogEntry, User
from db.secrets import SecretBox
from fake_racetime import FakeRacetimeServer
from tests.clock_messages import clock_read_around
from tests.plugins.discord_bot import DiscordHarness, running_harness
from tests.plugins.racetime_engine import eventually

CATEGORY = "alttpr"
ASYNC = "Winter Async"
ORGANIZERS_ONLY = (
    "Only organizers can do this: members with the Manage Server permission "
    "or the server's organizer role."
)
MODERATORS_ONLY = (
    "Only moderators can do this: members with the Manage Server permission, "
    "the server's moderator role or its organizer role."
)
STRANGER = 1_234_567_890_123_456_789  # a participant who is not a member of the server


@dataclass
class Scene:
    harness: DiscordHarness
    fake: FakeRacetimeServer
    ada: discord.Member  # linked as RacerOne
    bob: discord.Member  # linked as RacerTwo
    boss: discord.Member  # organizer (Manage Server), not linked

    def racetime_id(self, name: str) -> str:
        return self.fake.seed.users[name]


@pytest.fixture
async def scene(
    db_url: str, secret_box: SecretBox, fake_racetime: FakeRacetimeServer
) -> AsyncIterator[Scene]:
    """A running alttpr bot allowed here, an async tournament with pools A and B made by the
    organizer, and two linked members who joined it."""
    racetime = RacetimeSettings(host=fake_racetime.host, scheme="http")
    async with running_harness(
        db_url, secret_box, racetime, deliver_notifications=True
    ) as harness:
        ada, bob = harness.member(0), harness.member(1)
        boss = await harness.member_with_permissions(2, manage_guild=True)
        users = fake_racetime.seed.users
        await harness.run_alttpr_bot({
            ada: (users["RacerOne"], "RacerOne#1234"), bob: (users["RacerTwo"], "RacerTwo#5678"),
        })
        created = await harness.slash(
            "async create", member=boss,
            options={"name": ASYNC, "category": CATEGORY, "goal": "All dungeons"},
        )
        assert created.first.content == f"Created the async tournament **{ASYNC}**."
        for pool in ("Pool A", "Pool B"):
            added = await harness.slash(
                "async pool add", member=boss, options={"tournament": ASYNC, "name": pool}
            )
            assert added.first.content == f"Added the pool **{pool}**."
        for member in (ada, bob):
            joined = await harness.slash("async join", member=member, tournament=ASYNC)
            assert joined.first.content == f"You are now registered for **{ASYNC}**."
        harness.sim.sent()
        yield Scene(harness, fake_racetime, ada, bob, boss)


def future(**delta: float) -> datetime:
    return (datetime.now(UTC) + timedelta(**delta)).replace(microsecond=0)


def stamp(moment: datetime) -> str:
    return f"<t:{int(moment.timestamp())}:F>"


async def create_race(scene: Scene, **options: object) -> int:
    options.setdefault("tournament", ASYNC)
    options.setdefault("pool", "Pool A")
    options.setdefault("when", stamp(future(days=1)))
    answer = await scene.harness.slash("liverace create", member=scene.boss, **options)
    text = answer.first.content or ""
    assert text.startswith("Scheduled live race **#"), text
    return int(text.split("**#", 1)[1].split("**", 1)[0])


async def settled(scene: Scene) -> list[discord.Message]:
    """Every event delivered and every notification tried; what RaceDesk sent since."""
    await scene.harness.notifications_settled()
    return scene.harness.sim.sent()


def dms(messages: list[discord.Message], member: discord.abc.User) -> dict[str, discord.Embed]:
    """The DMs ``member`` got, by embed title."""
    return {
        m.embeds[0].title or "": m.embeds[0] for m in messages
        if isinstance(m.channel, discord.DMChannel) and m.channel.recipient == member
        and m.embeds
    }


def fields(embed: discord.Embed) -> dict[str, str]:
    return {str(f.name): str(f.value) for f in embed.fields}


async def race_row(scene: Scene, race_id: int) -> AsyncLiveRace:
    async with scene.harness.services.sessionmaker() as session:
        race = await session.get(AsyncLiveRace, race_id)
        assert race is not None
        return race


async def runs(scene: Scene, race_id: int) -> dict[str, tuple[str, int | None, bool]]:
    """The race's recorded runs: racetime name -> (status, place, has a time)."""
    async with scene.harness.services.sessionmaker() as session:
        rows = await session.execute(
            select(User.racetime_name, AsyncPoolRun)
            .join(User, User.id == AsyncPoolRun.user_id)  # type: ignore[arg-type]
            .where(AsyncPoolRun.live_race_id == race_id)
        )
        return {
            str(name): (run.status, run.place, run.finish_time is not None)
            for name, run in rows.all()
        }


async def open_room(scene: Scene, race_id: int) -> str:
    """/liverace open by the organizer; returns the room's slug."""
    answer = await scene.harness.slash("liverace open", member=scene.boss, race=str(race_id))
    text = answer.messages[-1].content or ""
    assert text.startswith(f"✅ Opened the room of live race #{race_id}: "), text
    assert "Invited on racetime.gg: 2 eligible participant(s)." in text
    return text.split("\n", 1)[0].rsplit("/", 1)[1]


async def status_of(scene: Scene, race_id: int) -> str:
    answer = await scene.harness.slash("liverace info", member=scene.ada, race=str(race_id))
    return answer.first.embeds[0].description or ""


async def under_way(scene: Scene, slug: str) -> None:
    """Both linked players accept their invitations and ready up; the race starts."""
    fake = scene.fake
    for name in ("RacerOne", "RacerTwo"):
        racer = fake.racer(slug, scene.racetime_id(name))
        await racer.accept_invite()
        await racer.ready()
    await eventually(lambda: fake.race(slug).status == "pending")
    await fake.advance_to_start(slug)
    await fake.advance(6)
    await eventually(lambda: fake.race(slug).status == "in_progress")


async def wait_status(scene: Scene, race_id: int, status: str) -> None:
    async def reached() -> bool:
        return (await race_row(scene, race_id)).status == status

    for _ in range(500):
        if await reached():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"live race {race_id} never became {status}")


# -- the whole lifecycle -------------------------------------------------------------------------


async def test_a_live_race_from_create_to_recorded_runs(scene: Scene) -> None:
    harness, fake, ada, bob = scene.harness, scene.fake, scene.ada, scene.bob
    when = future(days=1)
    race_id = await create_race(scene, when=stamp(when))
    sent = await settled(scene)
    for member in (ada, bob):
        told = dms(sent, member)["📅 Live race scheduled"]
        assert told.description == f"{ASYNC} · Pool A"
        assert fields(told)["When"].startswith(stamp(when))
    assert dms(sent, scene.boss) == {}, "the organizer is not a participant"
    assert await status_of(scene, race_id) == "🗓️ Scheduled"

    slug = await open_room(scene, race_id)
    url = f"{fake.base_url}/{CATEGORY}/{slug}"
    invited = sorted(
        e["user"]["id"] for e in fake.race_data(slug)["entrants"]
        if e["status"]["value"] == "invited"
    )
    assert invited == sorted([scene.racetime_id("RacerOne"), scene.racetime_id("RacerTwo")])
    sent = await settled(scene)
    for member in (ada, bob):
        assert fields(dms(sent, member)["🚪 Live race room opened"])["Race room"] == url
    assert await status_of(scene, race_id) == "🚪 Room Open"
    chat = [m.message for m in fake.race(slug).messages if m.bot]
    assert chat[0].startswith(f"{ASYNC} - pool Pool A. ")

    # Someone who is not a participant asks to join: told their result will not count.
    three = scene.racetime_id("RacerThree")
    await fake.racer(slug, three).request_invite()
    await eventually(lambda: any(
        "will not count" in m.message for m in fake.race(slug).messages if m.bot
    ))
    [warning] = [m.message for m in fake.race(slug).messages if "will not count" in m.message]
    assert warning.endswith(f"your result in this race will not count for {ASYNC} "
                            "(not a participant).")

    await under_way(scene, slug)
    await wait_status(scene, race_id, "in_progress")
    assert await status_of(scene, race_id) == "🏁 In Progress"
    sent = await settled(scene)
    assert "🏁 Live race started" not in dms(sent, ada), "417 is off by default"
    refused = await harness.slash("liverace delete", member=scene.boss, race=str(race_id))
    assert refused.first.content == (
        f"Live race #{race_id} is 🏁 In Progress, so it cannot be deleted: only scheduled "
        "or cancelled live races can. Cancel it first with `/liverace cancel`."
    )

    await fake.racer(slug, scene.racetime_id("RacerOne")).done()
    await fake.racer(slug, scene.racetime_id("RacerTwo")).forfeit()
    await wait_status(scene, race_id, "finished")
    assert await runs(scene, race_id) == {
        "RacerOne#1234": ("done", 1, True),
        "RacerTwo#5678": ("dnf", None, False),
    }
    sent = await settled(scene)
    for member in (ada, bob):
        finished = fields(dms(sent, member)["✅ Live race finished"])
        assert finished["Details"].startswith("1 of 2 finished: 1. RacerOne")
        assert finished["Details"].endswith(" · RacerTwo: forfeit")
    info = await harness.slash("liverace info", member=ada, race=str(race_id))
    assert info.first.embeds[0].description == "✅ Completed"
    assert fields(info.first.embeds[0])["Runs recorded"].startswith("1. RacerOne#1234 0:00:")

    # The finish delivered again (after a crash): no second run, no second DM.
    await harness.services.dispatcher.emit(await logged_finish(scene, slug))
    assert await settled(scene) == []
    assert len(await runs(scene, race_id)) == 2

    # The pool is done for both: a second live race of Pool A has nobody eligible.
    second = await create_race(scene)
    eligible = await harness.slash("liverace eligible", member=ada, race=str(second))
    assert "**Eligible (0):** nobody yet" in (eligible.first.content or "")
    assert f"<@{ada.id}>: already completed pool Pool A" in (eligible.first.content or "")


async def logged_finish(scene: Scene, slug: str) -> RacetimeRaceStatusChangedEvent:
    """The room's "finished" event as the event log keeps it (same ``event_id``)."""
    async with scene.harness.services.sessionmaker() as session:
        rows = await session.execute(
            select(EventLogEntry).where(
                EventLogEntry.kind == RacetimeRaceStatusChangedEvent.__name__
            )
        )
        events = [decode_event(row.kind, row.payload) for row in rows.scalars()]
    [finish] = [
        e for e in events
        if isinstance(e, RacetimeRaceStatusChangedEvent) and e.room_slug == slug
        and e.new_status == "finished"
    ]
    return finish


# -- eligibility ---------------------------------------------------------------------------------


async def test_eligibility_rule_by_rule(scene: Scene) -> None:
    """Each rule excludes one participant, and /liverace eligible says which."""
    harness, ada, bob, boss = scene.harness, scene.ada, scene.bob, scene.boss
    services = harness.services
    # ada plays Pool A only; bob leaves; the organizer joins without a linked account; a
    # stranger (linked) completed Pool B in an earlier live race; RacerThree is eligible.
    await harness.slash("async join", member=ada, tournament=ASYNC, pool="Pool A")
    left = await harness.slash("async leave", member=bob, tournament=ASYNC)
    assert left.first.content == f"You left **{ASYNC}**; recorded runs are kept."
    await harness.slash("async join", member=boss, tournament=ASYNC)
    users = scene.fake.seed.users
    async with services.sessionmaker.begin() as session:
        session.add(User(discord_id=STRANGER, racetime_id=users["RacerThree"],
                         racetime_name="RacerThree#0001"))
    await services.async_tournaments.join(
        harness.guild.id, ASYNC, STRANGER, actor=actor_of_user(boss)
    )
    earlier = await create_race(scene, pool="Pool B")
    async with services.sessionmaker.begin() as session:
        stranger = (await session.execute(
            select(User).where(User.discord_id == STRANGER)
        )).scalar_one()
        pool_b = (await session.get(AsyncLiveRace, earlier))
        assert pool_b is not None
        session.add(AsyncPoolRun(pool_id=pool_b.pool_id, user_id=stranger.id,
                                 live_race_id=earlier, status="done", event_id="earlier"))

    race_id = await create_race(scene, pool="Pool B")
    answer = await harness.slash("liverace eligible", member=bob, race=str(race_id))
    assert answer.first.content == "\n".join([
        f"**Live race #{race_id}** of **{ASYNC}**, pool **Pool B**",
        "**Eligible (0):** nobody yet",
        "**Not eligible (4):**",
        f"<@{ada.id}>: plays pool Pool A only",
        f"<@{bob.id}>: left the tournament",
        f"<@{boss.id}>: has not linked a racetime.gg account (/link-racetime)",
        f"<@{STRANGER}>: already completed pool Pool B",
    ])
    # Without a pool, only leaving and linking matter.
    open_race = await create_race(scene, pool=None)
    answer = await harness.slash("liverace eligible", member=bob, race=str(open_race))
    assert f"**Eligible (2):** <@{ada.id}>, <@{STRANGER}>" in (answer.first.content or "")
    # A participant who comes back is eligible again.
    await harness.slash("async join", member=bob, tournament=ASYNC)
    answer = await harness.slash("liverace eligible", member=bob, race=str(open_race))
    assert f"**Eligible (3):** <@{ada.id}>, <@{bob.id}>, <@{STRANGER}>" in (
        answer.first.content or ""
    )


# -- cancelling ----------------------------------------------------------------------------------


async def test_an_organizer_cancels_and_the_participants_are_told_why(scene: Scene) -> None:
    harness = scene.harness
    race_id = await create_race(scene)
    await settled(scene)
    answer = await harness.slash(
        "liverace cancel", member=scene.boss, race=str(race_id), reason="Seed leaked"
    )
    assert (answer.first.content or "").startswith(f"Cancelled live race **#{race_id}**")
    sent = await settled(scene)
    for member in (scene.ada, scene.bob):
        assert fields(dms(sent, member)["❌ Live race cancelled"])["Reason"] == "Seed leaked"
    assert await status_of(scene, race_id) == "❌ Cancelled"
    assert harness.services.live_race_scheduler.planned_at(race_id) is None
    again = await harness.slash(
        "liverace cancel", member=scene.boss, race=str(race_id), reason="Twice"
    )
    assert again.first.content == f"Live race #{race_id} is already cancelled."
    deleted = await harness.slash("liverace delete", member=scene.boss, race=str(race_id))
    assert deleted.first.content == f"Deleted live race **#{race_id}**."
    gone = await harness.slash("liverace info", member=scene.ada, race=str(race_id))
    assert gone.first.content == (
        f"There is no live race #{race_id} in this server. `/liverace list` shows them."
    )


async def test_a_room_cancelled_on_racetime_cancels_the_live_race(scene: Scene) -> None:
    race_id = await create_race(scene)
    slug = await open_room(scene, race_id)
    await settled(scene)
    race = scene.fake.race(slug)
    await scene.fake.apply(race, lambda now: race.cancel(now))
    await wait_status(scene, race_id, "cancelled")
    sent = await settled(scene)
    for member in (scene.ada, scene.bob):
        reason = fields(dms(sent, member)["❌ Live race cancelled"])["Reason"]
        assert reason == "The race room was cancelled on racetime.gg."
    listed = await scene.harness.slash("liverace list", member=scene.ada)
    [field] = listed.answer.embeds[0].fields
    assert field.name == f"#{race_id}" and (field.value or "").startswith("❌ Cancelled · ")


async def test_an_unfinish_undoes_the_runs_until_the_race_finishes_again(scene: Scene) -> None:
    race_id = await create_race(scene)
    slug = await open_room(scene, race_id)
    await under_way(scene, slug)
    one, two = (scene.fake.racer(slug, scene.racetime_id(n)) for n in ("RacerOne", "RacerTwo"))
    await one.done()
    await two.done()
    await wait_status(scene, race_id, "finished")
    assert len(await runs(scene, race_id)) == 2

    await two.undone()
    await wait_status(scene, race_id, "in_progress")
    assert await runs(scene, race_id) == {}
    assert await status_of(scene, race_id) == "🏁 In Progress"

    await two.done()
    await wait_status(scene, race_id, "finished")
    assert await runs(scene, race_id) == {
        "RacerOne#1234": ("done", 1, True),
        "RacerTwo#5678": ("done", 2, True),
    }
    sent = await settled(scene)
    details = fields(dms(sent, scene.ada)["✅ Live race finished"])["Details"]
    assert details.startswith("2 of 2 finished: 1. RacerOne")


# -- closed DMs ----------------------------------------------------------------------------------


async def test_a_participant_with_dms_closed_is_told_in_the_fallback_channel(
    scene: Scene,
) -> None:
    harness, bob = scene.harness, scene.bob
    notices = harness.sim.add_text_channel("notices")
    await harness.slash("notifications channel", member=scene.boss, channel=notices)
    harness.sim.refuse_dms(bob)
    await create_race(scene)
    sent = await settled(scene)
    assert "📅 Live race scheduled" in dms(sent, scene.ada)
    assert dms(sent, bob) == {}
    [post] = [m for m in sent if m.channel == notices]
    assert post.content == f"<@{bob.id}>, I could not send you this by DM:"
    assert post.embeds[0].title == "📅 Live race scheduled"


# -- permissions and bad input -------------------------------------------------------------------


async def test_players_cannot_organize_or_open_and_cannot_sign_up_others(scene: Scene) -> None:
    harness, ada, bob = scene.harness, scene.ada, scene.bob
    race_id = await create_race(scene)
    for name, options, refusal in [
        ("async create", {"name": "Mine", "category": CATEGORY}, ORGANIZERS_ONLY),
        ("async pool add", {"tournament": ASYNC, "name": "Pool C"}, ORGANIZERS_ONLY),
        ("async close", {"tournament": ASYNC}, ORGANIZERS_ONLY),
        ("liverace create", {"tournament": ASYNC, "when": stamp(future(days=2))},
         ORGANIZERS_ONLY),
        ("liverace cancel", {"race": str(race_id), "reason": "No"}, ORGANIZERS_ONLY),
        ("liverace delete", {"race": str(race_id)}, ORGANIZERS_ONLY),
        ("liverace open", {"race": str(race_id)}, MODERATORS_ONLY),
        ("async leave", {"tournament": ASYNC, "member": bob}, ORGANIZERS_ONLY),
    ]:
        refused = await harness.slash(name, member=ada, options=options)
        assert refused.first.ephemeral
        assert refused.first.content == refusal, name
    assert await status_of(scene, race_id) == "🗓️ Scheduled"
    _, people = await harness.services.async_tournaments.participants(harness.guild.id, ASYNC)
    assert all(p.active for p in people)
    # An organizer may remove and add someone else.
    removed = await harness.slash("async leave", member=scene.boss,
                                  options={"tournament": ASYNC, "member": bob})
    assert removed.first.content == f"<@{bob.id}> left **{ASYNC}**; recorded runs are kept."
    added = await harness.slash("async join", member=scene.boss,
                                options={"tournament": ASYNC, "member": bob, "pool": "Pool B"})
    assert added.first.content == (
        f"<@{bob.id}> is now registered for **{ASYNC}**, pool **Pool B** only."
    )


async def test_bad_input_gets_its_message(scene: Scene) -> None:
    harness, boss = scene.harness, scene.boss
    past = future(hours=-1)
    async with clock_read_around() as now:
        answer = await harness.slash(
            "liverace create", member=boss, tournament=ASYNC, when=stamp(past)
        )
    assert answer.first.content in now.either(
        lambda at: f"<t:{int(past.timestamp())}:F> (<t:{int(past.timestamp())}:R>) is in the "
        f"past. Give a time in the future, e.g. `{utc_text(example_time(at, UTC))}`."
    )
    other = await harness.slash(
        "async create", member=boss, options={"name": "Other Async", "category": CATEGORY}
    )
    assert other.first.content == "Created the async tournament **Other Async**."
    await harness.slash("async pool add", member=boss,
                        options={"tournament": "Other Async", "name": "Their Pool"})
    answer = await harness.slash(
        "liverace create", member=boss, tournament=ASYNC, pool="Their Pool",
        when=stamp(future(days=1)),
    )
    assert answer.first.content == (
        f"**{ASYNC}** has no pool called `Their Pool`. Its pools: `Pool A`, `Pool B`."
    )
    answer = await harness.slash(
        "liverace create", member=boss, tournament=ASYNC, when=stamp(future(days=1)),
        open_minutes_before=500,
    )
    assert answer.first.content == (
        "The room opens 1 to 120 minutes before the race; 500 is outside that."
    )
    answer = await harness.slash("liverace info", member=boss, race="soon")
    assert (answer.first.content or "").startswith("`soon` is not a live race.")
    async with harness.services.sessionmaker() as session:
        assert (await session.execute(select(AsyncLiveRace))).first() is None


async def test_a_finish_while_racedesk_is_down_is_recorded_once_it_is_back(
    scene: Scene,
) -> None:
    """The runs are checked against the room's final state after a restart: the engine
    rejoins the room and reports what it did meanwhile."""
    engine = scene.harness.services.racetime_engine
    race_id = await create_race(scene)
    slug = await open_room(scene, race_id)
    await under_way(scene, slug)
    await wait_status(scene, race_id, "in_progress")

    await engine.stop()
    await scene.fake.racer(slug, scene.racetime_id("RacerTwo")).done()
    await scene.fake.racer(slug, scene.racetime_id("RacerOne")).done()
    await eventually(lambda: scene.fake.race(slug).status == "finished")
    assert await runs(scene, race_id) == {}
    assert (await race_row(scene, race_id)).status == "in_progress"

    await engine.start()
    await wait_status(scene, race_id, "finished")
    assert await runs(scene, race_id) == {
        "RacerOne#1234": ("done", 2, True),
        "RacerTwo#5678": ("done", 1, True),
    }
    sent = await settled(scene)
    assert fields(dms(sent, scene.ada)["✅ Live race finished"])["Details"].startswith(
        "2 of 2 finished: 1. RacerTwo"
    )
