"""The guides stay true: their rehearsal excerpts match a fresh rehearsal, and every module
the architecture page names exists."""

from __future__ import annotations

import re

import pytest

from rehearsal.excerpts import DOCS, REPO, Block, blocks, comparable, stale, steps
from tests.plugins.rehearsal import FastRun

GUIDES = sorted(DOCS.glob("*.md"))
# A path in backticks that names a module or package of the project.
_PATH = re.compile(r"`((?:bot|core|db|racetime|cogs|web|rehearsal|bench|tests)[\w/.]*)`")


@pytest.fixture(scope="module")
def rehearsed(
    fast_rehearsal: FastRun,
) -> dict[tuple[str, str], list[str]]:
    done, _ = fast_rehearsal
    assert done.returncode == 0, done.stdout
    return steps(done.stdout)


def test_there_are_guides_for_each_audience_and_the_architecture() -> None:
    assert {p.name for p in GUIDES} >= {
        "organizers.md", "players.md", "admins.md", "architecture.md"
    }


@pytest.mark.parametrize("block", blocks(GUIDES), ids=lambda b: f"{b.path.name}:{b.step[:40]}")
def test_each_excerpt_shows_what_the_rehearsal_shows(
    block: Block, rehearsed: dict[tuple[str, str], list[str]]
) -> None:
    assert block.body.strip(), "empty: run `python -m rehearsal.excerpts` to fill it"
    assert stale(block, rehearsed) is None, (
        f"{stale(block, rehearsed)}; run `python -m rehearsal.excerpts` to refresh the guides"
    )


def test_a_changed_reply_makes_an_excerpt_stale(
    rehearsed: dict[tuple[str, str], list[str]],
) -> None:
    [first, *_] = blocks(GUIDES)
    changed = Block(first.path, first.scene, first.step,
                    first.body.replace("RaceDesk", "SomeOtherBot", 1))
    assert "no longer shows" in str(stale(changed, rehearsed))
    gone = Block(first.path, first.scene, "a step nobody plays", first.body)
    assert "has no step" in str(stale(gone, rehearsed))


def test_runs_differ_only_in_what_comparison_ignores() -> None:
    assert comparable("https://racetime.gg/alttpr/odd-wolf-5570 at 13:58") == comparable(
        "https://racetime.gg/alttpr/clever-link-0041 at 14:02"
    )
    assert comparable("/user/WjzzWG5fRezJ6pPZ") == comparable("/user/Abc123")


def exists(name: str) -> bool:
    """``core/clock.py``, ``core/events/`` or ``core.clock``, in this repository."""
    path = name if "/" in name or name.endswith(".py") else name.replace(".", "/")
    return (REPO / path).exists() or (REPO / f"{path}.py").exists()


def test_every_module_the_architecture_names_exists() -> None:
    text = (DOCS / "architecture.md").read_text()
    named = {match.rstrip("/.") for match in _PATH.findall(text)}
    assert len(named) > 20, named
    missing = [name for name in sorted(named) if not exists(name)]
    assert missing == [], f"docs/architecture.md names modules that do not exist: {missing}"


def test_the_readme_points_to_the_guides() -> None:
    readme = (REPO / "README.md").read_text()
    for guide in GUIDES:
        assert f"docs/{guide.name}" in readme, guide.name


def test_docs_hold_no_loopback_addresses() -> None:
    for guide in GUIDES:
        assert "127.0.0.1" not in guide.read_text(), guide.name
