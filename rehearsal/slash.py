"""Drive slash commands through the real ``CommandTree``, as Discord would.

Used by the rehearsal (``python bot.py --demo``) and by the tests alike.

An ``INTERACTION_CREATE`` payload is built from the command's own definition and fed to the
client's connection state (``parse_interaction_create``), so option parsing, transformers,
checks and the tree's error handler all run. Only the last hop — the HTTP request that
answers the interaction — is replaced, by :class:`InteractionEndpoint`, which keeps what the
bot said and refuses what Discord would refuse.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import discord
from discord import app_commands
from discord.ext.test import factories
from discord.webhook.async_ import AsyncWebhookAdapter, async_context

from cogs._shared.discord_limits import INTERACTION_TOKEN_SECONDS, RESPONSE_DEADLINE_SECONDS
from rehearsal.discord_rules import (
    ACKNOWLEDGED,
    LATE,
    TOKEN_EXPIRED,
    UNKNOWN_WEBHOOK,
    Refusal,
    check_choices,
    check_message,
    check_modal,
    refusal,
)

_ids = itertools.count(1_300_000_000_000_000_000)

CHANNEL_MESSAGE = 4
DEFERRED_CHANNEL_MESSAGE = 5
DEFERRED_UPDATE_MESSAGE = 6
UPDATE_MESSAGE = 7
AUTOCOMPLETE_RESULT = 8
MODAL = 9
ANSWER_NAMES = {
    CHANNEL_MESSAGE: "response", DEFERRED_CHANNEL_MESSAGE: "defer",
    DEFERRED_UPDATE_MESSAGE: "deferred update", UPDATE_MESSAGE: "update",
    AUTOCOMPLETE_RESULT: "autocomplete choices", MODAL: "modal",
}
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
    # Where it is: a message RaceDesk posted or DMed (:meth:`sent`), or for a modal a button
    # opened, where that button was (``origin``: its message, which Discord sends back with
    # the form, so that the answer can edit it).
    message_id: int | None = None
    channel_id: int | None = None
    in_dm: bool = False
    origin: dict[str, Any] | None = None

    @classmethod
    def sent(cls, message: discord.Message) -> BotMessage:
        """A message RaceDesk posted in a channel or sent by DM, as pressing its buttons
        needs it: they are pressed where it is (a DM's in the DM, where no server is)."""
        return cls(
            message.content, list(message.embeds), False, "response",
            components=[row.to_dict() for row in message.components],  # type: ignore[misc]
            message_id=message.id, channel_id=message.channel.id,
            in_dm=isinstance(message.channel, discord.DMChannel),
        )

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
    def answer(self) -> BotMessage:
        """What the user reads as the answer: the first message, or after a defer ("thinking…")
        the follow-up that takes its place."""
        said = [message for message in self.messages if message.kind != "defer"]
        assert said, f"the command did not answer: {self.messages}"
        return said[0]

    @property
    def text(self) -> str:
        return "\n".join(m.text for m in self.messages)


class InteractionEndpoint(AsyncWebhookAdapter):
    """Discord's side of one interaction, as strict as Discord: it answers discord.py's HTTP
    calls for the interaction (its answer, follow-ups, edits) and records what the bot said.

    It refuses what Discord refuses (:mod:`rehearsal.discord_rules`): a message, autocomplete
    answer or modal beyond Discord's limits; a second answer; a first answer (or defer) more
    than :data:`RESPONSE_DEADLINE_SECONDS` after the interaction arrived; a follow-up before
    any answer, or after the token's 15 minutes. Each refusal is raised in the bot as
    discord.py would raise it and kept in ``refusals``.

    The deadline is measured on the simulated Discord's clock: the time that really passed
    since the interaction arrived (``clock``), plus what the simulated Discord's own API
    requests made while handling it cost (:meth:`spend`; see ``rehearsal.guild``). A normal
    command answers in milliseconds, far from 3 s, so no test depends on the machine's speed.
    """

    def __init__(
        self,
        bot_user: dict[str, Any],
        channel_id: int,
        *,
        what: str,
        refusals: list[Refusal],
        clock: Callable[[], float],
        on_answer: Callable[[str, float], None] | None = None,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # discord.py leaves it unannotated
        self.bot_user = bot_user
        self.channel_id = channel_id
        self.what = what  # e.g. "/match list", for the refusals' messages
        self.refusals = refusals  # shared: every refusal of the simulated Discord
        self.refused: list[Refusal] = []  # this interaction's
        self.messages: list[BotMessage] = []
        self.choices: list[dict[str, Any]] | None = None  # autocomplete's answer
        self.acknowledged = False
        self._clock = clock
        self._arrived_at = clock()
        self._spent = 0.0
        # Told (``what``, seconds really passed) when the bot first answers (or defers).
        self._on_answer = on_answer

    def spend(self, seconds: float) -> None:
        """Handling the interaction took ``seconds`` more on the simulated clock."""
        self._spent += seconds

    @property
    def elapsed(self) -> float:
        """Seconds since the interaction arrived, on the simulated Discord's clock."""
        return self._clock() - self._arrived_at + self._spent

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

    def note(self, found: Refusal) -> None:
        """Discord refused ``found`` while handling this interaction."""
        self.refused.append(found)
        self.refusals.append(found)

    def _refuse(self, found: Refusal | None) -> None:
        if found is not None:
            self.note(found)
            raise found.exception()

    async def request(self, route: Any, session: Any, *, payload: Any = None, **_: Any) -> Any:
        payload = payload or {}
        if route.path.endswith("/callback"):
            return self._answer(route, payload)
        what = f"{self.what}: {'edit' if route.method == 'PATCH' else 'follow-up'}"
        if not self.acknowledged:
            self._refuse(refusal(what, UNKNOWN_WEBHOOK))
        if self.elapsed > INTERACTION_TOKEN_SECONDS:
            self._refuse(refusal(what, TOKEN_EXPIRED))
        if route.method == "PATCH":
            self._refuse(check_message(payload, what, new=False))
            self._record(payload, "edit")
            return self._message(payload)
        if route.method == "POST":
            self._refuse(check_message(payload, what))
            self._record(payload, "followup")
            return self._message(payload)
        if route.method == "GET":
            return self._message({})
        return None

    def _answer(self, route: Any, payload: dict[str, Any]) -> dict[str, Any]:
        """The interaction's one answer (``POST .../callback``)."""
        kind = payload.get("type")
        data = payload.get("data") or {}
        name = ANSWER_NAMES.get(kind, str(kind)) if isinstance(kind, int) else str(kind)
        what = f"{self.what}: {name}"
        if self._on_answer is not None:  # the first try only (one refused may be retried)
            self._on_answer(self.what, self._clock() - self._arrived_at)
            self._on_answer = None
        if self.acknowledged:
            self._refuse(refusal(what, ACKNOWLEDGED))
        if self.elapsed > RESPONSE_DEADLINE_SECONDS:
            self._refuse(refusal(what, LATE))
        if kind == DEFERRED_CHANNEL_MESSAGE:
            self.messages.append(
                BotMessage(None, [], bool(data.get("flags", 0) & EPHEMERAL_FLAG), "defer")
            )
        elif kind == CHANNEL_MESSAGE:
            self._refuse(check_message(data, what, at=("data",)))
            self._record(data, "response")
        elif kind == UPDATE_MESSAGE:
            self._refuse(check_message(data, what, at=("data",), new=False))
            self._record(data, "update")
        elif kind == AUTOCOMPLETE_RESULT:
            self._refuse(check_choices(data, what))
            self.choices = data.get("choices") or []
        elif kind == MODAL:
            self._refuse(check_modal(data, what))
            self.messages.append(
                BotMessage(
                    data.get("title"), [], True, "modal",
                    components=data.get("components") or [],
                    modal_id=data.get("custom_id"),
                )
            )
        self.acknowledged = True
        answer: dict[str, Any] = {"id": str(route.webhook_id), "type": 2}
        if kind not in (CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE):
            return {"interaction": answer, "resource": {"type": kind}}
        message = self._message(data)
        answer.update(
            response_message_id=message["id"],
            response_message_loading=kind == DEFERRED_CHANNEL_MESSAGE,
            response_message_ephemeral=bool(data.get("flags", 0) & EPHEMERAL_FLAG),
        )
        return {"interaction": answer, "resource": {"type": kind, "message": message}}


def current_endpoint() -> InteractionEndpoint | None:
    """The interaction being handled in this task, if any (its tasks copy the context)."""
    endpoint = async_context.get()
    return endpoint if isinstance(endpoint, InteractionEndpoint) else None


def spend_discord_time(seconds: float) -> None:
    """The interaction being handled here (if any) takes ``seconds`` longer on the simulated
    Discord's clock: a test's way to make a step slow without waiting for it."""
    endpoint = current_endpoint()
    if endpoint is not None:
        endpoint.spend(seconds)


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
            user_payload = factories.dict_from_user(cast(discord.User, value))
            resolved.setdefault("users", {})[str(value.id)] = user_payload
        option["value"] = str(value.id)
    elif kind is discord.AppCommandOptionType.role:
        resolved.setdefault("roles", {})[str(value.id)] = factories.dict_from_role(value)
        option["value"] = str(value.id)
    elif kind is discord.AppCommandOptionType.attachment:
        # A file on disk: dpytest's HTTP reads an attachment's file:// URL back.
        attachment = _attachment(Path(value))
        resolved.setdefault("attachments", {})[attachment["id"]] = attachment
        option["value"] = attachment["id"]
    elif kind is discord.AppCommandOptionType.channel:
        channel = factories.dict_from_channel(value)
        channel["permissions"] = str(discord.Permissions.all().value)
        resolved.setdefault("channels", {})[str(value.id)] = channel
        option["value"] = str(value.id)
    else:
        option["value"] = value
    return option


def _attachment(path: Path) -> dict[str, Any]:
    """What Discord sends of an uploaded file (``path``) in a slash command's options."""
    uri = path.absolute().as_uri()
    return {
        "id": str(next(_ids)), "filename": path.name, "size": path.stat().st_size,
        "url": uri, "proxy_url": uri, "content_type": "text/csv; charset=utf-8",
    }


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
    # (ignored below: dpytest's tree helper, not typed)
    path = _command_path(client.tree, name)  # type: ignore[attr-defined]
    command: app_commands.Command[Any, ..., Any] = path[-1]
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
            # (ignored below: a member serves as the user)
            user=factories.dict_from_user(member),  # type: ignore[arg-type]
            channel_id=str(next(_ids)),
            channel={"id": str(next(_ids)), "type": 1},
            context=1,
        )
    return payload
