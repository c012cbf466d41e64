"""While the database is away (``core.outage``), an interaction is answered at once, well within
Discord's 3 seconds, instead of after a connection timeout: a command or a button says that
nothing was done and when to try again; autocomplete offers nothing."""

from __future__ import annotations

import discord

from core.outage import DatabaseWatch

DATABASE_AWAY = (
    "RaceDesk's database is out of reach right now (it is restarting, or down), so this was "
    "not done and nothing was changed. Try again in a minute; organizers can see it in "
    "`/about`."
)


def watch_of(interaction: discord.Interaction) -> DatabaseWatch | None:
    """The database watch of the bot the interaction came to (None: a client without one)."""
    services = getattr(interaction.client, "services", None)
    watch = getattr(services, "database_watch", None)
    return watch if isinstance(watch, DatabaseWatch) else None


def database_away(interaction: discord.Interaction) -> bool:
    """Whether the database is known to be away right now (no I/O)."""
    watch = watch_of(interaction)
    return watch is not None and not watch.available


async def is_outage(interaction: discord.Interaction, error: BaseException) -> bool:
    """Whether ``error`` (a command's failure) came from the database being away."""
    watch = watch_of(interaction)
    return watch is not None and await watch.confirm_outage(error)


__all__ = ["DATABASE_AWAY", "database_away", "is_outage", "watch_of"]
