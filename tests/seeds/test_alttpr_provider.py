"""The ALTTPR provider against the fake alttpr.com, over a real socket, through pyz3r."""

from __future__ import annotations

import asyncio
import gc
import warnings

import pytest
from pyz3r.alttpr import ALTTPR

from core.seeds.alttpr import AlttprProvider
from core.seeds.alttpr_presets import ALTTPR_PRESETS
from core.seeds.base import SEED_TEXT_MAX, SeedProviderError
from fake_alttpr import CODE_OFFSET, FakeAlttpr

ITEMS = {
    0: "Bow", 1: "Boomerang", 2: "Hookshot", 3: "Bombs", 4: "Mushroom", 5: "Magic Powder",
    6: "Ice Rod", 7: "Pendant", 8: "Bombos", 9: "Ether", 10: "Quake", 11: "Lamp", 12: "Hammer",
    13: "Shovel", 14: "Flute", 15: "Bugnet", 16: "Book", 17: "Empty Bottle",
    18: "Green Potion", 19: "Somaria", 20: "Cape", 21: "Mirror", 22: "Boots", 23: "Gloves",
    24: "Flippers", 25: "Moon Pearl", 26: "Shield", 27: "Tunic", 28: "Heart", 29: "Map",
    30: "Compass", 31: "Big Key",
}


def provider(fake: FakeAlttpr, **options: object) -> AlttprProvider:
    options.setdefault("retry_pauses", (0.0, 0.0))
    return AlttprProvider(fake.base_url, **options)  # type: ignore[arg-type]


def expected_code(fake: FakeAlttpr, hash_id: str) -> str:
    patch = fake.games[hash_id]["patch"]
    code_bytes = next(p[str(CODE_OFFSET)] for p in patch if str(CODE_OFFSET) in p)
    return "/".join(ITEMS[b] for b in code_bytes)


async def test_a_roll_gives_the_permalink_and_the_file_select_code(
    fake_alttpr: FakeAlttpr,
) -> None:
    seed = await provider(fake_alttpr).roll("open")

    [hash_id] = fake_alttpr.games
    assert seed.preset == "open"
    assert seed.url == f"{fake_alttpr.base_url}/h/{hash_id}"
    assert seed.code == expected_code(fake_alttpr, hash_id)
    assert seed.text == f"{seed.url} (code: {seed.code})"
    assert len(seed.text) <= SEED_TEXT_MAX
    assert seed.spoiler_url is None  # a race seed (the default) hides its spoiler log
    # pyz3r reads the same game back from the fake (its ``retrieve``: GET /hash/{hash}).
    again = await ALTTPR.retrieve(hash_id, baseurl=fake_alttpr.base_url)
    assert "/".join(again.code) == seed.code
    assert again.url == seed.url


async def test_the_presets_settings_reach_alttpr_as_pyz3r_posts_them(
    fake_alttpr: FakeAlttpr,
) -> None:
    await provider(fake_alttpr, spoiler="generate", race=False).roll("keysanity")

    [sent] = fake_alttpr.generate_calls
    expected = dict(ALTTPR_PRESETS["keysanity"].settings)
    assert sent == {**expected, "spoilers": "generate", "tournament": False}
    assert sent["dungeon_items"] == "full" and sent["mode"] == "open"


@pytest.mark.parametrize(
    ("spoiler", "race", "has_spoiler_url"),
    [("on", False, True), ("on", True, False), ("generate", False, False), ("off", False, False)],
)
async def test_only_a_shown_spoiler_log_has_a_spoiler_url(
    fake_alttpr: FakeAlttpr, spoiler: str, race: bool, has_spoiler_url: bool
) -> None:
    seed = await provider(fake_alttpr, spoiler=spoiler, race=race).roll("standard")
    assert (seed.spoiler_url == seed.url) is has_spoiler_url
    assert (seed.spoiler_url is not None) is has_spoiler_url


async def test_the_same_rng_seed_rolls_the_same_games(fake_alttpr: FakeAlttpr) -> None:
    first = await provider(fake_alttpr).roll("open")
    async with __import__("fake_alttpr").running_fake_alttpr(seed=7) as other:
        second = await provider(other).roll("open")
    assert first.url is not None and second.url is not None
    assert first.url.rsplit("/", 1)[1] == second.url.rsplit("/", 1)[1]
    assert first.code == second.code


async def test_a_server_error_is_retried_and_the_roll_succeeds(fake_alttpr: FakeAlttpr) -> None:
    fake_alttpr.fail_next(2, status=500)

    seed = await provider(fake_alttpr).roll("open")

    assert seed.url is not None
    assert len(fake_alttpr.generate_calls) == 3


async def test_a_failing_service_is_a_readable_error_after_three_tries(
    fake_alttpr: FakeAlttpr,
) -> None:
    fake_alttpr.fail_next(10, status=500)

    with pytest.raises(SeedProviderError) as refused:
        await provider(fake_alttpr).roll("open")

    site = fake_alttpr.base_url.removeprefix("http://")
    assert refused.value.message == (
        f"{site} could not roll a seed (HTTP 500, 3 tries); nothing was rolled. "
        "Try !seed again later."
    )
    assert len(fake_alttpr.generate_calls) == 3
    assert not fake_alttpr.games


