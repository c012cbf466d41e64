"""A player racetime will not let into their match's room, as Discord shows it: the moderator's
/open-room reply, the player's DM, the organizers' staff channel and /match info all say what
is wrong and what to do; the other player's DM is the usual one. Against the fake racetime
server over real sockets: a room that requires streaming, a racer without Twitch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import discord
import discord.ext.test.backend as dpytest_backend

from cogs._shared.permissions import actor_of_user
from core.config import RacetimeSettings
from db.secrets import SecretBox
from fake_racetime import FakeRacetimeServer
from tests.plugins.discord_bot import running_harness


def titles(messages: list[discord.Message], channel: object) -> list[str]:
    return [m.embeds[0].title or "" for m in messages if m.channel == channel and m.embeds]


async def test_a_refused_invite_is_told_to_the_player_the_organizers_and_match_info(
    db_url: str, secret_box: SecretBox, fake_racetime: FakeRacetimeServer
) -> None:
    racetime = RacetimeSettings(host=fake_racetime.host, scheme="http")
    no_twitch = fake_racetime.add_user("NoTwitch")
    async with running_harness(
        db_url, secret_box, racetime, deliver_notifications=True
    ) as harness:
        services, guild = harness.services, harness.guild
        ada, bob = harness.member(0), harness.member(1)
        await harness.run_alttpr_bot({
            ada: (fake_racetime.seed.users["RacerOne"], "RacerOne#1234"),
            bob: (no_twitch, "NoTwitch#4321"),
        })
        staff = dpytest_backend.make_text_channel("staff", guild)
        organizer = await harness.member_with_permissions(2, manage_guild=True)
        await harness.slash("tournament create", member=organizer,
                            options={"name": "Winter Cup"}, category="alttpr",
                            staff_channel=staff)
        match = await services.matches.schedule(
            guild.id, "Winter Cup", [ada.id, bob.id],
            datetime.now(UTC).replace(microsecond=0) + timedelta(days=1), "Final",
            actor=actor_of_user(organizer),
        )
        await harness.notifications_settled()
        harness.sim.sent()  # the "match scheduled" DMs

        preview = await harness.slash("open-room", member=organizer, match=str(match.id))
        confirmed = await harness.press(preview.first, "Confirm", member=organizer)
        await harness.notifications_settled()

        said = confirmed.messages[-1].content or ""
        assert "Invited on racetime.gg: 1 player(s)." in said
        assert "racetime.gg would not let `NoTwitch#4321` in: “NoTwitch#" in said
        assert "connect Twitch on racetime.gg" in said

        sent = harness.sim.sent()
        to_ada = [m for m in sent if isinstance(m.channel, discord.DMChannel)
                  and m.channel.recipient == ada]
        to_bob = [m for m in sent if isinstance(m.channel, discord.DMChannel)
                  and m.channel.recipient == bob]
        assert [m.embeds[0].title for m in to_ada] == ["🚪 Match room opened"]
        assert [m.embeds[0].title for m in to_bob] == ["⚠️ Match room opened: you are not in"]
        wrong = {f.name: f.value for f in to_bob[0].embeds[0].fields}["What is wrong"]
        assert "is not allowed to join this race" in (wrong or "")
        assert "connect Twitch on racetime.gg" in (wrong or "")
        assert titles(sent, staff) == ["⚠️ Winter Cup · Final: a player is not in the room"]

        info = await harness.slash("match info", member=bob, match=str(match.id))
        fields = {f.name: f.value for f in info.first.embeds[0].fields}
        assert f"<@{bob.id}>: racetime.gg said “NoTwitch#" in fields["⚠️ Not let into the room"]
