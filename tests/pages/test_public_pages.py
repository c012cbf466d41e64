"""Public pages on the real database (SQLite and PostgreSQL): what a public tournament's page
and a server's index show, and that nothing private is reachable; then the HTML they render
(escaped, times readable without JavaScript)."""

from __future__ import annotations

import re
import tomllib
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.pages.slugs import id_in, slug_of
from core.pages.view import MatchState
from db.secrets import SecretBox
from tests.pages.scene import (
    BY_BOSS,
    GUILD,
    MARKUP,
    OTHER_GUILD,
    PUBLIC_URL,
    RACETIME,
    Scene,
    build_scene,
)
from web.pages import index_html, not_found_html, race_time, tournament_html


@pytest.fixture
async def scene(
    db_sessionmaker: async_sessionmaker[AsyncSession], secret_box: SecretBox
) -> Scene:
    return await build_scene(db_sessionmaker, secret_box)


# -- what a page holds -------------------------------------------------------------------------


async def test_a_public_page_sorts_its_matches_into_live_upcoming_results_and_cancelled(
    scene: Scene,
) -> None:
    page = await scene.pages.page(GUILD, str(scene.cup_id))
    assert page is not None
    assert (page.name, page.active, page.category) == ("Winter Cup", True, "alttpr")
    assert page.url == f"{PUBLIC_URL}/t/{GUILD}/{scene.cup_id}"
    assert [m.id for m in page.upcoming.matches] == [scene.upcoming_id, scene.later_id]
    assert [m.id for m in page.live.matches] == [scene.live_id]
    assert [m.id for m in page.results.matches] == [scene.finished_id]
    assert [m.id for m in page.cancelled.matches] == [scene.cancelled_id]

    upcoming = page.upcoming.matches[0]
    assert upcoming.state is MatchState.UPCOMING
    assert upcoming.round == "Top 4" and upcoming.goal == "All dungeons"
    assert upcoming.starts_at == scene.clock.now() + timedelta(hours=24)
    assert upcoming.room_url is None  # no room yet: no link
    assert [p.name for p in upcoming.players] == ["Ada#0001", f"Bob{MARKUP}"]

    live = page.live.matches[0]
    assert live.room_url == f"{RACETIME}/alttpr/clever-link-1234"
    assert live.goal == "Any% NMG"
    assert [p.name for p in live.players] == ["Ada#0001", f"Bob{MARKUP}", None]  # CY: unlinked

    result = page.results.matches[0]
    assert [(p.name, p.place, p.status) for p in result.players] == [
        (f"Bob{MARKUP}", 1, "done"), ("Ada#0001", 2, "done"), (None, None, "dnf"),
    ]
    assert result.players[0].finish_time == timedelta(hours=1, minutes=39, seconds=58.4)
    assert page.calendar_url is None  # the organizers made no feed


async def test_the_page_shows_the_calendar_feed_once_the_organizers_made_one(
    scene: Scene,
) -> None:
    link = await scene.feeds.tournament_feed(GUILD, "Winter Cup", actor=BY_BOSS)
    page = await scene.pages.page(GUILD, str(scene.cup_id))
    assert page is not None and page.calendar_url == link.url

    again = await scene.feeds.tournament_feed(GUILD, "Winter Cup", actor=BY_BOSS, reset=True)
    page = await scene.pages.page(GUILD, str(scene.cup_id))
    assert page is not None and page.calendar_url == again.url != link.url


@pytest.mark.parametrize("segment", ["winter-cup", "WINTER-CUP", "{id}", "{id}-winter-cup"])
async def test_a_page_is_reached_by_its_id_or_its_slug(scene: Scene, segment: str) -> None:
    page = await scene.pages.page(GUILD, segment.format(id=scene.cup_id))
    assert page is not None and page.id == scene.cup_id


async def test_private_unknown_and_other_servers_tournaments_have_no_page(scene: Scene) -> None:
    their = await scene.pages.page(OTHER_GUILD, "their-cup")
    assert their is not None
    for guild, segment in [
        (GUILD, str(scene.private_id)), (GUILD, "secret-cup"), (GUILD, "999999"),
        (GUILD, "no-such-cup"), (GUILD, ""), (GUILD, str(their.id)),  # another server's
        (OTHER_GUILD, str(scene.cup_id)),
        (GUILD, "99999999999"), (GUILD, "9" * 18), (10**20, str(scene.cup_id)), (0, "1"),
    ]:
        assert await scene.pages.page(guild, segment) is None, (guild, segment)


