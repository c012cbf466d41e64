"""How proposed match times look in Discord, and their Accept / Decline buttons.

The buttons are :class:`discord.ui.DynamicItem`s whose custom id names the proposal and the
answer (``proposal:12:accept``): they work after a restart, in a DM or in the fallback
channel, and whoever presses them is asked of the proposal service (the access policy: only
the players the proposal asks may answer). A proposal that is no longer open answers with
what became of it (replaced, withdrawn, agreed)."""

from __future__ import annotations

import logging
import re
from typing import Any, cast

import discord

from cogs._shared.discord_limits import EMBED_FIELD_VALUE_MAX, MESSAGE_CONTENT_MAX
from cogs._shared.fitting import Field, clip, embed_pages, fit_lines
from cogs._shared.permissions import actor_of
from cogs._shared.tree import answer_error
from core.container import Services
from core.times.parsing import show_time
from core.tournaments.match_info import MatchInfo
from core.tournaments.proposals import Overdue, ProposalInfo

log = logging.getLogger(__name__)

ANSWERS = {"accept": ("Accept", discord.ButtonStyle.success),
           "decline": ("Decline", discord.ButtonStyle.danger)}


def mentions(players: tuple[int, ...]) -> str:
    return fit_lines([f"<@{player}>" for player in players], 400, sep=", ") or "nobody"


def _match_line(proposal: ProposalInfo) -> str:
    round_ = f" · {proposal.round}" if proposal.round else ""
    return f"**{proposal.tournament}**{round_} · match #{proposal.match_id}: {proposal.title}"


def proposal_embed(proposal: ProposalInfo, *, note: str | None = None) -> discord.Embed:
    """The proposal as the asked players see it (in their DM), and after an answer."""
    embed = discord.Embed(
        title="🗓️ A time is proposed for your match",
        description=clip(_match_line(proposal), 1000),
        colour=discord.Colour.blurple(),
    )
    embed.add_field(name="When", value=show_time(proposal.proposed_at), inline=False)
    embed.add_field(name="Proposed by", value=f"<@{proposal.proposer}>")
    if proposal.accepted_by:
        embed.add_field(name="Accepted by", value=mentions(proposal.accepted_by))
    if proposal.waiting_for:
        embed.add_field(name="Waiting for", value=mentions(proposal.waiting_for))
    if note:
        embed.add_field(name="Now", value=clip(note, EMBED_FIELD_VALUE_MAX), inline=False)
    embed.set_footer(text=f"Proposal #{proposal.id} · times show in your own timezone")
    return embed


def answer_view(proposal_id: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for answer in ANSWERS:
        view.add_item(ProposalButton(proposal_id, answer))
    return view


def proposed_text(proposal: ProposalInfo, replaced: ProposalInfo | None) -> str:
    lines = [
        f"Proposed {show_time(proposal.proposed_at)} for match **#{proposal.match_id}** "
        f"({proposal.title}, {proposal.tournament}).",
        f"{mentions(proposal.asked)} get a DM to accept or decline it.",
    ]
    if proposal.needs_approval:
        lines.append("Once they accept, an organizer approves it.")
    if replaced is not None:
        lines.append(
            f"It replaces your earlier proposal ({show_time(replaced.proposed_at)})."
            if replaced.proposer == proposal.proposer
            else f"It replaces <@{replaced.proposer}>'s proposal "
            f"({show_time(replaced.proposed_at)})."
        )
    return fit_lines(lines, MESSAGE_CONTENT_MAX)


def accepted_note(proposal: ProposalInfo, scheduled: MatchInfo | None) -> str:
    if scheduled is not None:
        return f"Everyone accepted: match #{proposal.match_id} is set for this time."
    if proposal.awaiting_approval:
        return "Everyone accepted: it now waits for an organizer's approval."
    return f"You accepted. Still waiting for {mentions(proposal.waiting_for)}."


def declined_text(proposal: ProposalInfo, by: int) -> str:
    """The proposer's DM when a player declines."""
    return (
        f"<@{by}> declined your proposal of {show_time(proposal.proposed_at)} for match "
        f"#{proposal.match_id} ({proposal.title}, {proposal.tournament}). Propose another "
        "time with `/schedule propose`."
    )


def rejected_text(proposal: ProposalInfo, reason: str) -> str:
    """The proposer's DM when an organizer rejects an agreed time."""
    return fit_lines([
        f"An organizer rejected {show_time(proposal.proposed_at)} for match "
        f"#{proposal.match_id} ({proposal.title}, {proposal.tournament}): {reason}",
        "Agree on another time and propose it with `/schedule propose`.",
    ], MESSAGE_CONTENT_MAX)


def pending_pages(proposals: list[ProposalInfo], *, more: bool) -> list[discord.Embed]:
    def page() -> discord.Embed:
        embed = discord.Embed(title="⏳ Proposed times awaiting approval",
                              colour=discord.Colour.orange())
        if not proposals:
            embed.description = "None: every proposal players agreed on is decided."
        else:
            embed.set_footer(text=(
                "The soonest 25; approve or reject these to see more. " if more else ""
            ) + "/schedule approve or /schedule reject, by proposal number")
        return embed

    fields = [
        Field.of(
            f"Proposal #{p.id} · match #{p.match_id} · {p.title}"[:256],
            f"{p.tournament} · {show_time(p.proposed_at)}\n{mentions(p.players)}",
        )
        for p in proposals
    ]
    return embed_pages(page, fields, fields_per_page=10)


def overdue_pages(tournament: str, late: list[Overdue]) -> list[discord.Embed]:
    def page() -> discord.Embed:
        embed = discord.Embed(title=clip(f"⏰ Matches without a time past their deadline · "
                                         f"{tournament}", 256), colour=discord.Colour.red())
        if not late:
            embed.description = "None: every match past its round's deadline has a time."
        else:
            embed.set_footer(text="Set a time with /match reschedule, or move the deadline "
                             "with /tournament deadline")
        return embed

    fields = [
        Field.of(
            f"#{item.match.id} · {item.match.title}"[:256],
            f"{item.match.round} · deadline {show_time(item.deadline)}\n"
            + fit_lines([f"<@{p.discord_id}>" for p in item.match.players], 600, sep=" vs "),
        )
        for item in late
    ]
    return embed_pages(page, fields, fields_per_page=10)


class ProposalButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"proposal:(?P<id>[0-9]{1,18}):(?P<answer>accept|decline)",
):
    """Accept or Decline under a proposal; works as long as the proposal is open, after a
    restart too. The service says who may press it and why not."""

    def __init__(self, proposal_id: int, answer: str) -> None:
        label, style = ANSWERS[answer]
        super().__init__(discord.ui.Button(
            label=label, style=style, custom_id=f"proposal:{proposal_id}:{answer}",
        ))
        self.proposal_id = proposal_id
        self.answer = answer

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any],
        match: re.Match[str], /,
    ) -> ProposalButton:
        return cls(int(match["id"]), match["answer"])

    async def callback(self, interaction: discord.Interaction) -> None:
        services = cast(Services, getattr(interaction.client, "services"))  # noqa: B009
        proposals = services.proposals
        try:
            if self.answer == "accept":
                answered = await proposals.accept(self.proposal_id, actor=actor_of(interaction))
                shown = answered.proposal
                note = accepted_note(shown, answered.scheduled)
            else:
                shown = await proposals.decline(self.proposal_id, actor=actor_of(interaction))
                note = "You declined it; the proposer is told."
        except Exception as error:
            await answer_error(interaction, error)
            return
        await interaction.response.edit_message(
            embed=proposal_embed(shown, note=note), view=None
        )
