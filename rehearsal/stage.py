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
import html
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import aiohttp
import discord

from core.events import Event, EventDispatcher
from db.models import NotificationStatus
from db.queries import notifications as notification_queries
from rehearsal.actors import ActorNames
from rehearsal.discord_rules import RefusedByDiscord
from rehearsal.guild import SimulatedGuild
from rehearsal.racetime_api import FakeRacetimeApi, RacetimeActionRefused
from rehearsal.slash import BotMessage, SlashResult
from rehearsal.timeline import MASK, Timeline, message_lines, reply_lines

E = TypeVar("E", bound=Event)
_HEADING = re.compile(r"<h1[^>]*>(.*?)</h1>", re.S)

STEP_TIMEOUT_SECONDS = 15.0
DISCORD_ACCEPTS = "Discord to accept every message RaceDesk sent"
# How long RaceDesk must stay idle for a step to be over (see Stage.settle).
SETTLE_QUIET_SECONDS = 0.05


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
        web_url: str,
    ) -> None:
        self.guild = guild
        self.web_url = web_url  # RaceDesk's web server: OAuth callback, API, /metrics
        self.racetime = racetime
        self.timeline = timeline
        self.cast = cast
        self.services = services
        self._pace = pace
        self._step = "setting the stage"
        self._dispatcher = dispatcher
        self.events: list[Event] = []
        self.sent: list[discord.Message] = []  # every DM and channel post RaceDesk sent
        # What an expectation has taken (by position): each message and event answers one
        # expectation, whenever it arrived, so neither speed nor timing decides what is seen.
        self._claimed_sent: set[int] = set()
        self._claimed_events: set[int] = set()
        self._new_event = asyncio.Event()
        self._closed = False
        self._names = ActorNames(services, guild)
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
        except RefusedByDiscord as error:
            raise StepFailed(title, DISCORD_ACCEPTS, str(error)) from None
        # Whatever RaceDesk does about this step is shown in it, not in the next one.
        await self.settle()
        try:
            self.guild.check_refusals()  # the posts and DMs the step made
        except RefusedByDiscord as error:
            raise StepFailed(title, DISCORD_ACCEPTS, str(error)) from None
        self.timeline.line("✓", title)

    def fail(self, expected: str, seen: str) -> StepFailed:
        return StepFailed(self._step, expected, seen)

    def now(self) -> datetime:
        """RaceDesk's clock: what scenes schedule by."""
        now: datetime = self.services.clock.now()
        return now

    @property
    def fast(self) -> bool:
        """``--fast``: no pauses for the reader, and waits kept short."""
        return not self._pace

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
            f"{name}:{MASK if name in secret else typed(value)}" for name, value in options.items()
        )
        self.timeline.line(who, f"/{command} {shown}".rstrip())
        # ``options=``: an option may be called ``name`` or ``member`` (the harness's own).
        result = await self.guild.slash(command, member=self.member(who), options=options)
        await self._answered(who, result)
        return result

    async def submit(
        self,
        who: str,
        reply: SlashResult,
        values: dict[str, str],
        *,
        secret: Sequence[str] = (),
    ) -> SlashResult:
        """``who`` fills in the form (modal) RaceDesk answered with, by the fields' labels, and
        submits it; fields named in ``secret`` are never shown."""
        [modal] = [m for m in reply.messages if m.kind == "modal"]
        shown = " ".join(
            f"{label}:{MASK if label in secret else value}" for label, value in values.items()
        )
        self.timeline.line(who, f"fills in \"{modal.content}\": {shown}")
        result = await self.guild.submit_modal(modal, values, member=self.member(who))
        await self._answered(who, result)
        return result

    async def press(self, who: str, reply: SlashResult, label: str) -> SlashResult:
        """``who`` presses the button ``label`` on a reply RaceDesk gave them."""
        message = next(
            (m for m in reversed(reply.messages) if m.components), reply.messages[-1]
        )
        self.timeline.line(who, f"presses [{label}]")
        result = await self.guild.press(message, label, member=self.member(who))
        await self._answered(who, result)
        return result

    async def press_sent(self, who: str, message: discord.Message, label: str) -> SlashResult:
        """``who`` presses the button ``label`` on a post or DM RaceDesk sent (where it is: a
        DM's in the DM)."""
        self.timeline.line(who, f"presses [{label}]")
        result = await self.guild.press(BotMessage.sent(message), label, member=self.member(who))
        await self._answered(who, result)
        return result

    async def _answered(self, who: str, result: SlashResult) -> None:
        for message in result.messages:
            if message.kind == "modal":
                fields = ", ".join(message.fields)
                self.timeline.line("RaceDesk", f"→ {who}: a form \"{message.content}\" "
                                               f"({fields})")
                continue
            first, more = reply_lines(message)
            if message.kind == "update":
                first = f"(updates that message) {first}"
            privacy = f" (only {who} sees this)" if message.ephemeral else ""
            buttons = button_line(
                ((c.get("emoji") or {}).get("name"), c.get("label"), c.get("disabled", False))
                for c in message.buttons
            )
            self.timeline.line(
                "RaceDesk", f"→ {who}{privacy}: {first}".rstrip(), more + buttons
            )
        self.show_sent()
        await self.pause()

    def expect_reply(self, result: SlashResult, text: str) -> None:
        if text not in result.text:
            raise self.fail(f"a reply saying {text!r}", repr(result.text or "no reply"))

    def show_sent(self) -> None:
        """Channel posts and DMs RaceDesk sent since the last look."""
        for message in self.guild.sent():
            first, more = message_lines(message)
            buttons = button_line(
                (str(c.emoji) if c.emoji else None,
                 f"{c.label} → {c.url}" if c.url else c.label, c.disabled)
                for row in message.components
                if isinstance(row, discord.ActionRow)
                for c in row.children
                if isinstance(c, discord.Button)
            )
            self.timeline.line("RaceDesk", first, more + buttons, at=message.created_at)
            self.sent.append(message)

    def unclaimed_sent(
        self, match: Callable[[discord.Message], bool]
    ) -> list[discord.Message]:
        """The messages RaceDesk sent that ``match`` accepts and no expectation took yet."""
        self.show_sent()
        return [
            message for index, message in enumerate(self.sent)
            if index not in self._claimed_sent and match(message)
        ]

    async def expect_sent(
        self,
        what: str,
        match: Callable[[discord.Message], bool],
        *,
        count: int = 1,
        within: float = STEP_TIMEOUT_SECONDS,
    ) -> list[discord.Message]:
        """Wait until ``count`` DMs or channel posts that ``match`` accepts have been sent,
        whenever they were (each is shown as it comes); takes them, so that no later
        expectation sees them again, and returns them."""
        try:
            async with asyncio.timeout(within):
                while True:
                    self.show_sent()
                    found = [
                        index for index, message in enumerate(self.sent)
                        if index not in self._claimed_sent and match(message)
                    ][:count]
                    if len(found) == count:
                        self._claimed_sent.update(found)
                        return [self.sent[index] for index in found]
                    await asyncio.sleep(0.02)  # dpytest's queue is drained by show_sent
        except TimeoutError:
            seen = [
                message_lines(m)[0] for i, m in enumerate(self.sent)
                if i not in self._claimed_sent
            ]
            raise self.fail(
                what, f"in {within:.0f} s RaceDesk sent {seen[-5:] or 'nothing new'}"
            ) from None

    async def wait_until(
        self, what: str, done: Callable[[], Awaitable[bool]], *,
        within: float = STEP_TIMEOUT_SECONDS,
    ) -> None:
        """Wait until RaceDesk's state satisfies ``done`` (e.g. a delivery recorded as sent,
        which is committed just after the message itself goes out)."""
        try:
            async with asyncio.timeout(within):
                while True:
                    if await done():
                        return
                    await asyncio.sleep(0.02)  # polls the database: nothing to wait on
        except TimeoutError:
            raise self.fail(what, f"not so after {within:.0f} s") from None

    # -- racetime ----------------------------------------------------------------------------

    async def browse(self, who: str, url: str, what: str) -> str:
        """``who`` opens ``url`` in a browser (following every redirect, as one would); the
        timeline shows where they landed and the page's heading. Returns the page."""
        self.timeline.line(who, f"opens {what} in their browser")
        async with aiohttp.ClientSession() as browser, browser.get(url) as page:
            text = await page.text()
            landed = f"{page.url.scheme}://{page.url.host}:{page.url.port}{page.url.path}"
        heading = _HEADING.search(text)
        self.timeline.line(
            "browser", f"{landed}: {html.unescape(heading.group(1)) if heading else text[:80]}"
        )
        await self.pause(0.5)
        return text

    async def call_api(
        self, who: str, method: str, path: str, *, token: str, body: dict[str, Any] | None = None
    ) -> tuple[int, Any]:
        """``who``, a program outside Discord, calls RaceDesk's HTTP API with a bearer token;
        the timeline shows the request (the token masked) and the JSON answer."""
        sent = f" {json.dumps(body)}" if body else ""
        self.timeline.line(who, f"{method} {path}{sent}", [f"Authorization: Bearer {MASK}"])
        headers = {"Authorization": f"Bearer {token}"}
        async with aiohttp.ClientSession() as http, http.request(
            method, self.web_url + path, json=body, headers=headers
        ) as answer:
            status, payload = answer.status, await answer.json(content_type=None)
        self.timeline.line("RaceDesk", f"→ {who}: HTTP {status}",
                           json.dumps(payload, indent=2).splitlines())
        await self.pause(0.5)
        return status, payload

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
        self.timeline.line("event", await self._names.event_line(event))
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
        """The first event of ``kind`` that ``match`` accepts and no earlier expectation took,
        whenever it came; takes it."""
        try:
            async with asyncio.timeout(within):
                while True:
                    self._new_event.clear()
                    for index, event in enumerate(self.events):
                        if (
                            index not in self._claimed_events
                            and isinstance(event, kind) and match(event)
                        ):
                            self._claimed_events.add(index)
                            return event
                    await self._new_event.wait()
        except TimeoutError:
            recent = [e.headline() for e in self.events[-3:]]
            raise self.fail(
                what, f"no such event in {within:.0f} s; the last ones: {recent or 'none'}"
            ) from None

    async def settle(self, *, within: float = STEP_TIMEOUT_SECONDS) -> None:
        """Wait until RaceDesk has done what it had to (events delivered, notifications due now
        sent, replies shown) and nothing new came for a moment; then show what it sent."""
        quiet = SETTLE_QUIET_SECONDS
        try:
            async with asyncio.timeout(within):
                while True:
                    before = (len(self.events), len(self.sent))
                    await self._dispatcher.drain()
                    self.show_sent()
                    if await self._notifications_due():
                        await asyncio.sleep(quiet)
                        continue
                    await asyncio.sleep(quiet)
                    self.show_sent()
                    if (len(self.events), len(self.sent)) == before:
                        return
        except TimeoutError:
            raise self.fail(
                "RaceDesk to finish what the step started", f"still busy after {within:.0f} s"
            ) from None

    async def _notifications_due(self) -> bool:
        """Notifications being sent, or due now and not yet taken."""
        async with self.services.sessionmaker() as session:
            depth = await notification_queries.outbox_depth(session)
            next_due = await notification_queries.next_due_at(session)
        sending = depth.get(NotificationStatus.SENDING.value, 0)
        return bool(sending) or (next_due is not None and next_due <= self.services.clock.now())


def typed(value: Any) -> str:
    """An option's value as Discord shows it in the command typed: members and roles as
    @names, channels as #names."""
    if isinstance(value, discord.Member | discord.User):
        return f"@{value.display_name}"
    if isinstance(value, discord.Role):
        return f"@{value.name}"
    if isinstance(value, discord.abc.GuildChannel):
        return f"#{value.name}"
    return str(value)


def button_line(buttons: Iterable[tuple[str | None, str | None, bool]]) -> list[str]:
    """A message's buttons (emoji, label, disabled) as one line of ``[🔔 label]``."""
    shown = [
        "[" + " ".join(part for part in (emoji, label) if part) + (" (disabled)" if off else "")
        + "]"
        for emoji, label, off in buttons
    ]
    return [" ".join(shown)] if shown else []
