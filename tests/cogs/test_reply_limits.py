"""Every reply that grows with data fits Discord, filled past each of Discord's limits.

The simulated Discord refuses what Discord refuses (``tests/test_simulated_discord.py``), so a
command here that built too big a message fails its test with Discord's own error. Each test
fills one list-like command with more than fits (long names, many rows, many players) and
checks how it fits: pages turned with Previous and Next that together show everything, or a
last line that says how many more there are and where to see them, never a line cut short.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta

import discord
import pytest

from cogs._shared import discord_limits as limits
from cogs._shared import pages as pages_module
from cogs._shared.permissions import actor_of_user
from db.models import NotificationLog, RacetimeBot, RacetimeBotStatusHistory, User
from db.secrets import SecretBox
from rehearsal.slash import BotMessage, SlashResult
from tests.plugins.discord_bot import DiscordHarness, running_harness
from tests.plugins.racetime_engine import eventually

LONG_NAME = "The Extremely Long-Winded Invitational Championship of Everything " + "X" * 34
assert len(LONG_NAME) == 100  # the longest name a tournament may have
# Numbered "07 " in front, the longest title a match may have (200 characters).
LONG_TITLE = ("Grand Final of the season, best of five, deciding game, " * 4)[:197]
NEXT, PREVIOUS = "Next ▶", "◀ Previous"
Create = Callable[..., Awaitable[object]]
PLAYER_IDS = [1_300_000_000_000_000_000 + n for n in range(200)]


@pytest.fixture
async def harness(db_url: str, secret_box: SecretBox) -> AsyncIterator[DiscordHarness]:
    """The alttpr bot serves this server; a tournament with the longest name exists."""
    async with running_harness(db_url, secret_box) as harness:
        await harness.assign_bot("alttpr", secret_box)
        await harness.services.tournaments.create(
            harness.guild.id, LONG_NAME, category="alttpr", actor=harness.set_up,
            auto_create_rooms=True,
        )
        yield harness


def numbered(count: int) -> list[str]:
    """``count`` different names of the longest length a tournament may have."""
    return [f"{n:02}{LONG_NAME[2:]}" for n in range(count)]


async def create_all(create: Create, names: list[str], harness: DiscordHarness) -> None:
    """Each of ``names`` made with ``create`` (a tournament service's) in this server."""
    for name in names:
        await create(harness.guild.id, name, category="alttpr", actor=harness.set_up)


async def organizer(harness: DiscordHarness) -> discord.Member:
    return await harness.member_with_permissions(2, manage_guild=True)


def later(harness: DiscordHarness, hours: int) -> datetime:
    return (harness.services.clock.now() + timedelta(days=2, hours=hours)).replace(microsecond=0)


async def every_page(
    harness: DiscordHarness, result: SlashResult, member: discord.Member
) -> list[BotMessage]:
    """The reply's pages: the first, then each Next shows (the last one's Next is off)."""
    page = result.answer
    shown = [page]
    while page.buttons:
        previous, position, following = page.buttons
        assert (previous["label"], following["label"]) == (PREVIOUS, NEXT)
        assert position["label"].startswith(f"Page {len(shown)} of ")
        assert previous.get("disabled", False) == (len(shown) == 1)
        if following.get("disabled"):
            assert position["label"] == f"Page {len(shown)} of {len(shown)}"
            break
        [page] = (await harness.press(page, NEXT, member=member)).messages
        assert page.kind == "update"
        shown.append(page)
    return shown


def field_names(pages: list[BotMessage]) -> list[str]:
    return [field.name or "" for page in pages for embed in page.embeds for field in embed.fields]


def whole_lines(text: str, pattern: str) -> None:
    """Every line of ``text`` is a whole item (``pattern``) or the "and N more" line."""
    for line in text.splitlines():
        assert re.fullmatch(pattern, line) or re.fullmatch(r"… and \d+ more(: .*)?", line), line


# -- /match ------------------------------------------------------------------------------------


async def test_match_list_pages_what_one_embed_cannot_hold(harness: DiscordHarness) -> None:
    boss = await organizer(harness)
    matches = harness.services.matches
    for number in range(27):
        await matches.schedule(
            harness.guild.id, LONG_NAME, PLAYER_IDS[number * 5:number * 5 + 5],
            later(harness, number), f"{number:02} {LONG_TITLE}", actor=actor_of_user(boss),
        )
    result = await harness.slash("match list", member=boss)
    pages = await every_page(harness, result, boss)
    assert len(pages) > 1
    for page in pages:
        [embed] = page.embeds
        assert len(embed) <= limits.EMBED_TOTAL_MAX and len(embed.fields) <= 10
        assert "The 25 soonest" in (embed.footer.text or "")
    names = field_names(pages)
    assert [name.split(" · ")[1][:2] for name in names] == [f"{n:02}" for n in range(25)]
    back = await harness.press(pages[-1], PREVIOUS, member=boss)
    assert field_names(back.messages) == field_names([pages[-2]])


async def test_match_info_and_schedule_name_many_players_within_the_limits(
    harness: DiscordHarness,
) -> None:
    boss = await organizer(harness)
    players = [await harness.sim.add_member(f"Player{n}") for n in range(90)]
    mentions = " ".join(f"<@{p.id}>" for p in players)
    result = await harness.slash(
        "match schedule", member=boss, tournament=LONG_NAME, players=mentions,
        when=f"<t:{int(later(harness, 1).timestamp())}:F>", title=LONG_TITLE,
    )
    assert [m.kind for m in result.messages] == ["defer", "followup"]
    said = result.answer.content or ""
    assert said.startswith("Scheduled match") and said.endswith("The players are told by DM.")
    assert re.search(r"vs … and \d+ more\n", said)
    assert re.search(r", … and \d+ more; they can link", said)

    [match] = await harness.services.matches.list_upcoming(harness.guild.id)
    info = await harness.slash("match info", member=boss, match=str(match.id))
    fields = {f.name: f.value or "" for f in info.answer.embeds[0].fields}
    whole_lines(fields["Players"], r"<@\d+> · racetime: not linked")
    assert fields["Players"].endswith(" more")


async def test_a_long_list_of_strangers_is_refused_in_one_message(
    harness: DiscordHarness,
) -> None:
    boss = await organizer(harness)
    strangers = " ".join(f"<@{user_id}>" for user_id in PLAYER_IDS[:150])
    result = await harness.slash(
        "match schedule", member=boss, tournament=LONG_NAME, players=strangers,
        when=f"<t:{int(later(harness, 1).timestamp())}:F>", title="Final",
    )
    said = result.answer.content or ""
    assert "more are not a member of this server" in said or " more are not" in said, said
    assert said.endswith("Invite them first, or choose someone else.")


async def test_match_schedule_answers_in_time_however_long_scheduling_takes(
    harness: DiscordHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Scheduling asks Discord for each player and commits before it can say what it did: it
    defers first, so a slow step (here five seconds on the simulated Discord's clock) is
    not past Discord's 3-second deadline."""
    boss = await organizer(harness)
    matches = harness.services.matches
    schedule = matches.schedule

    async def slow_schedule(*args: object, **kwargs: object) -> object:
        harness.sim.spend(5.0)
        return await schedule(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(matches, "schedule", slow_schedule)
    result = await harness.slash(
        "match schedule", member=boss, tournament=LONG_NAME,
        players=f"<@{harness.member(0).id}> <@{harness.member(1).id}>",
        when=f"<t:{int(later(harness, 1).timestamp())}:F>", title="Final",
    )
    assert [m.kind for m in result.messages] == ["defer", "followup"]
    assert (result.answer.content or "").startswith("Scheduled match")


async def test_match_suggestions_fit_discords_choices(harness: DiscordHarness) -> None:
    boss = await organizer(harness)
    for number in range(30):
        await harness.services.matches.schedule(
            harness.guild.id, LONG_NAME, PLAYER_IDS[:2], later(harness, number),
            f"{number:02} {LONG_TITLE}", actor=actor_of_user(boss),
        )
    for name in ("match info", "match cancel", "open-room"):
        offered = await harness.autocomplete(name, "match", "", member=boss)
        assert 0 < len(offered) <= limits.AUTOCOMPLETE_CHOICES_MAX, name
        assert all(len(choice.name) <= limits.CHOICE_NAME_MAX for choice in offered)


# -- /tournament ---------------------------------------------------------------------------------


async def test_tournament_list_pages_every_tournament(harness: DiscordHarness) -> None:
    boss = await organizer(harness)
    names = numbered(40)
    await create_all(harness.services.tournaments.create, names, harness)
    pages = await every_page(harness, await harness.slash("tournament list", member=boss), boss)
    assert len(pages) == 3
    assert sorted(field_names(pages)) == sorted([LONG_NAME, *names])
    offered = await harness.autocomplete("tournament info", "tournament", "", member=boss)
    assert len(offered) == limits.AUTOCOMPLETE_CHOICES_MAX


# -- /async and /liverace ----------------------------------------------------------------------


@pytest.fixture
async def big_async(harness: DiscordHarness) -> str:
    """An async tournament with the longest name, 30 pools with long descriptions and 150
    participants (a few of them linked to racetime.gg)."""
    boss = await organizer(harness)
    asyncs = harness.services.async_tournaments
    await asyncs.create(harness.guild.id, LONG_NAME, category="alttpr", actor=actor_of_user(boss))
    for number in range(30):
        await asyncs.add_pool(
            harness.guild.id, LONG_NAME, f"Pool {number:02}", actor=actor_of_user(boss),
            description="Seeds rolled with the tournament's settings. " * 10,
        )
    async with harness.services.sessionmaker.begin() as session:
        session.add_all(
            User(discord_id=user_id, racetime_id=f"rt{n:014}", racetime_name=f"Runner{n}")
            for n, user_id in enumerate(PLAYER_IDS[:60])
        )
    for user_id in PLAYER_IDS[:150]:
        await asyncs.join(harness.guild.id, LONG_NAME, user_id, actor=actor_of_user(boss))
    return LONG_NAME


async def test_async_info_bounds_its_pools_with_a_pointer_to_the_full_list(
    harness: DiscordHarness, big_async: str
) -> None:
    boss = await organizer(harness)
    info = await harness.slash("async info", member=boss, tournament=big_async)
    pools = {f.name: f.value or "" for f in info.answer.embeds[0].fields}["Pools"]
    assert pools.splitlines()[-1].startswith("… and ")
    assert pools.splitlines()[-1].endswith(
        f"more: `/async pool list tournament:{big_async}` lists them all"
    )
    whole_lines(pools, r"\*\*Pool \d\d\*\*: 0 run\(s\) · (Seeds rolled .*)")

    pages = await every_page(
        harness, await harness.slash("async pool list", member=boss, tournament=big_async), boss
    )
    shown = [line for page in pages for line in (page.content or "").splitlines()[1:]]
    assert [line[:11] for line in shown] == [f"**Pool {n:02}**" for n in range(30)]
    assert all((page.content or "").startswith(f"**{big_async}**\n") for page in pages)


async def test_async_list_and_participants_are_paged(
    harness: DiscordHarness, big_async: str
) -> None:
    boss = await organizer(harness)
    await create_all(harness.services.async_tournaments.create, numbered(40), harness)
    listed = await every_page(harness, await harness.slash("async list", member=boss), boss)
    assert len(listed) > 1
    assert sum(len((p.content or "").splitlines()) for p in listed) == 41

    pages = await every_page(
        harness, await harness.slash("async participants", member=boss, tournament=big_async),
        boss,
    )
    assert len(pages) > 1
    people = [line for p in pages for line in (p.content or "").splitlines()[1:]]
    assert len(people) == 150 and len(set(people)) == 150
    whole_lines("\n".join(people), r"<@\d+> \((Runner\d+|not linked)\)")


async def test_liverace_eligible_and_list_are_paged(
    harness: DiscordHarness, big_async: str
) -> None:
    boss = await organizer(harness)
    races = harness.services.live_races
    for number in range(27):
        await races.create(harness.guild.id, big_async, later(harness, number),
                           pool=f"Pool {number:02}", actor=actor_of_user(boss))
    listed = await every_page(harness, await harness.slash("liverace list", member=boss), boss)
    assert len(listed) > 1
    assert len(field_names(listed)) == 25
    assert "The latest 25" in (listed[0].embeds[0].footer.text or "")

    [race, *_] = await races.list_races(harness.guild.id)
    pages = await every_page(
        harness, await harness.slash("liverace eligible", member=boss, race=str(race.id)), boss
    )
    assert len(pages) > 1
    text = "\n".join(p.content or "" for p in pages)
    assert len(re.findall(r"<@\d+>", text)) == 150, "everyone, on one page or another"


# -- the other lists -----------------------------------------------------------------------------


async def test_notification_history_with_long_errors_is_paged(harness: DiscordHarness) -> None:
    member = harness.member(0)
    async with harness.services.sessionmaker.begin() as session:
        user = User(discord_id=member.id)
        session.add(user)
        await session.flush()
        session.add_all(
            NotificationLog(
                user_id=user.id, guild_id=harness.guild.id, event_type="MATCH_SCHEDULED",
                event_id=f"event-{n}", status="failed",
                payload={"tournament": LONG_NAME, "subject": LONG_TITLE},
                last_error="Discord answered 400 to the DM: " + "the reason, at length. " * 45,
            )
            for n in range(10)
        )
    pages = await every_page(
        harness, await harness.slash("notifications history", member=member), member
    )
    assert len(pages) > 1 and len(field_names(pages)) == 10
    for page in pages:
        for field in page.embeds[0].fields:
            assert (field.value or "").endswith("…")  # the one overlong line, at a word


async def test_racetime_bot_list_and_history_fit(
    harness: DiscordHarness, secret_box: SecretBox
) -> None:
    owner = harness.member(0)
    harness.make_owner(owner)
    async with harness.services.sessionmaker.begin() as session:
        bots = [
            RacetimeBot(category=f"cat{n:02}", display_name=LONG_NAME, client_id="id",
                        client_secret_encrypted=b"not readable", status=2,
                        status_message="racetime.gg refused the credentials: " + "why " * 200)
            for n in range(14)
        ]
        session.add_all(bots)
        await session.flush()
        session.add_all(
            RacetimeBotStatusHistory(bot_id=bots[0].id, old_status=1, new_status=2,
                                     status_message="refused: " + "because " * 100)
            for _ in range(15)
        )
    result = await harness.slash("racetime bot list", member=owner, every_server=True)
    pages = await every_page(harness, result, owner)
    assert sum(len(page.embeds) for page in pages) == 15  # with the alttpr bot
    for page in pages:
        assert len(page.embeds) <= limits.EMBEDS_PER_MESSAGE_MAX
        assert sum(len(embed) for embed in page.embeds) <= limits.EMBED_TOTAL_MAX
    history = await harness.slash("racetime bot history", member=owner, category="cat00")
    assert len(history.answer.embeds[0].description or "") <= limits.EMBED_DESCRIPTION_MAX


async def test_api_token_list_fits_the_most_tokens_a_server_may_have(
    harness: DiscordHarness,
) -> None:
    boss = await organizer(harness)
    for number in range(25):
        await harness.services.api_tokens.create(
            harness.guild.id, f"{number:02}-" + "overlay" * 8 + "-x", actor=actor_of_user(boss)
        )
    listed = await harness.slash("api-token list", member=boss)
    assert len((listed.answer.embeds[0].description or "").splitlines()) == 25


async def test_open_room_preview_bounds_the_players_invited(harness: DiscordHarness) -> None:
    boss = await organizer(harness)
    async with harness.services.sessionmaker.begin() as session:
        session.add_all(
            User(discord_id=user_id, racetime_id=f"rt{n:014}",
                 racetime_name=f"A-Rather-Long-Racetime-Name-{n}#{n:04}")
            for n, user_id in enumerate(PLAYER_IDS[:40])
        )
    match = await harness.services.matches.schedule(
        harness.guild.id, LONG_NAME, PLAYER_IDS[:100], later(harness, 1), LONG_TITLE,
        actor=actor_of_user(boss),
    )
    preview = await harness.slash("open-room", member=boss, match=str(match.id))
    fields = {f.name: f.value or "" for f in preview.answer.embeds[0].fields}
    whole_lines(fields["Invited (40)"], r"<@\d+> as `A-Rather-Long-Racetime-Name-\d+#\d{4}`")
    assert fields["Invited (40)"].splitlines()[-1].startswith("… and ")
    assert re.search(r", … and \d+ more: each can link", fields["Not linked, not invited (60)"])


async def test_page_buttons_are_the_askers_and_stop_after_a_while(
    harness: DiscordHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    boss = await organizer(harness)
    await create_all(harness.services.tournaments.create, numbered(45), harness)
    listed = await harness.slash("tournament list", member=boss)
    other = harness.member(1)
    refused = await harness.press(listed.answer, NEXT, member=other)
    assert refused.answer.ephemeral and refused.answer.content == (
        f"These pages are {boss.display_name}'s: run the command yourself to turn your own."
    )
    monkeypatch.setattr(pages_module, "PAGE_TIMEOUT_SECONDS", 0.05)
    short = await harness.slash("tournament list", member=boss)
    await eventually(lambda: any(m.kind == "edit" for m in short.messages))
    assert all(button.get("disabled") for button in short.messages[-1].buttons)
    late = await harness.press(short.answer, NEXT, member=boss)
    assert late.messages == [], "stopped buttons answer nothing, as on Discord"
