"""A tournament's matches as Discord scheduled events (opt-in: ``/tournament settings
discord_events:True``). No commands: it listens to the match events and makes the match's
Discord event what ``core.tournaments.discord_events`` plans, once per event (a receipt, and
the event's id kept per match, so a repeat edits rather than duplicates).

Discord failures: without Manage Events (403) the organizers are told once in the staff
channel and the event is left; a refusal of what RaceDesk sent (400) is logged, not retried;
anything else (5xx, a dropped connection) is raised, and the dispatcher tries again.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord.ext import commands

from core.events import Event
from core.sending import nonce_for
from core.tournaments.discord_events import (
    EVENTS,
    DiscordEventPhase,
    DiscordEventService,
    EventPlan,
    Step,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from bot import RaceDeskBot

log = logging.getLogger(__name__)

ACTIVE = (discord.EventStatus.scheduled, discord.EventStatus.active)
NO_PERMISSION_NOTE = (
    "⚠️ RaceDesk could not put {match} on the server's events: it needs the **Manage Events** "
    "permission. Give it that permission (Server Settings → Roles), or turn Discord events off "
    "with `/tournament settings discord_events:False`."
)


class DiscordEventsCog(commands.Cog):
    def __init__(self, bot: RaceDeskBot, events: DiscordEventService) -> None:
        self._bot = bot
        self._events = events
        self._unsubscribe: list[Callable[[], None]] = []
        self._told_forbidden: set[int] = set()  # servers whose organizers were told

    async def cog_load(self) -> None:
        dispatcher = self._bot.services.dispatcher
        self._unsubscribe = [dispatcher.subscribe(kind, self.on_match_event) for kind in EVENTS]

    async def cog_unload(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []

    async def on_match_event(self, event: Event) -> None:
        """Bring the match's Discord event to what the match is now, once per event."""
        if await self._events.done(event.event_id):
            return
        plan = await self._events.plan(event)
        if plan is not None:
            await self.apply(plan)
        await self._events.mark_done(event.event_id)

    async def apply(self, plan: EventPlan) -> None:
        guild = self._bot.get_guild(plan.guild_id)
        if guild is None:
            log.warning("Discord event for match #%s: the bot is not in server %s",
                        plan.match_id, plan.guild_id)
            return
        try:
            if plan.step is Step.CREATE or plan.discord_event_id is None:
                await self._create(guild, plan)
                return
            try:
                found = await guild.fetch_scheduled_event(plan.discord_event_id, with_counts=False)
            except discord.NotFound:
                log.info("Match #%s's Discord event %s was deleted in Discord; left so",
                         plan.match_id, plan.discord_event_id)
                await self._events.remember(plan, plan.discord_event_id,
                                            DiscordEventPhase.CANCELLED)
                return
            await self._change(found, plan)
        except discord.Forbidden:
            await self._forbidden(plan)
        except discord.HTTPException as error:
            if error.status >= 500:
                raise  # Discord's trouble: the dispatcher tries again
            log.error("Discord refused match #%s's event (%s): %s",
                      plan.match_id, plan.step, error)

    async def _create(self, guild: discord.Guild, plan: EventPlan) -> None:
        found = await self._made_before(guild, plan)
        if found is not None:  # made before a crash, its id never kept
            await self._events.remember(plan, found.id, DiscordEventPhase.SCHEDULED)
            await self._change(found, plan)
            return
        wanted = plan.desired
        made = await guild.create_scheduled_event(
            name=wanted.name, description=wanted.description, start_time=wanted.start,
            end_time=wanted.end, location=wanted.location,
            entity_type=discord.EntityType.external,
            privacy_level=discord.PrivacyLevel.guild_only,
            reason=f"RaceDesk: match #{plan.match_id} scheduled",
        )
        await self._events.remember(plan, made.id, DiscordEventPhase.SCHEDULED)

    async def _made_before(
        self, guild: discord.Guild, plan: EventPlan
    ) -> discord.ScheduledEvent | None:
        me = self._bot.user
        for event in await guild.fetch_scheduled_events(with_counts=False):
            if (
                me is not None and event.creator_id == me.id and event.status in ACTIVE
                and (event.description or "").endswith(plan.marker)
            ):
                return event
        return None

    async def _change(self, found: discord.ScheduledEvent, plan: EventPlan) -> None:
        """Make ``found`` what ``plan`` says, as far as Discord lets its status go."""
        if found.status not in ACTIVE:  # finished in Discord by someone: left so
            phase = (
                DiscordEventPhase.ENDED if found.status is discord.EventStatus.ended
                else DiscordEventPhase.CANCELLED
            )
            await self._events.remember(plan, found.id, phase)
            return
        reason = f"RaceDesk: match #{plan.match_id} {plan.step.value}"
        if plan.step in (Step.CREATE, Step.UPDATE):
            await self._update(found, plan, reason)
            return
        if plan.step is Step.CANCEL and found.status is discord.EventStatus.scheduled:
            await found.cancel(reason=reason)
            await self._events.remember(plan, found.id, DiscordEventPhase.CANCELLED)
            return
        if found.status is discord.EventStatus.scheduled:
            found = await found.start(reason=reason)  # Discord ends only an active event
        await found.end(reason=reason)
        phase = DiscordEventPhase.ENDED if plan.step is Step.END else DiscordEventPhase.CANCELLED
        await self._events.remember(plan, found.id, phase)

    async def _update(self, found: discord.ScheduledEvent, plan: EventPlan, reason: str) -> None:
        wanted = plan.desired
        if found.status is discord.EventStatus.scheduled and plan.start_editable:
            await found.edit(
                name=wanted.name, description=wanted.description, location=wanted.location,
                start_time=wanted.start, end_time=wanted.end, reason=reason,
            )
        else:  # under way, or its start passed: Discord takes no start in the past
            await found.edit(name=wanted.name, description=wanted.description,
                             location=wanted.location, reason=reason)

    async def _forbidden(self, plan: EventPlan) -> None:
        """No Manage Events: logged, and the organizers told, once per server and run."""
        if plan.guild_id in self._told_forbidden:
            return
        self._told_forbidden.add(plan.guild_id)
        log.warning("No Manage Events permission in server %s: match #%s has no Discord event",
                    plan.guild_id, plan.match_id)
        if plan.staff_channel_id is None:
            return
        channel = self._bot.get_channel(plan.staff_channel_id)
        if not isinstance(channel, discord.abc.Messageable):
            return
        try:
            await channel.send(
                NO_PERMISSION_NOTE.format(match=f"match #{plan.match_id}"),
                nonce=nonce_for(f"discord-events:forbidden:{plan.guild_id}:{plan.match_id}"),
                allowed_mentions=discord.AllowedMentions.none(),
            )
        except discord.HTTPException as error:
            log.warning("Could not tell server %s's organizers: %s", plan.guild_id, error)


async def setup(bot: RaceDeskBot) -> None:
    await bot.add_cog(DiscordEventsCog(bot, bot.services.discord_events))
