"""Redelivery for the listeners that act on racetime: a live race's room, its entrants.

The fake racetime server over real sockets, the bot with every cog on the real database (the
``scene`` of ``tests/cogs/test_live_race.py``): a live race's room is opened and a stranger
asks to join, so ``LiveRaceRooms._on_entrant`` tells them in the room's chat that their
result will not count, and the room's other listeners (the bot joined, the entrants) run too.
Then every logged event is delivered again, and separately the acknowledgements are lost and
delivery resumes from the log: nothing is said, invited or recorded a second time.
"""

from __future__ import annotations

import pytest

from tests.cogs.test_live_race import (  # the scene fixture and its steps
    Scene,
    create_race,
    open_room,
    scene,  # noqa: F401
)
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


def _said(sc: Scene, slug: str) -> list[str]:
    return [m.message for m in sc.fake.race(slug).messages if m.bot]


def _entrants(sc: Scene, slug: str) -> list[tuple[str, str]]:
    return sorted(
        (e["user"]["id"], e["status"]["value"]) for e in sc.fake.race_data(slug)["entrants"]
    )


async def test_every_room_event_delivered_twice_says_and_invites_once(
    scene: Scene,  # noqa: F811
) -> None:
    services = scene.harness.services
    slug = await _stranger_asks_to_join(scene)
    said, entrants = _said(scene, slug), _entrants(scene, slug)
    state = await durable_state(services.sessionmaker)
    assert sum("will not count" in line for line in said) == 1
    assert "live-race-entrants" in state.receipt_names()

    services.dispatcher.publish(await logged_events(services.sessionmaker))
    await services.dispatcher.drain()

    assert _said(scene, slug) == said, "nothing said again in the room"
    assert _entrants(scene, slug) == entrants
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
    said, entrants = _said(scene, slug), _entrants(scene, slug)
    state = await durable_state(services.sessionmaker)
    assert await undelivered(services.sessionmaker) > before, "the room's events are not acked"

    await services.dispatcher.start()  # reads back what the log holds unacknowledged
    await services.dispatcher.drain()

    assert _said(scene, slug) == said, "nothing said again in the room"
    assert _entrants(scene, slug) == entrants
    assert await durable_state(services.sessionmaker) == state
    assert await undelivered(services.sessionmaker) == 0
    assert services.dispatcher.parked == 0
