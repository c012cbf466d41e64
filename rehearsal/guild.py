"""A Discord server simulated by dpytest's backend, with RaceDesk's real cogs and tree.

The bot is the real :class:`discord.Client` subclass with every cog loaded; only Discord's
side is simulated: the guild, its channels and members live in dpytest's fake state, slash
commands arrive as real ``INTERACTION_CREATE`` payloads (see :mod:`rehearsal.slash`), and what
the bot posts in channels or sends by DM is collected instead of leaving the machine.
Members can press the buttons of the bot's replies (:meth:`SimulatedGuild.press`), and a
member can refuse the bot's DMs as Discord would (:meth:`SimulatedGuild.refuse_dms`).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, cast

import discord
import discord.ext.test as dpytest
import discord.ext.test.backend as dpytest_backend
from discord import app_commands
from discord.ext import commands
from discord.ext.test import factories
from discord.ext.test import runner as dpytest_runner
from discord.http import MultipartParameters
from discord.webhook.async_ import async_context

from rehearsal.discord_rules import Refusal, RefusedByDiscord, check_message
from rehearsal.scheduled_events import RefusedRequest, ScheduledEvents
from rehearsal.slash import (
    COMMAND_TIMEOUT_SECONDS,
    EPHEMERAL_FLAG,
    INVOKER_TASK,
    BotMessage,
    InteractionEndpoint,
    SlashResult,
    build_interaction,
    current_endpoint,
    spend_discord_time,
)

# An owner id no member has: with owner ids set, discord.py never asks Discord who the
# owner is (the simulation cannot answer that).
NOBODY = 1


_ids = itertools.count(1_400_000_000_000_000_000)

COMPONENT_INTERACTION = 3
AUTOCOMPLETE_INTERACTION = 4
MODAL_SUBMIT_INTERACTION = 5
# The names discord.py gives the tasks that run a pressed component's callback.
COMPONENT_TASKS = ("discord-ui-view-dispatch-", "discord-ui-dynamic-item-")
MODAL_TASKS = ("discord-ui-modal-dispatch-",)  # the task that runs a modal's on_submit
# What Discord answers to a DM the recipient does not accept.
DMS_CLOSED = (403, 50007, "Cannot send messages to this user")
# What one request to the simulated Discord's API costs the interaction that makes it, on
# the simulated clock: about a round trip to Discord from a well-placed server.
ROUND_TRIP_SECONDS = 0.1


def member_intents() -> discord.Intents:
    """dpytest only hands out members it can cache, which takes the members intent."""
    intents = discord.Intents.default()
    intents.members = True
    return intents


class SimulatedDiscordHttp(dpytest_backend.FakeHttp):
    """dpytest's fake Discord HTTP API, answering a DM as Discord would when its recipient
    does not take it (403, code 50007), refusing a message beyond Discord's limits as Discord
    does (400, code 50035, :mod:`rehearsal.discord_rules`), and keeping the components
    (buttons) of what the bot sends, which dpytest drops.

    Each request made while an interaction is being handled costs it
    :data:`ROUND_TRIP_SECONDS` on the simulated clock (no real waiting): a command that makes
    many requests to Discord before it answers misses the 3-second deadline here as it would
    on Discord, whatever the machine's speed.
    """

    dm_answers: dict[int, tuple[int, int, str]]  # recipient -> (status, code, message)
    refusals: list[Refusal]  # the simulated Discord's, shared with its interactions
    round_trip_seconds: float
    scheduled_events: ScheduledEvents  # every simulated server's

    @classmethod
    def install(cls, client: discord.Client, refusals: list[Refusal]) -> SimulatedDiscordHttp:
        """Take over ``client``'s fake HTTP client (and its state) in place."""
        http = client.http
        assert isinstance(http, dpytest_backend.FakeHttp), "configure dpytest first"
        http.__class__ = cls  # the same object, so dpytest's state keeps pointing at it
        assert isinstance(http, cls)
        http.dm_answers = {}
        http.refusals = refusals
        http.round_trip_seconds = ROUND_TRIP_SECONDS
        http.scheduled_events = ScheduledEvents(lambda: datetime.now(UTC))
        return http

    def _round_trip(self) -> None:
        spend_discord_time(self.round_trip_seconds)

    async def start_private_message(self, user_id: int) -> dict[str, Any]:  # type: ignore[override]  # the raw payload, as dpytest's FakeHttp answers
        """Open a DM as Discord does for ``Client.create_dm``: by the user's id alone
        (dpytest's own reads the user from its caller, which only ``User.create_dm`` is)."""
        self._round_trip()
        user = self.state.get_user(user_id)
        if user is None:
            raise discord.HTTPException(
                # (ignored below: dpytest's request stands in for aiohttp's)
                dpytest_backend.FakeRequest(400, "Bad Request"),  # type: ignore[arg-type]
                {"code": 50033, "message": "Invalid Recipient(s)"},
            )
        return factories.make_dm_channel_dict(user)

    async def get_member(self, guild_id: int, member_id: int) -> dict[str, Any]:  # type: ignore[override]  # the raw payload, as dpytest's FakeHttp answers
        """A member as Discord answers ``Guild.fetch_member``: 404 Unknown Member (10007) for
        someone who is not one (dpytest's own fails on that)."""
        self._round_trip()
        guild = self.state._get_guild(guild_id)
        member = guild.get_member(member_id) if guild is not None else None
        if member is None:
            raise discord.NotFound(
                # (ignored below: dpytest's request stands in for aiohttp's)
                dpytest_backend.FakeRequest(404, "Not Found"),  # type: ignore[arg-type]
                {"code": 10007, "message": "Unknown Member"},
            )
        return factories.dict_from_member(member)

    # -- scheduled events: the routes discord.py calls, as Discord answers them ----------------

    @contextmanager
    def _answered(self) -> Iterator[None]:
        """A refusal of the store raised as discord.py raises Discord's answer; one of what
        RaceDesk sent (400) is also kept, so the test that sent it fails. A 403 (no Manage
        Events) or 404 (deleted in Discord) is the server's doing, not RaceDesk's."""
        self._round_trip()
        try:
            yield
        except RefusedRequest as refused:
            found = refused.refusal
            if found.status == 400:
                endpoint = current_endpoint()
                if endpoint is not None:
                    endpoint.note(found)
                else:
                    self.refusals.append(found)
            raise found.exception() from None

    async def get_scheduled_events(  # type: ignore[override]  # the raw payload
        self, guild_id: int, with_user_count: bool
    ) -> list[dict[str, Any]]:
        with self._answered():
            return self.scheduled_events.of(int(guild_id))

    async def create_guild_scheduled_event(  # type: ignore[override]  # the raw payload
        self, guild_id: int, *, reason: str | None = None, **payload: Any
    ) -> dict[str, Any]:
        assert self.state.user is not None
        creator = factories.dict_from_user(cast(discord.User, self.state.user))
        with self._answered():
            return self.scheduled_events.create(int(guild_id), payload, dict(creator))

    async def get_scheduled_event(  # type: ignore[override]  # the raw payload
        self, guild_id: int, guild_scheduled_event_id: int, with_user_count: bool
    ) -> dict[str, Any]:
        with self._answered():
            return self.scheduled_events.get(int(guild_id), int(guild_scheduled_event_id))

    async def edit_scheduled_event(  # type: ignore[override]  # the raw payload
        self, guild_id: int, guild_scheduled_event_id: int, *, reason: str | None = None,
        **payload: Any,
    ) -> dict[str, Any]:
        with self._answered():
            return self.scheduled_events.edit(
                int(guild_id), int(guild_scheduled_event_id), payload
            )

    async def delete_scheduled_event(  # type: ignore[override]  # the raw payload
        self, guild_id: int, guild_scheduled_event_id: int, *, reason: str | None = None
    ) -> None:
        with self._answered():
            self.scheduled_events.delete(int(guild_id), int(guild_scheduled_event_id))

    async def send_message(  # type: ignore[override]  # the raw payload, as dpytest's FakeHttp answers
        self, channel_id: int, *, params: MultipartParameters
    ) -> dict[str, Any]:
        # dpytest reads the channel from its caller's frame: this one, so the local's name
        # matters.
        self._round_trip()
        channel = self.state.get_channel(channel_id)
        where = f"#{channel.name}" if isinstance(channel, discord.TextChannel) else "a DM"
        refused = check_message(params.payload or {}, f"message in {where}")
        if refused is not None:
            endpoint = current_endpoint()
            if endpoint is not None:
                endpoint.note(refused)
            else:
                self.refusals.append(refused)
            raise refused.exception()
        if isinstance(channel, discord.DMChannel) and channel.recipient is not None:
            answer = self.dm_answers.get(channel.recipient.id)
            if answer is not None:
                status, code, text = answer
                error = {403: discord.Forbidden, 404: discord.NotFound}.get(status) or (
                    discord.DiscordServerError if status >= 500 else discord.HTTPException
                )
                raise error(
                    # (ignored below: dpytest's request stands in for aiohttp's)
                    dpytest_backend.FakeRequest(status, text),  # type: ignore[arg-type]
                    {"code": code, "message": text},
                )
        data = await super().send_message(channel_id, params=params)
        message = self.state._get_message(int(str(data["id"])))  # what dpytest queued as sent
        if message is not None:
            if channel is not None:
                message.channel = channel  # type: ignore[assignment]  # with its recipient
            rows = (params.payload or {}).get("components") or []
            message.components = [discord.ActionRow(row) for row in rows if row["type"] == 1]
        return data


