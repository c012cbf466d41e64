"""Test hook: act as one racetime user in one room, with the broadcasts a real racer causes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from fake_racetime import chat
from fake_racetime.models import ChatMessage, User, new_hashid
from fake_racetime.state import Race, RaceActionError

if TYPE_CHECKING:
    from fake_racetime.server import FakeRacetimeServer

# Names accepted by ``Racer.do`` (and the ``/_test`` HTTP API).
RACER_ACTIONS = (
    "join",
    "request_invite",
    "cancel_request",
    "accept_invite",
    "decline_invite",
    "ready",
    "unready",
    "done",
    "forfeit",
    "undone",
    "unforfeit",
    "split",
    "leave",
    "go_live",
)


class Racer:
    """Every method raises ``RaceActionError`` with racetime's text when racetime would refuse."""

    def __init__(self, server: FakeRacetimeServer, race: Race, user: User) -> None:
        self.server = server
        self.race = race
        self.user = user

    def _elsewhere(self) -> bool:
        return self.server.active_race_of(self.user, exclude=self.race) is not None

    async def join(self) -> None:
        elsewhere = self._elsewhere()
        await self.server.apply(
            self.race, lambda now: self.race.join(self.user, now, active_elsewhere=elsewhere)
        )

    async def request_invite(self) -> None:
        elsewhere = self._elsewhere()
        await self.server.apply(
            self.race,
            lambda now: self.race.request_invite(self.user, now, active_elsewhere=elsewhere),
        )

    async def cancel_request(self) -> None:
        await self.server.apply(self.race, lambda now: self.race.cancel_request(self.user, now))

    async def accept_invite(self) -> None:
        await self.server.apply(self.race, lambda now: self.race.accept_invite(self.user, now))

    async def decline_invite(self) -> None:
        await self.server.apply(self.race, lambda now: self.race.decline_invite(self.user, now))

    async def ready(self) -> None:
        await self.server.apply(self.race, lambda now: self.race.ready(self.user, now))

    async def unready(self) -> None:
        await self.server.apply(self.race, lambda now: self.race.unready(self.user, now))

    async def done(self) -> None:
        await self.server.apply(self.race, lambda now: self.race.done(self.user, now))

    async def forfeit(self) -> None:
        await self.server.apply(self.race, lambda now: self.race.forfeit(self.user, now))

    async def undone(self) -> None:
        """The ``undone`` command: takes back a finish (with a ``race.split``) or a forfeit.

        In a race that finished minutes ago this is two broadcasts: the entrant first, with
        the race still finished, then the race restarted.
        """
        entrant = self.race.entrant(self.user)
        if entrant is not None and entrant.finish_time is not None:
            await self.server.broadcast_split(self.race, self.user, "", "-", is_finish=True)
            await self._reopen(lambda now: self.race.undone(self.user, now))
        elif entrant is not None and entrant.dnf:
            await self.unforfeit()
        else:
            raise RaceActionError(
                "You cannot undo your finish/forfeit because you are not in this race. "
                "Refresh to continue."
            )

    async def unforfeit(self) -> None:
        await self._reopen(lambda now: self.race.unforfeit(self.user, now))

    async def _reopen(self, take_back: Callable[[datetime], None]) -> None:
        await self.server.apply(self.race, take_back, self.race.unfinish_if_unfinalized)

    async def split(
        self, split_name: str = "", split_time: str = "-", is_finish: bool = False
    ) -> None:
        """The ``split`` action (live split data from a racer's timer): a ``race.split``."""
        if not split_name:
            raise RaceActionError("Split name must not be empty")
        if self.race.entrant(self.user) is None:
            raise RaceActionError(
                "You cannot split because you are not in this race. Refresh to continue."
            )
        await self.server.broadcast_split(
            self.race, self.user, split_name, split_time, is_finish=is_finish
        )

    async def leave(self) -> None:
        await self.server.apply(self.race, lambda now: self.race.leave(self.user, now))

    async def go_live(self) -> None:
        """Mark the racer's stream live (needed to ready up when streaming is required)."""

        def change(now: datetime) -> None:
            self.user.stream_live = True
            entrant = self.race.entrant(self.user)
            if entrant is not None and not entrant.stream_live:
                entrant.stream_live = True
                self.race.touch()

        await self.server.apply(self.race, change)

    async def say(self, text: str) -> ChatMessage:
        """Post a chat message as this user (a single ``chat.message`` frame), refused as
        racetime refuses it (``fake_racetime.chat``)."""
        posted = await self.post(text, guid=chat.site_guid())
        assert posted is not None  # a fresh guid
        return posted

    async def post(self, text: str, *, guid: str) -> ChatMessage | None:
        """racetime's message view: ``None`` when ``guid`` was seen in the last 300 s (the
        message is dropped silently), else the message posted."""
        posted: list[ChatMessage] = []

        def change(now: datetime) -> None:
            if not chat.guid_is_new(self.server.guids, guid, now):
                return
            checked = chat.check_text(text)
            chat.assert_can_chat(self.race, self.user, now)
            msg = ChatMessage(id=new_hashid(), posted_at=now, message=checked, user=self.user)
            self.race.messages.append(msg)
            self.race.outbox.append(("chat", msg))
            posted.append(msg)

        await self.server.apply(self.race, change)
        return posted[0] if posted else None

    async def click(
        self, message_id: str, label: str, values: Mapping[str, Any] | None = None
    ) -> ChatMessage:
        """Click the action ``label`` of the bot message ``message_id``, as the site does:
        it posts the action's message (its survey's ``values`` filled in) as this user, with
        a guid of its own."""
        message = next((m for m in self.race.messages if m.id == message_id), None)
        if message is None:
            raise RaceActionError("Could not find a message with that ID.")
        return await self.say(chat.clicked_text(message, label, values))

    async def do(self, action: str, **data: Any) -> None:
        """Run a racer action by name; ``data`` are its arguments (only ``split`` takes any)."""
        if action not in RACER_ACTIONS:
            raise RaceActionError(f"Unknown racer action {action!r}.")
        await getattr(self, action)(**data)
