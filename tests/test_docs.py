"""The guides stay true: their rehearsal excerpts match a fresh rehearsal, and every module
the architecture page names exists."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from rehearsal.excerpts import DOCS, REPO, START_AT, Block, blocks, stale, steps
from tests.plugins.rehearsal import FastRun

GUIDES = sorted(DOCS.glob("*.md"))
# How the timeline shows a Discord timestamp's day: ``Saturday 5 December 2026``.
_SHOWN_DATE = re.compile(
    r"\b(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day \d{1,2} [A-Z][a-z]+ \d{4}\b"
)
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


def test_an_excerpt_must_show_all_its_step_shows_in_any_order(
    rehearsed: dict[tuple[str, str], list[str]],
) -> None:
    [first, *_] = blocks(GUIDES)
    lines = first.body.splitlines()
    reordered = Block(first.path, first.scene, first.step, "\n".join(lines[::-1]) + "\n")
    assert stale(reordered, rehearsed) is None, "what came at once may come in either order"
    shortened = Block(first.path, first.scene, first.step, "\n".join(lines[:-1]) + "\n")
    assert "the guide lacks" in str(stale(shortened, rehearsed))


def test_excerpts_show_the_days_around_the_instant_they_are_played_at() -> None:
    """Excerpts are played as if it were ``START_AT``: every date they show is that day's or
    a day soon after (a match two days ahead), whichever day the guides were generated on."""
    start = datetime.fromisoformat(START_AT)
    shown = "".join(block.body for block in blocks(GUIDES))
    dates = [
        datetime.strptime(found, "%A %d %B %Y").replace(tzinfo=UTC)
        for found in _SHOWN_DATE.findall(shown)
    ]
    assert dates, "the guides show dates"
    assert all(start.date() <= d.date() <= (start + timedelta(days=3)).date() for d in dates)


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
