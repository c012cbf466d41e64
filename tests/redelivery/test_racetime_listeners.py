"""Redelivery for the listeners that act on racetime: a live race's room, a match's room.

The fake racetime server over real sockets, the bot with every cog on the real database:

* a live race's room is opened and a stranger asks to join (the ``scene`` of
  ``tests/cogs/test_live_race.py``): ``LiveRaceRooms._on_entrant`` tells them in the room's
  chat that their result will not count;
* /open-room for a match whose second player racetime refuses (no Twitch in a streamed room):
  ``MatchRoomService`` invites, records the refusal and emits ``MatchInviteRefusedEvent``; the
  players get their DMs and the staff channel a post.

Then every logged event is delivered again, and separately the acknowledgements are lost and
delivery resumes from the log: nothing is said in the room, invited, told, posted or recorded
a second time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import discord.ext.test.backend as dpytest_backend
import pytest

from cogs._shared.permissions import actor_of_user
from core.config import RacetimeSettings
from db.queries.rooms import get_room_for_match
from db.secrets import SecretBox
from fake_racetime import FakeRacetimeServer
from tests.cogs.test_live_race import (  # the scene fixture and its steps
    Scene,
    create_race,
    open_room,
    scene,  # noqa: F401
)
from tests.plugins.discord_bot import DiscordHarness, running_harness
from tests.plugins.racetime_engine import eventually
from tests.redelivery.scenarios import durable_state, undelivered
from tests.redelivery.test_redelivery import logged_events


async def _stranger_asks_to_join(sc: Scene) -> str:
    """A live race's room is open; a non-participant asks to join and is told; returns the
    slug."""
    slug = await open_room(sc, await create_race(sc))
    await sc.fake.racer(slug, sc.racetime_id("RacerThree")).request_invite()
    await eventually(lambda: any(
        "will not count" in m.message for m in sc.fake.race(slug).messages if m.bot
    ))
    await sc.harness.services.dispatcher.drain()
    return slug


def _said(fake: FakeRacetimeServer, slug: str) -> list[str]:
    """What RaceDesk said in the room's chat."""
    return [m.message for m in fake.race(slug).messages if m.bot]


def _entrants(fake: FakeRacetimeServer, slug: str) -> list[tuple[str, str]]:
    """Who is in the room (or invited, or refused) as racetime shows it."""
    return sorted(
        (e["user"]["id"], e["status"]["value"]) for e in fake.race_data(slug)["entrants"]
    )


async def test_every_room_event_delivered_twice_says_and_invites_once(
    scene: Scene,  # noqa: F811
) -> None:
    services = scene.harness.services
    slug = await _stranger_asks_to_join(scene)
    said, entrants = _said(scene.fake, slug), _entrants(scene.fake, slug)
    state = await durable_state(services.sessionmaker)
    assert sum("will not count" in line for line in said) == 1
    assert "live-race-entrants" in state.receipt_names()

    services.dispatcher.publish(await logged_events(services.sessionmaker))
    await services.dispatcher.drain()

    assert _said(scene.fake, slug) == said, "nothing said again in the room"
    assert _entrants(scene.fake, slug) == entrants
    assert await durable_state(services.sessionmaker) == state
    assert services.dispatcher.parked == 0


async def test_a_crash_before_the_acknowledgements_says_and_invites_once(
    scene: Scene, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
) -> None:
    services = scene.harness.services
    before = await undelivered(services.sessionmaker)
    with monkeypatch.context() as dying:
        dying.setattr(services.event_log, "acknowledge", lambda _seq: None)
        slug = await _stranger_asks_to_join(scene)
    said, entrants = _said(scene.fake, slug), _entrants(scene.fake, slug)
    state = await durable_state(services.sessionmaker)
    assert await undelivered(services.sessionmaker) > before, "the room's events are not acked"

    await services.dispatcher.start()  # reads back what the log holds unacknowledged
    await services.dispatcher.drain()

    assert _said(scene.fake, slug) == said, "nothing said again in the room"
    assert _entrants(scene.fake, slug) == entrants
    assert await durable_state(services.sessionmaker) == state
    assert await undelivered(services.sessionmaker) == 0
    assert services.dispatcher.parked == 0


# -- a match room with a player racetime refuses ----------------------------------------------


