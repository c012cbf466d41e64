"""Answering commands typed in race-room chat, once per message.

The racetime layer turns each command into a :class:`RacetimeChatCommandEvent` (durable, keyed
by racetime's message id, its sender resolved through their linked account). This listener:

1. skips a message it already answered (a receipt per event id);
2. finds the room's match or live race, and so its server; a room RaceDesk did not make for
   one is not RaceDesk's to answer in;
3. asks the access policy, for the sender as a member of that server (their Discord roles,
   through :class:`~core.access.members.MemberDirectory`) and as an entrant of the room (their
   racetime id among its entrants): never by their racetime name;
4. does the command and answers in the room with a guid derived from the event id, then keeps
   the receipt. A crash between the answer and the receipt answers again with the same guid,
   which racetime drops.

A command typed while RaceDesk was away comes through ``gethistory`` and is answered the same
way, if the room's chat is still open; each command checks that it still makes sense (a seed
is not rolled after the start). Unknown commands are not answered (other bots may know them).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.access import AccessPolicy, Actor, Permission
from core.access.rules import LINK_FIRST
from core.errors import NotFoundError, PermissionDeniedError, UserFacingError
from core.event_store.sent_once import SentOnce
from core.events import EventDispatcher, RacetimeChatCommandEvent, RoomForMatchEvent
from core.room_commands import breaks as break_rules
from core.room_commands.breaks import Breaks
from core.room_commands.catalog import CATALOG, Command, CommandSpec, command_named
from core.room_commands.fpa import FairPlay, FpaRoom
from core.room_commands.parsing import arguments, rest_of
from core.room_commands.seeds import RoomSeedInfo, RoomSeeds, SeedRoom
from core.sending import nonce_for
from db.queries import room_commands as queries
from db.queries import rooms as room_queries
from db.queries.room_commands import RoomOwner
from racetime.errors import RacetimeActionError
from racetime.models import Race, parse_racetime_datetime, parse_racetime_duration

log = logging.getLogger(__name__)

RECEIPT = "room_commands"
MESSAGE_MAX = 1000  # racetime's limit for one chat message
IN_THE_RACE = frozenset({"not_ready", "ready", "in_progress", "done", "dnf", "dq"})
# Rooms RaceDesk no longer answers in: nothing can happen in them any more. A finished race's
# chat stays open (racetime closes it later): !match and !help are still answered there.
CHAT_CLOSED = frozenset({"cancelled", "partitioned"})


class ChatRoom(Protocol):
    """A watched room (``racetime.connection.RoomConnection``)."""

    @property
    def last_race(self) -> Race | None: ...

    @property
    def finished(self) -> bool: ...

    async def send_message(
        self,
        message: str,
        *,
        pinned: bool = False,
        actions: Mapping[str, Mapping[str, Any]] | None = None,
        direct_to: str | None = None,
        guid: str | None = None,
    ) -> None: ...

    async def set_bot_info(self, info: str) -> None: ...


Rooms = Callable[[str], Awaitable[ChatRoom]]
"""``rooms(category/slug)``: the room's connection (joining it if RaceDesk is not in it)."""
MatchText = Callable[[int, int], Awaitable[str]]
"""``describe(guild_id, match_id)`` or ``(guild_id, live_race_id)``: one line about it."""


@dataclass(frozen=True, slots=True)
class Asked:
    """One command in its room: who asked, where, and what the room looks like now."""

    event: RacetimeChatCommandEvent
    owner: RoomOwner
    actor: Actor
    entrant: bool
    race: Race | None

    @property
    def room_url(self) -> str:
        url = self.race.url if self.race is not None and self.race.url else None
        return url or f"/{self.event.category}/{self.event.room_slug}"

    @property
    def status(self) -> str | None:
        return self.race.status.value if self.race is not None else None

    @property
    def sender(self) -> str:
        """The sender as the room's chat names them (without racetime's ``#1234``)."""
        name = self.event.racetime_user_name or "racer"
        return name.split("#", 1)[0] or name


