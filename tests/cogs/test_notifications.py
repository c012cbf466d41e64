"""/notifications through the real CommandTree, and notifications delivered by the real
Discord sender into the simulated server (DMs, refused DMs, the fallback channel)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import discord
import discord.ext.test as dpytest
import discord.ext.test.backend as dpytest_backend
import pytest
from sqlalchemy import select

from core.events import (
    AsyncLiveRaceStartedEvent,
    Event,
    MatchCancelledEvent,
    MatchResultEvent,
    MatchScheduledEvent,
    RacetimeRoomOpenedEvent,
)
from core.notifications.kinds import NotificationType
from db.models import (
    AsyncLiveRace,
    AsyncParticipant,
    AsyncTournament,
    GuildSettings,
    Match,
    MatchPlayer,
    NotificationLog,
    Tournament,
)
from db.queries.users import get_or_create_user_by_discord_id
from db.secrets import SecretBox
from tests.plugins.discord_bot import DiscordHarness, running_harness
from tests.plugins.racetime_engine import eventually

WHEN = datetime(2026, 12, 5, 18, 0, tzinfo=UTC)
STAMP = int(WHEN.timestamp())
ROOM = "https://racetime.gg/alttpr/clever-link-1234"
ORGANIZERS_ONLY = (
    "Only organizers can do this: members with the Manage Server permission "
    "or the server's organizer role."
)
LABELS = [kind.info.label for kind in NotificationType]


@pytest.fixture
async def harness(db_url: str, secret_box: SecretBox) -> AsyncIterator[DiscordHarness]:
    async with running_harness(db_url, secret_box, deliver_notifications=True) as harness:
        harness.sim.sent()  # start from an empty outbox of the simulated Discord
        yield harness


@dataclass(frozen=True)
class MatchIds:
    tournament_id: int
    match_id: int


async def a_match(harness: DiscordHarness, *players: discord.Member) -> MatchIds:
    """A tournament of this server with one match that ``players`` play (written directly:
    tournaments and their commands come with a later issue)."""
    async with harness.services.sessionmaker.begin() as session:
        tournament = Tournament(
            guild_id=harness.guild.id, name="Winter Cup", racetime_category="alttpr"
        )
        session.add(tournament)
        await session.flush()
        assert tournament.id is not None
        match = Match(tournament_id=tournament.id, title="Round 1: A vs B", scheduled_at=WHEN)
        session.add(match)
        await session.flush()
        assert match.id is not None
        for player in players:
            user = await get_or_create_user_by_discord_id(session, player.id)
            assert user.id is not None
            session.add(MatchPlayer(match_id=match.id, user_id=user.id))
        return MatchIds(tournament.id, match.id)


def scheduled(ids: MatchIds) -> MatchScheduledEvent:
    return MatchScheduledEvent(
        match_id=ids.match_id, tournament_id=ids.tournament_id, scheduled_at=WHEN
    )


def room_opened(ids: MatchIds) -> RacetimeRoomOpenedEvent:
    return RacetimeRoomOpenedEvent(
        match_id=ids.match_id, tournament_id=ids.tournament_id, category="alttpr",
        room_slug="clever-link-1234", room_url=ROOM, scheduled_at=WHEN,
    )


async def emit(harness: DiscordHarness, *events: Event) -> list[discord.Message]:
    """RaceDesk hears of ``events``; returns what it sent into the simulated Discord."""
    for event in events:
        await harness.services.dispatcher.emit(event)
    await harness.notifications_settled()
    return harness.sim.sent()


def dms_to(messages: list[discord.Message], member: discord.abc.User) -> list[discord.Message]:
    return [
        m for m in messages
        if isinstance(m.channel, discord.DMChannel)
        and m.channel.recipient is not None
        and m.channel.recipient.id == member.id
    ]


def titles(messages: list[discord.Message]) -> list[str | None]:
    return [m.embeds[0].title for m in messages]


async def organizer(harness: DiscordHarness, index: int = 2) -> discord.Member:
    return await harness.member_with_permissions(index, manage_guild=True)


# -- settings ------------------------------------------------------------------------------------


async def test_the_settings_panel_lists_every_type_with_its_code_purpose_and_state(
    harness: DiscordHarness,
) -> None:
    result = await harness.slash("notifications settings")
    panel = result.first
    assert panel.kind == "response" and panel.ephemeral
    embed = panel.embeds[0]
    assert embed.title == f"🔔 Your notifications in {harness.guild.name}"
    text = panel.text
    for kind in NotificationType:
        assert f"**{kind.info.label}** (`{kind.info.code}`)" in text, kind
        assert kind.info.why in text
    assert "🔕 **Live race started** (`417`): off (default)" in text
    assert "🔔 **Match room opened** (`412`): on (default)" in text
    buttons = panel.buttons
    assert [b["label"] for b in buttons] == LABELS
    started = buttons[LABELS.index("Live race started")]
    assert started["style"] == discord.ButtonStyle.secondary.value  # off
    assert buttons[0]["style"] == discord.ButtonStyle.success.value  # on


async def test_a_type_is_set_directly_by_name_label_or_code_and_confirmed(
    harness: DiscordHarness,
) -> None:
    member = harness.member(0)
    service = harness.services.notifications
    for typed, enabled in (("417", True), ("match scheduled", False), ("MATCH_RESULT", False)):
        result = await harness.slash(
            "notifications settings", member=member, type=typed, enabled=enabled
        )
        assert result.first.ephemeral
        kind = NotificationType.parse(typed)
        state = "on" if enabled else "off"
        assert f"Turned **{kind.info.label}** (`{kind.info.code}`) {state}" in result.text
    choices = {p.type: p for p in await service.preferences(member.id, harness.guild.id)}
    assert choices[NotificationType.LIVE_RACE_STARTED].enabled is True
    assert choices[NotificationType.MATCH_SCHEDULED].enabled is False
    assert not choices[NotificationType.MATCH_SCHEDULED].is_default
    assert choices[NotificationType.MATCH_ROOM_OPENED].is_default

    asked = await harness.slash("notifications settings", member=member, type="412")
    assert "**Match room opened** (`412`) is on (default) for you" in asked.text
    assert "`/notifications settings type:412 enabled:False`" in asked.text


async def test_bad_settings_input_gets_a_clear_message(harness: DiscordHarness) -> None:
    unknown = await harness.slash("notifications settings", type="dragons", enabled=False)
    assert unknown.first.ephemeral
    assert unknown.first.content == (
        "Unknown notification type `dragons`. Choose one of: " + ", ".join(LABELS) + "."
    )
    half = await harness.slash("notifications settings", enabled=False)
    assert "Name the type to turn on or off too" in half.text
    in_dm = await harness.slash("notifications settings", in_dm=True)
    assert in_dm.first.content == "This command only works in a server, not in DMs."
    preferences = await harness.services.notifications.preferences(
        harness.member(0).id, harness.guild.id
    )
    assert all(p.is_default for p in preferences), "nothing was changed"


async def test_the_type_option_suggests_types_by_label_name_or_code(
    harness: DiscordHarness,
) -> None:
    everything = await harness.autocomplete("notifications settings", "type", "")
    assert [c.name for c in everything] == [
        f"{kind.info.label} ({kind.info.code})" for kind in NotificationType
    ]
    live = await harness.autocomplete("notifications settings", "type", "live race")
    assert [c.value for c in live] == [k.value for k in NotificationType if "LIVE" in k.value]
    assert [c.value for c in await harness.autocomplete(
        "notifications settings", "type", "417"
    )] == ["LIVE_RACE_STARTED"]
    assert [c.value for c in await harness.autocomplete(
        "notifications settings", "type", "room_opened"
    )] == ["MATCH_ROOM_OPENED", "LIVE_RACE_ROOM_OPENED"]


async def test_the_panel_buttons_toggle_only_for_its_owner_and_close_on_timeout(
    harness: DiscordHarness,
) -> None:
    member, other = harness.member(0), harness.member(1)
    service = harness.services.notifications

    async def enabled(kind: NotificationType) -> bool:
        prefs = await service.preferences(member.id, harness.guild.id)
        return next(p.enabled for p in prefs if p.type is kind)

    opened = await harness.slash("notifications settings", member=member)
    panel = opened.first
    pressed = await harness.press(panel, "Match scheduled", member=member)
    [update] = pressed.messages
    assert update.kind == "update"  # the panel itself changes, no new message
    assert "🔕 **Match scheduled** (`410`): off," in update.text
    assert await enabled(NotificationType.MATCH_SCHEDULED) is False
    [button] = [c for c in update.buttons if c["label"] == "Match scheduled"]
    assert button["style"] == discord.ButtonStyle.secondary.value
    again = await harness.press(panel, "Match scheduled", member=member)
    assert "🔔 **Match scheduled** (`410`): on," in again.first.text
    assert await enabled(NotificationType.MATCH_SCHEDULED) is True

    stranger = await harness.press(panel, "Live race started", member=other)
    assert stranger.first.kind == "response" and stranger.first.ephemeral
    assert stranger.first.content == (
        f"This panel is {member.display_name}'s. `/notifications settings` opens your own."
    )
    assert await enabled(NotificationType.LIVE_RACE_STARTED) is False
    theirs = await service.preferences(other.id, harness.guild.id)
    assert all(p.is_default for p in theirs), "the stranger's own choices did not change"

    harness.bot.get_cog("NotificationsCog").settings_timeout = 0.05  # type: ignore[union-attr]
    short = await harness.slash("notifications settings", member=member)
    await eventually(lambda: any(m.kind == "edit" for m in short.messages))
    closed = short.messages[-1]
    assert "This panel has closed" in (closed.embeds[0].footer.text or "")
    assert all(c.get("disabled") for c in closed.buttons)
    late = await harness.press(short.first, "Match result", member=member)
    assert late.messages == [], "a closed panel answers nothing, as on Discord"
    assert await enabled(NotificationType.MATCH_RESULT) is True


# -- what is delivered ---------------------------------------------------------------------------


async def test_a_type_turned_off_is_not_delivered_and_the_others_are(
    harness: DiscordHarness,
) -> None:
    one, two = harness.member(0), harness.member(1)
    ids = await a_match(harness, one, two)
    off = await harness.slash(
        "notifications settings", member=one, type="Match scheduled", enabled=False
    )
    assert "Turned **Match scheduled** (`410`) off" in off.text

    sent = await emit(harness, scheduled(ids))
    assert titles(dms_to(sent, two)) == ["📅 Match scheduled"]
    assert dms_to(sent, one) == []
    assert len(sent) == 1

    sent = await emit(harness, room_opened(ids))
    assert titles(dms_to(sent, one)) == ["🚪 Match room opened"]
    assert titles(dms_to(sent, two)) == ["🚪 Match room opened"]

    on = await harness.slash("notifications settings", member=one, type="410", enabled=True)
    assert "Turned **Match scheduled** (`410`) on" in on.text
    later = MatchScheduledEvent(
        match_id=ids.match_id, tournament_id=ids.tournament_id, scheduled_at=WHEN,
        event_id="match-scheduled-again",
    )
    assert len(dms_to(await emit(harness, later), one)) == 1


async def test_dm_embeds_have_the_type_look_discord_timestamps_and_the_room_button(
    harness: DiscordHarness,
) -> None:
    player = harness.member(0)
    ids = await a_match(harness, player)
    sent = await emit(
        harness,
        scheduled(ids),
        room_opened(ids),
        MatchCancelledEvent(
            match_id=ids.match_id, tournament_id=ids.tournament_id, reason="A player withdrew"
        ),
        MatchResultEvent(
            match_id=ids.match_id, tournament_id=ids.tournament_id,
            summary="1. RacerOne 1:42:07", room_url=ROOM,
        ),
    )
    dms = {m.embeds[0].title: m for m in dms_to(sent, player)}
    assert set(dms) == {
        "📅 Match scheduled", "🚪 Match room opened", "❌ Match cancelled", "✅ Match result",
    }
    colours = {title: m.embeds[0].colour for title, m in dms.items()}
    assert colours == {
        "📅 Match scheduled": discord.Colour.green(),
        "🚪 Match room opened": discord.Colour.blue(),
        "❌ Match cancelled": discord.Colour.red(),
        "✅ Match result": discord.Colour.green(),
    }
    for message in dms.values():
        assert message.embeds[0].description == "Winter Cup · Round 1: A vs B"
        assert message.nonce, "every send carries a nonce, so a repeat after a crash lands once"

    opened = dms["🚪 Match room opened"]
    fields = {f.name: f.value for f in opened.embeds[0].fields}
    assert fields["When"] == f"<t:{STAMP}:F> (<t:{STAMP}:R>)"
    [row] = opened.components
    assert isinstance(row, discord.ActionRow)
    [button] = row.children
    assert isinstance(button, discord.Button)
    assert button.url == ROOM and button.style is discord.ButtonStyle.link
    assert dms["📅 Match scheduled"].components == []  # no room yet, no button

    cancelled = {f.name: f.value for f in dms["❌ Match cancelled"].embeds[0].fields}
    assert cancelled["Reason"] == "A player withdrew"
    result = {f.name: f.value for f in dms["✅ Match result"].embeds[0].fields}
    assert result["Details"] == "1. RacerOne 1:42:07"


async def test_a_live_race_start_is_orange_and_off_until_a_player_turns_it_on(
    harness: DiscordHarness,
) -> None:
    keen, quiet = harness.member(0), harness.member(1)
    async with harness.services.sessionmaker.begin() as session:
        tournament = AsyncTournament(
            guild_id=harness.guild.id, name="Async Cup", racetime_category="alttpr"
        )
        session.add(tournament)
        await session.flush()
        assert tournament.id is not None
        race = AsyncLiveRace(tournament_id=tournament.id, scheduled_at=WHEN)
        session.add(race)
        for member in (keen, quiet):
            user = await get_or_create_user_by_discord_id(session, member.id)
            assert user.id is not None
            user.racetime_id = f"rt{member.id}"[-16:]  # eligible: linked to racetime.gg
            session.add(AsyncParticipant(tournament_id=tournament.id, user_id=user.id))
        await session.flush()
        assert race.id is not None
        race_id, tournament_id = race.id, tournament.id
    await harness.slash("notifications settings", member=keen, type="417", enabled=True)

    sent = await emit(
        harness,
        AsyncLiveRaceStartedEvent(
            live_race_id=race_id, tournament_id=tournament_id, room_slug="clever-link-1234",
            room_url=ROOM,
        ),
    )
    assert dms_to(sent, quiet) == [], "417 is off by default"
    [dm] = dms_to(sent, keen)
    assert dm.embeds[0].title == "🏁 Live race started"
    assert dm.embeds[0].colour == discord.Colour.orange()


# -- refused DMs and the fallback channel --------------------------------------------------------


async def test_a_refused_dm_falls_back_to_the_channel_and_history_says_so(
    harness: DiscordHarness,
) -> None:
    one, two = harness.member(0), harness.member(1)
    notices = harness.sim.add_text_channel("notices")
    set_it = await harness.slash(
        "notifications channel", member=await organizer(harness), channel=notices
    )
    assert set_it.first.ephemeral
    assert set_it.first.content == (
        "Notifications a player's DMs refuse now go to #notices, in a post that mentions them."
    )
    harness.sim.refuse_dms(two)
    ids = await a_match(harness, one, two)

    sent = await emit(harness, room_opened(ids))
    assert titles(dms_to(sent, one)) == ["🚪 Match room opened"]
    assert dms_to(sent, two) == []
    [post] = [m for m in sent if m.channel == notices]
    assert post.content == f"<@{two.id}>, I could not send you this by DM:"
    assert [u.id for u in post.mentions] == [two.id]
    assert post.embeds[0].title == "🚪 Match room opened"
    assert post.components[0].children[0].url == ROOM  # type: ignore[union-attr]

    history = await harness.slash("notifications history", member=two)
    assert history.first.embeds[0].title == (
        f"🔔 Notifications for {two.display_name} in {harness.guild.name}"
    )
    assert history.first.ephemeral
    [field] = history.first.embeds[0].fields
    assert field.name == "🚪 Match room opened · Winter Cup · Round 1: A vs B"
    assert field.value is not None
    assert field.value.startswith("↪️ Fell back to channel <t:")
    assert (
        "the player does not accept DMs from the bot (Discord 50007); posted in #notices instead"
    ) in field.value
    mine = await harness.slash("notifications history", member=one)
    assert mine.first.embeds[0].fields[0].value.startswith("✅ Sent <t:")  # type: ignore[union-attr]


async def test_without_a_fallback_channel_a_refused_dm_fails_and_organizers_see_why(
    harness: DiscordHarness,
) -> None:
    player = harness.member(0)
    harness.sim.refuse_dms(player)
    ids = await a_match(harness, player)
    assert await emit(harness, scheduled(ids)) == []

    boss = await organizer(harness)
    seen = await harness.slash("notifications history", member=boss, options={"member": player})
    embed = seen.first.embeds[0]
    assert embed.title == f"🔔 Notifications for {player.display_name} in {harness.guild.name}"
    value = embed.fields[0].value or ""
    assert value.startswith("❌ Failed (queued <t:")
    assert "the player does not accept DMs from the bot (Discord 50007)" in value
    assert "the server has no fallback channel (an organizer can set one: " in value

    problems = await harness.slash("notifications problems", member=boss)
    overview = problems.first.embeds[0]
    assert problems.first.ephemeral
    assert overview.title == (
        f"🔔 Notifications that did not arrive by DM in {harness.guild.name}"
    )
    [field] = overview.fields
    assert (field.value or "").startswith(f"To <@{player.id}>: ❌ Failed (queued <t:")
    refused = await harness.slash("notifications problems", member=player)
    assert "organizers" in refused.first.content.lower()


async def test_the_problems_overview_says_so_when_every_dm_arrived(
    harness: DiscordHarness,
) -> None:
    boss = await organizer(harness)
    result = await harness.slash("notifications problems", member=boss)
    embed = result.first.embeds[0]
    assert embed.description == "None: every notification here was delivered by DM."
    assert embed.fields == []


async def test_history_shows_a_notification_waiting_for_a_retry(
    harness: DiscordHarness,
) -> None:
    player = harness.member(0)
    harness.sim.answer_dms(player, (503, 0, "Service Unavailable"))
    ids = await a_match(harness, player)
    assert await emit(harness, scheduled(ids)) == []

    history = await harness.slash("notifications history", member=player)
    value = history.first.embeds[0].fields[0].value or ""
    assert value.startswith("🔁 Retrying (queued <t:")
    assert "Discord answered 503 to the DM" in value
    async with harness.services.sessionmaker() as session:
        [row] = (await session.execute(select(NotificationLog))).scalars()
    assert row.status == "pending" and row.attempts == 1


async def test_history_is_empty_at_first_and_says_so(harness: DiscordHarness) -> None:
    result = await harness.slash("notifications history")
    embed = result.first.embeds[0]
    assert result.first.ephemeral and embed.fields == []
    assert embed.description == "Nothing yet: RaceDesk has not notified you in this server."


async def test_someone_elses_history_is_for_organizers_and_members_only(
    harness: DiscordHarness,
) -> None:
    player, other = harness.member(0), harness.member(1)
    refused = await harness.slash("notifications history", member=player, options={"member": other})
    assert refused.first.ephemeral
    assert refused.first.content == (
        ORGANIZERS_ONLY + " Leave out `member` to see your own notifications."
    )
    own = await harness.slash("notifications history", member=player, options={"member": player})
    assert own.first.embeds, "anyone may name themselves"

    stranger = dpytest_backend.make_user("Stranger", "0042")
    boss = await organizer(harness)
    missing = await harness.slash(
        "notifications history", member=boss, options={"member": stranger}
    )
    assert missing.first.content == (
        f"Stranger is not a member of {harness.guild.name}, "
        "so RaceDesk has no notifications for them here."
    )


async def test_the_organizer_role_counts_as_an_organizer(harness: DiscordHarness) -> None:
    member = harness.member(1)
    role = dpytest_backend.make_role("Organizers", harness.guild)
    async with harness.services.sessionmaker.begin() as session:
        session.add(GuildSettings(guild_id=harness.guild.id, organizer_role_id=role.id))
    refused = await harness.slash("notifications channel", member=member, channel=harness.channel)
    assert refused.first.content == ORGANIZERS_ONLY

    await dpytest.add_role(member, role)
    member = harness.guild.get_member(member.id) or member
    allowed = await harness.slash("notifications channel", member=member, channel=harness.channel)
    assert f"now go to #{harness.channel.name}" in allowed.text
    other = await harness.slash(
        "notifications history", member=member, options={"member": harness.member(0)}
    )
    assert other.first.embeds


async def test_only_organizers_set_the_channel_and_every_change_is_audited(
    harness: DiscordHarness,
) -> None:
    service = harness.services.notifications
    refused = await harness.slash(
        "notifications channel", member=harness.member(0), channel=harness.channel
    )
    assert refused.first.ephemeral and refused.first.content == ORGANIZERS_ONLY
    assert await service.fallback_channel(harness.guild.id) is None

    boss = await organizer(harness)
    await harness.slash("notifications channel", member=boss, channel=harness.channel)
    assert await service.fallback_channel(harness.guild.id) == harness.channel.id
    cleared = await harness.slash("notifications channel", member=boss)
    assert cleared.first.content.startswith("Cleared the fallback channel.")  # type: ignore[union-attr]
    assert await service.fallback_channel(harness.guild.id) is None

    entries = await harness.services.audit.entries("notifications.fallback_channel")
    assert [e.details["channel_id"] for e in entries] == [harness.channel.id, None]
    assert {e.guild_id for e in entries} == {harness.guild.id}


def test_the_readme_lists_every_type_with_its_code_and_default() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("## Notifications")[1].split("\n## ")[0]
    rows = [
        [cell.strip() for cell in line.strip("|").split("|")]
        for line in section.splitlines()
        if line.startswith("| 4")
    ]
    assert rows == [
        [str(k.info.code), k.info.label, k.info.why, "on" if k.info.default_on else "off"]
        for k in NotificationType
    ]


async def test_setting_a_channel_the_bot_cannot_post_in_warns(harness: DiscordHarness) -> None:
    no_sending = discord.Permissions(send_messages=True).value
    closed = dpytest_backend.make_text_channel(
        "read-only", harness.guild,
        # Discord's overwrite for a member (type 1): the bot may not send messages here.
        permission_overwrites=[
            {"id": harness.guild.me.id, "type": 1, "allow": "0", "deny": str(no_sending)}
        ],
    )
    result = await harness.slash(
        "notifications channel", member=await organizer(harness), channel=closed
    )
    assert result.first.content == (
        "Notifications a player's DMs refuse now go to #read-only, in a post that mentions "
        "them.\n⚠️ RaceDesk cannot post there yet: give it Send Messages and Embed Links "
        "in #read-only."
    )
