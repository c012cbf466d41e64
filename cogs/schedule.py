"""``/schedule``: players propose a time for their own match and the others answer with the
buttons of a DM; organizers approve what players agreed on (where the tournament asks for it)
and see the matches still without a time after their round's deadline.

The rules live in ``core.tournaments.proposals``; this cog parses, renders, and turns the
proposal events into DMs, once per event and player (a receipt, and a nonce Discord dedupes
by). A DM the player does not accept goes to the server's fallback channel, as notifications
do; when there is none, the proposer is told that player was not reached.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from cogs._shared.choices import choices
from cogs._shared.pages import embed_pages_of, send_pages
from cogs._shared.permissions import ServerOnly, actor_of, requires
from cogs._shared.replies import reply
from cogs._shared.time_option import WHEN_HELP, When
from cogs._shared.tournaments.choices import TournamentChoices, tournament_choices
from cogs._shared.tournaments.match_embeds import when_text
from cogs._shared.tournaments.proposals import (
    ProposalButton,
    answer_view,
    declined_text,
    overdue_pages,
    pending_pages,
    proposal_embed,
    proposed_text,
    rejected_text,
)
from core.access import AccessPolicy, Permission
from core.event_store.sent_once import SentOnce
from core.events import (
    Event,
    MatchProposalDeclinedEvent,
    MatchProposalRejectedEvent,
    MatchTimeProposedEvent,
)
from core.sending import nonce_for
from core.times.parsing import show_time
from core.tournaments.matches import MatchService, match_id_from
from core.tournaments.proposals import ProposalService, ProposalState
from core.tournaments.tournaments import TournamentService

if TYPE_CHECKING:
    from collections.abc import Callable

    from bot import RaceDeskBot

log = logging.getLogger(__name__)

RECEIPT = "proposal-dms"
EVENTS = (MatchTimeProposedEvent, MatchProposalDeclinedEvent, MatchProposalRejectedEvent)
MATCH_HELP = "Your match: pick one from the suggestions, or give its number"
NOT_BY_DM = "{player}, I could not send you this by DM:"


@app_commands.guild_only()
class ScheduleCog(TournamentChoices, ServerOnly, commands.GroupCog, group_name="schedule"):
    """Players agree on their match's time; organizers approve and follow deadlines."""

    def __init__(
        self,
        bot: RaceDeskBot,
        proposals: ProposalService,
        matches: MatchService,
        tournaments: TournamentService,
        access: AccessPolicy,
    ) -> None:
        self._bot = bot
        self._proposals = proposals
        self._matches = matches
        self.access = access
        self.tournament_names = tournaments
        self._receipts = SentOnce(bot.services.sessionmaker, RECEIPT)
        self._unsubscribe: list[Callable[[], None]] = []
        super().__init__()

    async def cog_load(self) -> None:
        self._bot.add_dynamic_items(ProposalButton)
        dispatcher = self._bot.services.dispatcher
        self._unsubscribe = [dispatcher.subscribe(kind, self.tell) for kind in EVENTS]

    async def cog_unload(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []
        self._bot.remove_dynamic_items(ProposalButton)

    async def match_choices(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """Matches still to be played that have no room yet."""
        if interaction.guild_id is None:
            return []
        found = await self._matches.suggest(
            interaction.guild_id, current, open_only=True, without_room=True, active_only=True
        )
        return choices((label, str(match_id)) for match_id, label in found)

    # -- players -----------------------------------------------------------------------------

    @app_commands.command(name="propose")
    @app_commands.describe(match=MATCH_HELP, when=WHEN_HELP)
    async def propose(self, interaction: discord.Interaction, match: str, when: When) -> None:
        """Propose a time for your match; the other players accept or decline it by DM."""
        assert interaction.guild_id is not None
        proposal, replaced = await self._proposals.propose(
            interaction.guild_id, match_id_from(match), when, actor=actor_of(interaction)
        )
        await reply(interaction, proposed_text(proposal, replaced))

    propose.autocomplete("match")(match_choices)

    @app_commands.command(name="withdraw")
    @app_commands.describe(match=MATCH_HELP)
    async def withdraw(self, interaction: discord.Interaction, match: str) -> None:
        """Withdraw the time you proposed for your match."""
        assert interaction.guild_id is not None
        withdrawn = await self._proposals.withdraw(
            interaction.guild_id, match_id_from(match), actor=actor_of(interaction)
        )
        await reply(
            interaction,
            f"Withdrew your proposal of {show_time(withdrawn.proposed_at)} for match "
            f"#{withdrawn.match_id}; its buttons no longer work.",
        )

    withdraw.autocomplete("match")(match_choices)

    # -- organizers --------------------------------------------------------------------------

    @requires(Permission.MANAGE_TOURNAMENTS)
    @app_commands.command(name="pending")
    @app_commands.describe(tournament="Only this tournament's proposals (default: all)")
    async def pending(
        self, interaction: discord.Interaction, tournament: str | None = None
    ) -> None:
        """List the times players agreed on that wait for an organizer's approval."""
        assert interaction.guild_id is not None
        found, more = await self._proposals.pending(
            interaction.guild_id, tournament, actor=actor_of(interaction)
        )
        await send_pages(interaction, embed_pages_of(pending_pages(found, more=more)))

    pending.autocomplete("tournament")(tournament_choices)

    @requires(Permission.MANAGE_TOURNAMENTS)
    @app_commands.command(name="approve")
    @app_commands.describe(proposal="The proposal's number (/schedule pending lists them)")
    async def approve(
        self, interaction: discord.Interaction, proposal: app_commands.Range[int, 1]
    ) -> None:
        """Approve a time the players agreed on: the match is set for it."""
        assert interaction.guild_id is not None
        _, match = await self._proposals.approve(
            interaction.guild_id, proposal, actor=actor_of(interaction)
        )
        await reply(
            interaction,
            f"Approved: match **#{match.id}** ({match.title}, {match.tournament}) is set for "
            f"{when_text(match)}. The players are told by DM.",
        )

    @requires(Permission.MANAGE_TOURNAMENTS)
    @app_commands.command(name="reject")
    @app_commands.describe(
        proposal="The proposal's number (/schedule pending lists them)",
        reason="Why; the proposer is told",
    )
    async def reject(
        self, interaction: discord.Interaction, proposal: app_commands.Range[int, 1],
        reason: str,
    ) -> None:
        """Reject a time the players agreed on; the proposer is told why."""
        assert interaction.guild_id is not None
        rejected = await self._proposals.reject(
            interaction.guild_id, proposal, reason, actor=actor_of(interaction)
        )
        await reply(
            interaction,
            f"Rejected proposal #{rejected.id} ({show_time(rejected.proposed_at)} for match "
            f"#{rejected.match_id}); <@{rejected.proposer}> is told why.",
        )

    @requires(Permission.MANAGE_TOURNAMENTS)
    @app_commands.command(name="overdue")
    @app_commands.describe(tournament="The tournament whose deadlines to check")
    async def overdue(self, interaction: discord.Interaction, tournament: str) -> None:
        """List the matches still without a time after their round's deadline."""
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True, thinking=True)
        late = await self._proposals.overdue(
            interaction.guild_id, tournament, actor=actor_of(interaction)
        )
        await send_pages(interaction, embed_pages_of(overdue_pages(tournament, late)))

    overdue.autocomplete("tournament")(tournament_choices)

    # -- the DMs -----------------------------------------------------------------------------

    async def tell(self, event: Event) -> None:
        """DM what a proposal's step calls for, once per event and player."""
        if isinstance(event, MatchTimeProposedEvent):
            proposal = await self._proposals.get(event.proposal_id)
            if proposal.state is not ProposalState.OPEN:
                return  # withdrawn or replaced before the DMs went out: nothing to ask
            for player in event.ask:
                await self._once(
                    event, player, proposal.guild_id,
                    embed=proposal_embed(proposal), view=answer_view(proposal.id),
                    proposer=proposal.proposer,
                )
        elif isinstance(event, MatchProposalDeclinedEvent):
            proposal = await self._proposals.get(event.proposal_id)
            await self._once(event, event.proposer_discord_id, proposal.guild_id,
                             content=declined_text(proposal, event.actor_discord_id))
        elif isinstance(event, MatchProposalRejectedEvent):
            proposal = await self._proposals.get(event.proposal_id)
            await self._once(event, event.proposer_discord_id, proposal.guild_id,
                             content=rejected_text(proposal, event.reason))

    async def _once(
        self, event: Event, player: int, guild_id: int, *,
        content: str | None = None, embed: discord.Embed | None = None,
        view: discord.ui.View | None = None, proposer: int | None = None,
    ) -> None:
        key = f"{event.event_id}:{player}"
        if await self._receipts.done(key):
            return
        nonce = nonce_for(f"{RECEIPT}:{key}")
        sent = await self._send(player, content, embed, view, nonce)
        if not sent:
            sent = await self._fall_back(guild_id, player, content, embed, view, nonce)
        if not sent and proposer is not None:
            await self._send(
                proposer,
                f"I could not reach <@{player}> by DM (they do not accept DMs from the bot) "
                "and this server has no fallback channel, so they have not seen your "
                "proposal. Tell them, or ask an organizer to set the time.",
                None, None, nonce_for(f"{RECEIPT}:unreached:{key}"),
            )
        await self._receipts.record(key)

    async def _send(
        self, user_id: int, content: str | None, embed: discord.Embed | None,
        view: discord.ui.View | None, nonce: str,
    ) -> bool:
        """DM ``user_id``; False when Discord refuses (DMs closed, unknown user). Other
        failures are raised: the dispatcher tries again, the nonce keeps the DM single."""
        try:
            channel = await self._bot.create_dm(discord.Object(id=user_id))
            await channel.send(**_message(content, embed, view), nonce=nonce)
        except (discord.Forbidden, discord.NotFound):
            log.info("Could not DM user %s about a match time proposal", user_id)
            return False
        return True

    async def _fall_back(
        self, guild_id: int, player: int, content: str | None, embed: discord.Embed | None,
        view: discord.ui.View | None, nonce: str,
    ) -> bool:
        channel_id = await self._bot.services.notifications.fallback_channel(guild_id)
        if channel_id is None:
            return False
        try:
            channel = self._bot.get_channel(channel_id) or await self._bot.fetch_channel(
                channel_id
            )
            if not isinstance(channel, discord.abc.Messageable):
                return False
            text = NOT_BY_DM.format(player=f"<@{player}>")
            await channel.send(
                **_message(f"{text}\n{content}" if content else text, embed, view),
                nonce=nonce_for(f"fallback:{nonce}"),
                allowed_mentions=discord.AllowedMentions(users=True, roles=False,
                                                         everyone=False),
            )
        except (discord.Forbidden, discord.NotFound):
            log.warning("Could not post a proposal in fallback channel %s", channel_id)
            return False
        return True


def _message(
    content: str | None, embed: discord.Embed | None, view: discord.ui.View | None
) -> dict[str, Any]:
    """``send``'s arguments: discord.py's overloads take no ``None`` for a view or embed."""
    given = {"content": content, "embed": embed, "view": view}
    return {key: value for key, value in given.items() if value is not None}


async def setup(bot: RaceDeskBot) -> None:
    services = bot.services
    await bot.add_cog(ScheduleCog(
        bot, services.proposals, services.matches, services.tournaments, services.access
    ))
