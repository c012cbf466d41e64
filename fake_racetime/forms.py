"""The startrace/edit forms: Django field semantics, racetime's defaults and error texts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from fake_racetime.models import Category

BOOL_FIELDS = (
    "team_race",
    "invitational",
    "ranked",
    "unlisted",
    "partitionable",
    "hide_entrants",
    "require_even_teams",
    "time_limit_auto_complete",
    "streaming_required",
    "auto_start",
    "allow_comments",
    "hide_comments",
    "allow_prerace_chat",
    "allow_midrace_chat",
    "allow_non_entrant_chat",
)
TEXT_FIELDS = {"custom_goal": 255, "info_user": 1000, "info_bot": 1000}
# field: (unit, min, max) -- the form takes integers and stores durations.
DURATION_FIELDS = {
    "start_delay": (timedelta(seconds=1), 10, 60),
    "time_limit": (timedelta(hours=1), 1, 72),
    "chat_message_delay": (timedelta(seconds=1), 0, 90),
}

# A fresh ``Race()``: what an omitted field becomes (never the category's settings).
MODEL_DEFAULTS: dict[str, Any] = {
    "goal": None,
    "custom_goal": None,
    "team_race": False,
    "invitational": False,
    "ranked": True,
    "unlisted": False,
    "partitionable": False,
    "hide_entrants": False,
    "info_user": "",
    "info_bot": "",
    "require_even_teams": False,
    "start_delay": timedelta(seconds=15),
    "time_limit": timedelta(hours=24),
    "time_limit_auto_complete": False,
    "streaming_required": True,
    "auto_start": True,
    "allow_comments": True,
    "hide_comments": False,
    "allow_prerace_chat": True,
    "allow_midrace_chat": True,
    "allow_non_entrant_chat": True,
    "chat_message_delay": timedelta(0),
}

START_FIELDS = tuple(MODEL_DEFAULTS)
EDIT_FIELDS = tuple(f for f in START_FIELDS if f not in ("invitational", "team_race"))
# After the start only a few settings stay editable (approximates StartedRaceEditForm).
STARTED_EDIT_FIELDS = (
    "info_user",
    "info_bot",
    "allow_comments",
    "hide_comments",
    "allow_midrace_chat",
    "allow_non_entrant_chat",
    "chat_message_delay",
)


@dataclass
class FormResult:
    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)

    def add(self, name: str, message: str) -> None:
        self.errors.setdefault(name, []).append(message)


def django_bool(value: str) -> bool:
    """``CheckboxInput``: only "false" (any case) and "" are False; "0"/"no"/"off" are True."""
    return {"true": True, "false": False}.get(value.lower(), bool(value))


def parse_race_form(
    data: Mapping[str, str], category: Category, fields: tuple[str, ...]
) -> FormResult:
    """Validate a startrace/edit body; omitted fields take the model defaults."""
    result = FormResult()
    for name in fields:
        if name in ("partitionable",) and not category.allow_partitionable:
            continue
        if name in ("hide_entrants",) and not category.allow_hide_entrants:
            continue
        raw = data.get(name)
        if raw is None:
            result.values[name] = MODEL_DEFAULTS[name]
            continue
        if name in BOOL_FIELDS:
            result.values[name] = django_bool(raw)
        elif name in DURATION_FIELDS:
            _duration(result, name, raw)
        elif name == "goal":
            # An unknown goal name becomes None (then the "set a goal" error applies).
            result.values[name] = raw if raw in category.goals else None
        else:
            limit = TEXT_FIELDS[name]
            if len(raw) > limit:
                result.add(
                    name,
                    f"Ensure this value has at most {limit} characters (it has {len(raw)}).",
                )
            result.values[name] = raw if raw or name != "custom_goal" else None
    if "goal" in fields:
        has_goal = result.values.get("goal") is not None
        has_custom = bool(result.values.get("custom_goal"))
        if has_goal and has_custom:
            result.add("__all__", "The race must only have one goal.")
        elif not has_goal and not has_custom:
            result.add("__all__", "You need to set a goal for this race.")
    return result


def _duration(result: FormResult, name: str, raw: str) -> None:
    unit, low, high = DURATION_FIELDS[name]
    try:
        number = int(raw.strip())
    except ValueError:
        result.add(name, "Enter a whole number." if raw.strip() else "This field is required.")
        return
    if number < low:
        result.add(name, f"Ensure this value is greater than or equal to {unit * low}.")
    elif number > high:
        result.add(name, f"Ensure this value is less than or equal to {unit * high}.")
    result.values[name] = unit * number
