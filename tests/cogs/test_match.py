"""/match through the real CommandTree: who may use it, what each bad input is told, the
suggestions, the list and info embeds, and the notifications behind a scheduled match."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import discord
import pytest
from sqlalchemy import select

from core.times.formatting import utc_text
from core.times.parsing import accepted_formats, example_time, show_time
from db.models import (
    Match,
    MatchPlayer,
    NotificationLog,
    RaceRoom,
    RaceStatus,
    RacetimeBot,
    RacetimeBotGuild,
    User,
)
from db.secrets import SecretBox
from tests.clock_messages import clock_read_around
from tests.plugins.discord_bot import DiscordHarness, running_harness

ORGANIZERS_ONLY = (
    "Only organizers can do this: members with the Manage Server permission "
    "or the server's organizer role."
)
STRANGER = 1_234_567_890_123_456_789


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
            auto_create_rooms=True, default_goal="All dungeons",
        )
        yield harness


def future(days: int = 2) -> datetime:
    """A whole second some days ahead (Discord timestamps have no fractions)."""
    moment = datetime.now(UTC) + timedelta(days=days)
    return moment.replace(microsecond=0)


def stamp(moment: datetime) -> str:
    return f"<t:{int(moment.timestamp())}:F>"


async def organizer(harness: DiscordHarness) -> discord.Member:
    return await harness.member_with_permissions(2, manage_guild=True)


def players_option(harness: DiscordHarness) -> str:
    return f"<@{harness.member(0).id}> <@!{harness.member(1).id}>"


async def schedule(harness: DiscordHarness, member: discord.Member, **options: object) -> str:
    options.setdefault("tournament", "Winter Cup")
    options.setdefault("players", players_option(harness))
    options.setdefault("when", stamp(future()))
    options.setdefault("title", "Semi-final")
    result = await harness.slash("match schedule", member=member, **options)
    return result.answer.content or ""


# -- permissions -------------------------------------------------------------------------------


async def test_a_player_cannot_schedule_move_or_cancel(harness: DiscordHarness) -> None:
    boss = await organizer(harness)
    await schedule(harness, boss)
    [match] = await harness.services.matches.list_upcoming(harness.guild.id)
    player = harness.member(0)
    for name, options in [
        ("match schedule", {"tournament": "Winter Cup", "players": players_option(harness),
                            "when": stamp(future()), "title": "Mine"}),
        ("match reschedule", {"match": str(match.id), "when": stamp(future(3))}),
        ("match cancel", {"match": str(match.id), "reason": "I'd rather not"}),
    ]:
        refused = await harness.slash(name, member=player, **options)
        assert refused.first.ephemeral
        assert refused.first.content == ORGANIZERS_ONLY, name
    [still] = await harness.services.matches.list_upcoming(harness.guild.id)
    assert (still.title, still.scheduled_at, still.status) == (
        match.title, match.scheduled_at, match.status,
    )


async def test_everyone_can_list_and_look_up_matches(harness: DiscordHarness) -> None:
    await schedule(harness, await organizer(harness))
    [match] = await harness.services.matches.list_upcoming(harness.guild.id)
    player = harness.member(0)
    listed = await harness.slash("match list", member=player)
    assert [f.name for f in listed.answer.embeds[0].fields] == [f"#{match.id} · Semi-final"]
    info = await harness.slash("match info", member=player, match=str(match.id))
    assert info.first.embeds[0].title == f"#{match.id} · Semi-final"


async def test_the_commands_only_work_in_a_server(harness: DiscordHarness) -> None:
    result = await harness.slash("match list", member=harness.member(0), in_dm=True)
    assert result.first.content == "This command only works in a server, not in DMs."


# -- schedule ----------------------------------------------------------------------------------


async def test_schedule_echoes_the_match_and_the_players_are_told(
    harness: DiscordHarness,
) -> None:
    when = future()
    answer = await schedule(harness, await organizer(harness), when=stamp(when))
    [match] = await harness.services.matches.list_upcoming(harness.guild.id)
    ada, bob = harness.member(0), harness.member(1)
    opens = when - timedelta(minutes=60)
    assert answer == (
        f"Scheduled match **#{match.id}** of **Winter Cup**: **Semi-final**, {show_time(when)}.\n"
        f"**Players:** <@{ada.id}> vs <@{bob.id}>\n"
        "**Goal:** All dungeons (the tournament's default)\n"
        f"**Room:** invitational, opens 60 minutes before, {show_time(opens)}\n"
        f"Not linked to racetime.gg yet: <@{ada.id}>, <@{bob.id}>; they can link with "
        "`/link-racetime` to be invited to the room.\n"
        "The players are told by DM."
    )
    assert match.scheduled_at == when
    await harness.services.dispatcher.drain()
    async with harness.services.sessionmaker() as session:
        rows = (await session.execute(
            select(NotificationLog.event_type, User.discord_id)
            .join(User, User.id == NotificationLog.user_id)
        )).all()
    assert sorted(rows) == sorted(
        [("MATCH_SCHEDULED", ada.id), ("MATCH_SCHEDULED", bob.id)]
    )


async def test_schedule_with_overrides_and_a_plain_time_in_the_members_zone(
    harness: DiscordHarness,
) -> None:
    boss = await organizer(harness)
    await harness.services.timezones.set_user_timezone(boss.id, "Europe/Berlin")
    summer = datetime.now(UTC).year + 1  # 1 July of next year: ahead, and in summer time
    answer = await schedule(
        harness, boss, when=f"{summer}-07-01 20:00", goal="100%", invitational=False,
        auto_create=False,
    )
    when = datetime(summer, 7, 1, 18, 0, tzinfo=UTC)  # 20:00 in Berlin's summer time
    assert f"**Semi-final**, {show_time(when)}." in answer
    assert "**Goal:** 100%\n" in answer
    assert (
        "**Room:** open to anyone; auto-create is off for this match, a moderator opens it "
        "with `/open-room`"
    ) in answer


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"tournament": "Autumn Cup"},
         "There is no tournament called `Autumn Cup` in this server. `/tournament list` shows "
         "them; `/tournament create` makes one."),
        ({"players": f"<@{STRANGER}> <@{{ada}}>"},
         f"<@{STRANGER}> is not a member of this server; every player must be. Invite them "
         "first, or choose someone else."),
        ({"players": "<@{ada}> Bob"},
         "`Bob` is not a mention of a member. Mention each player with @, e.g. `@Ada @Bob`."),
        ({"players": "<@&42> <@{ada}>"},
         "Players must be members, not roles or @everyone. Mention each player with @, e.g. "
         "`@Ada @Bob`."),
        ({"players": "<@{ada}>"},
         "A match needs at least 2 players; 1 given. Mention every player, e.g. `@Ada @Bob`."),
        ({"players": "<@{ada}> <@{ada}>"},
         "Each player can be in a match once; {ada_name} is listed twice."),
        ({"title": " "}, "Give the match a title, e.g. `Semi-final 1`."),
    ],
)
async def test_every_bad_input_gets_its_message(
    harness: DiscordHarness, options: dict[str, str], message: str
) -> None:
    ada = harness.member(0)
    if "players" in options:
        options = {**options, "players": options["players"].replace("{ada}", str(ada.id))}
    result = await harness.slash(
        "match schedule", member=await organizer(harness),
        **{"tournament": "Winter Cup", "players": players_option(harness),
           "when": stamp(future()), "title": "Semi-final", **options},
    )
    assert result.answer.ephemeral
    assert result.answer.content == message.replace("{ada_name}", ada.display_name)
    assert await harness.services.matches.list_upcoming(harness.guild.id) == []


@pytest.mark.parametrize(
    ("when", "message"),
    [
        ("<t:1000000000:F>",
         lambda now: "<t:1000000000:F> (<t:1000000000:R>) is in the past. Give a time in the "
                     f"future, e.g. `{utc_text(example_time(now, UTC))}`."),
        ("tomorrow at 8",
         lambda now: "`tomorrow at 8` is not a time RaceDesk can read. "
                     + accepted_formats(now, ZoneInfo("Europe/Berlin"))),
    ],
)
async def test_a_past_or_unreadable_time_gets_examples_that_work(
    harness: DiscordHarness, when: str, message: Callable[[datetime], str]
) -> None:
    boss = await organizer(harness)
    await harness.services.timezones.set_user_timezone(boss.id, "Europe/Berlin")
    async with clock_read_around() as now:
        answer = await schedule(harness, boss, when=when)
    assert answer in now.either(message)
    examples = re.findall(r"`([^`]*\d{4}[^`]*)`", answer)  # the ones with a year
    assert examples
    for written in examples:
        scheduled = await schedule(harness, boss, when=written)
        assert scheduled.startswith("Scheduled"), (written, scheduled)


async def test_unlinked_players_are_named_when_links_are_required(
    harness: DiscordHarness,
) -> None:
    boss = await organizer(harness)
    await harness.services.tournaments.update_settings(
        harness.guild.id, "Winter Cup", actor=harness.set_up, require_racetime_link=True
    )
    ada, bob = harness.member(0), harness.member(1)
    async with harness.services.sessionmaker.begin() as session:
        session.add(User(discord_id=ada.id, racetime_id="ada0000000000000", racetime_name="ada"))
    answer = await schedule(harness, boss)
    assert answer == (
        "**Winter Cup** requires every player to link their racetime.gg account, and "
        f"{bob.display_name} has not. Each of them can link with `/link-racetime`; then "
        "schedule the match again."
    )
    assert await harness.services.matches.list_upcoming(harness.guild.id) == []


# -- reschedule and cancel ---------------------------------------------------------------------


async def test_reschedule_echoes_both_times_and_refuses_a_cancelled_match(
    harness: DiscordHarness,
) -> None:
    boss = await organizer(harness)
    first, second = future(2), future(3)
    await schedule(harness, boss, when=stamp(first))
    [match] = await harness.services.matches.list_upcoming(harness.guild.id)
    moved = await harness.slash("match reschedule", member=boss, match=f"#{match.id}",
                                when=stamp(second))
    assert moved.first.content == (
        f"Moved match **#{match.id}** (**Semi-final**, Winter Cup) from {show_time(first)} to "
        f"{show_time(second)}. The players are told by DM."
    )
    cancelled = await harness.slash("match cancel", member=boss, match=str(match.id),
                                    reason="Bob is ill")
    assert cancelled.first.content == (
        f"Cancelled match **#{match.id}** (**Semi-final**, Winter Cup). The players are told "
        "why by DM: Bob is ill"
    )
    again = await harness.slash("match cancel", member=boss, match=str(match.id), reason="x")
    assert again.first.content == f"Match #{match.id} is already cancelled."
    refused = await harness.slash("match reschedule", member=boss, match=str(match.id),
                                  when=stamp(future(4)))
    assert refused.first.content == (
        f"Match #{match.id} is cancelled, so it cannot be rescheduled. Schedule a new one with "
        "`/match schedule`."
    )
    unknown = await harness.slash("match info", member=boss, match="Final")
    assert unknown.answer.content == (
        "`Final` is not a match. Pick one from the suggestions, or give its number "
        "(`/match list` shows them)."
    )
    missing = await harness.slash("match info", member=boss, match="999999")
    assert missing.first.content == (
        "There is no match #999999 in this server. `/match list` shows the upcoming ones."
    )


# -- autocomplete ------------------------------------------------------------------------------


async def test_tournaments_and_matches_are_suggested(harness: DiscordHarness) -> None:
    boss = await organizer(harness)
    when = future()
    await schedule(harness, boss, when=stamp(when))
    await schedule(harness, boss, when=stamp(when), title="Final")
    semi, final = await harness.services.matches.list_upcoming(harness.guild.id)
    await harness.slash("match cancel", member=boss, match=str(final.id), reason="bye")
    choices = await harness.autocomplete("match schedule", "tournament", "win", member=boss)
    assert [(c.name, c.value) for c in choices] == [("Winter Cup", "Winter Cup")]
    label = f"#{semi.id} · Winter Cup · Semi-final · {when:%Y-%m-%d %H:%M} UTC"
    choices = await harness.autocomplete("match reschedule", "match", "", member=boss)
    assert [(c.name, c.value) for c in choices] == [(label, str(semi.id))]
    choices = await harness.autocomplete("match info", "match", "", member=harness.member(0))
    assert [c.value for c in choices] == [str(semi.id), str(final.id)]
    assert choices[1].name.endswith("(cancelled)")
    # "Final" is cancelled: only the Semi-final can still be cancelled.
    choices = await harness.autocomplete("match cancel", "match", "FINAL", member=boss)
    assert [c.value for c in choices] == [str(semi.id)]
    assert await harness.autocomplete("match cancel", "match", "quarter", member=boss) == []


# -- list and info -----------------------------------------------------------------------------


async def test_list_shows_each_match_with_its_room(harness: DiscordHarness) -> None:
    boss = await organizer(harness)
    empty = await harness.slash("match list", member=boss)
    assert empty.answer.embeds[0].description == (
        "None scheduled. Organizers schedule one with `/match schedule`."
    )
    when = future()
    await schedule(harness, boss, when=stamp(when))
    await schedule(harness, boss, when=stamp(future(5)), title="Final", auto_create=False)
    listed = await harness.slash("match list", member=boss, tournament="winter cup")
    embed = listed.answer.embeds[0]
    assert embed.title == "📅 Upcoming matches in Winter Cup"
    ada, bob = harness.member(0), harness.member(1)
    opens = int((when - timedelta(minutes=60)).timestamp())
    first, second = embed.fields
    assert first.value == (
        f"Winter Cup · {show_time(when)}\n<@{ada.id}> vs <@{bob.id}>\n"
        f"**Room:** no room yet (opens <t:{opens}:R>)"
    )
    assert (second.value or "").endswith("**Room:** no room yet (opened by a moderator)")
    unknown = await harness.slash("match list", member=boss, tournament="Autumn Cup")
    assert (unknown.answer.content or "").startswith("There is no tournament called `Autumn Cup`")


async def test_info_shows_everything_and_why_there_is_no_room(harness: DiscordHarness) -> None:
    boss = await organizer(harness)
    when = future()
    await schedule(harness, boss, when=stamp(when))
    [match] = await harness.services.matches.list_upcoming(harness.guild.id)
    async with harness.services.sessionmaker.begin() as session:
        ada = (await session.execute(
            select(User).where(User.discord_id == harness.member(0).id)
        )).scalar_one()
        ada.racetime_id, ada.racetime_name = "ada0000000000000", "ada"
    info = await harness.slash("match info", member=harness.member(1), match=str(match.id))
    embed = info.first.embeds[0]
    fields = {f.name: f.value for f in embed.fields}
    opens = when - timedelta(minutes=60)
    assert embed.description == f"**Winter Cup** · {show_time(when)}"
    assert fields["Status"] == "scheduled"
    assert fields["Room opens"] == f"<t:{int(opens.timestamp())}:F> (60 min before)"
    assert fields["Goal"] == "All dungeons (the tournament's default)"
    assert (fields["Invitational"], fields["Auto-create room"]) == ("yes", "on")
    assert fields["Players"] == (
        f"<@{harness.member(0).id}> · racetime: `ada`\n"
        f"<@{harness.member(1).id}> · racetime: not linked"
    )
    # The room service adds what it knows: the simulated server's bot is not connected.
    assert fields["Why no room yet"] == (
        f"The room opens at {show_time(opens)}. "
        "Right now, though: The `alttpr` bot is not connected (UNKNOWN)."
    )
    assert "Results" not in fields


async def test_info_of_a_finished_match_shows_the_room_and_results(
    harness: DiscordHarness,
) -> None:
    await schedule(harness, await organizer(harness))
    [match] = await harness.services.matches.list_upcoming(harness.guild.id)
    async with harness.services.sessionmaker.begin() as session:
        session.add(RaceRoom(category="alttpr", slug="odd-ganon-0042", match_id=match.id,
                             last_status="finished"))
        row = await session.get(Match, match.id)
        assert row is not None
        row.status = RaceStatus.FINISHED.value
        ada, bob = (await session.execute(
            select(MatchPlayer).where(MatchPlayer.match_id == match.id).order_by(MatchPlayer.id)
        )).scalars().all()
        bob.place, bob.finish_time, bob.status = 1, timedelta(hours=1, seconds=83), "done"
        ada.status = "dnf"
    info = await harness.slash("match info", member=harness.member(0), match=str(match.id))
    fields = {f.name: f.value for f in info.first.embeds[0].fields}
    assert fields["Status"] == "finished"
    assert fields["Room"] == "finished: https://racetime.gg/alttpr/odd-ganon-0042"
    assert fields["Results"] == (
        f"1. <@{harness.member(1).id}> · 1:01:23.0\n— <@{harness.member(0).id}> · forfeit"
    )
    assert "Why no room yet" not in fields
    listed = await harness.slash("match list", member=harness.member(0))
    assert listed.answer.embeds[0].fields == []  # finished: no longer upcoming


async def test_cancelling_a_match_whose_room_is_open_points_at_the_room(
    harness: DiscordHarness,
) -> None:
    boss = await organizer(harness)
    await schedule(harness, boss)
    [match] = await harness.services.matches.list_upcoming(harness.guild.id)
    async with harness.services.sessionmaker.begin() as session:
        session.add(RaceRoom(category="alttpr", slug="odd-ganon-0042", match_id=match.id,
                             last_status="open"))
    listed = await harness.slash("match list", member=boss)
    assert (listed.answer.embeds[0].fields[0].value or "").endswith(
        "**Room:** open: https://racetime.gg/alttpr/odd-ganon-0042"
    )
    moved = await harness.slash("match reschedule", member=boss, match=str(match.id),
                                when=stamp(future(3)))
    assert moved.first.content == (
        f"Match #{match.id}'s room is already open (https://racetime.gg/alttpr/odd-ganon-0042), "
        "so its time can no longer change. Cancel the match with `/match cancel` and schedule "
        "a new one if it must move."
    )
    cancelled = await harness.slash("match cancel", member=boss, match=str(match.id),
                                    reason="Both withdrew")
    assert cancelled.first.content == (
        f"Cancelled match **#{match.id}** (**Semi-final**, Winter Cup). The players are told "
        "why by DM: Both withdrew\n"
        "Its racetime room stays open: https://racetime.gg/alttpr/odd-ganon-0042"
    )


@pytest.mark.parametrize(
    ("when", "zone", "says"),
    [
        ("9999-12-31 23:59", "Europe/Berlin", "is more than 3 years ahead"),
        ("9999-12-31 23:59 UTC", "Asia/Tokyo", "is more than 3 years ahead"),
        ("<t:253402300799:F>", "Asia/Tokyo", "is more than 3 years ahead"),
        ("0001-01-01 00:00 UTC", "America/New_York", "is before 1970"),
    ],
)
async def test_an_extreme_date_is_refused_with_a_clear_message(
    harness: DiscordHarness, when: str, zone: str, says: str
) -> None:
    """Not discord.py's "Failed to convert … to When", and year 9999 is no longer taken."""
    boss = await organizer(harness)
    await harness.services.timezones.set_user_timezone(boss.id, zone)
    answer = await schedule(harness, boss, when=when)
    assert says in answer, answer
    assert "Failed to convert" not in answer
    suggestions = await harness.autocomplete("match schedule", "when", when, member=boss)
    assert says in suggestions[0].name
    async with harness.services.sessionmaker() as session:
        assert (await session.execute(select(Match))).first() is None
