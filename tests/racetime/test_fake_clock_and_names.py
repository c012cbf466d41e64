"""The fake server's held clock and seeded names: what the rehearsal leans on to show the same
race times, room names and racetime ids on every run, whatever the machine's speed."""

from __future__ import annotations

import asyncio

import aiohttp

from fake_racetime import FakeClock, FakeRacetimeServer


async def test_a_held_clock_moves_only_when_advanced() -> None:
    clock = FakeClock(held=True)
    before = clock.now()
    await asyncio.sleep(0.05)
    assert clock.now() == before
    clock.advance(7)
    assert (clock.now() - before).total_seconds() == 7


async def test_a_released_clock_runs_again_and_never_goes_back() -> None:
    clock = FakeClock(held=True)
    clock.advance(3600)  # ahead of real time, as a script may take it
    shown = clock.now()
    clock.release()
    assert not clock.held
    assert clock.now() >= shown
    later = clock.now()
    await asyncio.sleep(0.05)
    assert clock.now() > later


async def test_a_race_held_lasts_exactly_what_the_script_advanced() -> None:
    async with FakeRacetimeServer(clock_held=True) as fake:
        fake.add_category("alttpr")
        one, two = (fake.add_user(name, twitch_channel=name, stream_live=True)
                    for name in ("one", "two"))
        race = fake.open_race("alttpr")
        for racer in (one, two):
            await fake.racer(race.slug, racer).join()
            await fake.racer(race.slug, racer).ready()
        await fake.tick()
        await fake.advance_to_start(race.slug)
        await asyncio.sleep(0.05)  # real time passes; racetime's does not
        await fake.advance(3725.5)
        await fake.racer(race.slug, one).done()
        [entrant] = [e for e in fake.race(race.slug).entrants if e.user.id == one]
        assert entrant.finish_time is not None
        # advance_to_start went 1 ms past the start; nothing else moved the clock.
        assert entrant.finish_time.total_seconds() == 3725.501


async def test_the_clock_is_held_and_released_over_http() -> None:
    async with FakeRacetimeServer() as fake, aiohttp.ClientSession(fake.base_url) as http:
        async with http.post("/_test/clock", json={"held": True}) as answer:
            assert (await answer.json())["held"] is True
        assert fake.clock.held
        async with http.post("/_test/clock", json={"held": False}) as answer:
            assert (await answer.json())["held"] is False
        assert not fake.clock.held


def names_of(seed: int | None) -> tuple[list[str], list[str]]:
    fake = FakeRacetimeServer(names_seed=seed)
    users = [fake.add_user(f"Racer{n}") for n in range(3)]
    fake.add_category("alttpr")
    slugs = [fake.open_race("alttpr").slug for _ in range(3)]
    shown = [f"{u}#{fake.users[u].discriminator}" for u in users]
    return shown, slugs


def test_seeded_names_are_the_same_on_every_run_and_differ_between_seeds() -> None:
    assert names_of(7) == names_of(7)
    assert names_of(7) != names_of(8)
    assert names_of(None) != names_of(None)
