"""Fitting lists into Discord's limits (``cogs._shared.fitting``), and the messages RaceDesk
posts outside any command (announcements, notification DMs) filled past those limits, checked
by the same rules the simulated Discord applies (``rehearsal.discord_rules``)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import discord
from hypothesis import given
from hypothesis import strategies as st

from cogs._shared import discord_limits as limits
from cogs._shared.choices import choices
from cogs._shared.fitting import Field, and_more, clip, embed_groups, embed_pages, fit_lines
from cogs._shared.fitting import page_lines as pages_of
from cogs._shared.live_races.embeds import info_embed
from cogs._shared.notifications.embeds import notification_embed
from cogs.announcements import announcement_embed, mentions_text
from core.live_races.live_races import LiveRaceInfo, RaceRun
from core.notifications.delivery import OutgoingNotification
from core.notifications.kinds import NotificationType
from core.notifications.service import NotificationContent
from core.tournaments.announcements import Announcement, Tone
from db.models import RaceStatus
from rehearsal.discord_rules import check_message

lines_strategy = st.lists(st.text(alphabet="ab <@>", min_size=1, max_size=40), max_size=60)


@given(lines=lines_strategy, limit=st.integers(min_value=20, max_value=400))
def test_fit_lines_keeps_whole_lines_and_counts_the_rest(lines: list[str], limit: int) -> None:
    fitted = fit_lines(lines, limit)
    assert len(fitted) <= limit
    shown = fitted.split("\n") if fitted else []
    lines = [clip(line, limit) for line in lines]  # only a line longer than it all is shortened
    if shown == lines:
        return
    tail = re.fullmatch(r"… and (\d+) more", shown[-1])
    assert tail, fitted
    kept = shown[:-1]
    assert kept == lines[:len(kept)], "whole lines, in order"
    assert int(tail.group(1)) == len(lines) - len(kept)


@given(lines=lines_strategy, limit=st.integers(min_value=40, max_value=400))
def test_pages_hold_every_line_once_in_order(lines: list[str], limit: int) -> None:
    pages = pages_of(lines, limit)
    assert all(len(page) <= limit for page in pages)
    assert [line for page in pages for line in page.split("\n") if page] == lines


def test_clip_shortens_at_a_word() -> None:
    assert clip("short", 10) == "short"
    assert clip("one two three four", 12) == "one two…"
    assert len(clip("x" * 50, 10)) == 10


def test_a_hint_says_where_the_rest_is() -> None:
    text = fit_lines([f"line {n}" for n in range(100)], 60, more=and_more("`/x list` shows all"))
    assert text.endswith("more: `/x list` shows all") and len(text) <= 60


def test_embed_pages_keep_every_field_within_each_limit() -> None:
    fields = [Field.of(f"name {n}", "v" * 1500) for n in range(40)]  # each clipped to 1,024
    pages = embed_pages(lambda: discord.Embed(title="t" * 200), fields, fields_per_page=10)
    assert all(len(page) <= limits.EMBED_TOTAL_MAX for page in pages)
    assert all(len(page.fields) <= 10 for page in pages)
    assert [f.name for page in pages for f in page.fields] == [f"name {n}" for n in range(40)]
    assert all(len(f.value or "") <= limits.EMBED_FIELD_VALUE_MAX
               for page in pages for f in page.fields)
    groups = embed_groups(pages + pages)
    assert all(
        len(group) <= limits.EMBEDS_PER_MESSAGE_MAX
        and sum(len(embed) for embed in group) <= limits.EMBED_TOTAL_MAX
        for group in groups
    )
    assert sum(len(group) for group in groups) == 2 * len(pages)


def test_choices_keep_to_discords_twenty_five_and_hundred() -> None:
    named = [("n" * 150, "ok"), ("fine", "v" * 101)] + [(str(n), str(n)) for n in range(40)]
    offered = choices(named)
    assert len(offered) == limits.AUTOCOMPLETE_CHOICES_MAX
    assert offered[0].name == "n" * 99 + "…"
    assert "v" * 101 not in [choice.value for choice in offered], "it could never be chosen"


def accepted(content: str | None, *embeds: discord.Embed) -> None:
    payload = {"content": content, "embeds": [embed.to_dict() for embed in embeds]}
    refused = check_message(payload, "test")
    assert refused is None, str(refused)


PLAYERS = [1_300_000_000_000_000_000 + n for n in range(300)]


def test_an_announcement_for_a_crowd_fits() -> None:
    announcement = Announcement(
        channel_id=1, tone=Tone.RESULTS, title="🏁 " + "T" * 300 + ": results",
        lines=tuple(f"{n}. <@{user}> 1:{n:02}:00.0" for n, user in enumerate(PLAYERS, 1)),
        mentions=tuple(PLAYERS),
    )
    content = mentions_text(announcement)
    embed = announcement_embed(announcement)
    accepted(content, embed)
    assert (embed.description or "").splitlines()[-1].startswith("… and ")
    assert (content or "").endswith("more")


def test_a_result_dm_with_every_player_fits() -> None:
    summary = " · ".join(f"{n}. Runner{n} 1:{n % 60:02}:00.0" for n in range(1, 200))
    message = OutgoingNotification(
        notification_id=1, kind=NotificationType.MATCH_RESULT, event_type="MATCH_RESULT",
        guild_id=1,
        content=NotificationContent(
            tournament="T" * 100, subject="S" * 200, details=summary, reason="r" * 500,
            room_url="https://racetime.gg/alttpr/lucky-ness-4713", problem="p" * 2000,
        ),
    )
    embed = notification_embed(message)
    accepted(None, embed)
    details = {f.name: f.value or "" for f in embed.fields}["Details"]
    assert re.search(r"Runner\d+ 1:\d\d:00\.0 · … and \d+ more$", details)


def test_live_race_info_with_every_run_fits() -> None:
    race = LiveRaceInfo(
        id=1, guild_id=1, tournament_id=1, tournament="T" * 100, pool="P" * 100,
        status=RaceStatus.FINISHED, scheduled_at=datetime(2030, 1, 1, tzinfo=UTC),
        room_open_minutes_before=15, goal="g" * 200, invitational=True,
        streaming_required=True, room_url="https://racetime.gg/alttpr/x", room_error="e" * 2000,
        cancelled_reason=None, eligible=300,
        runs=tuple(
            RaceRun(user, f"Runner{n}", "done", n, timedelta(hours=1, seconds=n))
            for n, user in enumerate(PLAYERS, 1)
        ),
    )
    embed = info_embed(race)
    accepted(None, embed)
    runs = {f.name: f.value or "" for f in embed.fields}["Runs recorded"]
    assert runs.splitlines()[-1].startswith("… and ")
