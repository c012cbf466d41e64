"""``/async page`` (an async tournament's public page, issue 26) and the racetime.gg names on
``/async leaderboard``, through the real CommandTree and the real database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import discord
import pytest
from sqlmodel import select

from db.models import AsyncPool, AsyncPoolRun
from db.queries.users import get_or_create_user_by_discord_id
from db.secrets import SecretBox
from tests.plugins.discord_bot import DiscordHarness, running_harness

ASYNC = "Winter Async"
ORGANIZERS_ONLY = (
    "Only organizers can do this: members with the Manage Server permission "
    "or the server's organizer role."
)


@dataclass
class Scene:
    harness: DiscordHarness
    ada: discord.Member
    bob: discord.Member
    boss: discord.Member

    async def slash(self, command: str, who: discord.Member, /, **options: object) -> str:
        result = await self.harness.slash(command, member=who, options=options)
        assert result.first.ephemeral
        return result.first.content or ""

    async def tournament_id(self) -> int:
        (info,) = await self.harness.services.async_tournaments.list_tournaments(
            self.harness.guild.id, actor=self.harness.set_up, include_closed=True
        )
        return info.id


@pytest.fixture
async def scene(db_url: str, secret_box: SecretBox) -> AsyncIterator[Scene]:
    """An async tournament with one pool, made by the organizer; Ada and Bob joined it."""
    async with running_harness(db_url, secret_box) as harness:
        ada, bob = harness.member(0), harness.member(1)
        boss = await harness.member_with_permissions(2, manage_guild=True)
        await harness.assign_bot("alttpr", secret_box)
        scene = Scene(harness, ada, bob, boss)
        await scene.slash("async create", boss, name=ASYNC, category="alttpr")
        await scene.slash("async pool add", boss, tournament=ASYNC, name="Pool A")
        for member in (ada, bob):
            await scene.slash("async join", member, tournament=ASYNC)
        yield scene


async def test_an_organizer_makes_the_page_public_and_takes_it_down(scene: Scene) -> None:
    pages, guild = scene.harness.services.pages, scene.harness.guild.id
    number = await scene.tournament_id()
    url = pages.async_page_url(guild, number)
    assert url.endswith(f"/t/{guild}/async/{number}")

    assert await scene.slash("async page", scene.boss, tournament=ASYNC) == (
        f"**{ASYNC}** has no public page. `/async page tournament:{ASYNC} public:True` makes "
        "one."
    )
    assert await pages.async_page(guild, str(number)) is None

    made = await scene.slash("async page", scene.boss, tournament="winter async", public=True)
    assert made == f"**{ASYNC}** is now public: anyone may read its page, {url}"
    page = await pages.async_page(guild, str(number))
    assert page is not None and page.url == url
    assert await scene.slash("async page", scene.boss, tournament=ASYNC, public=True) == (
        f"**{ASYNC}** is public: anyone may read its page, {url}"
    )
    assert await scene.slash("async page", scene.boss, tournament=ASYNC) == (
        f"**{ASYNC}** is public: anyone may read its page, {url}"
    )

    assert await scene.slash("async page", scene.boss, tournament=ASYNC, public=False) == (
        f"**{ASYNC}**'s public page is down: its address no longer answers."
    )
    assert await pages.async_page(guild, str(number)) is None


async def test_only_organizers_and_a_closed_tournament_may_still_be_shown(scene: Scene) -> None:
    pages, guild = scene.harness.services.pages, scene.harness.guild.id
    for options in ({}, {"public": True}):
        said = await scene.slash("async page", scene.ada, tournament=ASYNC, **options)
        assert said == ORGANIZERS_ONLY
    assert await pages.async_page(guild, str(await scene.tournament_id())) is None
    assert await scene.slash("async page", scene.boss, tournament="Nope", public=True) == (
        "There is no async tournament called `Nope` in this server. `/async list` shows them; "
        "`/async create` makes one."
    )

    await scene.slash("async close", scene.boss, tournament=ASYNC)
    said = await scene.slash("async page", scene.boss, tournament=ASYNC, public=True)
    assert said.startswith(f"**{ASYNC}** is now public")
    page = await pages.async_page(guild, str(await scene.tournament_id()))
    assert page is not None and not page.active


async def test_the_leaderboard_shows_racetime_names_beside_mentions(scene: Scene) -> None:
    async with scene.harness.services.sessionmaker.begin() as session:
        pool = (await session.execute(select(AsyncPool))).scalars().one()
        for member, name, minutes in ((scene.ada, "Ada_the*Great#0001", 90),
                                      (scene.bob, None, 100)):
            user = await get_or_create_user_by_discord_id(session, member.id)
            if name is not None:
                user.racetime_id, user.racetime_name = "rtAda0000000000", name
            session.add(AsyncPoolRun(pool_id=pool.id, user_id=user.id, status="done",
                                     finish_time=timedelta(minutes=minutes),
                                     event_id=f"race:{member.id}"))
    board = await scene.slash("async leaderboard", scene.bob, tournament=ASYNC)
    # Live race times only: the par is their mean, 1:35:00.
    assert board == (
        f"**{ASYNC}** · leaderboard, overall\n"
        f"1. {scene.ada.mention} (Ada\\_the\\*Great#0001) · 105.00 points · 1 run(s)\n"
        f"2. {scene.bob.mention} · 94.74 points · 1 run(s)"
    )


async def test_async_info_shows_the_page_once_public(scene: Scene) -> None:
    async def page_field() -> str:
        result = await scene.harness.slash("async info", member=scene.boss,
                                           options={"tournament": ASYNC})
        [embed] = result.first.embeds
        return next(f.value or "" for f in embed.fields if f.name == "Public page")

    assert await page_field() == f"none (`/async page tournament:{ASYNC} public:True`)"
    await scene.slash("async page", scene.boss, tournament=ASYNC, public=True)
    shown = await page_field()
    assert shown.endswith(f"/t/{scene.harness.guild.id}/async/{await scene.tournament_id()}")
