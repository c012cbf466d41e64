"""What a rehearsal scene can do, and how a step that did not happen is reported.

A scene is a title and an ``async def play(stage)``. It acts through the :class:`Stage`:
members type slash commands in the simulated server, racetime users act through the fake
server's ``/_test`` API, and the scene waits for what RaceDesk does (events, replies). Each
``async with stage.step("what should happen")`` block is one checked step: if what it
expects does not come in time, the rehearsal stops there and says what it saw instead.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import discord

from core.events import Event, EventDispatcher
from rehearsal.guild import SimulatedGuild
from rehearsal.racetime_api import FakeRacetimeApi, RacetimeActionRefused
from rehearsal.slash import SlashResult
from rehearsal.timeline import Timeline, message_lines, reply_lines

E = TypeVar("E", bound=Event)

STEP_TIMEOUT_SECONDS = 15.0
MASK = "••••••"


class StepFailed(Exception):
    """A step of the rehearsal did not happen as expected."""

    def __init__(self, step: str, expected: str, seen: str) -> None:
        super().__init__(f"{step}: expected {expected}; saw {seen}")
        self.step = step
        self.expected = expected
        self.seen = seen


@dataclass(frozen=True, slots=True)
class Scene:
    title: str
    play: Callable[[Stage], Awaitable[None]]


@dataclass
class Cast:
    """Who takes part: Discord members by role, racetime users by name (their racetime ids)."""

    owner: str
    admin: str
    racers: dict[str, str] = field(default_factory=dict)  # racetime name -> racetime user id
    category: str = "alttpr"
    client_id: str = ""
    client_secret: str = field(default="", repr=False)


class Stage:
    def __init__(
        self,
        *,
        guild: SimulatedGuild,
        dispatcher: EventDispatcher,
        racetime: FakeRacetimeApi,
        timeline: Timeline,
        cast: Cast,
        pace: float,
        services: Any,
    ) -> None:
        self.guild = guild
        self.racetime = racetime
        self.timeline = timeline
        self.cast = cast
        self.services = services
        self._pace = pace
        self._step = "setting the stage"
        self.events: list[Event] = []
        self._new_event = asyncio.Event()
        self._closed = False
        dispatcher.subscribe(Event, self._on_event)

    # -- steps -------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def step(self, title: str) -> AsyncIterator[None]:
        """One checked step of a scene (its title says what should happen)."""
        self._step = title
        try:
            yield
        except StepFailed:
            raise
        except RacetimeActionRefused as error:
            raise StepFailed(
                title, "racetime to accept the action", f"racetime said: {error}"
            ) from None
        self.show_sent()
        self.timeline.line("✓", title)

    def fail(self, expected: str, seen: str) -> StepFailed:
        return StepFailed(self._step, expected, seen)

    async def pause(self, beats: float = 1.0) -> None:
        """Leave a person time to read (nothing in ``--fast`` mode)."""
        if self._pace:
            await asyncio.sleep(self._pace * beats)

    # -- Discord -----------------------------------------------------------------------------

    def member(self, name: str) -> discord.Member:
        return self.guild.member(name)

    async def slash(
        self, who: str, command: str, *, secret: Sequence[str] = (), **options: Any
    ) -> SlashResult:
        """``who`` types ``/command``; shows what they typed and what RaceDesk answered."""
        shown = " ".join(
            f"{name}:{MASK if name in secret else value}" for name, value in options.items()
        )
        self.timeline.line(who, f"/{command} {shown}".rstrip())
        result = await self.guild.slash(command, member=self.member(who), **options)
        for message in result.messages:
            first, more = reply_lines(message)
            privacy = f" (only {who} sees this)" if message.ephemeral else ""
            self.timeline.line("RaceDesk", f"→ {who}{privacy}: {first}".rstrip(), more)
        self.show_sent()
        await self.pause()
        return result

    def expect_reply(self, result: SlashResult, text: str) -> None:
        if text not in result.text:
            raise self.fail(f"a reply saying {text!r}", repr(result.text or "no reply"))

    def show_sent(self) -> None:
        """Channel posts and DMs RaceDesk sent since the last look."""
        for message in self.guild.sent():
            first, more = message_lines(message)
            self.timeline.line("RaceDesk", first, more)

    # -- racetime ----------------------------------------------------------------------------

    async def racetime_acts(self, who: str, text: str, action: Awaitable[Any]) -> Any:
        """Something happens on racetime.gg (a racer acts, a room opens)."""
        self.timeline.line("racetime", f"{who} {text}")
        result = await action
        await self.pause(0.5)
        return result

    # -- what RaceDesk does ------------------------------------------------------------------

    async def _on_event(self, event: Event) -> None:
        if self._closed:
            return  # the rehearsal is over (the shutdown's own events are not part of it)
        self.events.append(event)
        self.timeline.line("event", event.describe())
        self._new_event.set()

    def close(self) -> None:
        self._closed = True

    async def expect_event(
        self,
        kind: type[E],
        what: str,
        match: Callable[[E], bool] = lambda _: True,
        *,
        within: float = STEP_TIMEOUT_SECONDS,
    ) -> E:
        """The first event of ``kind`` (since the scene began) that ``match`` accepts."""
        seen = 0
        try:
            async with asyncio.timeout(within):
                while True:
                    for event in self.events[seen:]:
                        if isinstance(event, kind) and match(event):
                            return event
                    seen = len(self.events)
                    self._new_event.clear()
                    await self._new_event.wait()
        except TimeoutError:
            recent = [e.describe() for e in self.events[-3:]]
            raise self.fail(
                what, f"no such event in {within:.0f} s; the last ones: {recent or 'none'}"
            ) from None
