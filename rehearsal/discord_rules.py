"""What Discord refuses, answered as Discord answers it, for the simulated Discord.

The rehearsal's and the tests' Discord (:mod:`rehearsal.slash`, :mod:`rehearsal.guild`,
:mod:`rehearsal.fake_discord_api`) check every message, autocomplete answer and modal RaceDesk
sends against Discord's limits (:mod:`cogs._shared.discord_limits`) and refuse a breach with
Discord's own error: HTTP 400, code 50035 "Invalid Form Body" and the path of each field at
fault, which discord.py raises as :class:`discord.HTTPException` ("In data.embeds.0.fields.3.
value: Must be 1024 or fewer in length."). Interaction answers have their own refusals
(:data:`LATE`, :data:`ACKNOWLEDGED`, :data:`UNKNOWN_WEBHOOK`, :data:`TOKEN_EXPIRED`).

Each refusal is also kept as a :class:`Refusal`, so that a test (or a rehearsal step) fails
even when RaceDesk catches the error and apologises to the user.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import discord
from discord.ext.test.backend import FakeRequest

from cogs._shared import discord_limits as limits

Path = tuple[str | int, ...]

INVALID_FORM_BODY = (400, 50035, "Invalid Form Body")
EMPTY_MESSAGE = (400, 50006, "Cannot send an empty message")
LATE = (404, 10062, "Unknown interaction")  # answered after the 3-second deadline
ACKNOWLEDGED = (400, 40060, "Interaction has already been acknowledged.")
UNKNOWN_WEBHOOK = (404, 10015, "Unknown Webhook")  # a follow-up before any answer
TOKEN_EXPIRED = (401, 50027, "Invalid Webhook Token")  # after the token's 15 minutes

BUTTON = 2
TEXT_INPUT = 4
SELECTS = (3, 5, 6, 7, 8)


@dataclass(frozen=True)
class Refusal:
    """One request the simulated Discord refused: what it was and Discord's answer."""

    what: str  # e.g. "/match list: response", "message in #results"
    status: int
    code: int
    message: str
    errors: Mapping[str, Any] = field(default_factory=dict)  # Discord's nested form errors

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.errors:
            body["errors"] = self.errors
        return body

    def exception(self) -> discord.HTTPException:
        """What discord.py raises for this answer."""
        kind = {403: discord.Forbidden, 404: discord.NotFound}.get(
            self.status, discord.HTTPException
        )
        reason = {400: "Bad Request", 401: "Unauthorized", 404: "Not Found"}.get(self.status, "")
        # (ignored below: dpytest's request stands in for aiohttp's)
        return kind(FakeRequest(self.status, reason), self.body())  # type: ignore[arg-type]

    def __str__(self) -> str:
        return f"{self.what}: {self.exception()}"


class RefusedByDiscord(AssertionError):
    """Discord would have refused what RaceDesk sent (the refusals say what and why)."""

    def __init__(self, refusals: Sequence[Refusal], result: Any = None) -> None:
        self.refusals = list(refusals)
        self.result = result  # what the user saw instead, when it was an interaction
        listed = "\n".join(f"- {refusal}" for refusal in self.refusals)
        super().__init__(f"Discord refused {len(self.refusals)} request(s):\n{listed}")


def refusal(what: str, answer: tuple[int, int, str]) -> Refusal:
    status, code, message = answer
    return Refusal(what, status, code, message)


class FormErrors:
    """Errors by field path, nested the way Discord nests them in its 50035 answer."""

    def __init__(self) -> None:
        self.tree: dict[str, Any] = {}

    def __bool__(self) -> bool:
        return bool(self.tree)

    def add(self, path: Path, code: str, message: str) -> None:
        node = self.tree
        for key in path:
            node = node.setdefault(str(key), {})
        node.setdefault("_errors", []).append({"code": code, "message": message})

    def length(self, path: Path, value: Any, maximum: int, *, required: bool = False) -> None:
        """A string or list of at most ``maximum`` (and, when ``required``, at least one)."""
        size = len(value) if value is not None else 0
        if required and size == 0:
            self.add(path, "BASE_TYPE_REQUIRED", "This field is required")
        elif size > maximum:
            self.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {maximum} or fewer in length.")

    def refusal(self, what: str) -> Refusal | None:
        if not self.tree:
            return None
        status, code, message = INVALID_FORM_BODY
        return Refusal(what, status, code, message, self.tree)


