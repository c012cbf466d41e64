"""Start-up ends by freezing what it built out of the garbage collector's sight (issue 28)."""

from __future__ import annotations

import gc
import sys

import pytest

import bot as bot_module
from tests.plugins.discord_bot import DiscordHarness


def test_freezing_collects_first_then_freezes_and_collects_less_often(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[str] = []

    def collect(*_: object) -> int:
        calls.append("collect")
        return 0

    monkeypatch.setattr(gc, "collect", collect)
    monkeypatch.setattr(gc, "freeze", lambda: calls.append("freeze"))
    monkeypatch.setattr(gc, "set_threshold", lambda *t: calls.append(f"thresholds {t}"))
    bot_module.freeze_start_up_objects()
    assert calls == ["collect", "freeze", f"thresholds {bot_module.GC_THRESHOLDS}"]


async def test_the_login_starts_what_waited_then_freezes(
    discord_harness: DiscordHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    steps: list[str] = []

    async def delivery() -> None:
        steps.append("delivery")

    monkeypatch.setattr(bot_module, "freeze_start_up_objects", lambda: steps.append("freeze"))
    discord_harness.bot.after_login[:] = [delivery]
    await discord_harness.bot.logged_in()
    assert steps == ["delivery", "freeze"]


def test_tuning_freezes_and_shortens_the_switch_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    """A database thread takes the GIL back from a busy event loop within 0.5 ms, not 5."""
    steps: list[str] = []
    monkeypatch.setattr(bot_module, "freeze_start_up_objects", lambda: steps.append("freeze"))
    monkeypatch.setattr(sys, "setswitchinterval", lambda s: steps.append(f"switch {s}"))
    bot_module.tune_interpreter()
    assert steps == ["freeze", f"switch {bot_module.SWITCH_INTERVAL_SECONDS}"]