class SimulatedGuild:
    """One simulated server around ``bot``: ``await start()``, then act, then ``close()``."""

    def __init__(
        self,
        bot: commands.Bot,
        *,
        guild: str = "Test Guild 0",
        channels: Sequence[str] | int = 1,
        members: Sequence[str] | int = 3,
        acknowledge_slow_commands: bool = False,
    ) -> None:
        """``acknowledge_slow_commands``: keep RaceDesk's acknowledgement of a command slower
        than a second (``cogs._shared.answer_deadline``). Off by default: whether it comes
        depends on the machine's speed, and what a test or the rehearsal sees must not
        (``tests/cogs/test_answer_deadline.py`` and ``bench.peak`` turn it on)."""
        self.bot = bot
        self._acknowledge_slow_commands = acknowledge_slow_commands
        self._guild_name = guild
        self._channels = list(channels) if not isinstance(channels, int) else channels
        self._members = list(members) if not isinstance(members, int) else members
        # Every request the simulated Discord refused and no interaction has reported yet
        # (see check_refusals); an interaction reports its own (RefusedByDiscord).
        self.refusals: list[Refusal] = []
        # The simulated Discord's clock, in seconds (the deadline of an answer is on it).
        self.clock: Callable[[], float] = time.monotonic
        # Told (what, seconds) when the bot first answers an interaction (``bench.peak``).
        self.on_answer: Callable[[str, float], None] | None = None

    async def start(self) -> None:
        """Configure the fake Discord state and load every cog (a failing cog fails here)."""
        bot = self.bot
        await bot._async_setup_hook()  # dpytest's documented set-up for discord.py 2
        dpytest.configure(
            bot,
            guilds=[self._guild_name],
            text_channels=self._channels,
            voice_channels=0,
            members=self._members,
        )
        # What Discord's READY would set, which dpytest's fresh connection state leaves out.
        state = bot._connection
        assert bot.user is not None
        state.application_id = bot.user.id
        state._command_tree = bot.tree
        if not self._acknowledge_slow_commands and hasattr(bot.tree, "acknowledge_after"):
            bot.tree.acknowledge_after = None
        self._http = SimulatedDiscordHttp.install(bot, self.refusals)
        for member in self.guild.members:
            member.nick = None  # dpytest makes up "<name>_<n>_nick"; people are their names
        # (ignored below: the composition root's bot, not typed here)
        await bot.load_cogs()  # type: ignore[attr-defined]

    async def close(self) -> None:
        await dpytest.empty_queue()
        for cog in list(self.bot.cogs):
            await self.bot.remove_cog(cog)

    # -- who and where -----------------------------------------------------------------------

    @property
    def guild(self) -> discord.Guild:
        return dpytest.get_config().guilds[0]

    @property
    def channel(self) -> discord.TextChannel:
        # (ignored below: dpytest's config keeps text channels)
        return dpytest.get_config().channels[0]  # type: ignore[return-value]

    @property
    def members(self) -> list[discord.Member]:
        return dpytest.get_config().members

    def name_of(self, discord_id: int) -> str | None:
        """The name a member, role or channel of this server with that id is known by."""
        guild = self.guild
        found = (
            guild.get_member(discord_id) or guild.get_role(discord_id)
            or guild.get_channel(discord_id)
        )
        if isinstance(found, discord.Member):
            return found.display_name
        return found.name if found is not None else None

    def channel_of(self, member: discord.abc.User) -> discord.TextChannel:
        """Where ``member`` acts: this server's channel, or, for a member of another simulated
        server (:meth:`add_server`), that server's first text channel."""
        if isinstance(member, discord.Member) and member.guild.id != self.guild.id:
            return member.guild.text_channels[0]
        return self.channel

    def add_server(self, name: str, members: Sequence[str]) -> discord.Guild:
        """A second simulated server with one text channel, the bot and ``members`` in it
        (their slash commands come from there: :meth:`channel_of`)."""
        guild = dpytest_backend.make_guild(name)
        dpytest_backend.make_text_channel("general", guild)
        state = dpytest_backend.get_state()
        assert state.user is not None, "dpytest's bot user is set up before any server"
        dpytest_backend.make_member(state.user, guild)
        for number, member in enumerate(members, start=len(self.members) + 1):
            user = dpytest_backend.make_user(member, f"{number:04}")
            dpytest_backend.make_member(user, guild)
        return guild

    def text_channel(self, name: str) -> discord.TextChannel:
        channel = discord.utils.get(self.guild.text_channels, name=name)
        if channel is None:
            raise LookupError(f"no simulated channel called #{name}")
        return channel

    def add_text_channel(self, name: str) -> discord.TextChannel:
        return dpytest_backend.make_text_channel(name, self.guild)

    def member(self, key: int | str = 0) -> discord.Member:
        """A member by position or by display name."""
        if isinstance(key, int):
            return self.members[key]
        for member in self.members:
            if key in (member.name, member.display_name):
                return member
        raise LookupError(f"no simulated member called {key!r}")

    async def add_member(self, name: str) -> discord.Member:
        """A new member of the server called ``name``."""
        member = await dpytest.member_join(self.guild, name=name, discrim=len(self.members) + 1)
        member.nick = None
        return member

    def set_permissions(
        self, channel: discord.TextChannel, target: discord.Member | discord.Role,
        **permissions: bool | None,
    ) -> None:
        """Overwrite ``target``'s permissions in ``channel`` (e.g. ``send_messages=False``),
        as a server admin does in Discord (dpytest's own overwrites of members and roles are
        never applied: their types are strings where discord.py reads numbers)."""
        allow, deny = discord.PermissionOverwrite(**permissions).pair()
        overwrites: list[Any] = [o._asdict() for o in channel._overwrites if o.id != target.id]
        overwrites.append({
            "id": str(target.id), "type": 0 if isinstance(target, discord.Role) else 1,
            "allow": str(allow.value), "deny": str(deny.value),
        })
        data: Any = factories.dict_from_channel(channel)
        data["permission_overwrites"] = overwrites
        self.bot._connection.parse_channel_update(data)

    def remove_member(self, member: discord.Member) -> None:
        """``member`` leaves the server (Discord's ``GUILD_MEMBER_REMOVE``)."""
        # (ignored below: a member serves as the user; dpytest's payloads are untyped)
        user: Any = factories.dict_from_user(member)  # type: ignore[arg-type]
        self.bot._connection.parse_guild_member_remove(
            {"guild_id": str(member.guild.id), "user": user}
        )

    async def grant(self, member: discord.Member, **permissions: bool) -> discord.Member:
        """Give ``member`` a new role with ``permissions`` (e.g. ``manage_guild=True``)."""
        value = discord.Permissions(**permissions).value
        role = dpytest_backend.make_role(f"perms-{value}", self.guild, permissions=value)
        await dpytest.add_role(member, role)
        return self.guild.get_member(member.id) or member

    async def add_role(self, name: str, *members: discord.Member) -> discord.Role:
        """A new role without permissions of its own (e.g. the moderators'), for ``members``."""
        role = dpytest_backend.make_role(name, self.guild, permissions=0)
        for member in members:
            await dpytest.add_role(member, role)
        return role

    def make_owner(self, *members: discord.abc.User) -> None:
        """These members are the bot's owners (``[discord] owner_ids``)."""
        self.bot.owner_ids = {NOBODY, *(m.id for m in members)}

    def refuse_dms(self, member: discord.abc.User, refuse: bool = True) -> None:
        """``member`` does not accept DMs from the bot: Discord answers 403, code 50007."""
        self.answer_dms(member, DMS_CLOSED if refuse else None)

    def answer_dms(self, member: discord.abc.User, answer: tuple[int, int, str] | None) -> None:
        """Discord answers every DM to ``member`` with ``(status, code, message)``, e.g.
        ``(503, 0, "Service Unavailable")`` (``None``: DMs are delivered again)."""
        if answer is None:
            self._http.dm_answers.pop(member.id, None)
        else:
            self._http.dm_answers[member.id] = answer

    # -- scheduled events --------------------------------------------------------------------

    @property
    def scheduled_events(self) -> ScheduledEvents:
        """The servers' scheduled events, as Discord keeps them (``now`` is Discord's clock,
        which a start time must be after: set it to the services' clock)."""
        return self._http.scheduled_events

    def events_of(self, guild: discord.Guild | None = None) -> list[dict[str, Any]]:
        """This server's (or ``guild``'s) scheduled events, Discord's JSON, oldest first."""
        return self._http.scheduled_events.of((guild or self.guild).id)

    def allow_manage_events(self, allowed: bool = True) -> None:
        """Whether the bot has Manage Events here (without it: 403, code 50013)."""
        blocked = self._http.scheduled_events.without_manage_events
        if allowed:
            blocked.discard(self.guild.id)
        else:
            blocked.add(self.guild.id)

    # -- what Discord refused ----------------------------------------------------------------

    def take_refusals(self) -> list[Refusal]:
        """What the simulated Discord refused outside interactions (posts and DMs) since the
        last call, e.g. to see that a test's oversized message was refused."""
        taken = list(self.refusals)
        self.refusals.clear()
        return taken

    def check_refusals(self) -> None:
        """:class:`RefusedByDiscord` if Discord refused anything nobody has looked at: a
        post or DM beyond Discord's limits fails the test (or rehearsal step) that sent it."""
        refused = self.take_refusals()
        if refused:
            raise RefusedByDiscord(refused)

    def spend(self, seconds: float) -> None:
        """The interaction being handled takes ``seconds`` longer on the simulated clock
        (called from within the bot, e.g. by a test's deliberately slow step)."""
        spend_discord_time(seconds)

    # -- acting ------------------------------------------------------------------------------

    async def slash(
        self,
        name: str,
        *,
        member: discord.Member | discord.User,
        in_dm: bool = False,
        options: Mapping[str, Any] | None = None,
        **more_options: Any,
    ) -> SlashResult:
        """Run ``/name`` as ``member`` through the real CommandTree; returns the replies.

        Options are keywords; ``options`` also takes those whose names are taken here
        (``/notifications history member:``).
        """
        channel = None if in_dm else self.channel_of(member)
        payload = build_interaction(
            self.bot, name, member=member, channel=channel,
            options={**(options or {}), **more_options},
        )
        endpoint = self._endpoint(payload, f"/{name}")
        await self._dispatch(payload, endpoint, (INVOKER_TASK,))
        return self._result(endpoint)

    async def press(
        self, message: BotMessage, label: str, *, member: discord.Member
    ) -> SlashResult:
        """``member`` presses the button labelled ``label`` on a message the bot answered
        with; returns the bot's answers (an ``update`` is the message edited in place).

        A button whose view has stopped (timed out) gets no answer, as on Discord.
        """
        button = _find_button(message, label)
        payload = self._interaction_payload(
            COMPONENT_INTERACTION, member, in_dm=message.in_dm, channel_id=message.channel_id
        )
        payload["data"] = {"custom_id": button["custom_id"], "component_type": button["type"]}
        endpoint = self._endpoint(payload, f"button {label!r}")
        shown = message.message_id or self._message_showing(button["custom_id"]) or next(_ids)
        payload["message"] = endpoint._message(
            {
                "content": message.content,
                "embeds": [embed.to_dict() for embed in message.embeds],
                "components": message.components,
                "flags": EPHEMERAL_FLAG if message.ephemeral else 0,
            }
        ) | {"id": str(shown)}
        await self._dispatch(payload, endpoint, COMPONENT_TASKS)
        for answer in endpoint.messages:
            if answer.kind == "update":  # the same message, as private as it was
                answer.ephemeral = message.ephemeral
            elif answer.kind == "modal":  # submitted from where its button was pressed
                answer.in_dm, answer.channel_id = message.in_dm, int(payload["channel_id"])
                answer.origin = payload["message"]
        return self._result(endpoint)

    async def submit_modal(
        self, modal: BotMessage, values: Mapping[str, str], *, member: discord.Member
    ) -> SlashResult:
        """``member`` fills in the modal the bot answered with (``values`` by the fields'
        labels) and submits it; returns the bot's answers.

        Discord sends the values back in an ``INTERACTION_CREATE`` of type 5 (modal submit),
        which discord.py's view store hands to the waiting modal.
        """
        if modal.kind != "modal" or modal.modal_id is None:
            raise LookupError(f"that message is not a modal but a {modal.kind}")
        fields = modal.fields
        unknown = set(values) - set(fields)
        if unknown:
            raise LookupError(f"the modal has no field(s) {sorted(unknown)}; it has {list(fields)}")
        payload = self._interaction_payload(
            MODAL_SUBMIT_INTERACTION, member, in_dm=modal.in_dm, channel_id=modal.channel_id
        )
        if modal.origin is not None:  # opened by a message's button: Discord sends it along
            payload["message"] = modal.origin
        payload["data"] = {
            "custom_id": modal.modal_id,
            "components": [
                {"type": 1, "components": [
                    {"type": 4, "custom_id": fields[label]["custom_id"], "value": value}
                ]}
                for label, value in values.items()
            ],
        }
        endpoint = self._endpoint(payload, f"modal {modal.content!r}")
        await self._dispatch(payload, endpoint, MODAL_TASKS)
        return self._result(endpoint)

    async def autocomplete(
        self, name: str, option: str, typed: str, *, member: discord.Member, **options: Any
    ) -> list[app_commands.Choice[str]]:
        """The choices ``/name`` offers while ``member`` types ``typed`` into ``option``."""
        payload = build_interaction(
            self.bot, name, member=member, channel=self.channel_of(member),
            options={**options, option: typed},
        )
        payload["type"] = AUTOCOMPLETE_INTERACTION
        leaves = payload["data"]["options"]
        while leaves and leaves[0]["type"] in (1, 2):  # down through the subcommands
            leaves = leaves[0]["options"]
        for leaf in leaves:
            leaf["focused"] = leaf["name"] == option
        endpoint = self._endpoint(payload, f"/{name} {option}: autocomplete")
        await self._dispatch(payload, endpoint, (INVOKER_TASK,))
        self._result(endpoint)
        return [
            app_commands.Choice(name=choice["name"], value=choice["value"])
            for choice in endpoint.choices or []
        ]

    def _interaction_payload(
        self, kind: int, member: discord.Member, *, in_dm: bool = False,
        channel_id: int | None = None,
    ) -> dict[str, Any]:
        """An interaction of ``member``'s: in the server, in channel ``channel_id`` (default:
        where they act, :meth:`channel_of`), or ``in_dm``: in their DM with the bot (channel
        ``channel_id``), which brings the user and no server, as Discord sends it."""
        payload: dict[str, Any] = {
            "id": str(next(_ids)),
            "application_id": str(self.bot.application_id),
            "type": kind,
            "token": f"interaction-token-{next(_ids)}",
            "version": 1,
            "locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {},
            "app_permissions": str(discord.Permissions.all().value),
            "attachment_size_limit": 8 * 1024 * 1024,
        }
        if in_dm:
            dm = str(channel_id or next(_ids))
            return payload | {
                # (ignored below: a member serves as the user)
                "user": factories.dict_from_user(member),  # type: ignore[arg-type]
                "channel_id": dm,
                "channel": {"id": dm, "type": 1},
                "context": 1,
            }
        found = self.bot.get_channel(channel_id) if channel_id is not None else None
        channel = (
            found if isinstance(found, discord.TextChannel) and found.guild == member.guild
            else self.channel_of(member)
        )
        member_payload = factories.dict_from_member(member)
        member_payload["permissions"] = str(channel.permissions_for(member).value)
        return payload | {
            "guild_id": str(member.guild.id),
            "channel_id": str(channel.id),
            "channel": factories.dict_from_channel(channel),
            "member": member_payload,
            "guild_locale": "en-US",
            "context": 0,
        }

    def _endpoint(self, payload: dict[str, Any], what: str) -> InteractionEndpoint:
        assert self.bot.user is not None
        return InteractionEndpoint(
            factories.dict_from_user(cast(discord.User, self.bot.user)), int(payload["channel_id"]),
            what=what, refusals=self.refusals, clock=self.clock, on_answer=self.on_answer,
        )

    def _result(self, endpoint: InteractionEndpoint) -> SlashResult:
        """What the bot answered; :class:`RefusedByDiscord` if Discord refused any of it,
        even when the bot caught the error (and apologised)."""
        result = SlashResult(endpoint.messages)
        if endpoint.refused:
            self.refusals[:] = [
                r for r in self.refusals if not any(r is mine for mine in endpoint.refused)
            ]
            raise RefusedByDiscord(endpoint.refused, result)
        return result

    async def _dispatch(
        self, payload: dict[str, Any], adapter: InteractionEndpoint, tasks: Sequence[str]
    ) -> None:
        """Feed ``payload`` to the client as Discord would; wait for the tasks it starts."""
        token = async_context.set(adapter)  # the tasks copy the context: they answer here
        try:
            with _tasks_created() as created:
                # (ignored below: the payload Discord's gateway would send)
                self.bot._connection.parse_interaction_create(payload)  # type: ignore[arg-type]
            # Named once created (create_task names a task after the factory made it).
            mine = [t for t in created if t.get_name().startswith(tuple(tasks))]
            async with asyncio.timeout(COMMAND_TIMEOUT_SECONDS):
                await asyncio.gather(*mine)
        finally:
            async_context.reset(token)

    def _message_showing(self, custom_id: str) -> int | None:
        """The message whose live view has this component (``None``: no view is waiting).

        The interaction endpoint keeps no message ids; discord.py's view store knows which
        message each view it still listens to was sent as.
        """
        views = self.bot._connection._view_store._views
        for message_id, items in views.items():
            if any(key[1] == custom_id for key in items):
                return message_id
        return None

    def sent(self) -> list[discord.Message]:
        """Messages the bot posted in channels or sent by DM since the last call."""
        messages = []
        queue = dpytest_runner.sent_queue
        while not queue.empty():
            messages.append(queue.get_nowait())
        return messages


@contextmanager
def _tasks_created() -> Iterator[list[asyncio.Task[Any]]]:
    """The tasks created on the running loop meanwhile (the code inside must not await).

    Cheaper than comparing ``asyncio.all_tasks()`` before and after, which costs a walk over
    every task: thousands while ``bench.peak``'s rooms race.
    """
    loop = asyncio.get_running_loop()
    previous = loop.get_task_factory()
    created: list[asyncio.Task[Any]] = []

    def factory(
        loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any
    ) -> asyncio.Future[Any]:
        if previous is not None:
            task = previous(loop, coro, **kwargs)
        else:
            task = asyncio.Task(coro, loop=loop, **kwargs)
        if isinstance(task, asyncio.Task):
            created.append(task)
        return task

    loop.set_task_factory(factory)
    try:
        yield created
    finally:
        loop.set_task_factory(previous)


def _find_button(message: BotMessage, label: str) -> dict[str, Any]:
    buttons = [
        component for component in message.buttons
        if component.get("type") == discord.ComponentType.button.value
    ]
    for button in buttons:
        if button.get("label") == label:
            return button
    labels = [b.get("label") for b in buttons]
    raise LookupError(f"no button labelled {label!r} on that message; it has {labels}")