def check_message(
    payload: Mapping[str, Any], what: str, *, at: Path = (), new: bool = True
) -> Refusal | None:
    """Discord's answer to a message (``new``) or an edit of one, ``None`` when it takes it.

    ``at`` is where the message sits in the request: ``("data",)`` in an interaction answer.
    """
    content = payload.get("content")
    embeds = payload.get("embeds") or []
    components = payload.get("components") or []
    if new and not (content or embeds or components or payload.get("attachments")):
        return refusal(what, EMPTY_MESSAGE)
    errors = FormErrors()
    errors.length((*at, "content"), content, limits.MESSAGE_CONTENT_MAX)
    errors.length((*at, "embeds"), embeds, limits.EMBEDS_PER_MESSAGE_MAX)
    for index, embed in enumerate(embeds):
        _check_embed(errors, (*at, "embeds", index), embed)
    if sum(limits.embed_text_length(embed) for embed in embeds) > limits.EMBED_TOTAL_MAX:
        errors.add(
            (*at, "embeds"), "MAX_EMBED_SIZE_EXCEEDED",
            f"Embed size exceeds maximum size of {limits.EMBED_TOTAL_MAX}",
        )
    _check_components(errors, (*at, "components"), components)
    return errors.refusal(what)


def _check_embed(errors: FormErrors, at: Path, embed: Mapping[str, Any]) -> None:
    errors.length((*at, "title"), embed.get("title"), limits.EMBED_TITLE_MAX)
    errors.length((*at, "description"), embed.get("description"), limits.EMBED_DESCRIPTION_MAX)
    fields = embed.get("fields") or []
    errors.length((*at, "fields"), fields, limits.EMBED_FIELDS_MAX)
    for index, item in enumerate(fields):
        where = (*at, "fields", index)
        errors.length((*where, "name"), item.get("name"), limits.EMBED_FIELD_NAME_MAX,
                      required=True)
        errors.length((*where, "value"), item.get("value"), limits.EMBED_FIELD_VALUE_MAX,
                      required=True)
    if "footer" in embed:
        errors.length((*at, "footer", "text"), embed["footer"].get("text"),
                      limits.EMBED_FOOTER_MAX, required=True)
    if "author" in embed:
        errors.length((*at, "author", "name"), embed["author"].get("name"),
                      limits.EMBED_AUTHOR_NAME_MAX, required=True)