class RoomCommands:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        access: AccessPolicy,
        rooms: Rooms,
        seeds: RoomSeeds,
        fair_play: FairPlay,
        breaks: Breaks,
        *,
        describe_match: MatchText,
        describe_live_race: MatchText,
        racetime_url: str,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._access = access
        self._rooms = rooms
        self._seeds = seeds
        self._fair_play = fair_play
        self._breaks = breaks
        self._describe_match = describe_match
        self._describe_live_race = describe_live_race
        self._racetime_url = racetime_url.rstrip("/")
        self._receipts = SentOnce(sessionmaker, RECEIPT)
        self._button_receipts = SentOnce(sessionmaker, f"{RECEIPT}.seed_button")
        self._handlers: dict[Command, Callable[[Asked], Awaitable[str]]] = {
            Command.HELP: self._help,
            Command.MATCH: self._match,
            Command.SEED: self._seed,
            Command.LOCK: self._lock,
            Command.UNLOCK: self._unlock,
            Command.FPA: self._fpa,
            Command.BREAKS: self._set_breaks,
        }

    def subscribe(self, dispatcher: EventDispatcher) -> None:
        dispatcher.subscribe(RacetimeChatCommandEvent, self.handle)
        dispatcher.subscribe(RoomForMatchEvent, self.pin_seed_button)

    async def pin_seed_button(self, event: RoomForMatchEvent) -> None:
        """Once a match's room is open, pin a "Roll seed" button with the tournament's presets
        (racetime posts ``!seed <preset>`` as the one who clicks, so it is ``!seed``)."""
        if event.match_id is None or event.tournament_id is None:
            return
        if await self._button_receipts.done(event.event_id):
            return
        setup = await self._seeds.setup(event.tournament_id)
        if setup is not None:
            room = await self._rooms(f"{event.category}/{event.room_slug}")
            if not room.finished:
                await room.send_message(
                    "Roll the seed here when you are ready (entrants and organizers), or type "
                    "!seed [preset]. !help lists every command.",
                    pinned=True, actions=seed_button(setup.presets, setup.default_preset),
                    guid=nonce_for(f"seed-button:{event.event_id}"),
                )
        await self._button_receipts.record(event.event_id)

    async def handle(self, event: RacetimeChatCommandEvent) -> None:
        """Answer one command, once (see the module docstring)."""
        command = command_named(event.command)
        if command is None or await self._receipts.done(event.event_id):
            return
        async with self._sessionmaker() as session:
            owner = await queries.room_owner(
                session, match_id=event.match_id, live_race_id=event.live_race_id
            )
            discord_id = (
                await queries.discord_id_of(session, event.user_id)
                if event.user_id is not None and event.user_id > 0 else None
            )
        if owner is None:
            await self._receipts.record(event.event_id)  # not a room of ours
            return
        room = await self._rooms(event.room_name)
        race = room.last_race
        status = race.status.value if race is not None else None
        if room.finished or status in CHAT_CLOSED:
            log.info("%s: not answered, the room's chat is closed", event.headline())
            await self._receipts.record(event.event_id)
            return
        asked = Asked(
            event, owner, await self._access.person_in_server(discord_id, owner.guild_id),
            _is_entrant(race, event.racetime_user_id), race,
        )
        answer = await self.answer(asked, CATALOG[command])
        try:
            await room.send_message(
                _fit(f"{asked.sender}: {answer}"), guid=nonce_for(f"answer:{event.event_id}")
            )
        except RacetimeActionError as refused:
            # racetime will not take it (its chat closed meanwhile): trying again cannot help.
            log.warning("%s: racetime refused the answer: %s", event.headline(), refused)
        await self._receipts.record(event.event_id)

    async def answer(self, asked: Asked, spec: CommandSpec) -> str:
        """What RaceDesk says to the command: its result, or why not and what to do."""
        try:
            if asked.actor.is_unknown:
                raise PermissionDeniedError(LINK_FIRST)
            if spec.match_rooms_only and asked.owner.match_id is None:
                raise UserFacingError(
                    f"!{spec.command} is for match rooms; this live race's seed comes from "
                    "its organizers."
                )
            await self._access.require(
                asked.actor, spec.permission, asked.owner.guild_id, entrant=asked.entrant
            )
            return await self._handlers[spec.command](asked)
        except UserFacingError as refused:
            return refused.message

    # -- from Discord ----------------------------------------------------------------------------

    async def roll_from_discord(
        self,
        actor: Actor,
        guild_id: int,
        match_id: int,
        *,
        preset: str | None,
        reroll: bool,
        request_id: str,
    ) -> RoomSeedInfo:
        """``/match seed``: an organizer rolls (or with ``reroll``, replaces) the seed of a
        match's open room; the room shows it, and the players get it by DM."""
        await self._access.require(actor, Permission.ROLL_SEEDS, guild_id)
        if reroll:
            await self._access.require(actor, Permission.LOCK_SEEDS, guild_id)
        async with self._sessionmaker() as session:
            owner = await queries.room_owner(session, match_id=match_id, live_race_id=None)
            row = await room_queries.get_room_for_match(session, match_id)
        if owner is None or owner.guild_id != guild_id:
            raise NotFoundError(f"No match #{match_id} in this server.")
        if row is None or not row.is_active:
            raise UserFacingError(
                f"Match #{match_id} has no open race room: its seed is rolled in the room. "
                "Open it with /open-room, or roll the seed once it is open."
            )
        room = await self._rooms(row.name)
        race = room.last_race
        url = race.url if race is not None and race.url else f"/{row.name}"
        result = await self._seeds.roll(
            SeedRoom(row.category, row.slug, self._absolute(url), owner.tournament_id, guild_id,
                     match_id),
            preset=preset.lower() if preset else None,
            race_status=race.status.value if race is not None else row.last_status,
            request_id=request_id, actor_discord_id=actor.discord_id, reroll=reroll,
        )
        seed = result.seed
        await room.set_bot_info(with_seed(room.last_race, seed))
        what = "a new seed (re-rolled)" if seed.rolls > 1 else "the seed"
        await room.send_message(
            _fit(f"An organizer rolled {what} ({seed.preset}): {seed.text}"),
            guid=nonce_for(f"seed:{request_id}"),
        )
        return seed

    async def clear_fpa(self, actor: Actor, guild_id: int, match_id: int) -> int:
        """``/match fpa-clear``: how many open fair-play calls were cleared."""
        return len(await self._fair_play.clear(actor, guild_id, match_id))

    # -- the commands --------------------------------------------------------------------------

    async def _help(self, asked: Asked) -> str:
        usable = [
            spec for spec in CATALOG.values()
            if not (spec.match_rooms_only and asked.owner.match_id is None)
            and await self._access.allows(
                asked.actor, spec.permission, asked.owner.guild_id, entrant=asked.entrant
            )
        ]
        lines = [f"{spec.usage}: {spec.help}" for spec in usable]
        if asked.owner.match_id is not None and any(s.command is Command.SEED for s in usable):
            setup = await self._seeds.setup(asked.owner.tournament_id)
            if setup is not None:
                lines.append(f"Seed presets: {', '.join(setup.presets)} "
                             f"(default {setup.default_preset}).")
        return "You can use " + " · ".join(lines)

    async def _match(self, asked: Asked) -> str:
        owner = asked.owner
        if owner.match_id is not None:
            text = await self._describe_match(owner.guild_id, owner.match_id)
            seed = await self._seeds.current(asked.event.category, asked.event.room_slug)
            text += f" · Seed: {seed.text}" if seed is not None else " · Seed: not rolled yet"
        else:
            assert owner.live_race_id is not None
            text = await self._describe_live_race(owner.guild_id, owner.live_race_id)
        plan = await self._breaks.plan_of(asked.event.category, asked.event.room_slug)
        return text + (f" · Breaks: {plan.describe()}" if plan is not None else "")

    def _seed_room(self, asked: Asked) -> SeedRoom:
        return SeedRoom(
            asked.event.category, asked.event.room_slug, self._url(asked),
            asked.owner.tournament_id, asked.owner.guild_id, asked.owner.match_id,
        )

    async def _seed(self, asked: Asked) -> str:
        words = arguments(asked.event.text)
        preset = words[0].lower() if words else None
        result = await self._seeds.roll(
            self._seed_room(asked), preset=preset, race_status=asked.status,
            request_id=asked.event.event_id, actor_discord_id=asked.actor.discord_id,
            user_id=asked.event.user_id,
        )
        seed = result.seed
        room = await self._rooms(asked.event.room_name)
        await room.set_bot_info(with_seed(room.last_race, seed))
        players = "; each player also gets it by DM"
        return f"here is the seed ({seed.preset}): {seed.text}{players}."

    async def _lock(self, asked: Asked) -> str:
        changed = await self._seeds.set_locked(
            self._seed_room(asked), True, actor_discord_id=asked.actor.discord_id
        )
        if changed:
            return "the seed is locked: nobody can roll it until an organizer types !unlock."
        return ("the seed is locked already (a rolled seed locks it): nobody can roll it "
                "again until an organizer types !unlock.")

    async def _unlock(self, asked: Asked) -> str:
        changed = await self._seeds.set_locked(
            self._seed_room(asked), False, actor_discord_id=asked.actor.discord_id
        )
        return "the seed is unlocked: the next !seed rolls a new one." \
            if changed else "the seed was not locked."

    async def _fpa(self, asked: Asked) -> str:
        race = asked.race
        if asked.status != "in_progress":
            return "the fair-play agreement is for a race under way; the race is not running."
        started = parse_racetime_datetime(race.started_at) if race is not None else None
        posted = asked.event.posted_at or asked.event.occurred_at
        seconds = (posted - started).total_seconds() if started is not None else None
        owner = asked.owner
        call = await self._fair_play.call(
            FpaRoom(asked.event.category, asked.event.room_slug, self._url(asked),
                    owner.tournament_id, owner.guild_id, owner.match_id, owner.live_race_id),
            request_id=asked.event.event_id, racetime_user_id=asked.event.racetime_user_id,
            racetime_user_name=asked.sender, caller_discord_id=asked.actor.discord_id,
            user_id=asked.event.user_id,
            reason=rest_of(asked.event.text), race_seconds=seconds,
        )
        when = f" at {call.race_time}" if call.race_time else ""
        return (f"fair-play agreement called{when}. The organizers have been told and will "
                "review the race; keep racing unless they say otherwise.")

    async def _set_breaks(self, asked: Asked) -> str:
        if asked.status not in ("open", "invitational"):
            return "breaks are set before the race starts."
        race = asked.race
        limit = parse_racetime_duration(race.time_limit) if race is not None else None
        plan = break_rules.parse_plan(arguments(asked.event.text), limit)
        changed = await self._breaks.set_plan(
            asked.event.category, asked.event.room_slug, plan,
            actor_discord_id=asked.actor.discord_id, guild_id=asked.owner.guild_id,
        )
        if plan is None:
            return "breaks are off." if changed else "there were no breaks to turn off."
        return (f"breaks set: {plan.describe()}, announced here with a 5-minute warning, "
                "from the race's start.")

    def _url(self, asked: Asked) -> str:
        return self._absolute(asked.room_url)

    def _absolute(self, url: str) -> str:
        return url if url.startswith("http") else f"{self._racetime_url}{url}"


