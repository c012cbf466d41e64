"""Pool seeds rolled by an async tournament's seed provider (issue 26), through the real
CommandTree and database, against a fake alttpr.com over a real socket: organizers choose the
provider with ``/async seeds`` and roll with ``/async seed generate``; a provider failing part
way keeps the seeds rolled before it; nothing is rolled for a bad request."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import discord
import pytest
from pydantic import AnyHttpUrl
from sqlmodel import col, func, select

from core.config import SeedServiceSettings
from db.models import AsyncPoolSeed, AuditLog
from db.secrets import SecretBox
from fake_alttpr import FakeAlttpr, running_fake_alttpr
from tests.plugins.discord_bot import DiscordHarness, running_harness

ASYNC, POOL = "Winter Async", "Pool A"
TEMPLATE = "https://seeds.example.org/{preset}/{seed}"
ORGANIZERS_ONLY = (
    "Only organizers can do this: members with the Manage Server permission "
    "or the server's organizer role."
)


@dataclass
class Scene:
    harness: DiscordHarness
    alttpr: FakeAlttpr
    boss: discord.Member
    ada: discord.Member

    async def slash(self, command: str, who: discord.Member, /, **options: object) -> str:
        result = await self.harness.slash(command, member=who, options=options)
        assert result.messages and all(m.ephemeral for m in result.messages), result.messages
        return result.messages[-1].content or ""

    async def seeds(self) -> list[AsyncPoolSeed]:
        async with self.harness.services.sessionmaker() as session:
            found = await session.execute(select(AsyncPoolSeed).order_by(col(AsyncPoolSeed.id)))
            return list(found.scalars())


@pytest.fixture
async def scene(db_url: str, secret_box: SecretBox) -> AsyncIterator[Scene]:
    async with running_fake_alttpr(seed=5) as alttpr:
        settings = SeedServiceSettings(alttpr_url=AnyHttpUrl(alttpr.base_url), timeout_seconds=2)
        async with running_harness(db_url, secret_box, seeds=settings) as harness:
            boss = await harness.member_with_permissions(2, manage_guild=True)
            await harness.assign_bot("alttpr", secret_box)
            scene = Scene(harness, alttpr, boss, harness.member(0))
            assert await scene.slash("async create", boss, name=ASYNC, category="alttpr") == (
                f"Created the async tournament **{ASYNC}**."
            )
            await scene.slash("async pool add", boss, tournament=ASYNC, name=POOL)
            yield scene


async def test_no_provider_no_roll_and_players_may_not(scene: Scene) -> None:
    assert await scene.slash("async seed generate", scene.boss, tournament=ASYNC, pool=POOL) == (
        f"**{ASYNC}** has no seed provider, so nothing can roll its seeds. Choose one with "
        f"`/async seeds tournament:{ASYNC} provider:…`, or add seeds by hand with "
        "`/async seed add`."
    )
    for command, options in (
        ("async seed generate", {"pool": POOL}), ("async seeds", {}),
        ("async seeds", {"provider": "alttpr"}),
    ):
        assert await scene.slash(command, scene.ada, tournament=ASYNC, **options) == (
            ORGANIZERS_ONLY
        )
    assert await scene.harness.autocomplete("async seed generate", "preset", "",
                                            member=scene.ada) == []
    assert await scene.seeds() == []
    assert scene.alttpr.generate_calls == []


async def test_a_template_provider_rolls_seeds_at_the_end_of_the_pool(scene: Scene) -> None:
    assert await scene.slash("async seed add", scene.boss, tournament=ASYNC, pool=POOL,
                             seed="https://by.hand/1") == f"Added seed 1 to **{POOL}**."
    changed = await scene.slash("async seeds", scene.boss, tournament=ASYNC,
                                provider="template", template=TEMPLATE)
    assert changed.startswith(f"Updated the seeds of **{ASYNC}**:\n**Seeds:** none → from a "
                              "template")
    shown = await scene.slash("async seeds", scene.boss, tournament=ASYNC)
    assert shown.startswith(f"Seeds of **{ASYNC}**:\n**Seeds:** from a template")
    assert shown.endswith(f"Change them with `/async seeds tournament:{ASYNC}`.")
    assert await scene.slash("async seeds", scene.boss, tournament=ASYNC,
                             provider="template") == (
        f"Nothing changed: **{ASYNC}** already had those seeds."
    )

    rolled = await scene.slash("async seed generate", scene.boss, tournament=ASYNC, pool=POOL,
                               count=3, par="1:30:00")
    assert rolled == (f"Rolled 3 `default` seed(s) into **{POOL}** of **{ASYNC}**: seeds 2 to 4 "
                      "(par 1:30:00).")
    seeds = await scene.seeds()
    assert [s.position for s in seeds] == [1, 2, 3, 4]
    texts = [s.seed for s in seeds[1:]]
    assert all(text.startswith("https://seeds.example.org/default/") for text in texts)
    assert len(set(texts)) == 3, "three different seeds"
    assert {s.par_time for s in seeds[1:]} == {seeds[1].par_time} and seeds[1].par_time
    async with scene.harness.services.sessionmaker() as session:
        audited = await session.scalar(
            select(func.count()).select_from(AuditLog)
            .where(col(AuditLog.action).in_(["async.seeds", "async.seed.add"]))
        )
    assert audited == 1 + 4  # one change of settings, four seeds added


async def test_alttpr_seeds_and_a_provider_failing_part_way(scene: Scene) -> None:
    await scene.slash("async seeds", scene.boss, tournament=ASYNC, provider="alttpr",
                      presets="open, standard", default_preset="open")
    rolled = await scene.slash("async seed generate", scene.boss, tournament=ASYNC, pool=POOL,
                               count=2, preset="standard")
    assert rolled == f"Rolled 2 `standard` seed(s) into **{POOL}** of **{ASYNC}**: seeds 1 to 2."
    assert all(f"{scene.alttpr.base_url}/h/" in s.seed and "code:" in s.seed
               for s in await scene.seeds())

    scene.alttpr.fail_next(5, 500, after=1)
    partly = await scene.slash("async seed generate", scene.boss, tournament=ASYNC, pool=POOL,
                               count=3)
    assert partly.startswith(
        f"Rolled 1 `open` seed(s) into **{POOL}** of **{ASYNC}**: seed 3.\nThe other 2 were "
        "not rolled: "
    )
    assert len(await scene.seeds()) == 3

    scene.alttpr.reset()
    scene.alttpr.fail_next(5, 500)  # pyz3r tries again: every try fails
    refused = await scene.slash("async seed generate", scene.boss, tournament=ASYNC, pool=POOL)
    assert "nothing was rolled" in refused.lower()
    assert len(await scene.seeds()) == 3


async def test_bad_requests_roll_nothing(scene: Scene) -> None:
    await scene.slash("async seeds", scene.boss, tournament=ASYNC, provider="alttpr")
    assert "not a time" in await scene.slash(
        "async seed generate", scene.boss, tournament=ASYNC, pool=POOL, par="soon"
    )
    unknown = await scene.slash("async seed generate", scene.boss, tournament=ASYNC, pool=POOL,
                                preset="nope")
    assert "nope" in unknown and "open" in unknown
    assert "has no pool called `Pool Z`" in await scene.slash(
        "async seed generate", scene.boss, tournament=ASYNC, pool="Pool Z"
    )
    assert scene.alttpr.generate_calls == []
    assert await scene.seeds() == []
    suggested = await scene.harness.autocomplete("async seed generate", "preset", "st",
                                                 member=scene.boss)
    assert [choice.value for choice in suggested] == ["standard"]
