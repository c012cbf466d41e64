"""``/notifications``: players choose what RaceDesk DMs them and see what it delivered;
organizers choose where refused DMs go.

The rules (defaults, the outbox, delivery) live in ``core.notifications.service``; this cog
parses, checks and renders.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from cogs._shared.choices import choices
from cogs._shared.discord_limits import BUTTONS_PER_ROW_MAX, EMBED_TITLE_MAX
from cogs._shared.fitting import Field, clip, embed_pages
from cogs._shared.notifications.embeds import STYLES, discord_time
from cogs._shared.pages import embed_pages_of, send_pages
from cogs._shared.permissions import ServerOnly, actor_of, requires
from cogs._shared.replies import reply
from cogs._shared.tree import APOLOGY
from core.access import AccessPolicy, Permission
from core.errors import PermissionDeniedError, UserFacingError
from core.notifications.kinds import NotificationType
from core.notifications.service import Delivery, NotificationService, Preference

if TYPE_CHECKING:
    from bot import RaceDeskBot

log = logging.getLogger(__name__)

SETTINGS_TIMEOUT_SECONDS = 300.0  # well inside the 15 minutes an interaction can be edited
ON, OFF = "🔔", "🔕"
STATE_ICONS = {
    "sent": "✅",
    "fell back to channel": "↪️",
    "failed": "❌",
    "retrying": "🔁",
    "waiting": "⏳",
    "sending": "📤",
}


def parse_type(text: str) -> NotificationType:
    """A type from what a player typed; an unknown one lists the choices."""
    try:
        return NotificationType.parse(text)
    except ValueError as error:
        raise UserFacingError(str(error)) from None


def type_title(kind: NotificationType) -> str:
    return f"**{kind.info.label}** (`{kind.info.code}`)"


def state_text(preference: Preference) -> str:
    state = "on" if preference.enabled else "off"
    return f"{state} (default)" if preference.is_default else state


# -- the settings panel ------------------------------------------------------------------------


def settings_embed(
    guild: discord.Guild, preferences: list[Preference], footer: str
) -> discord.Embed:
    embed = discord.Embed(
        title=f"🔔 Your notifications in {guild.name}",
        colour=discord.Colour.blurple(),
        description=(
            "RaceDesk DMs you when one of these happens. Press a button to turn a type on or "
            "off; “default” means you have not chosen, so the type's default applies."
        ),
    )
    groups = {"Matches": "MATCH_", "Live races": "LIVE_RACE_"}
    for name, prefix in groups.items():
        lines = [
            f"{ON if p.enabled else OFF} {type_title(p.type)}: {state_text(p)}, "
            f"when {p.type.info.why}"
            for p in preferences
            if p.type.value.startswith(prefix)
        ]
        embed.add_field(name=name, value="\n".join(lines), inline=False)
    embed.set_footer(text=footer)
    return embed


class ToggleButton(discord.ui.Button["SettingsPanel"]):
    def __init__(self, kind: NotificationType, row: int) -> None:
        super().__init__(label=kind.info.label, row=row)
        self.kind = kind

    def show(self, enabled: bool) -> None:
        self.emoji = ON if enabled else OFF
        self.style = discord.ButtonStyle.success if enabled else discord.ButtonStyle.secondary

    async def callback(self, interaction: discord.Interaction) -> None:
        assert self.view is not None
        await self.view.toggle(interaction, self.kind)


class SettingsPanel(discord.ui.View):
    """One player's types as buttons; only they may press it, and it closes on timeout."""

    def __init__(
        self,
        notifications: NotificationService,
        opened: discord.Interaction,
        preferences: list[Preference],
        *,
        timeout: float,
    ) -> None:
        super().__init__(timeout=timeout)
        assert opened.guild is not None
        self._notifications = notifications
        self._opened = opened  # its token edits the panel when it closes
        self._owner = opened.user
        self._guild = opened.guild
        self._buttons: dict[NotificationType, ToggleButton] = {}
        for index, kind in enumerate(NotificationType):
            button = ToggleButton(kind, row=index // BUTTONS_PER_ROW_MAX)
            self._buttons[kind] = button
            self.add_item(button)
        self._preferences = preferences
        self._show()

    def embed(self, *, closed: bool = False) -> discord.Embed:
        if closed:
            footer = "This panel has closed. /notifications settings opens a new one."
        else:
            minutes = max(1, round((self.timeout or 0) / 60))
            footer = (
                "Only you can see and press this panel; "
                f"it closes after {minutes} minute{'s' if minutes != 1 else ''} unused."
            )
        return settings_embed(self._guild, self._preferences, footer)

    def _show(self) -> None:
        for preference in self._preferences:
            self._buttons[preference.type].show(preference.enabled)

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if interaction.user.id == self._owner.id:
            return True
        await interaction.response.send_message(
            f"This panel is {self._owner.display_name}'s. "
            "`/notifications settings` opens your own.",
            ephemeral=True,
        )
        return False

    async def toggle(self, interaction: discord.Interaction, kind: NotificationType) -> None:
        current = next(p for p in self._preferences if p.type is kind)
        await self._notifications.set_preference(
            self._owner.id, self._guild.id, kind, not current.enabled
        )
        self._preferences = await self._notifications.preferences(self._owner.id, self._guild.id)
        self._show()
        await interaction.response.edit_message(embed=self.embed(), view=self)

    async def on_timeout(self) -> None:
        for button in self._buttons.values():
            button.disabled = True
        try:
            await self._opened.edit_original_response(embed=self.embed(closed=True), view=self)
        except discord.HTTPException:
            log.debug("Could not close the notification settings panel of %s", self._owner.id)

    async def on_error(
        self, interaction: discord.Interaction, error: Exception, item: discord.ui.Item[Any], /
    ) -> None:
        if isinstance(error, UserFacingError):
            message = error.message
        else:
            log.error(
                "Notification settings button failed for user %s in guild %s",
                interaction.user.id, interaction.guild_id, exc_info=error,
            )
            message = APOLOGY
        try:
            await reply(interaction, message, ephemeral=True)
        except discord.HTTPException:
            log.warning("Could not tell user %s that a button failed", interaction.user.id)


# -- history -----------------------------------------------------------------------------------


def delivery_field(delivery: Delivery, *, with_recipient: bool = False) -> Field:
    """One delivery as an embed field: what it was, then what became of it and when."""
    kind = delivery.type
    emoji = STYLES[kind.info.style][0] if kind is not None else "🔔"
    title = kind.info.label if kind is not None else delivery.event_type
    about = " · ".join(p for p in (delivery.content.tournament, delivery.content.subject) if p)
    name = f"{emoji} {title}" + (f" · {about}" if about else "")
    icon = STATE_ICONS.get(delivery.state, "•")
    state = delivery.state.capitalize()
    if delivery.sent_at is not None:
        value = f"{icon} {state} {discord_time(int(delivery.sent_at.timestamp()))}"
    else:
        value = f"{icon} {state} (queued {discord_time(int(delivery.queued_at.timestamp()))})"
    if delivery.error:
        value += f"\n{delivery.error}"
    if with_recipient and delivery.discord_user_id is not None:
        value = f"To <@{delivery.discord_user_id}>: {value}"
    return Field.of(name, value)


def history_pages(
    member: discord.abc.User, guild: discord.Guild, deliveries: list[Delivery], *, own: bool
) -> list[discord.Embed]:
    def page() -> discord.Embed:
        embed = discord.Embed(
            title=clip(f"🔔 Notifications for {member.display_name} in {guild.name}",
                       EMBED_TITLE_MAX),
            colour=discord.Colour.blurple(),
        )
        if not deliveries:
            whom = "you" if own else member.display_name
            embed.description = f"Nothing yet: RaceDesk has not notified {whom} in this server."
        else:
            embed.set_footer(text=f"The last {len(deliveries)}, newest first.")
        return embed

    return embed_pages(page, [delivery_field(delivery) for delivery in deliveries])


def troubles_pages(guild: discord.Guild, deliveries: list[Delivery]) -> list[discord.Embed]:
    def page() -> discord.Embed:
        embed = discord.Embed(
            title=clip(f"🔔 Notifications that did not arrive by DM in {guild.name}",
                       EMBED_TITLE_MAX),
            colour=discord.Colour.orange() if deliveries else discord.Colour.green(),
        )
        if not deliveries:
            embed.description = "None: every notification here was delivered by DM."
        else:
            embed.set_footer(
                text=f"The last {len(deliveries)}, newest first. "
                "/notifications history member: shows one player's."
            )
        return embed

    fields = [delivery_field(delivery, with_recipient=True) for delivery in deliveries]
    return embed_pages(page, fields)


# -- the cog -----------------------------------------------------------------------------------


@app_commands.guild_only()
class NotificationsCog(ServerOnly, commands.GroupCog, group_name="notifications"):
    """Your RaceDesk notifications in this server."""

    def __init__(
        self,
        notifications: NotificationService,
        access: AccessPolicy,
        *,
        settings_timeout: float = SETTINGS_TIMEOUT_SECONDS,
    ) -> None:
        self._notifications = notifications
        self.access = access
        self.settings_timeout = settings_timeout
        super().__init__()


    @app_commands.command(name="settings")
    @app_commands.describe(
        type="A notification type: its name, label or code, e.g. 417",
        enabled="On (True) or off (False); leave out both options to see every type",
    )
    async def settings(
        self,
        interaction: discord.Interaction,
        type: str | None = None,
        enabled: bool | None = None,
    ) -> None:
        """Choose which notifications RaceDesk DMs you in this server."""
        assert interaction.guild is not None
        user, guild = interaction.user, interaction.guild
        if type is None:
            if enabled is not None:
                raise UserFacingError(
                    "Name the type to turn on or off too, e.g. "
                    "`/notifications settings type:417 enabled:False`; "
                    "or leave out both options to see every type."
                )
            preferences = await self._notifications.preferences(user.id, guild.id)
            panel = SettingsPanel(
                self._notifications, interaction, preferences, timeout=self.settings_timeout
            )
            await interaction.response.send_message(
                embed=panel.embed(), view=panel, ephemeral=True
            )
            return
        kind = parse_type(type)
        if enabled is None:
            current = next(
                p for p in await self._notifications.preferences(user.id, guild.id)
                if p.type is kind
            )
            await reply(
                interaction,
                f"{type_title(kind)} is {state_text(current)} for you in {guild.name}: "
                f"a DM when {kind.info.why}. To change it: "
                f"`/notifications settings type:{kind.info.code} "
                f"enabled:{not current.enabled}`.",
            )
            return
        await self._notifications.set_preference(user.id, guild.id, kind, enabled)
        change = "You will get a DM" if enabled else "You will no longer get a DM"
        await reply(
            interaction,
            f"{ON if enabled else OFF} Turned {type_title(kind)} {'on' if enabled else 'off'} "
            f"for you in {guild.name}. {change} when {kind.info.why}.",
        )

    @settings.autocomplete("type")
    async def type_choices(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        typed = current.strip().lower()
        return choices(
            (f"{kind.info.label} ({kind.info.code})", kind.value)
            for kind in NotificationType
            if not typed
            or typed in kind.info.label.lower()
            or typed in kind.value.lower()
            or str(kind.info.code).startswith(typed)
        )

    @app_commands.command(name="history")
    @app_commands.describe(
        member="Organizers: whose deliveries to show, e.g. to see why their DMs failed"
    )
    async def history(
        self,
        interaction: discord.Interaction,
        member: discord.Member | discord.User | None = None,
    ) -> None:
        """Show your last notifications and what became of each (sent, fell back, failed)."""
        assert interaction.guild is not None
        guild = interaction.guild
        whom = member or interaction.user
        if not isinstance(whom, discord.Member) or whom.guild.id != guild.id:
            raise UserFacingError(
                f"{whom.display_name} is not a member of {guild.name}, "
                "so RaceDesk has no notifications for them here."
            )
        try:
            deliveries = await self._notifications.history(
                whom.id, guild.id, actor=actor_of(interaction)
            )
        except PermissionDeniedError as refused:
            raise PermissionDeniedError(
                f"{refused.message} Leave out `member` to see your own notifications."
            ) from None
        own = whom.id == interaction.user.id
        pages = history_pages(whom, guild, deliveries, own=own)
        await send_pages(interaction, embed_pages_of(pages))

    @requires(Permission.VIEW_MEMBER_NOTIFICATIONS)
    @app_commands.command(name="problems")
    async def problems(self, interaction: discord.Interaction) -> None:
        """List notifications here that failed, fell back to the channel or are retrying."""
        assert interaction.guild is not None
        deliveries = await self._notifications.troubles(
            interaction.guild.id, actor=actor_of(interaction)
        )
        await send_pages(interaction, embed_pages_of(troubles_pages(interaction.guild, deliveries)))

    @requires(Permission.CONFIGURE_SERVER)
    @app_commands.command(name="channel")
    @app_commands.describe(
        channel="Where notifications go when a player's DMs refuse them; leave out to clear"
    )
    async def channel(
        self, interaction: discord.Interaction, channel: discord.TextChannel | None = None
    ) -> None:
        """Set where notifications go when a player's DMs refuse them."""
        assert interaction.guild is not None
        await self._notifications.set_fallback_channel(
            interaction.guild.id,
            channel.id if channel is not None else None,
            actor=actor_of(interaction),
        )
        if channel is None:
            await reply(
                interaction,
                "Cleared the fallback channel. A notification a player's DMs refuse now fails; "
                "`/notifications history member:` shows why.",
            )
            return
        message = (
            f"Notifications a player's DMs refuse now go to #{channel.name}, "
            "in a post that mentions them."
        )
        me = interaction.guild.me
        allowed = channel.permissions_for(me) if me is not None else None
        if allowed is not None and not (allowed.send_messages and allowed.embed_links):
            message += (
                f"\n⚠️ RaceDesk cannot post there yet: give it Send Messages and Embed Links "
                f"in #{channel.name}."
            )
        await reply(interaction, message)


async def setup(bot: RaceDeskBot) -> None:
    await bot.add_cog(NotificationsCog(bot.services.notifications, bot.services.access))