async def test_a_refusal_is_reported_in_alttprs_words_and_not_retried(
    fake_alttpr: FakeAlttpr,
) -> None:
    fake_alttpr.fail_next(5, status=403)

    with pytest.raises(SeedProviderError) as refused:
        await provider(fake_alttpr).roll("open")

    site = fake_alttpr.base_url.removeprefix("http://")
    assert refused.value.message == (
        f"{site} refused the settings: This action is unauthorized. Nothing was rolled; "
        "organizers can check the preset with /tournament seeds."
    )
    assert len(fake_alttpr.generate_calls) == 1


async def test_settings_alttpr_rejects_name_the_fields(fake_alttpr: FakeAlttpr) -> None:
    # A spoiler mode alttpr.com does not know: its validator answers 422 with ``errors``.
    with pytest.raises(SeedProviderError) as refused:
        await provider(fake_alttpr, spoiler="sometimes").roll("open")

    assert "refused the settings: spoilers: The selected spoilers is invalid. Nothing" in (
        refused.value.message
    )
    assert len(fake_alttpr.generate_calls) == 1


async def test_a_long_or_hostile_refusal_is_one_bounded_line(fake_alttpr: FakeAlttpr) -> None:
    fake_alttpr.fail_next(1, status=422, body={"errors": {"goal": ["x" * 5000 + "\n\r\x00"]}})

    with pytest.raises(SeedProviderError) as refused:
        await provider(fake_alttpr).roll("open")

    assert len(refused.value.message) < 500
    assert "\n" not in refused.value.message and "\x00" not in refused.value.message


async def test_a_slow_service_times_out_with_a_message_for_the_room(
    fake_alttpr: FakeAlttpr,
) -> None:
    fake_alttpr.delay(60)

    with pytest.raises(SeedProviderError) as refused:
        await provider(fake_alttpr, timeout_seconds=0.2).roll("open")

    assert refused.value.message == (
        "The seed service did not answer in 0.2 s; nothing was rolled. Try !seed again."
    )
    assert len(fake_alttpr.generate_calls) == 1


async def test_an_unreachable_service_is_a_readable_error() -> None:
    # A port nothing listens on: the fake, started and stopped.
    from fake_alttpr import running_fake_alttpr

    async with running_fake_alttpr() as gone:
        url = gone.base_url
    with pytest.raises(SeedProviderError) as refused:
        await AlttprProvider(url, retry_pauses=(0.0,)).roll("open")
    assert "could not roll a seed (the connection failed, 2 tries)" in refused.value.message


@pytest.mark.parametrize(
    "answer",
    [
        {"hash": "not a hash!", "patch": [{"1": [0]}, {str(CODE_OFFSET): [1, 2, 3, 4, 5]}]},
        {"patch": []},  # no hash
        {"hash": "AbC123", "patch": [{str(CODE_OFFSET): [1, 2, 3, 4, 5]}]},  # no earlier patch
        {"hash": "AbC123", "patch": [{"1": [0]}, {str(CODE_OFFSET): [1, 2, 99, 4, 5]}]},
        {"hash": "AbC123"},  # no patch
    ],
)
async def test_an_answer_without_a_seed_is_a_readable_error(
    fake_alttpr: FakeAlttpr, answer: dict[str, object]
) -> None:
    fake_alttpr.fail_next(1, status=200, body=answer)

    with pytest.raises(SeedProviderError) as refused:
        await provider(fake_alttpr).roll("open")

    site = fake_alttpr.base_url.removeprefix("http://")
    assert refused.value.message == (
        f"{site} answered with something RaceDesk could not read; nothing was rolled. "
        "Try !seed again later."
    )


async def test_an_unknown_preset_names_the_presets(fake_alttpr: FakeAlttpr) -> None:
    with pytest.raises(SeedProviderError) as refused:
        await provider(fake_alttpr).roll("doors")
    assert refused.value.message == (
        "Unknown preset 'doors'. Presets: open, standard, inverted, keysanity."
    )
    assert fake_alttpr.generate_calls == []


async def test_two_rolls_at_once_are_two_seeds(fake_alttpr: FakeAlttpr) -> None:
    fake_alttpr.delay(0.05)  # both requests are in the server at the same time
    rolls = provider(fake_alttpr)

    first, second = await asyncio.gather(rolls.roll("open"), rolls.roll("inverted"))

    assert len(fake_alttpr.generate_calls) == 2
    assert first.url != second.url
    assert {first.preset, second.preset} == {"open", "inverted"}


async def test_rolls_leave_no_session_or_connection_open(fake_alttpr: FakeAlttpr) -> None:
    rolls = provider(fake_alttpr, timeout_seconds=0.2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        await rolls.roll("open")
        fake_alttpr.fail_next(1, status=403)
        with pytest.raises(SeedProviderError):
            await rolls.roll("open")
        fake_alttpr.delay(60)
        with pytest.raises(SeedProviderError):
            await rolls.roll("open")
        gc.collect()
        await asyncio.sleep(0)
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []
