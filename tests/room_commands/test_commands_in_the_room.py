"""Commands typed in a match's race room, answered by RaceDesk as each sender may: the access
policy decides on the sender's linked account (organizer by their Discord roles, entrant by
their racetime id among the room's entrants), never on their racetime name."""

from __future__ import annotations

import discord

from db.secrets import SecretBox
from fake_racetime import FakeRacetimeServer
from tests.room_commands.scene import TEMPLATE, match_room, settle


async def test_help_lists_what_each_sender_may_use(
    db_url: str, secret_box: SecretBox, fake_racetime: FakeRacetimeServer
) -> None:
    async with match_room(db_url, secret_box, fake_racetime) as scene:
        entrant = await scene.say("RacerOne", "!help")
        assert entrant.startswith("RacerOne: You can use !help")
        assert "!seed [preset]" in entrant and "!fpa [reason]" in entrant
        assert "!lock" not in entrant and "!breaks" not in entrant
        assert "Seed presets: standard, hard (default standard)." in entrant

        organizer = await scene.say("RacerThree", "!HELP")  # commands are case-blind
        assert "!lock" in organizer and "!breaks" in organizer and "!seed" in organizer
        assert "!fpa" not in organizer  # the organizer is not racing

        outsider = await scene.say("Walt", "!help")
        assert "!help" in outsider and "!match" in outsider
        assert "!seed" not in outsider and "!fpa" not in outsider

        unlinked = await scene.say("Stranger", "!help")
        assert unlinked == (
            "Stranger: Link your racetime.gg account to RaceDesk first: /link-racetime in the "
            "tournament's Discord server."
        )


async def test_match_describes_the_room_s_match(
    db_url: str, secret_box: SecretBox, fake_racetime: FakeRacetimeServer
) -> None:
    async with match_room(db_url, secret_box, fake_racetime) as scene:
        said = await scene.say("Walt", "!match")
        assert f"Winter Cup · Final (match #{scene.match_id}) · RacerOne#1234 vs RacerTwo#1234" \
            in said
        assert "Goal: " in said and "Seed: not rolled yet" in said

        assert "Only organizers can do this" in await scene.say("RacerOne", "!breaks off")
        assert "is not a duration" in await scene.say("RacerThree", "!breaks 5 every 2h")
        set_ = await scene.say("RacerThree", "!breaks 5m every 2h30")
        assert set_ == (
            "RacerThree: breaks set: 5m break every 2h30 of race time, announced here with a "
            "5-minute warning, from the race's start."
        )
        assert "Breaks: 5m break every 2h30 of race time" in await scene.say("Walt", "!match")
        info = await scene.harness.slash("match info", member=scene.ada,
                                         match=str(scene.match_id))
        fields = {f.name: f.value for f in info.first.embeds[0].fields}
        assert fields["Breaks"] == "5m break every 2h30 of race time"
        assert "breaks are off." in await scene.say("RacerThree", "!breaks off")
        audit = scene.harness.services.audit
        entries = await audit.entries("room.breaks")
        assert [e.details["breaks"] for e in entries] == [
            "5m break every 2h30 of race time", "off",
        ]
        assert {e.guild_id for e in entries} == {scene.harness.guild.id}


async def test_a_seed_is_rolled_once_locked_and_re_rolled_after_an_unlock(
    db_url: str, secret_box: SecretBox, fake_racetime: FakeRacetimeServer
) -> None:
    async with match_room(db_url, secret_box, fake_racetime) as scene:
        harness = scene.harness
        refused = await scene.say("Walt", "!seed")
        assert "Only the race's entrants and the tournament's organizers can roll" in refused

        rolled = await scene.say("RacerOne", "!seed hard")
        assert rolled.startswith("RacerOne: here is the seed (hard): https://seeds.example.org/hard/")
        seed_text = rolled.split(": ", 2)[2].split(";")[0]
        info_bot = fake_racetime.race(scene.slug).info_bot
        # The match's marker stays (it recognises the room); the seed comes under it.
        assert info_bot == f"RaceDesk match #{scene.match_id}\nSeed (hard): {seed_text}"

        again = await scene.say("RacerTwo", "!seed")
        assert f"The seed is already rolled: {seed_text}. An organizer can type !unlock" in again
        assert "Only organizers can do this" in await scene.say("RacerOne", "!unlock")

        await harness.notifications_settled()
        dms = [m for m in harness.sim.sent() if isinstance(m.channel, discord.DMChannel)]
        assert sorted(m.channel.recipient.id for m in dms) == sorted([scene.ada.id, scene.bob.id])
        assert all(m.embeds[0].title == "🚪 Match seed" for m in dms)
        assert all(seed_text in str(m.embeds[0].to_dict()) for m in dms)

        assert "the seed is unlocked" in await scene.say("RacerThree", "!unlock")
        rerolled = await scene.say("RacerTwo", "!seed")
        assert "here is the seed (standard): https://seeds.example.org/standard/" in rerolled
        # A roll locks the room again; an organizer can lock it before anyone rolls too.
        assert "the seed is locked already" in await scene.say("RacerThree", "!lock")
        assert "the seed is unlocked" in await scene.say("RacerThree", "!unlock")
        assert "the seed is locked: nobody can roll it" in await scene.say("RacerThree", "!lock")
        assert "The organizers locked this room's seed" not in await scene.say("RacerOne", "!help")
        locked = await scene.say("RacerOne", "!seed")
        assert "The seed is already rolled" in locked

        info = await harness.slash("match info", member=scene.bob, match=str(scene.match_id))
        fields = {f.name: f.value for f in info.first.embeds[0].fields}
        assert fields["Seed"] == rerolled.split(": ", 2)[2].split(";")[0]

        assert "the seed is unlocked" in await scene.say("RacerThree", "!unlock")
        await scene.under_way()
        assert "The race has started: its seed can no longer be rolled." in await scene.say(
            "RacerOne", "!seed"
        )
        assert TEMPLATE.startswith("https://seeds.example.org/")


async def test_fpa_tells_the_staff_and_flags_the_match_until_cleared(
    db_url: str, secret_box: SecretBox, fake_racetime: FakeRacetimeServer
) -> None:
    async with match_room(db_url, secret_box, fake_racetime) as scene:
        harness = scene.harness
        early = await scene.say("RacerOne", "!fpa")
        assert "the race is not running" in early
        # Non-entrants cannot chat during a race (racetime's rule); the policy says no anyway.
        assert "Only the race's entrants can call" in await scene.say("RacerThree", "!fpa")
        await scene.under_way()
        await fake_racetime.advance(125)
        said = await scene.say("RacerOne", "!fpa my game crashed")
        assert "fair-play agreement called at 0:02:" in said
        seen: list[discord.Message] = []

        def posted() -> bool:
            seen.extend(harness.sim.sent())
            return any(m.channel == scene.staff for m in seen)

        await settle(scene, posted)
        [post] = [m for m in seen if m.channel == scene.staff]
        embed = post.embeds[0]
        assert embed.title == "⚖️ Winter Cup · Final: fair-play call"
        text = embed.description or ""
        assert "RacerOne" in text and f"<@{scene.ada.id}>" in text
        assert "Reason: my game crashed" in text and "/match fpa-clear" in text
        assert f"/alttpr/{scene.slug}" in text

        info = await harness.slash("match info", member=scene.olga, match=str(scene.match_id))
        fields = {f.name: f.value for f in info.first.embeds[0].fields}
        review = fields["⚖️ Under review (fair-play agreement)"] or ""
        assert "FPA by RacerOne at 0:02:" in review and "my game crashed (under review)" in review

        refused = await harness.slash("match fpa-clear", member=scene.bob,
                                      match=str(scene.match_id))
        assert "Only organizers can do this" in (refused.first.content or "")
        cleared = await harness.slash("match fpa-clear", member=scene.olga,
                                      match=str(scene.match_id))
        assert cleared.first.content == f"Cleared 1 fair-play call of match #{scene.match_id}."
        info = await harness.slash("match info", member=scene.olga, match=str(scene.match_id))
        names = [f.name for f in info.first.embeds[0].fields]
        assert "Fair-play calls (cleared)" in names


async def test_the_pinned_roll_seed_button_rolls_like_seed(
    db_url: str, secret_box: SecretBox, fake_racetime: FakeRacetimeServer
) -> None:
    async with match_room(db_url, secret_box, fake_racetime) as scene:
        [button] = [m for m in scene.bot_messages() if m.actions]
        assert button.pinned and list(button.actions) == ["Roll seed"]
        before = len(scene.bot_messages())
        racer = fake_racetime.racer(scene.slug, scene.racetime_id("RacerTwo"))
        clicked = await racer.click(button.id, "Roll seed", {"preset": "hard"})
        assert clicked.message == "!seed hard"
        await settle(scene, lambda: len(scene.bot_messages()) > before)
        said = scene.bot_messages()[before].message
        assert said.startswith("RacerTwo: here is the seed (hard): https://seeds.example.org/hard/")


async def test_an_fpa_reason_pings_nobody_in_the_staff_channel(
    db_url: str, secret_box: SecretBox, fake_racetime: FakeRacetimeServer
) -> None:
    async with match_room(db_url, secret_box, fake_racetime) as scene:
        harness = scene.harness
        await scene.under_way()
        await scene.say("RacerOne", f"!fpa   @everyone   <@{scene.olga.id}>\tlook")
        seen: list[discord.Message] = []

        def posted() -> bool:
            seen.extend(harness.sim.sent())
            return any(m.channel == scene.staff for m in seen)

        await settle(scene, posted)
        [post] = [m for m in seen if m.channel == scene.staff]
        text = post.embeds[0].description or ""
        assert f"Reason: @\u200beveryone <@\u200b{scene.olga.id}> look" in text
