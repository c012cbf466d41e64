"""``/link-racetime`` and ``/unlink-racetime``: a player's racetime.gg account, and the DMs
that confirm a link or ask for it again.

The flow is ``core.accounts.linking``'s: this cog hands out the authorization button and
turns the link events into DMs, once per event (a receipt, and a nonce Discord dedupes by).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from cogs._shared.replies import reply
from core.accounts.linking import LinkService
from core.event_store.sent_once import SentOnce
from core.events import Event, RacetimeAccountLinkedEvent, RacetimeLinkNeedsReauthorizationEvent
from core.sending import nonce_for

if TYPE_CHECKING:
    from collections.abc import Callable

    from bot import RaceDeskBot

log = logging.getLogger(__name__)

RECEIPT = "link-dms"
EVENTS = (RacetimeAccountLinkedEvent, RacetimeLinkNeedsReauthorizationEvent)


def link_prompt(url: str, expires_at: int, current: str | None) -> tuple[discord.Embed,
                                                                          discord.ui.View]:
    embed = discord.Embed(
        title="🔗 Link your racetime.gg account",
        colour=discord.Colour.blurple(),
        description=(
            "Press the button, sign in to racetime.gg if asked and authorize RaceDesk "
            "(it can read your name; it cannot act for you). You will get a DM once linked.\n"
            f"The button works once and expires <t:{expires_at}:R>."
        ),
    )
    if current:
        embed.add_field(name="Linked now", value=f"`{current}`: linking again replaces it.")
    view = discord.ui.View()
    view.add_item(discord.ui.Button(label="Link on racetime.gg", url=url, emoji="🔗"))
    return embed, view


class LinkingCog(commands.Cog):
    def __init__(self, bot: RaceDeskBot, linking: LinkService) -> None:
        self._bot = bot
        self._linking = linking
        self._receipts = SentOnce(bot.services.sessionmaker, RECEIPT)
        self._unsubscribe: list[Callable[[], None]] = []

    async def cog_load(self) -> None:
        dispatcher = self._bot.services.dispatcher
        self._unsubscribe = [dispatcher.subscribe(kind, self.tell) for kind in EVENTS]

    async def cog_unload(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()

    @app_commands.command(name="link-racetime")
    async def link_racetime(self, interaction: discord.Interaction) -> None:
        """Link your racetime.gg account, so RaceDesk can invite you to race rooms."""
        start = await self._linking.start_link(interaction.user.id)
        current = await self._linking.link_of(interaction.user.id)
        embed, view = link_prompt(
            start.url, int(start.expires_at.timestamp()),
            current.racetime_name if current is not None else None,
        )
        await interaction.response.send_message(embed=embed, view=view, ephemeral=True)

    @app_commands.command(name="unlink-racetime")
    async def unlink_racetime(self, interaction: discord.Interaction) -> None:
        """Remove the link to your racetime.gg account (and RaceDesk's access to it)."""
        removed = await self._linking.unlink(interaction.user.id)
        await reply(
            interaction,
            f"Unlinked racetime.gg account `{removed.racetime_name}`. RaceDesk no longer "
            "invites you to race rooms; `/link-racetime` links an account again.",
        )

    async def tell(self, event: Event) -> None:
        """DM the player about their link, once per event."""
        if await self._receipts.done(event.event_id):
            return
        if isinstance(event, RacetimeAccountLinkedEvent):
            text = (
                f"✅ Your Discord account is now linked to racetime.gg as "
                f"`{event.racetime_name}`. RaceDesk will invite you to your match rooms."
            )
        elif isinstance(event, RacetimeLinkNeedsReauthorizationEvent):
            text = (
                "⚠️ racetime.gg no longer accepts RaceDesk's access to your account. Your "
                "link is kept, but run `/link-racetime` again to renew it."
            )
        else:
            return
        discord_id = event.discord_user_id
        try:
            channel = await self._bot.create_dm(discord.Object(id=discord_id))
            await channel.send(text, nonce=nonce_for(f"{RECEIPT}:{event.event_id}"))
        except (discord.Forbidden, discord.NotFound):
            log.info("Could not DM user %s about their racetime link", discord_id)
        await self._receipts.record(event.event_id)


async def setup(bot: RaceDeskBot) -> None:
    await bot.add_cog(LinkingCog(bot, bot.services.linking))
