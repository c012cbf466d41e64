"""Events about a Discord user's racetime.gg account (the linking service emits them)."""

from __future__ import annotations

from dataclasses import dataclass

from core.events.base import Event


@dataclass(frozen=True, slots=True, kw_only=True)
class RacetimeAccountLinkedEvent(Event):
    """A Discord user linked their racetime.gg account (e.g. to send them a confirmation DM).

    ``user_id`` is the application user; ``replaced_racetime_id`` the account they were
    linked to before, if the link replaced one.
    """

    discord_user_id: int
    racetime_id: str
    racetime_name: str
    replaced_racetime_id: str | None = None

    def headline(self) -> str:
        again = " (replacing another account)" if self.replaced_racetime_id else ""
        return f"racetime.gg account {self.racetime_name} linked{again}"

    @property
    def partition_key(self) -> str:
        return f"user:{self.discord_user_id}"


@dataclass(frozen=True, slots=True, kw_only=True)
class RacetimeLinkNeedsReauthorizationEvent(Event):
    """racetime.gg refused to refresh a linked user's token: the link keeps the racetime
    account but has no usable token until the player runs ``/link-racetime`` again (e.g. to
    tell them so)."""

    discord_user_id: int
    racetime_id: str

    def headline(self) -> str:
        return "racetime.gg refused to renew a link's token: the player must link again"

    @property
    def partition_key(self) -> str:
        return f"user:{self.discord_user_id}"
