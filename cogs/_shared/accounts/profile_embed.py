"""The embed of a player's profile, for ``/profile`` and ``/racetime whois``."""

from __future__ import annotations

import discord

from core.accounts.profiles import PlayerProfile

NOT_LINKED = "Not linked. `/link-racetime` links a racetime.gg account."
NEEDS_REAUTHORIZATION = (
    "⚠️ racetime.gg no longer accepts RaceDesk's access: `/link-racetime` renews it."
)


def profile_embed(
    member: discord.abc.User, profile: PlayerProfile, *, details: bool = False
) -> discord.Embed:
    """``details`` adds what moderators need to check a link: the racetime user id and the
    state of RaceDesk's access to the account."""
    embed = discord.Embed(title=f"👤 {member.display_name}", colour=discord.Colour.blurple())
    embed.add_field(name="racetime.gg", value=link_text(profile, details=details), inline=False)
    zone = (
        f"`{profile.own_timezone}`"
        if profile.own_timezone
        else f"`{profile.timezone}` (the server's; `/timezone set` chooses one)"
    )
    embed.add_field(name="Timezone", value=zone, inline=False)
    return embed


def link_text(profile: PlayerProfile, *, details: bool) -> str:
    link = profile.link
    if link is None:
        return NOT_LINKED
    lines = [f"[{link.racetime_name}]({link.profile_url})"]
    if details:
        lines.append(f"racetime user id: `{link.racetime_id}`")
    if link.needs_reauthorization:
        lines.append(NEEDS_REAUTHORIZATION)
    elif details and link.token_expires_at is not None:
        lines.append(
            f"Access token expires <t:{int(link.token_expires_at.timestamp())}:R>"
            " (renewed when used)"
        )
    return "\n".join(lines)
