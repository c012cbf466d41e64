"""core.event_loop: bot.py runs on uvloop where it is installed, on asyncio's loop if asked."""

import asyncio

import pytest

from core import event_loop


async def which() -> str:
    await asyncio.sleep(0)
    return event_loop.name()


def test_runs_on_uvloop_when_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("uvloop")
    monkeypatch.delenv(event_loop.PLAIN_LOOP_ENV, raising=False)
    assert event_loop.run(which()) == "uvloop"


def test_runs_on_asyncio_s_own_loop_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(event_loop.PLAIN_LOOP_ENV, "1")
    assert event_loop.run(which()) == "asyncio"