@dataclass
class MatchRoom:
    harness: DiscordHarness
    fake: FakeRacetimeServer
    slug: str
    earlier: int  # events logged (and acknowledged) before the match was scheduled


@asynccontextmanager
async def _match_room_with_a_refused_invite(
    db_url: str, secret_box: SecretBox, fake: FakeRacetimeServer, *, acknowledge: bool
) -> AsyncIterator[MatchRoom]:
    """/open-room for a match whose second player racetime refuses (no Twitch in a streamed
    room): DMs to both players, a post in the staff channel, the refusal on the player.
    ``acknowledge=False``: the process dies before any acknowledgement is committed."""
    racetime = RacetimeSettings(host=fake.host, scheme="http")
    no_twitch = fake.add_user("NoTwitch")
    async with running_harness(db_url, secret_box, racetime, deliver_notifications=True) as h:
        ada, bob = h.member(0), h.member(1)
        await h.run_alttpr_bot({
            ada: (fake.seed.users["RacerOne"], "RacerOne#1234"), bob: (no_twitch, "NoTwitch#4321"),
        })
        staff = dpytest_backend.make_text_channel("staff", h.guild)
        organizer = await h.member_with_permissions(2, manage_guild=True)
        await h.slash("tournament create", member=organizer, options={"name": "Winter Cup"},
                      category="alttpr", staff_channel=staff)
        await h.services.dispatcher.drain()
        earlier = sum((await durable_state(h.services.sessionmaker)).events.values())
        with pytest.MonkeyPatch.context() as dying:
            if not acknowledge:
                dying.setattr(h.services.event_log, "acknowledge", lambda _seq: None)
            match = await h.services.matches.schedule(
                h.guild.id, "Winter Cup", [ada.id, bob.id],
                datetime.now(UTC).replace(microsecond=0) + timedelta(days=1), "Final",
                actor=actor_of_user(organizer),
            )
            preview = await h.slash("open-room", member=organizer, match=str(match.id))
            confirmed = await h.press(preview.first, "Confirm", member=organizer)
            await h.notifications_settled()
        assert "racetime.gg would not let `NoTwitch#4321` in" in (
            confirmed.messages[-1].content or ""
        )
        async with h.services.sessionmaker() as session:
            row = await get_room_for_match(session, match.id)
        assert row is not None
        yield MatchRoom(h, fake, row.slug, earlier)


def _told(room: MatchRoom) -> list[tuple[str, str]]:
    """What RaceDesk sent on Discord since the last call: (where, title or text)."""
    return sorted(
        (getattr(m.channel, "name", None) or "DM", (m.embeds[0].title if m.embeds else m.content))
        for m in room.harness.sim.sent()
    )


async def _everything_again(room: MatchRoom, *, from_the_log: bool) -> None:
    services = room.harness.services
    if from_the_log:
        await services.dispatcher.start()  # what a start does with unacknowledged events
    else:
        services.dispatcher.publish(await logged_events(services.sessionmaker))
    await room.harness.notifications_settled()


@pytest.mark.parametrize("crash", [False, True], ids=["delivered twice", "crash before acks"])
async def test_a_match_room_s_events_again_invite_tell_and_post_once(
    db_url: str, secret_box: SecretBox, fake_racetime: FakeRacetimeServer, crash: bool
) -> None:
    async with _match_room_with_a_refused_invite(
        db_url, secret_box, fake_racetime, acknowledge=not crash
    ) as room:
        services = room.harness.services
        told = _told(room)
        assert ("staff", "⚠️ Winter Cup · Final: a player is not in the room") in told
        assert ("DM", "⚠️ Match room opened: you are not in") in told
        assert ("DM", "🚪 Match room opened") in told
        said, entrants = _said(room.fake, room.slug), _entrants(room.fake, room.slug)
        state = await durable_state(services.sessionmaker)
        if crash:
            logged = sum(state.events.values())
            assert await undelivered(services.sessionmaker) == logged - room.earlier

        await _everything_again(room, from_the_log=crash)

        assert _told(room) == [], "no DM or post again"
        assert _said(room.fake, room.slug) == said, "nothing said again in the room"
        assert _entrants(room.fake, room.slug) == entrants
        assert await durable_state(services.sessionmaker) == state
        assert await undelivered(services.sessionmaker) == 0
        assert services.dispatcher.parked == 0