def _check_components(errors: FormErrors, at: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    errors.length(at, rows, limits.ACTION_ROWS_MAX)
    for index, row in enumerate(rows):
        items = row.get("components") or []
        where = (*at, index, "components")
        errors.length(where, items, limits.BUTTONS_PER_ROW_MAX, required=True)
        for position, item in enumerate(items):
            spot = (*where, position)
            if "custom_id" in item:
                errors.length((*spot, "custom_id"), item["custom_id"], limits.CUSTOM_ID_MAX,
                              required=True)
            if item.get("type") == BUTTON:
                errors.length((*spot, "label"), item.get("label"), limits.BUTTON_LABEL_MAX)
            elif item.get("type") in SELECTS:
                if len(items) > 1:
                    errors.add(where, "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                               "The specified component exceeds the maximum width")
                if item.get("type") == 3:  # a string select lists its options
                    errors.length((*spot, "options"), item.get("options"),
                                  limits.SELECT_OPTIONS_MAX, required=True)


def check_choices(data: Mapping[str, Any], what: str) -> Refusal | None:
    """Discord's answer to autocomplete's choices (an interaction answer's ``data``)."""
    choices = data.get("choices") or []
    errors = FormErrors()
    errors.length(("data", "choices"), choices, limits.AUTOCOMPLETE_CHOICES_MAX)
    for index, choice in enumerate(choices):
        at = ("data", "choices", index)
        errors.length((*at, "name"), choice.get("name"), limits.CHOICE_NAME_MAX, required=True)
        if isinstance(choice.get("value"), str):
            errors.length((*at, "value"), choice["value"], limits.CHOICE_VALUE_MAX,
                          required=True)
    return errors.refusal(what)


def check_modal(data: Mapping[str, Any], what: str) -> Refusal | None:
    """Discord's answer to a modal (an interaction answer's ``data``)."""
    errors = FormErrors()
    errors.length(("data", "title"), data.get("title"), limits.MODAL_TITLE_MAX, required=True)
    errors.length(("data", "custom_id"), data.get("custom_id"), limits.CUSTOM_ID_MAX,
                  required=True)
    rows = data.get("components") or []
    errors.length(("data", "components"), rows, limits.ACTION_ROWS_MAX, required=True)
    for index, row in enumerate(rows):
        for position, item in enumerate(row.get("components") or []):
            if item.get("type") == TEXT_INPUT:
                errors.length(("data", "components", index, "components", position, "label"),
                              item.get("label"), limits.TEXT_INPUT_LABEL_MAX, required=True)
    return errors.refusal(what)


# -- guild scheduled events ------------------------------------------------------------------
# Discord's "Guild Scheduled Event" resource: entity types, statuses and what may follow what.

STAGE_INSTANCE, VOICE, EXTERNAL = 1, 2, 3
GUILD_ONLY = 2  # the only privacy level Discord takes
SCHEDULED, ACTIVE, COMPLETED, CANCELED = 1, 2, 3, 4
STATUS_CHANGES = {SCHEDULED: {ACTIVE, CANCELED}, ACTIVE: {COMPLETED}}
MISSING_PERMISSIONS = (403, 50013, "Missing Permissions")  # no Manage Events
UNKNOWN_SCHEDULED_EVENT = (404, 10070, "Unknown Guild Scheduled Event")
FINISHED_EVENT = (400, 180000, "Cannot update a finished event")


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def check_scheduled_event(
    payload: Mapping[str, Any],
    what: str,
    *,
    now: datetime,
    existing: Mapping[str, Any] | None = None,
) -> Refusal | None:
    """Discord's answer to creating a scheduled event (``existing`` ``None``) or editing
    ``existing`` with ``payload``, ``None`` when it takes it.

    Creating needs ``name``, ``privacy_level`` (2, guild only), ``scheduled_start_time`` in the
    future and ``entity_type``; an external event (3) needs ``entity_metadata.location`` (1-100
    characters) and a ``scheduled_end_time`` after the start, and no channel. ``name`` has 1-100
    characters, ``description`` at most 1,000. A status moves scheduled -> active -> completed,
    or scheduled -> canceled; a completed or canceled event is not edited at all.
    """
    if existing is not None and existing["status"] in (COMPLETED, CANCELED):
        return refusal(what, FINISHED_EVENT)
    merged = {**(existing or {}), **payload}
    errors = FormErrors()
    if existing is None or "name" in payload:
        _bad_length(errors, ("name",), payload.get("name"), 1, limits.SCHEDULED_EVENT_NAME_MAX)
    errors.length(("description",), payload.get("description"),
                  limits.SCHEDULED_EVENT_DESCRIPTION_MAX)
    if existing is None and payload.get("privacy_level") is None:
        errors.add(("privacy_level",), "BASE_TYPE_REQUIRED", "This field is required")
    elif "privacy_level" in payload and payload["privacy_level"] != GUILD_ONLY:
        errors.add(("privacy_level",), "BASE_TYPE_CHOICES",
                   f"Value must be one of {{{GUILD_ONLY}}}.")
    entity_type = merged.get("entity_type")
    if entity_type is None:
        errors.add(("entity_type",), "BASE_TYPE_REQUIRED", "This field is required")
    elif entity_type not in (STAGE_INSTANCE, VOICE, EXTERNAL):
        errors.add(("entity_type",), "BASE_TYPE_CHOICES", "Value must be one of {1, 2, 3}.")
    start = _parse_time(merged.get("scheduled_start_time"))
    end = _parse_time(merged.get("scheduled_end_time"))
    if start is None:
        errors.add(("scheduled_start_time",), "BASE_TYPE_REQUIRED", "This field is required")
    elif "scheduled_start_time" in payload and start <= now and (
        existing is None or existing["status"] == SCHEDULED
    ):
        errors.add(("scheduled_start_time",), "GUILD_SCHEDULED_EVENT_SCHEDULE_PAST",
                   "Cannot schedule event in the past.")
    if entity_type == EXTERNAL:
        location = (merged.get("entity_metadata") or {}).get("location")
        _bad_length(errors, ("entity_metadata", "location"), location, 1,
                    limits.SCHEDULED_EVENT_LOCATION_MAX)
        if end is None:
            errors.add(("scheduled_end_time",), "BASE_TYPE_REQUIRED", "This field is required")
        if merged.get("channel_id") is not None:
            errors.add(("channel_id",), "CHANNEL_ID_NOT_ALLOWED",
                       "An external event has no channel.")
    if start is not None and end is not None and end <= start:
        errors.add(("scheduled_end_time",), "GUILD_SCHEDULED_EVENT_END_BEFORE_START",
                   "Cannot schedule event to end before starting.")
    if "status" in payload:
        status = payload["status"]
        before = existing["status"] if existing is not None else None
        if (before is None and status != SCHEDULED) or (
            before is not None and status != before
            and status not in STATUS_CHANGES.get(before, set())
        ):
            errors.add(("status",), "GUILD_SCHEDULED_EVENT_INVALID_STATUS_TRANSITION",
                       "Invalid Guild Scheduled Event Status Transition")
    return errors.refusal(what)


def _bad_length(errors: FormErrors, path: Path, value: Any, least: int, most: int) -> None:
    size = len(value) if isinstance(value, str) else 0
    if value is None:
        errors.add(path, "BASE_TYPE_REQUIRED", "This field is required")
    elif not least <= size <= most:
        errors.add(path, "BASE_TYPE_BAD_LENGTH", f"Must be between {least} and {most} in length.")
