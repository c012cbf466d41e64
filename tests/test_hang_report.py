"""A test that hangs fails, and its report says which coroutine waited and the random seed
(tests/plugins/hang_report.py), in a pytest run of its own (pytester, a subprocess)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

CONFTEST = 'pytest_plugins = ["tests.plugins.hang_report"]\n'

HANGING = '''
import asyncio
import logging

import pytest


async def wait_for_news_that_never_comes(news: asyncio.Event) -> None:
    await news.wait()


@pytest.fixture
async def newsroom():
    news = asyncio.Event()
    yield news
    logging.getLogger("newsroom").warning("closing the newsroom: waiting for the last news")
    await wait_for_news_that_never_comes(news)


async def test_passes_then_its_teardown_hangs(newsroom):
    assert not newsroom.is_set()
'''

FAILING = """
def test_fails():
    assert 1 == 2
"""


@pytest.fixture
def suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A project with the plugin, configured like ours (asyncio auto mode)."""
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    monkeypatch.delenv("PYTHONASYNCIODEBUG", raising=False)
    pytester.makeini(
        "[pytest]\n"
        "asyncio_mode = auto\n"
        "asyncio_default_fixture_loop_scope = function\n"
        "timeout_method = thread\n"
    )
    pytester.makeconftest(CONFTEST)
    return pytester


def test_a_hung_teardown_fails_naming_the_awaiting_coroutine_and_the_seed(
    suite: pytest.Pytester,
) -> None:
    suite.makepyfile(test_hangs=HANGING)
    # The hang is for ever, so the limit can be tiny without the outcome depending on speed.
    result = suite.runpytest_subprocess(
        "-p", "randomly", "--randomly-seed=4242", "-o", "timeout=1", timeout=120
    )
    out = result.stdout.str() + result.stderr.str()
    assert result.ret != 0
    assert "Timeout: test_hangs.py::test_passes_then_its_teardown_hangs ran past 1 s" in out
    assert "closing the newsroom: waiting for the last news" in out, "its last log lines"
    assert "in wait_for_news_that_never_comes" in out, "the coroutine that waits, by name"
    assert "await news.wait()" in out, "the line it waits at"
    assert "every thread (faulthandler)" in out
    assert "rerun this order with -p randomly --randomly-seed=4242" in out


def test_a_failing_run_repeats_its_seed_at_the_end(suite: pytest.Pytester) -> None:
    suite.makepyfile(test_fails=FAILING)
    result = suite.runpytest_subprocess("-p", "randomly", "--randomly-seed=777", timeout=120)
    assert result.ret == 1
    assert result.stdout.lines[-2] == (
        "Random order seed 777: rerun this order with -p randomly --randomly-seed=777"
    ), "next to the last line, after the failures' summary"


def test_a_passing_run_says_nothing_more(suite: pytest.Pytester) -> None:
    suite.makepyfile(test_passes="def test_passes():\n    pass\n")
    result = suite.runpytest_subprocess("-p", "randomly", "--randomly-seed=777", timeout=120)
    assert result.ret == 0
    assert "rerun this order" not in result.stdout.str()
