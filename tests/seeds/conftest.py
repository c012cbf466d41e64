"""A fake alttpr.com over a real socket (``fake_alttpr``), for the seed tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from fake_alttpr import FakeAlttpr, running_fake_alttpr


@pytest.fixture
async def fake_alttpr() -> AsyncIterator[FakeAlttpr]:
    async with running_fake_alttpr(seed=7) as fake:
        yield fake
