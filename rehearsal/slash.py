"""Drive slash commands through the real ``CommandTree``, as Discord would.

Used by the rehearsal (``python bot.py --demo``) and by the tests alike.

An ``INTERACTION_CREATE`` payload is built from the command's own definition and fed to the
client's connection state (``parse_interaction_create``), so option parsing, transformers,
checks and the tree's error handler all run. Only the last hop — the HTTP request that
answers the interaction — is replaced, by :class:`RecordingWebhookAdapter`, which keeps
what the bot said.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import discord
from discord import app_commands
from discord.ext.test import factories
from discord.webhook.async_ import AsyncWebhookAdapter, async_context

_ids = itertools.count(1_300_000_000_000_000_000)

CHANNEL_MESSAGE = 4
DEFERRED_CHANNEL_MESSAGE = 5
MODAL = 9
EPHEMERAL_FLAG = 64
INVOKER_TASK = "CommandTree-invoker"  # the name discord.py gives the task running a command
COMMAND_TIMEOUT_SECONDS = 10.0


@dataclass
class BotMessage:
    """One thing the bot said in answer to an interaction."""

    content: str | None
    embeds: list[discord.Embed]
    ephemeral: bool
    kind: str  # "response", "followup", "edit", "defer" or "modal"
    components: list[dict[str, Any]] = field(default_factory=list)
    modal_id: str | None = None  # a modal's custom id (``kind == "modal"``; its title is
    # ``content``, its text inputs are ``fields``)

    @property
    def fields(self) -> dict[str, dict[str, Any]]:
        """A modal's text inputs by label, as Discord received them."""
        inputs = [item for row in self.components for item in row.get("components", [])]
        return {item["label"]: item for item in inputs if item.get("type") == 4}

    @property
    def buttons(self) -> list[dict[str, Any]]:
        """Every component under the message (buttons), row after row, as Discord received
        them."""
        return [item for row in self.components for item in row.get("components", [])]

    @property
    def link_url(self) -> str:
        """The URL of the message's one button, which must be a link (e.g. /link-racetime's)."""
        [button] = self.buttons
        if button.get("style") != discord.ButtonStyle.link.value:
            raise ValueError(f"the button is not a link: {button}")
        return str(button["url"])

    @property
    def text(self) -> str:
        """Content and embed text together, for assertions that don't care where it is."""
        parts = [self.content or ""]
        for embed in self.embeds:
            parts += [embed.title or "", embed.description or ""]
            parts += [f"{f.name}: {f.value}" for f in embed.fields]
        return "\n".join(p for p in parts if p)


@dataclass
class SlashResult:
    messages: list[BotMessage]

    @property
    def first(self) -> BotMessage:
        assert self.messages, "the command did not answer"
        return self.messages[0]

    @property
    def text(self) -> str:
        return "\n".join(m.text for m in self.messages)


class RecordingWebhookAdapter(AsyncWebhookAdapter):
    """Answers discord.py's interaction HTTP calls locally and records their payloads."""

    def __init__(self, bot_user: dict[str, Any], channel_id: int) -> None:
        super().__init__()
        self.bot_user = bot_user
        self.channel_id = channel_id
        self.messages: list[BotMessage] = []

    def _message(self, payload: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": str(next(_ids)),
            "channel_id": str(self.channel_id),
            "author": self.bot_user,
            "content": payload.get("content") or "",
            "embeds": payload.get("embeds") or [],
            "attachments": [],
            "mentions": [],
            "mention_roles": [],
            "mention_everyone": False,
            "pinned": False,
            "tts": False,
            "type": 0,
            "flags": payload.get("flags", 0),
            "components": payload.get("components") or [],
            "timestamp": datetime.now(UTC).isoformat(),
            "edited_timestamp": None,
        }

    def _record(self, payload: dict[str, Any], kind: str) -> None:
        self.messages.append(
            BotMessage(
                content=payload.get("content"),
                embeds=[discord.Embed.from_dict(e) for e in payload.get("embeds") or []],
                ephemeral=bool((payload.get("flags") or 0) & EPHEMERAL_FLAG),
                kind=kind,
                components=payload.get("components") or [],
            )
        )

    async def request(self, route: Any, session: Any, *, payload: Any = None, **_: Any) -> Any:
        path: str = route.path
        payload = payload or {}
        if path.endswith("/callback"):
            kind = payload.get("type")
            data = payload.get("data") or {}
            if kind == DEFERRED_CHANNEL_MESSAGE:
                self.messages.append(
                    BotMessage(None, [], bool(data.get("flags", 0) & EPHEMERAL_FLAG), "defer")
                )
            elif kind == CHANNEL_MESSAGE:
                self._record(data, "response")
            elif kind == MODAL:
                self.messages.append(
                    BotMessage(
                        data.get("title"), [], True, "modal",
                        components=data.get("components") or [],
                        modal_id=data.get("custom_id"),
                    )
                )
                return {
                    "interaction": {"id": str(route.webhook_id), "type": 2},
                    "resource": {"type": kind},
                }
            message = self._message(data)
            return {
                "interaction": {
                    "id": str(route.webhook_id),
                    "type": 2,
                    "response_message_id": message["id"],
                    "response_message_loading": kind == DEFERRED_CHANNEL_MESSAGE,
                    "response_message_ephemeral": bool(data.get("flags", 0) & EPHEMERAL_FLAG),
                },
                "resource": {"type": kind, "message": message},
            }
        if route.method == "PATCH":
            self._record(payload, "edit")
            return self._message(payload)
        if route.method == "POST":
            self._record(payload, "followup")
            return self._message(payload)
        if route.method == "GET":
            return self._message({})
        return None


