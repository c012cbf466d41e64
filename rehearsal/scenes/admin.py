"""racetime bot administration: a bot whose credentials racetime refuses raises one alert in
the server's admin channel; the owner fixes them through the form, and the recovery is
announced."""

from __future__ import annotations

import secrets
from collections.abc import Callable

import discord

from cogs._shared.racetime_bots.credentials_modal import CLIENT_ID_LABEL, CLIENT_SECRET_LABEL
from rehearsal.stage import Scene, Stage

CATEGORY = "smz3"
CLIENT_ID = "racedesk-smz3"
ADMIN_CHANNEL = "racedesk-admin"


def post(title: str) -> Callable[[discord.Message], bool]:
    """A check: an embed titled ``title`` posted in the admin channel."""
    return lambda m: (
        getattr(m.channel, "name", None) == ADMIN_CHANNEL
        and bool(m.embeds) and m.embeds[0].title == title
    )


async def play(stage: Stage) -> None:
    cast = stage.cast
    secret = secrets.token_urlsafe(24)
    owner, admin = cast.owner, cast.admin
    async with stage.step(f"{admin} (a server admin) sends racetime alerts to #{ADMIN_CHANNEL}"):
        channel = stage.guild.add_text_channel(ADMIN_CHANNEL)
        reply = await stage.slash(admin, "racetime alerts channel", channel=channel)
        stage.expect_reply(reply, f"now go to #{ADMIN_CHANNEL}")

    async with stage.step(f"{owner} adds the {CATEGORY} bot with a mistyped secret: racetime.gg "
                          f"refuses it (Auth failed, with its reason); one alert in "
                          f"#{ADMIN_CHANNEL}"):
        await stage.racetime_acts(
            "racetime.gg", f"registers the {CATEGORY} category's bot",
            stage.racetime.add_bot(CATEGORY, CLIENT_ID, secret),
        )
        form = await stage.slash(owner, "racetime bot add", category=CATEGORY, name="SMZ3")
        reply = await stage.submit(
            owner, form, {CLIENT_ID_LABEL: CLIENT_ID, CLIENT_SECRET_LABEL: secret[:-1]},
            secret=(CLIENT_SECRET_LABEL,),
        )
        stage.expect_reply(reply, "refused its credentials")
        stage.expect_reply(reply, "invalid_client")
        await stage.expect_sent(f"an alert in #{ADMIN_CHANNEL}", post("racetime alert"))

    async with stage.step(f"{admin} sees it in /racetime bot list"):
        reply = await stage.slash(admin, "racetime bot list")
        stage.expect_reply(reply, "🔑 **Auth failed**")

    async with stage.step(f"{owner} fixes the credentials with /racetime bot edit: the recovery "
                          f"is announced in #{ADMIN_CHANNEL}, and nothing more"):
        form = await stage.slash(owner, "racetime bot edit", category=CATEGORY)
        reply = await stage.submit(
            owner, form, {CLIENT_ID_LABEL: CLIENT_ID, CLIENT_SECRET_LABEL: secret},
            secret=(CLIENT_SECRET_LABEL,),
        )
        stage.expect_reply(reply, "it is connected to racetime.gg")
        await stage.expect_sent("a recovery message", post("racetime recovered"))
        await stage.settle()
        if stage.unclaimed_sent(post("racetime alert")):
            raise stage.fail("no second alert", "another alert")
        if secret in str([m.embeds[0].description for m in stage.sent if m.embeds]):
            raise stage.fail("the secret nowhere", "the secret in a message")


SCENE = Scene("racetime bot administration: an alert, a fix, a recovery", play)
