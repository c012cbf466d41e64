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
from collections.abc import Mapping, Sequence
from typing import Any

import discord
import discord.ext.test as dpytest
import discord.ext.test.backend as dpytest_backend
from discord import app_commands
from discord.ext import commands
from discord.ext.test import factories
from discord.ext.test import runner as dpytest_runner
from discord.http import MultipartParameters
from discord.webhook.async_ import async_context

from rehearsal.slash import (
    COMMAND_TIMEOUT_SECONDS,
    EPHEMERAL_FLAG,
    INVOKER_TASK,
    BotMessage,
    RecordingWebhookAdapter,
    SlashResult,
    build_interaction,
)

# An owner id no member has: with owner ids set, discord.py never asks Discord who the
# owner is (the simulation cannot answer that).
NOBODY = 1


_ids = itertools.count(1_400_000_000_000_000_000)

COMPONENT_INTERACTION = 3
AUTOCOMPLETE_INTERACTION = 4
MODAL_SUBMIT_INTERACTION = 5
DEFERRED_UPDATE_MESSAGE = 6
UPDATE_MESSAGE = 7
AUTOCOMPLETE_RESULT = 8
# The names discord.py gives the tasks that run a pressed component's callback.
COMPONENT_TASKS = ("discord-ui-view-dispatch-", "discord-ui-dynamic-item-")
MODAL_TASKS = ("discord-ui-modal-dispatch-",)  # the task that runs a modal's on_submit
# What Discord answers to a DM the recipient does not accept.
DMS_CLOSED = (403, 50007, "Cannot send messages to this user")


def member_intents() -> discord.Intents:
    """dpytest only hands out members it can cache, which takes the members intent."""
    intents = discord.Intents.default()
    intents.members = True
    return intents


class SimulatedDiscordHttp(dpytest_backend.FakeHttp):
    """dpytest's fake Discord HTTP API, answering a DM as Discord would when its recipient
    does not take it (403, code 50007), and keeping the components (buttons) of what the
    bot sends, which dpytest drops."""

    dm_answers: dict[int, tuple[int, int, str]]  # recipient -> (status, code, message)

    @classmethod
    def install(cls, client: discord.Client) -> SimulatedDiscordHttp:
        """Take over ``client``'s fake HTTP client (and its state) in place."""
        http = client.http
        assert isinstance(http, dpytest_backend.FakeHttp), "configure dpytest first"
        http.__class__ = cls  # the same object, so dpytest's state keeps pointing at it
        assert isinstance(http, cls)
        http.dm_answers = {}
        return http

    async def start_private_message(self, user_id: int) -> dict[str, Any]:
        """Open a DM as Discord does for ``Client.create_dm``: by the user's id alone
        (dpytest's own reads the user from its caller, which only ``User.create_dm`` is)."""
        user = self.state.get_user(user_id)
        if user is None:
            raise discord.HTTPException(
                dpytest_backend.FakeRequest(400, "Bad Request"),  # type: ignore[arg-type]
                {"code": 50033, "message": "Invalid Recipient(s)"},
            )
        return factories.make_dm_channel_dict(user)

    async def get_member(self, guild_id: int, member_id: int) -> dict[str, Any]:
        """A member as Discord answers ``Guild.fetch_member``: 404 Unknown Member (10007) for
        someone who is not one (dpytest's own fails on that)."""
        guild = self.state._get_guild(guild_id)
        member = guild.get_member(member_id) if guild is not None else None
        if member is None:
            raise discord.NotFound(
                dpytest_backend.FakeRequest(404, "Not Found"),  # type: ignore[arg-type]
                {"code": 10007, "message": "Unknown Member"},
            )
        return factories.dict_from_member(member)

    async def send_message(
        self, channel_id: int, *, params: MultipartParameters
    ) -> dict[str, Any]:
        # dpytest reads the channel from its caller's frame: this one, so the local's name
        # matters.
        channel = self.state.get_channel(channel_id)
        if isinstance(channel, discord.DMChannel) and channel.recipient is not None:
            answer = self.dm_answers.get(channel.recipient.id)
            if answer is not None:
                status, code, text = answer
                error = {403: discord.Forbidden, 404: discord.NotFound}.get(status) or (
                    discord.DiscordServerError if status >= 500 else discord.HTTPException
                )
                raise error(
                    dpytest_backend.FakeRequest(status, text),  # type: ignore[arg-type]
                    {"code": code, "message": text},
                )
        data = await super().send_message(channel_id, params=params)
        message = self.state._get_message(int(data["id"]))  # what dpytest queued as sent
        if message is not None:
            if channel is not None:
                message.channel = channel  # type: ignore[assignment]  # with its recipient
            rows = (params.payload or {}).get("components") or []
            message.components = [discord.ActionRow(row) for row in rows if row["type"] == 1]
        return data


