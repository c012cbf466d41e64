"""Public pages of async tournaments on the real database (SQLite and PostgreSQL): the public
setting (organizers only, audited), what the page holds (pools, live races, leaderboards with
racetime.gg names and stable labels for the others), that nothing private is reachable, the
server's index, bounded sizes; then the HTML (escaped, readable without JavaScript)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col, select

from core.access import Actor
from core.errors import NotFoundError, PermissionDeniedError
from core.live_races.leaderboard import SCORE_FORMULA
from core.pages import AsyncPage
from core.pages.service import BOARD_MAX
from core.pages.view import MatchState
from db.models import (
    AsyncPool,
    AsyncPoolSeed,
    AsyncRun,
    AsyncRunStatus,
    AsyncTournament,
    AuditLog,
    User,
)
from db.queries.users import get_or_create_user_by_discord_id
from db.secrets import SecretBox
from tests.pages.async_scene import (
    ASYNC,
    DONE_SLUG,
    LIVE_SLUG,
    AsyncScene,
    build_async_scene,
)
from tests.pages.scene import (
    BOB,
    BOSS,
    BY_BOSS,
    CY,
    GUILD,
    MARKUP,
    NOW,
    OTHER_GUILD,
    PUBLIC_URL,
    RACETIME,
    Scene,
    build_scene,
)
from web.pages import async_html, index_html

BOB_NAME = f"Bob{MARKUP}"


@pytest.fixture
async def scenes(
    db_sessionmaker: async_sessionmaker[AsyncSession], secret_box: SecretBox
) -> tuple[Scene, AsyncScene]:
    scene = await build_scene(db_sessionmaker, secret_box)
    return scene, await build_async_scene(db_sessionmaker)


async def winter(scenes: tuple[Scene, AsyncScene]) -> AsyncPage:
    scene, asyncs = scenes
    page = await scene.pages.async_page(GUILD, str(asyncs.winter_id))
    assert page is not None
    return page


def names(board: object) -> list[tuple[int, str | None, str | None, float, int]]:
    return [
        (row.rank, row.player.name, row.player.unlinked_label if row.player.name is None
         else None, row.total, row.runs)
        for row in board.rows  # type: ignore[attr-defined]
    ]


# -- the setting -------------------------------------------------------------------------------


async def test_only_organizers_make_an_async_tournament_public_and_it_is_audited(
    scenes: tuple[Scene, AsyncScene], db_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    scene, asyncs = scenes
    member = Actor.member(BOSS + 1, GUILD)
    with pytest.raises(PermissionDeniedError, match="Only organizers"):
        await asyncs.asyncs.set_public(GUILD, "Secret Async", True, actor=member)
    with pytest.raises(NotFoundError, match="no async tournament called `Nope`"):
        await asyncs.asyncs.set_public(GUILD, "Nope", True, actor=BY_BOSS)
    assert await scene.pages.async_page(GUILD, str(asyncs.private_id)) is None

    made = await asyncs.asyncs.set_public(GUILD, "secret async", True, actor=BY_BOSS)
    assert (made.id, made.tournament, made.public, made.changed) == (
        asyncs.private_id, "Secret Async", True, True,
    )
    again = await asyncs.asyncs.set_public(GUILD, "Secret Async", True, actor=BY_BOSS)
    assert not again.changed
    assert await scene.pages.async_page(GUILD, str(asyncs.private_id)) is not None
    info = await asyncs.asyncs.info(GUILD, "Secret Async", actor=BY_BOSS)
    assert info.public

    async with db_sessionmaker() as session:
        rows = (await session.execute(
            select(AuditLog)
            .where(col(AuditLog.action) == "async.public")
            .order_by(col(AuditLog.id))
        )).scalars().all()
    # Winter Async's (the scene), Their Async's, and this one: not the one that changed nothing.
    assert [(r.details["tournament_id"], r.details["public"]) for r in rows][-1] == (
        asyncs.private_id, True,
    )
    assert len(rows) == 3


async def test_turning_public_off_takes_the_page_down_and_a_closed_one_may_still_change(
    scenes: tuple[Scene, AsyncScene],
) -> None:
    scene, asyncs = scenes
    await asyncs.asyncs.close(GUILD, ASYNC, actor=BY_BOSS)
    page = await winter(scenes)
    assert not page.active  # closed: the page stays, its standings final
    await asyncs.asyncs.set_public(GUILD, ASYNC, False, actor=BY_BOSS)
    assert await scene.pages.async_page(GUILD, str(asyncs.winter_id)) is None
    assert await scene.pages.async_page(GUILD, "winter-async") is None


async def test_the_public_setting_keeps_the_tournaments_other_settings(
    scenes: tuple[Scene, AsyncScene], db_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    _, asyncs = scenes
    seeds = {"provider": "template", "template": "https://example.org/{seed}"}
    async with db_sessionmaker.begin() as session:
        found = await session.get(AsyncTournament, asyncs.private_id)
        assert found is not None
        found.settings = {**found.settings, "seeds": seeds}
    await asyncs.asyncs.set_public(GUILD, "Secret Async", True, actor=BY_BOSS)
    async with db_sessionmaker() as session:
        found = await session.get(AsyncTournament, asyncs.private_id)
        assert found is not None and found.settings == {"seeds": seeds, "public": True}
    await asyncs.asyncs.set_public(GUILD, "Secret Async", False, actor=BY_BOSS)
    async with db_sessionmaker() as session:
        found = await session.get(AsyncTournament, asyncs.private_id)
        assert found is not None and found.settings == {"seeds": seeds, "public": False}


# -- what the page holds -----------------------------------------------------------------------


async def test_the_page_shows_pools_and_live_races_by_state(
    scenes: tuple[Scene, AsyncScene],
) -> None:
    scene, asyncs = scenes
    page = await winter(scenes)
    assert (page.name, page.active, page.category) == (ASYNC, True, "alttpr")
    assert page.path == f"/t/{GUILD}/async/{asyncs.winter_id}"
    assert page.url == PUBLIC_URL + page.path
    assert scene.pages.async_page_url(GUILD, asyncs.winter_id) == page.url
    assert [(p.name, p.description) for p in page.pools] == [
        ("Pool A", "Open mode seeds"), ("Pool B", None),
    ]
    assert page.more_pools == 0

    assert [r.id for r in page.upcoming.races] == [asyncs.upcoming_id]
    assert [r.id for r in page.live.races] == [asyncs.live_id]
    assert [r.id for r in page.results.races] == [asyncs.finished_id]
    # The cancelled race is on none of them.
    upcoming, live, finished = page.upcoming.races[0], page.live.races[0], page.results.races[0]
    assert (upcoming.state, upcoming.pool, upcoming.goal, upcoming.room_url) == (
        MatchState.UPCOMING, "Pool A", "Any% NMG", None,
    )
    assert upcoming.starts_at == NOW + timedelta(hours=24)
    assert (live.state, live.pool, live.goal) == (MatchState.LIVE, "Pool B", "Beat the game")
    assert live.room_url == f"{RACETIME}/alttpr/{LIVE_SLUG}" and live.results == ()
    assert finished.room_url == f"{RACETIME}/alttpr/{DONE_SLUG}"
    assert [(p.name, p.place, p.finish_time, p.status) for p in finished.results] == [
        ("Ada#0001", 1, timedelta(hours=1, minutes=30), "done"),
        (BOB_NAME, None, None, "dnf"),
    ]


async def test_the_leaderboards_name_players_by_racetime_name_and_number_the_others(
    scenes: tuple[Scene, AsyncScene],
) -> None:
    page = await winter(scenes)
    assert page.score_formula == SCORE_FORMULA
    assert names(page.overall) == [
        (1, "Ada#0001", None, 200.0, 2),
        (2, BOB_NAME, None, 105.0, 1),
        (3, None, "Player 2", 88.89, 1),  # Cy, the second to join; a tie shares its rank
        (3, None, "Player 4", 88.89, 1),  # Dee, the fourth
    ]
    assert [board.pool for board in page.boards] == ["Pool A", "Pool B"]
    assert names(page.boards[0]) == [
        (1, BOB_NAME, None, 105.0, 1),
        (2, "Ada#0001", None, 100.0, 1),  # her live race finish
        (3, None, "Player 2", 88.89, 1),
        (3, None, "Player 4", 88.89, 1),
    ]
    assert names(page.boards[1]) == [(1, "Ada#0001", None, 100.0, 1)]  # Bob's: not reviewed


async def test_a_label_stays_when_others_link_or_leave(
    scenes: tuple[Scene, AsyncScene], db_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    _, asyncs = scenes
    await asyncs.asyncs.leave(GUILD, ASYNC, CY, actor=BY_BOSS)
    async with db_sessionmaker.begin() as session:
        cy = await get_or_create_user_by_discord_id(session, CY)
        cy.racetime_id, cy.racetime_name = "rtCy00000000000", "Cy#0003"
    page = await winter(scenes)
    assert names(page.overall)[2:] == [
        (3, "Cy#0003", None, 88.89, 1), (3, None, "Player 4", 88.89, 1),
    ]


@pytest.mark.parametrize("segment", ["winter-async", "WINTER-ASYNC", "{id}", "{id}-winter-async"])
async def test_an_async_page_is_reached_by_its_id_or_its_slug(
    scenes: tuple[Scene, AsyncScene], segment: str
) -> None:
    scene, asyncs = scenes
    page = await scene.pages.async_page(GUILD, segment.format(id=asyncs.winter_id))
    assert page is not None and page.id == asyncs.winter_id


async def test_private_unknown_and_other_servers_async_tournaments_have_no_page(
    scenes: tuple[Scene, AsyncScene],
) -> None:
    scene, asyncs = scenes
    assert await scene.pages.async_page(OTHER_GUILD, str(asyncs.theirs_id)) is not None
    for guild, segment in [
        (GUILD, str(asyncs.private_id)), (GUILD, "secret-async"), (GUILD, "999999"),
        (GUILD, ""), (GUILD, str(asyncs.theirs_id)), (GUILD, "their-async"),
        (OTHER_GUILD, str(asyncs.winter_id)),
        (GUILD, "winter-cup"),  # a match tournament's slug (ids are each table's own)
        (GUILD, "99999999999"), (GUILD, "9" * 18), (10**20, str(asyncs.winter_id)), (0, "1"),
    ]:
        assert await scene.pages.async_page(guild, segment) is None, (guild, segment)


async def test_the_index_lists_async_tournaments_beside_the_match_ones(
    scenes: tuple[Scene, AsyncScene],
) -> None:
    scene, asyncs = scenes
    index = await scene.pages.index(GUILD)
    assert index is not None
    assert [(e.name, e.is_async, e.path, e.live) for e in index.tournaments] == [
        (ASYNC, True, f"/t/{GUILD}/async/{asyncs.winter_id}", 1),
        ("Winter Cup", False, f"/t/{GUILD}/{scene.cup_id}", 1),
    ]
    assert index.tournaments[0].next_match_at == NOW + timedelta(hours=24)

    # An async tournament alone makes a server's index.
    await scene.tournaments.update_settings(GUILD, "Winter Cup", actor=BY_BOSS, public=False)
    index = await scene.pages.index(GUILD)
    assert index is not None and [e.name for e in index.tournaments] == [ASYNC]
    await asyncs.asyncs.set_public(GUILD, ASYNC, False, actor=BY_BOSS)
    assert await scene.pages.index(GUILD) is None


async def test_a_board_of_a_thousand_players_shows_its_best_hundred(
    scenes: tuple[Scene, AsyncScene], db_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    _, asyncs = scenes
    async with db_sessionmaker.begin() as session:
        pool_b = (await session.execute(
            select(AsyncPool).where(col(AsyncPool.name) == "Pool B")
        )).scalars().one()
        seed_b = (await session.execute(
            select(AsyncPoolSeed).where(col(AsyncPoolSeed.pool_id) == pool_b.id)
        )).scalars().one().id
        session.add_all(
            User(discord_id=10**17 + n, racetime_id=f"rt{n:013d}",
                 racetime_name=f"Racer{n:04d}#{'x' * 90}")
            for n in range(1000)
        )
        await session.flush()
        users = (await session.execute(
            select(User).where(col(User.discord_id) >= 10**17, col(User.discord_id) < 10**17 + 1000)
        )).scalars().all()
        session.add_all(
            AsyncRun(
                tournament_id=asyncs.winter_id, pool_id=pool_b.id, seed_id=seed_b,
                user_id=user.id, status=AsyncRunStatus.APPROVED.value,
                started_at=NOW, deadline_at=NOW, finish_time=timedelta(hours=1, seconds=n),
            )
            for n, user in enumerate(users)
        )
    page = await winter(scenes)
    assert len(page.overall.rows) == BOARD_MAX == 100
    assert page.overall.more == 1004 - 100
    assert len(page.boards[1].rows) == 100 and page.boards[1].more == 1001 - 100
    html = async_html(page)
    assert len(html.encode()) < 150_000, len(html.encode())  # not a megabyte: some 45 kB
    assert "and 904 more players" in html and "and 901 more players" in html
    # Each board's head row and its rows: overall, Pool A (4 players), Pool B.
    assert html.count("<tr>") == (1 + 100) + (1 + 4) + (1 + 100)


# -- the HTML ----------------------------------------------------------------------------------


async def test_the_async_page_reads_without_a_script(scenes: tuple[Scene, AsyncScene]) -> None:
    page = await winter(scenes)
    html = async_html(page)
    assert '<h1 id="name">Winter Async</h1>' in html
    assert '<span class="tag">async</span>' in html
    # 2026-11-26 12:00 UTC + 24 h
    assert '<time datetime="2026-11-27T12:00:00Z">Fri 27 Nov 2026, 12:00 UTC</time>' in html
    assert f'href="{RACETIME}/alttpr/{LIVE_SLUG}"' in html
    assert "/async join tournament:Winter Async" in html
    assert "100 × (2 − time ÷ par)" in html  # noqa: RUF001 (the formula's own signs)

    overall = re.search(r'<section id="board-overall" class="board">(.*?)</section>', html, re.S)
    assert overall is not None
    rows = [re.sub(r"(?:<[^>]+>)+", "|", row).strip("|")
            for row in re.findall(r"<tr>(.*?)</tr>", overall.group(1), re.S)[1:]]
    assert rows == [
        "1|Ada#0001|200.00|2",
        "2|Bob&lt;script&gt;alert(1)&lt;/script&gt;|105.00|1",
        "3|Player 2|88.89|1",
        "3|Player 4|88.89|1",
    ]
    assert re.search(r'<section id="board-pool-1" class="board">\s*<h3>Pool A</h3>', html)
    results = re.search(r'<section id="results">(.*?)</section>', html, re.S)
    assert results is not None and "Ada#0001: 1:30:00" in results.group(1)
    assert "Hidden pool" not in html and "no one free" not in html
    assert str(CY) not in html and str(BOB) not in html  # never a Discord id


async def test_markup_in_an_async_tournament_or_player_name_is_shown_as_text(
    scenes: tuple[Scene, AsyncScene],
) -> None:
    scene, asyncs = scenes
    made = await asyncs.asyncs.create(GUILD, MARKUP, category="alttpr", actor=BY_BOSS)
    await asyncs.asyncs.add_pool(GUILD, MARKUP, f"Pool {MARKUP}", description=MARKUP,
                                 actor=BY_BOSS)
    await asyncs.asyncs.set_public(GUILD, MARKUP, True, actor=BY_BOSS)
    page = await scene.pages.async_page(GUILD, str(made.id))
    index = await scene.pages.index(GUILD)
    assert page is not None and index is not None
    for html in (async_html(page), index_html(index), async_html(await winter(scenes))):
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert MARKUP not in html
        assert html.count("<script>") == 1  # ours, the local-times script
