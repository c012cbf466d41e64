"""Each room action gets the answer to *that* action.

racetime-app sends a refused action's ``error`` and the ``pong`` after it as two writes, about
half a millisecond apart. A client that ends the exchange at the ``error`` reads that ``pong``
as the answer to its next action: against racetime-app, 5 of 10 answers came out wrong that
way (messages reported refused although they were posted, refused invites reported sent).
The fake server reproduces the gap (``error_pong_gap``); these tests run a series of refused
and accepted actions at several gaps and check each outcome against what racetime did.
"""

from __future__ import annotations

from collections.abc import Awaitable

import pytest

from racetime.errors import RacetimeActionError
from tests.plugins.racetime_engine import EngineEnv
from tests.racetime.engine_helpers import watched_race

UNKNOWN_USER = "NoSuchUser000000"


async def outcome(action: Awaitable[None], what: str) -> str:
    try:
        await action
    except RacetimeActionError as refused:
        return f"{what} refused: {'; '.join(refused.errors)}"
    return f"{what} accepted"


@pytest.mark.parametrize("gap", [0.0, 0.0005, 0.005, 0.05])
async def test_refused_and_accepted_actions_each_get_their_own_answer(
    engine_env: EngineEnv, gap: float
) -> None:
    env, fake = engine_env, engine_env.fake
    fake.set_error_pong_gap(gap)
    manager, race, room = await watched_race(env, invitational=True)
    refused = "invite refused: No user found matching the given ID."

    outcomes = []
    for round_ in range(5):
        outcomes.append(await outcome(manager.invite(race.name, UNKNOWN_USER), "invite"))
        outcomes.append(await outcome(manager.invite(race.name, UNKNOWN_USER), "invite"))
        outcomes.append(await outcome(room.send_message(f"message {round_}"), "message"))

    assert outcomes == [refused, refused, "message accepted"] * 5
    posted = [m.message for m in fake.race(race.slug).messages if m.message.startswith("message")]
    assert posted == [f"message {n}" for n in range(5)], "racetime posted every message once"
    assert room.connect_count == 1


async def test_two_refusals_in_a_row_are_each_reported_once(engine_env: EngineEnv) -> None:
    env, fake = engine_env, engine_env.fake
    fake.set_error_pong_gap(0.01)
    manager, race, _room = await watched_race(env, invitational=True)
    for _ in range(3):
        with pytest.raises(RacetimeActionError) as caught:
            await manager.invite(race.name, UNKNOWN_USER)
        assert caught.value.errors == ["No user found matching the given ID."]
    three = fake.seed.users["RacerThree"]
    await manager.invite(race.name, three, "RacerThree")
    assert any(e.user.id == three for e in fake.race(race.slug).entrants)
