"""Every slash command answers within Discord's 3 seconds, however busy RaceDesk is.

A command answers when its work is done, and Discord drops an interaction whose first answer
comes after 3 seconds ("The application did not respond"), its answer with it. At a
season's peak on a slow machine (issue 28) work that takes 20 ms took seconds. So a command
that has not answered within :data:`ACKNOWLEDGE_AFTER_SECONDS` is acknowledged for it
("RaceDesk is thinking…", ephemeral like every answer of RaceDesk's), and the answer it
sends when its work is done takes that message's place. A command that answers in time
answers as before, in one message.

The command needs no change: its interaction's ``response`` becomes a
:class:`DeadlineResponse`, which takes one answer at a time, so the acknowledgement and the
command's own answer never cross (Discord refuses a second answer), and turns an answer sent
after the acknowledgement into the follow-up that replaces it. Autocomplete is never
acknowledged (Discord has no such thing for it); a command whose answer is a form (a modal,
which only a first answer can be) says so with ``extras={ANSWERS_WITH_FORM: True}`` and is
left alone.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import discord
from discord.interactions import InteractionResponse

from core.errors import UserFacingError

log = logging.getLogger(__name__)

ACKNOWLEDGE_AFTER_SECONDS = 1.0  # well inside Discord's 3 s, and longer than any usual answer
ANSWERS_WITH_FORM = "answers_with_form"  # a command's ``extras`` key
TOO_BUSY_FOR_FORM = (
    "RaceDesk was too busy to open the form in time. Run the command again in a moment."
)


class DeadlineResponse(InteractionResponse[Any]):
    """discord.py's response, one answer at a time, that can be acknowledged on the
    command's behalf (:meth:`acknowledge_soon`)."""

    __slots__ = ("_acknowledged_for_it", "_acknowledging", "_turn")

    def __init__(self, parent: discord.Interaction) -> None:
        super().__init__(parent)
        self._turn = asyncio.Lock()
        self._acknowledged_for_it = False
        self._acknowledging: asyncio.Task[None] | None = None

    def acknowledge_soon(self, command: asyncio.Task[Any] | None) -> None:
        """Acknowledge now, unless the command has answered (or is answering) or ended."""
        if (command is not None and command.done()) or self.is_done() or self._turn.locked():
            return
        if self._acknowledging is None:  # (the task is kept: the loop holds tasks weakly)
            self._acknowledging = asyncio.get_running_loop().create_task(
                self._acknowledge(), name="acknowledge-interaction"
            )

    async def _acknowledge(self) -> None:
        async with self._turn:
            if self.is_done():
                return
            try:
                await super().defer(ephemeral=True, thinking=True)
            except Exception as error:  # (nobody awaits this task: said here, not lost)
                log.warning("Could not acknowledge a slow command in time: %s", error)
                return
            self._acknowledged_for_it = True

    async def send_message(self, *args: Any, **kwargs: Any) -> Any:
        async with self._turn:
            if not self._acknowledged_for_it:
                return await super().send_message(*args, **kwargs)
        kwargs.pop("delete_after", None)  # (a follow-up has no such option)
        return await self._parent.followup.send(*args, wait=True, **kwargs)

    async def defer(self, *args: Any, **kwargs: Any) -> Any:
        async with self._turn:
            if self._acknowledged_for_it:
                return None  # already done for it, as it asks
            return await super().defer(*args, **kwargs)

    async def send_modal(self, *args: Any, **kwargs: Any) -> Any:
        async with self._turn:
            if self._acknowledged_for_it:
                raise UserFacingError(TOO_BUSY_FOR_FORM)
            return await super().send_modal(*args, **kwargs)

    async def edit_message(self, *args: Any, **kwargs: Any) -> Any:
        async with self._turn:
            return await super().edit_message(*args, **kwargs)


def answer_within_deadline(interaction: discord.Interaction, after: float) -> None:
    """From now on ``interaction`` (a slash command's, in the task that runs it) is
    acknowledged if it has not answered ``after`` seconds from now."""
    command = interaction.command
    if command is not None and command.extras.get(ANSWERS_WITH_FORM):
        return
    if interaction.response.is_done():
        return
    response = DeadlineResponse(interaction)
    # discord.py caches the response in this slot: the command's answers now come here.
    interaction._cs_response = response  # type: ignore[attr-defined]
    asyncio.get_running_loop().call_later(
        after, response.acknowledge_soon, asyncio.current_task()
    )