def _option_payload(
    parameter: app_commands.Parameter, value: Any, resolved: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    kind = parameter.type
    option: dict[str, Any] = {"name": parameter.display_name, "type": kind.value}
    option_type = discord.AppCommandOptionType
    if kind in (option_type.user, option_type.mentionable):
        if isinstance(value, discord.Member):
            member = factories.dict_from_member(value)
            user = member.pop("user")
            resolved.setdefault("users", {})[str(value.id)] = user
            resolved.setdefault("members", {})[str(value.id)] = member
        elif isinstance(value, discord.abc.User):
            resolved.setdefault("users", {})[str(value.id)] = factories.dict_from_user(value)
        option["value"] = str(value.id)
    elif kind is discord.AppCommandOptionType.role:
        resolved.setdefault("roles", {})[str(value.id)] = factories.dict_from_role(value)
        option["value"] = str(value.id)
    elif kind is discord.AppCommandOptionType.channel:
        channel = factories.dict_from_channel(value)
        channel["permissions"] = str(discord.Permissions.all().value)
        resolved.setdefault("channels", {})[str(value.id)] = channel
        option["value"] = str(value.id)
    else:
        option["value"] = value
    return option


def _command_path(tree: app_commands.CommandTree, name: str) -> list[Any]:
    parts = name.split()
    node: Any = tree.get_command(parts[0])
    if node is None:
        raise LookupError(f"no slash command /{parts[0]}")
    path = [node]
    for part in parts[1:]:
        node = node.get_command(part) if isinstance(node, app_commands.Group) else None
        if node is None:
            raise LookupError(f"no slash command /{name}")
        path.append(node)
    if not isinstance(path[-1], app_commands.Command):
        raise LookupError(f"/{name} is a group; name one of its subcommands")
    return path


def build_interaction(
    client: discord.Client,
    name: str,
    *,
    member: discord.Member | discord.User,
    channel: discord.abc.GuildChannel | None,
    options: dict[str, Any],
) -> dict[str, Any]:
    path = _command_path(client.tree, name)  # type: ignore[attr-defined]
    command: app_commands.Command = path[-1]
    resolved: dict[str, dict[str, Any]] = {}
    known = {p.name: p for p in command.parameters}
    unknown = set(options) - set(known)
    if unknown:
        raise TypeError(f"/{name} has no option(s) {sorted(unknown)}")
    leaf_options = [_option_payload(known[key], value, resolved) for key, value in options.items()]
    nested: list[dict[str, Any]] = leaf_options
    for node in reversed(path[1:]):
        subtype = 1 if isinstance(node, app_commands.Command) else 2
        nested = [{"name": node.name, "type": subtype, "options": nested}]
    data: dict[str, Any] = {
        "id": str(next(_ids)),
        "name": path[0].name,
        "type": 1,
        "options": nested,
    }
    if resolved:
        data["resolved"] = resolved
    payload: dict[str, Any] = {
        "id": str(next(_ids)),
        "application_id": str(client.application_id),
        "type": 2,
        "token": f"interaction-token-{next(_ids)}",
        "version": 1,
        "data": data,
        "locale": "en-US",
        "entitlements": [],
        "authorizing_integration_owners": {},
        "app_permissions": str(discord.Permissions.all().value),
        "attachment_size_limit": 8 * 1024 * 1024,
    }
    if isinstance(member, discord.Member) and channel is not None:
        member_payload = factories.dict_from_member(member)
        member_payload["permissions"] = str(channel.permissions_for(member).value)
        payload.update(
            guild_id=str(member.guild.id),
            channel_id=str(channel.id),
            channel=factories.dict_from_channel(channel),
            member=member_payload,
            guild_locale="en-US",
            context=0,
        )
    else:
        payload.update(
            user=factories.dict_from_user(member),  # type: ignore[arg-type]
            channel_id=str(next(_ids)),
            channel={"id": str(next(_ids)), "type": 1},
            context=1,
        )
    return payload


async def invoke_slash(
    client: discord.Client,
    name: str,
    *,
    member: discord.Member | discord.User,
    channel: discord.abc.GuildChannel | None = None,
    **options: Any,
) -> SlashResult:
    """Run ``/name`` as ``member`` (in ``channel``, or in DMs) and return what the bot replied."""
    assert client.user is not None
    payload = build_interaction(client, name, member=member, channel=channel, options=options)
    adapter = RecordingWebhookAdapter(
        factories.dict_from_user(client.user), int(payload["channel_id"])
    )
    # The invoker task copies the current context, so it answers through our adapter.
    token = async_context.set(adapter)
    try:
        before = {t for t in asyncio.all_tasks() if t.get_name() == INVOKER_TASK}
        client._connection.parse_interaction_create(payload)  # type: ignore[arg-type]
        invokers = [
            t for t in asyncio.all_tasks() if t.get_name() == INVOKER_TASK and t not in before
        ]
        async with asyncio.timeout(COMMAND_TIMEOUT_SECONDS):
            await asyncio.gather(*invokers)
    finally:
        async_context.reset(token)
    return SlashResult(adapter.messages)
