"""A server's scheduled events, kept as Discord keeps them, for the simulated Discord.

The routes discord.py calls (``Guild.create_scheduled_event``, ``fetch_scheduled_event(s)``,
``ScheduledEvent.edit``/``start``/``end``/``cancel``/``delete``) land here through
:class:`rehearsal.guild.SimulatedDiscordHttp`. What Discord refuses is refused with Discord's
answer (:func:`rehearsal.discord_rules.check_scheduled_event`; without Manage Events, 403 code
50013; an unknown event, 404 code 10070) and kept as a :class:`Refusal`, so a test fails when
RaceDesk sends what Discord would not take, even when RaceDesk catches the error.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import datetime
from typing import Any

from rehearsal.discord_rules import (
    MISSING_PERMISSIONS,
    SCHEDULED,
    UNKNOWN_SCHEDULED_EVENT,
    Refusal,
    check_scheduled_event,
    refusal,
)

_ids = itertools.count(1_500_000_000_000_000_000)
FIELDS = (
    "name", "description", "scheduled_start_time", "scheduled_end_time", "privacy_level",
    "status", "entity_type", "entity_metadata", "channel_id", "image",
)


class RefusedRequest(Exception):
    def __init__(self, found: Refusal) -> None:
        super().__init__(str(found))
        self.refusal = found


class ScheduledEvents:
    """Every simulated server's scheduled events (Discord's JSON, ids as strings)."""

    def __init__(self, now: Callable[[], datetime]) -> None:
        self.now = now  # Discord's clock: a start time must be after it
        self.events: dict[int, dict[str, Any]] = {}
        self.without_manage_events: set[int] = set()  # servers where the bot may not

    def of(self, guild_id: int) -> list[dict[str, Any]]:
        """The server's events, oldest first (as ``GET /guilds/{id}/scheduled-events``)."""
        return [e for e in self.events.values() if int(e["guild_id"]) == guild_id]

    def create(
        self, guild_id: int, payload: dict[str, Any], creator: dict[str, Any]
    ) -> dict[str, Any]:
        self._may_manage(guild_id, "create a scheduled event")
        found = check_scheduled_event(payload, "create a scheduled event", now=self.now())
        if found is not None:
            raise RefusedRequest(found)
        event_id = next(_ids)
        event: dict[str, Any] = {
            "id": str(event_id), "guild_id": str(guild_id), "channel_id": None,
            "creator_id": str(creator["id"]), "creator": creator, "description": None,
            "scheduled_end_time": None, "entity_id": None, "entity_metadata": None,
            "user_count": 0, "image": None, "recurrence_rule": None, "status": SCHEDULED,
        }
        event.update({key: value for key, value in payload.items() if key in FIELDS})
        self.events[event_id] = event
        return dict(event)

    def get(self, guild_id: int, event_id: int) -> dict[str, Any]:
        event = self.events.get(event_id)
        if event is None or int(event["guild_id"]) != guild_id:
            raise RefusedRequest(refusal("fetch a scheduled event", UNKNOWN_SCHEDULED_EVENT))
        return dict(event)

    def edit(self, guild_id: int, event_id: int, payload: dict[str, Any]) -> dict[str, Any]:
        what = "edit a scheduled event"
        self._may_manage(guild_id, what)
        existing = self.events.get(event_id)
        if existing is None or int(existing["guild_id"]) != guild_id:
            raise RefusedRequest(refusal(what, UNKNOWN_SCHEDULED_EVENT))
        found = check_scheduled_event(payload, what, now=self.now(), existing=existing)
        if found is not None:
            raise RefusedRequest(found)
        existing.update({key: value for key, value in payload.items() if key in FIELDS})
        return dict(existing)

    def delete(self, guild_id: int, event_id: int) -> None:
        what = "delete a scheduled event"
        self._may_manage(guild_id, what)
        existing = self.events.get(event_id)
        if existing is None or int(existing["guild_id"]) != guild_id:
            raise RefusedRequest(refusal(what, UNKNOWN_SCHEDULED_EVENT))
        del self.events[event_id]

    def _may_manage(self, guild_id: int, what: str) -> None:
        if guild_id in self.without_manage_events:
            raise RefusedRequest(refusal(what, MISSING_PERMISSIONS))
