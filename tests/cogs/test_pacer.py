"""The pacer never lets a request start before its slot: n requests take n slots."""

import asyncio

import pytest

from cogs._shared.pacer import Pacer

PER_SECOND = 200.0
EARLY = 0.002  # the event loop may run a timer this little early (its clock resolution)


async def test_requests_start_no_sooner_than_their_evenly_spaced_slots() -> None:
    pacer = Pacer(PER_SECOND)
    loop = asyncio.get_running_loop()
    starts: list[float] = []

    async def caller() -> None:
        for _ in range(8):
            async with pacer:
                starts.append(loop.time())

    begin = loop.time()
    await asyncio.gather(*(caller() for _ in range(5)))

    assert len(starts) == 40
    for index, start in enumerate(sorted(starts)):
        assert start - begin >= index / PER_SECOND - EARLY, index


def test_a_rate_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        Pacer(0)