def _is_entrant(race: Race | None, racetime_user_id: str) -> bool:
    if race is None:
        return False
    return any(
        entrant.user is not None and entrant.user.id == racetime_user_id
        and entrant.status.value in IN_THE_RACE
        for entrant in race.entrants
    )


SEED_LINE = "Seed ("


def seed_button(presets: tuple[str, ...], default: str) -> dict[str, dict[str, Any]]:
    """The room's "Roll seed" message action: a choice of preset, then ``!seed <preset>``."""
    return {
        "Roll seed": {
            "message": "!seed ${preset}",
            "submit": "Roll",
            "help": "Roll the tournament's seed (once, before the start)",
            "survey": [{
                "name": "preset", "label": "Preset", "type": "select",
                "options": {name: name for name in presets}, "default": default,
            }],
        }
    }


def with_seed(race: Race | None, seed: RoomSeedInfo) -> str:
    """The room's bot info with the seed: RaceDesk's own lines (the match's marker, which
    recognises the room) stay, an earlier seed's line is replaced."""
    kept = [
        line for line in ((race.info_bot if race is not None else None) or "").splitlines()
        if line.strip() and not line.startswith(SEED_LINE)
    ]
    return _fit("\n".join([*kept, f"{SEED_LINE}{seed.preset}): {seed.text}"]))


def _fit(text: str) -> str:
    return text if len(text) <= MESSAGE_MAX else text[: MESSAGE_MAX - 1] + "…"

