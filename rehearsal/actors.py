"""Who caused an event, by the name a reader of the timeline knows them by.

Events carry RaceDesk's own user ids (see ``core.identity``); the timeline shows the Discord
member behind one, "RaceDesk" for automation and says so when nobody is known.
"""

from __future__ import annotations

from typing import Any

from core.events import Event
from core.identity import is_system_user_id
from db.models import User
from rehearsal.guild import SimulatedGuild

UNKNOWN = "someone RaceDesk does not know"


class ActorNames:
    def __init__(self, services: Any, guild: SimulatedGuild) -> None:
        self._services = services
        self._guild = guild
        self._names: dict[int, str] = {}

    async def name_of(self, user_id: int | None) -> str:
        if user_id is None:
            return UNKNOWN
        if is_system_user_id(user_id):
            return "RaceDesk"
        if user_id not in self._names:
            async with self._services.sessionmaker() as session:
                user = await session.get(User, user_id)
            member = self._guild.guild.get_member(user.discord_id) if user else None
            if member is None:
                return f"RaceDesk user {user_id}"
            self._names[user_id] = member.display_name
        return self._names[user_id]

    async def event_line(self, event: Event) -> str:
        """What happened and who did it; a change in a race room says it all by itself."""
        if type(event).describe is not Event.describe:
            return event.describe()
        return f"{event.headline()} (by {await self.name_of(event.user_id)})"
