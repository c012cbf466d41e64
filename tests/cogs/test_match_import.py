"""/match import through the real CommandTree: a CSV attachment read from the simulated
Discord, the preview (what each line would do, within Discord's limits), Confirm and Cancel
(only for the organizer who asked), and the preview checked again when Confirm is pressed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import discord
import pytest
from sqlalchemy import select

from db.models import Match, RacetimeBot, RacetimeBotGuild
from db.secrets import SecretBox
from rehearsal.slash import BotMessage
from tests.plugins.discord_bot import DiscordHarness, running_harness

WHEN = (datetime.now(UTC) + timedelta(days=5)).replace(minute=0, second=0, microsecond=0)


@pytest.fixture
async def harness(db_url: str, secret_box: SecretBox) -> AsyncIterator[DiscordHarness]:
    async with running_harness(db_url, secret_box) as harness:
        async with harness.services.sessionmaker.begin() as session:
            bot = RacetimeBot(category="alttpr", display_name="alttpr", client_id="id",
                              client_secret_encrypted=secret_box.encrypt("secret"))
            session.add(bot)
            await session.flush()
            assert bot.id is not None
            session.add(RacetimeBotGuild(bot_id=bot.id, guild_id=harness.guild.id))
        await harness.services.tournaments.create(
            harness.guild.id, "Winter Cup", category="alttpr", actor=harness.set_up,
        )
        yield harness


def at(when: datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M UTC")


def schedule(harness: DiscordHarness, folder: Path, *, hours: int = 0, name: str = "s.csv") -> Path:
    ada, bob, cy = harness.member(0), harness.member(1), harness.member(2)
    path = folder / name
    path.write_text(
        "round,players,when,title\n"
        f"Round 1,{ada.name};{bob.id},{at(WHEN + timedelta(hours=hours))},Opener\n"
        f"Round 1,<@{cy.id}>|Nobody,{at(WHEN)},\n"
        f"Round 1,{ada.name};{bob.id},{at(WHEN + timedelta(hours=hours))},Opener\n",
        encoding="utf-8",
    )
    return path


async def organizer(harness: DiscordHarness) -> discord.Member:
    return await harness.member_with_permissions(2, manage_guild=True)


async def matches(harness: DiscordHarness) -> list[Match]:
    async with harness.services.sessionmaker() as session:
        return list((await session.execute(select(Match).order_by(Match.id))).scalars())


def buttons(message: BotMessage) -> dict[str, bool]:
    return {c["label"]: bool(c.get("disabled")) for c in message.buttons}


async def test_preview_then_confirm_imports_and_again_changes_nothing(
    harness: DiscordHarness, tmp_path: Path
) -> None:
    boss = await organizer(harness)
    path = schedule(harness, tmp_path)
    shown = await harness.slash("match import", member=boss, file=path, tournament="Winter Cup")
    preview = shown.answer
    assert shown.first.ephemeral  # the deferred answer the preview is edited into
    embed = preview.embeds[0]
    assert embed.title == "Import s.csv: preview"
    text = embed.description or ""
    assert text.startswith("**1 to create, 1 repeated (skipped), 1 refused**")
    assert "`  3` ✗ refused" in text and "`Nobody` is not a Discord id" in text
    assert "`  2` + new: Opener ·" in text and "`  4` · skipped" in text
    assert text.index("refused") < text.index("+ new"), "what needs a look comes first"
    assert buttons(preview) == {"Confirm": False, "Cancel": False}
    assert await matches(harness) == []

    stranger = await harness.member_with_permissions(1, manage_guild=True)
    not_theirs = await harness.press(preview, "Confirm", member=stranger)
    assert (not_theirs.first.content or "").startswith("This preview is")

    done = await harness.press(preview, "Confirm", member=boss)
    assert [m.kind for m in done.messages] == ["update", "edit"]
    result = done.messages[-1].embeds[0]
    assert result.title == "Imported s.csv"
    made = await matches(harness)
    assert [(m.title, m.round, m.scheduled_at) for m in made] == [("Opener", "Round 1", WHEN)]
    assert f"created #{made[0].id}" in (result.description or "")

    again = await harness.slash("match import", member=boss, file=path, tournament="Winter Cup")
    assert (again.answer.embeds[0].description or "").startswith(
        "**1 unchanged, 1 repeated (skipped), 1 refused**"
    )
    assert buttons(again.answer) == {"Confirm": True, "Cancel": False}


async def test_an_updated_file_updates_and_a_stale_preview_imports_nothing(
    harness: DiscordHarness, tmp_path: Path
) -> None:
    boss = await organizer(harness)
    first = await harness.slash(
        "match import", member=boss, file=schedule(harness, tmp_path), tournament="Winter Cup"
    )
    await harness.press(first.answer, "Confirm", member=boss)
    moved = schedule(harness, tmp_path, hours=2, name="moved.csv")
    preview = (await harness.slash(
        "match import", member=boss, file=moved, tournament="Winter Cup"
    )).answer
    assert "✎ update" in (preview.embeds[0].description or "")
    # Meanwhile the match moves elsewhere: Confirm finds the plan changed.
    [match] = await matches(harness)
    from cogs._shared.permissions import actor_of_user

    await harness.services.matches.reschedule(
        harness.guild.id, match.id or 0, WHEN + timedelta(days=1), actor=actor_of_user(boss)
    )
    stale = await harness.press(preview, "Confirm", member=boss)
    assert "changed since the preview" in (stale.messages[-1].content or "")
    assert (await matches(harness))[0].scheduled_at == WHEN + timedelta(days=1)

    fresh = (await harness.slash(
        "match import", member=boss, file=moved, tournament="Winter Cup"
    )).answer
    await harness.press(fresh, "Confirm", member=boss)
    assert (await matches(harness))[0].scheduled_at == WHEN + timedelta(hours=2)


async def test_cancel_imports_nothing_and_members_are_refused(
    harness: DiscordHarness, tmp_path: Path
) -> None:
    path = schedule(harness, tmp_path)
    member = harness.member(0)
    refused = await harness.slash("match import", member=member, file=path, tournament="Winter Cup")
    assert refused.first.content.startswith("Only organizers can do this")
    boss = await organizer(harness)
    preview = (await harness.slash(
        "match import", member=boss, file=path, tournament="Winter Cup"
    )).answer
    cancelled = await harness.press(preview, "Cancel", member=boss)
    assert (cancelled.first.content or "").startswith("Nothing imported")
    assert await matches(harness) == []


async def test_a_bad_file_is_told_what_is_wrong(harness: DiscordHarness, tmp_path: Path) -> None:
    boss = await organizer(harness)
    path = tmp_path / "bad.csv"
    path.write_text("round,players\nR1,a;b\n", encoding="utf-8")
    answer = await harness.slash("match import", member=boss, file=path, tournament="Winter Cup")
    assert "The header row has no `when` column" in answer.text


async def test_a_long_schedule_fits_in_one_preview(harness: DiscordHarness, tmp_path: Path) -> None:
    boss = await organizer(harness)
    path = tmp_path / "long.csv"
    rows = [f"Round {n},Nobody{n};Ghost{n},{at(WHEN)}" for n in range(300)]
    path.write_text("round,players,when\n" + "\n".join(rows) + "\n", encoding="utf-8")
    preview = (await harness.slash(
        "match import", member=boss, file=path, tournament="Winter Cup"
    )).answer
    text = preview.embeds[0].description or ""
    assert text.startswith("**300 refused**")
    assert "more: fix the file and import it again to see them" in text
    assert buttons(preview) == {"Confirm": True, "Cancel": False}