class InteractionAdapter(RecordingWebhookAdapter):
    """Also records what :class:`RecordingWebhookAdapter` leaves out: a pressed component's
    answer (the message updated in place) and autocomplete's choices."""

    def __init__(self, bot_user: dict[str, Any], channel_id: int) -> None:
        super().__init__(bot_user, channel_id)
        self.choices: list[dict[str, Any]] | None = None

    async def request(self, route: Any, session: Any, *, payload: Any = None, **kw: Any) -> Any:
        kind = (payload or {}).get("type")
        if route.path.endswith("/callback") and kind in (
            UPDATE_MESSAGE, DEFERRED_UPDATE_MESSAGE, AUTOCOMPLETE_RESULT,
        ):
            data = payload.get("data") or {}
            if kind == UPDATE_MESSAGE:
                self._record(data, "update")
            elif kind == AUTOCOMPLETE_RESULT:
                self.choices = data.get("choices") or []
            return {
                "interaction": {"id": str(route.webhook_id), "type": 3},
                "resource": {"type": kind},
            }
        return await super().request(route, session, payload=payload, **kw)


class SimulatedGuild:
    """One simulated server around ``bot``: ``await start()``, then act, then ``close()``."""

    def __init__(
        self,
        bot: commands.Bot,
        *,
        guild: str = "Test Guild 0",
        channels: Sequence[str] | int = 1,
        members: Sequence[str] | int = 3,
    ) -> None:
        self.bot = bot
        self._guild_name = guild
        self._channels = list(channels) if not isinstance(channels, int) else channels
        self._members = list(members) if not isinstance(members, int) else members

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
        self._http = SimulatedDiscordHttp.install(bot)
        for member in self.guild.members:
            member.nick = None  # dpytest makes up "<name>_<n>_nick"; people are their names
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
        adapter = self._adapter(payload)
        await self._dispatch(payload, adapter, (INVOKER_TASK,))
        return SlashResult(adapter.messages)

    async def press(
        self, message: BotMessage, label: str, *, member: discord.Member
    ) -> SlashResult:
        """``member`` presses the button labelled ``label`` on a message the bot answered
        with; returns the bot's answers (an ``update`` is the message edited in place).

        A button whose view has stopped (timed out) gets no answer, as on Discord.
        """
        button = _find_button(message, label)
        payload = self._interaction_payload(COMPONENT_INTERACTION, member)
        payload["data"] = {"custom_id": button["custom_id"], "component_type": button["type"]}
        adapter = self._adapter(payload)
        payload["message"] = adapter._message(
            {
                "content": message.content,
                "embeds": [embed.to_dict() for embed in message.embeds],
                "components": message.components,
                "flags": EPHEMERAL_FLAG if message.ephemeral else 0,
            }
        ) | {"id": str(self._message_showing(button["custom_id"]) or next(_ids))}
        await self._dispatch(payload, adapter, COMPONENT_TASKS)
        for answer in adapter.messages:
            if answer.kind == "update":  # the same message, as private as it was
                answer.ephemeral = message.ephemeral
        return SlashResult(adapter.messages)

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
        payload = self._interaction_payload(MODAL_SUBMIT_INTERACTION, member)
        payload["data"] = {
            "custom_id": modal.modal_id,
            "components": [
                {"type": 1, "components": [
                    {"type": 4, "custom_id": fields[label]["custom_id"], "value": value}
                ]}
                for label, value in values.items()
            ],
        }
        adapter = self._adapter(payload)
        await self._dispatch(payload, adapter, MODAL_TASKS)
        return SlashResult(adapter.messages)

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
        adapter = self._adapter(payload)
        await self._dispatch(payload, adapter, (INVOKER_TASK,))
        return [
            app_commands.Choice(name=choice["name"], value=choice["value"])
            for choice in adapter.choices or []
        ]

    def _interaction_payload(self, kind: int, member: discord.Member) -> dict[str, Any]:
        channel = self.channel_of(member)
        member_payload = factories.dict_from_member(member)
        member_payload["permissions"] = str(channel.permissions_for(member).value)
        return {
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
            "guild_id": str(member.guild.id),
            "channel_id": str(channel.id),
            "channel": factories.dict_from_channel(channel),
            "member": member_payload,
            "guild_locale": "en-US",
            "context": 0,
        }

    def _adapter(self, payload: dict[str, Any]) -> InteractionAdapter:
        assert self.bot.user is not None
        return InteractionAdapter(
            factories.dict_from_user(self.bot.user), int(payload["channel_id"])
        )

    async def _dispatch(
        self, payload: dict[str, Any], adapter: InteractionAdapter, tasks: Sequence[str]
    ) -> None:
        """Feed ``payload`` to the client as Discord would; wait for the tasks it starts."""

        def started() -> set[asyncio.Task[Any]]:
            return {t for t in asyncio.all_tasks() if t.get_name().startswith(tuple(tasks))}

        token = async_context.set(adapter)  # the tasks copy the context: they answer here
        try:
            before = started()
            self.bot._connection.parse_interaction_create(payload)  # type: ignore[arg-type]
            async with asyncio.timeout(COMMAND_TIMEOUT_SECONDS):
                await asyncio.gather(*(started() - before))
        finally:
            async_context.reset(token)

    def _message_showing(self, custom_id: str) -> int | None:
        """The message whose live view has this component (``None``: no view is waiting).

        The recording adapter keeps no message ids; discord.py's view store knows which
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