async def test_turning_public_off_takes_the_page_down(scene: Scene) -> None:
    await scene.tournaments.update_settings(GUILD, "Winter Cup", actor=BY_BOSS, public=False)
    assert await scene.pages.page(GUILD, str(scene.cup_id)) is None
    assert await scene.pages.index(GUILD) is None  # no public tournament left


async def test_an_archived_public_tournament_keeps_its_page(scene: Scene) -> None:
    await scene.tournaments.archive(GUILD, "Winter Cup", actor=BY_BOSS)
    page = await scene.pages.page(GUILD, "winter-cup")
    assert page is not None and not page.active
    index = await scene.pages.index(GUILD)
    assert index is not None and [e.active for e in index.tournaments] == [False]


async def test_the_index_lists_only_the_servers_public_tournaments(scene: Scene) -> None:
    index = await scene.pages.index(GUILD)
    assert index is not None
    assert [(e.name, e.path, e.live) for e in index.tournaments] == [
        ("Winter Cup", f"/t/{GUILD}/{scene.cup_id}", 1)
    ]
    assert index.tournaments[0].next_match_at == scene.clock.now() + timedelta(hours=24)
    assert await scene.pages.index(333) is None
    assert await scene.pages.index(10**20) is None


def test_slugs_and_ids() -> None:
    assert slug_of("Winter Cup 2026") == "winter-cup-2026"
    assert slug_of("  Crème brûlée: Open!  ") == "creme-brulee-open"
    assert slug_of("🏆🏆") == ""
    assert (id_in("12"), id_in("12-winter-cup"), id_in("winter-12"), id_in("")) == (
        12, 12, None, None,
    )


# -- the HTML ----------------------------------------------------------------------------------


async def test_markup_in_a_name_is_shown_as_text(scene: Scene) -> None:
    await scene.tournaments.create(GUILD, MARKUP, category="alttpr", actor=BY_BOSS)
    await scene.tournaments.update_settings(GUILD, MARKUP, actor=BY_BOSS, public=True)
    index = await scene.pages.index(GUILD)
    assert index is not None
    entry = next(e for e in index.tournaments if e.name == MARKUP)
    page = await scene.pages.page(GUILD, str(entry.id))
    assert page is not None

    for html in (tournament_html(page), index_html(index)):
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert MARKUP not in html
        assert html.count("<script>") == 1  # ours, the local-times script
    cup = await scene.pages.page(GUILD, str(scene.cup_id))
    assert cup is not None
    html = tournament_html(cup)
    assert "Bob&lt;script&gt;alert(1)&lt;/script&gt;" in html and MARKUP not in html


async def test_times_read_in_utc_without_a_script_and_results_show_places(
    scene: Scene,
) -> None:
    page = await scene.pages.page(GUILD, str(scene.cup_id))
    assert page is not None
    html = tournament_html(page)
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    # 2026-11-26 12:00 UTC + 24 h
    assert '<time datetime="2026-11-27T12:00:00Z">Fri 27 Nov 2026, 12:00 UTC</time>' in html
    assert f'href="{RACETIME}/alttpr/clever-link-1234"' in html
    results = re.search(r'<section id="results">(.*?)</section>', html, re.S)
    assert results is not None
    items = re.findall(r"<li>(.*?)</li>", results.group(1), re.S)
    assert items[0].startswith("Bob&lt;script") and items[0].endswith(": 1:39:58")
    assert items[1] == "Ada#0001: 1:42:07"
    assert "(dnf)" in items[2] and "not linked" in items[2]
    assert "Hidden match" not in html


def test_the_not_found_page_and_race_times() -> None:
    assert "There is no public tournament at this address" in not_found_html()
    assert race_time(timedelta(hours=12, seconds=5.9)) == "12:00:05"


def test_the_templates_are_shipped_with_the_package() -> None:
    """web/pages.py loads its templates as package resources: each is package data."""
    repo = Path(__file__).resolve().parent.parent.parent
    shipped = tomllib.loads((repo / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]["web"]
    templates = sorted((repo / "web" / "templates").iterdir())
    assert {t.suffix for t in templates} == {".html", ".js"}
    for template in templates:
        relative = template.relative_to(repo / "web")
        assert any(relative.match(pattern) for pattern in shipped), relative
