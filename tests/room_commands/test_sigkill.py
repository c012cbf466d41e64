"""RaceDesk SIGKILLed between a command's receipt and its answer: nothing lost, nothing said
twice, the seed rolled once.

Real parts only: ``bench.chat_engine`` (the application's services built by
``bot.build_services``) runs as a subprocess on its own SQLite file (whichever backend the
suite runs on, as in ``tests/racetime/test_crash.py``), against the fake racetime server in
the test's loop.
It kills itself with SIGKILL at the points its flags name: before an answer is sent (the
command is in the event log), after it was sent (racetime has it) but before its receipt is
recorded, and after a seed was rolled and stored but before it was posted. Each time a
racer types another command while it is dead, which the next process finds with
``gethistory``. Waiting is on conditions (stdout markers, the room, rows), never on time.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bench.chat_rig import WITHIN, ChatRig, until
from fake_racetime import FakeRacetimeServer
from tests.plugins.fake_racetime import ALTTPR_CLIENT_ID, ALTTPR_CLIENT_SECRET


@pytest.fixture
async def rig(fake_racetime: FakeRacetimeServer, tmp_path: Path) -> AsyncIterator[ChatRig]:
    rig = ChatRig(
        fake_racetime, tmp_path, category="alttpr", client_id=ALTTPR_CLIENT_ID,
        client_secret=ALTTPR_CLIENT_SECRET, racers=("RacerOne", "RacerTwo"),
    )
    try:
        yield rig
    finally:
        await rig.stop()


async def from_history(rig: ChatRig, event_id: str) -> bool:
    [(payload,)] = await rig.db.query(
        f"SELECT payload FROM event_log WHERE event_id = '{event_id}'"
    )
    data = json.loads(payload) if isinstance(payload, str) else payload
    return bool(data["from_history"])


async def test_sigkill_around_the_answer_loses_nothing_and_says_nothing_twice(
    rig: ChatRig,
) -> None:
    await rig.set_up()

    # 1. Killed before answering: the command is in the log, its answer never left.
    engine = await rig.open_rooms("--die-before-answer", "1")
    first = await rig.say("RacerOne", "!help")
    assert await rig.died(engine) == ["before-answer", first.event_id]
    assert rig.answered_by(engine) == [] and rig.answers() == []
    away = [await rig.say("RacerTwo", "!match")]

    # 2. Killed after answering, before the receipt: racetime has the answer.
    engine = await rig.start("--die-after-answer", "3")
    assert await engine.wait_marker("ANSWERED", 2, within=WITHIN), rig.log_tail()
    assert sorted(rig.answered_by(engine)) == sorted([first.event_id, away[0].event_id])
    second = await rig.say("RacerOne", "!match")
    assert await rig.died(engine) == ["after-answer", second.event_id]
    assert (rig.slugs[0], "RacerOne", "match") in rig.answers()
    away.append(await rig.say("RacerTwo", "!help"))

    # 3. Killed once the seed is rolled and stored, before it is posted. The answer of (2)
    # is sent again with the same guid, which racetime drops.
    engine = await rig.start("--die-after-roll", "1")
    assert await engine.wait_marker("ANSWERED", 2, within=WITHIN), rig.log_tail()
    assert sorted(rig.answered_by(engine)) == sorted([second.event_id, away[1].event_id])
    seed = await rig.say("RacerOne", "!seed")
    assert await rig.died(engine) == ["after-roll", seed.event_id]
    assert engine.markers("ROLLED") == [[seed.event_id]]
    away.append(await rig.say("RacerTwo", "!match"))

    # 4. The last engine answers the seed (rolled already: not again) and what came meanwhile.
    engine = await rig.start()
    await until(rig.settled)
    assert await engine.terminate(within=WITHIN) == 0, rig.log_tail()
    assert engine.markers("STOPPED")
    assert engine.markers("ROLLED") == [], "the stored seed is answered, not rolled again"
    assert sorted(rig.answered_by(engine)) == sorted([seed.event_id, away[2].event_id])

    verdict = rig.verdict()
    assert (verdict.commands, verdict.lost, verdict.answered_twice, verdict.unknown) == (
        6, 0, 0, 0
    ), rig.answers()
    assert Counter(rig.answers()) == Counter((s.room, s.racer, s.command) for s in rig.said)
    ids = [s.event_id for s in rig.said]
    assert await rig.db.command_ids() == Counter(ids), "each command logged once"
    assert await rig.db.receipts() == Counter(ids), "each answer recorded once"
    for said in away:
        assert await from_history(rig, said.event_id), "typed while dead: found by gethistory"
    assert await rig.db.seed_rolls() == {rig.slugs[0]: 1}
    assert list((await rig.db.seed_dms()).values()) == [2], "one seed event, a DM per player"
    seed_answers = [
        m.message for m in rig.fake.race(rig.slugs[0]).messages
        if m.bot and m.message.startswith("RacerOne: here is the seed")
    ]
    assert len(seed_answers) == 1
    assert await rig.db.parked() == 0
    assert await rig.db.undelivered() == 0
