"""A bot owner adds a racetime category bot (its credentials through a form); admins see it
connected."""

from __future__ import annotations

from cogs._shared.racetime_bots.credentials_modal import CLIENT_ID_LABEL, CLIENT_SECRET_LABEL
from core.events import RacetimeBotStatusChangedEvent
from racetime.ports import BotHealth
from rehearsal.stage import Scene, Stage

# What the bot's status settles on: connected, or refused (which no retry soon will change).
SETTLED = (BotHealth.CONNECTED, BotHealth.AUTH_FAILED)


async def play(stage: Stage) -> None:
    cast = stage.cast
    async with stage.step(f"{cast.owner} (a bot owner) adds the {cast.category} category bot"):
        form = await stage.slash(
            cast.owner, "racetime bot add", category=cast.category, name="ALttPR Randomizer"
        )
        reply = await stage.submit(
            cast.owner, form,
            {CLIENT_ID_LABEL: cast.client_id, CLIENT_SECRET_LABEL: cast.client_secret},
            secret=(CLIENT_SECRET_LABEL,),
        )
        stage.expect_reply(reply, f"Added the `{cast.category}` bot")
    async with stage.step("the bot connects to racetime.gg"):
        settled = await stage.expect_event(
            RacetimeBotStatusChangedEvent,
            "the bot's status to become CONNECTED",
            lambda e: e.category == cast.category and e.new_status in SETTLED,
        )
        if settled.new_status != BotHealth.CONNECTED:
            raise stage.fail("the bot's status to become CONNECTED", settled.describe())
    async with stage.step(f"{cast.admin} (a server admin) sees it connected in /racetime status"):
        reply = await stage.slash(cast.admin, "racetime status")
        stage.expect_reply(reply, "Connected: 1")


SCENE = Scene("A bot owner adds a racetime category bot", play)
