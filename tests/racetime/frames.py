"""Builders of realistic racetime payloads (same keys and shapes as the captured fixtures).

Used by the racetime tests and by ``bench.race_data``. Everything returns plain dicts; encode
them with :func:`encode` (the server's ``json.dumps`` style) to get a websocket frame.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

# The fake server holds racetime's status texts and entrant order; reuse them.
from fake_racetime.serialize import ENTRANT_ORDER, ENTRANT_STATUS_TEXT
from fake_racetime.state import RACE_STATUS as RACE_STATUS_TEXT

ENTRANT_ACTIONS: dict[str, list[str]] = {
    "requested": [],
    "invited": ["cancel_invite"],
    "declined": [],
    "dnf": ["add_comment", "unforfeit"],
    "dq": [],
    "done": ["add_comment", "undone"],
    "in_progress": ["done", "forfeit"],
    "ready": ["unready", "leave"],
    "not_ready": ["ready", "leave"],
}

# Server order of entrants (race.py:584-660): finished by place, running/ready, not ready, ...

CATEGORY = {
    "name": "Test Game",
    "short_name": "TG",
    "slug": "testgame",
    "url": "/testgame",
    "data_url": "/testgame/data",
    "image": None,
}

BASE_TIME = datetime(2026, 11, 23, 14, 41, 35, 580000, tzinfo=UTC)
_HASHID_CHARS = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def status(value: str, *, race: bool = False) -> dict[str, Any]:
    verbose, help_text = (RACE_STATUS_TEXT if race else ENTRANT_STATUS_TEXT).get(
        value, (value.title(), "")
    )
    return {"value": value, "verbose_value": verbose, "help_text": help_text}


def hashid(seed: str) -> str:
    """A deterministic 16-character racetime-like id."""
    digest = hashlib.sha256(seed.encode()).digest()
    return "".join(_HASHID_CHARS[b % len(_HASHID_CHARS)] for b in digest[:16])


def user(
    index: int, *, name: str | None = None, discriminator: str | None = None
) -> dict[str, Any]:
    name = name or f"Racer{index}"
    discriminator = discriminator if discriminator is not None else f"{1000 + index * 37 % 9000}"
    uid = hashid(f"user-{index}-{name}")
    return {
        "id": uid,
        "full_name": f"{name}#{discriminator}",
        "name": name,
        "discriminator": discriminator,
        "url": f"/user/{uid}/{name.lower()}",
        "avatar": None,
        "pronouns": None,
        "flair": "",
        "twitch_name": None,
        "twitch_display_name": None,
        "twitch_channel": None,
        "can_moderate": False,
    }


def duration(value: timedelta) -> str:
    """Django's ``duration_iso_string``: ``P{d}DT{hh}H{mm}M{ss}[.ffffff]S``."""
    sign = ""
    if value < timedelta(0):
        sign, value = "-", -value
    minutes, seconds = divmod(value.seconds, 60)
    hours, minutes = divmod(minutes, 60)
    micro = f".{value.microseconds:06d}" if value.microseconds else ""
    return f"{sign}P{value.days}DT{hours:02d}H{minutes:02d}M{seconds:02d}{micro}S"


def timestamp(value: datetime) -> str:
    """racetime's race-data datetime: milliseconds and ``Z``, no fraction when 0."""
    text = value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        text += f".{value.microsecond // 1000:03d}"
    return text + "Z"


def entrant(
    user_dict: dict[str, Any] | None,
    status_value: str,
    *,
    place: int | None = None,
    finish_time: timedelta | None = None,
    started_at: datetime | None = None,
) -> dict[str, Any]:
    finished_at = (
        timestamp(started_at + finish_time)
        if finish_time is not None and started_at is not None
        else None
    )
    ordinal = None
    if place is not None:
        suffix = "th" if 10 <= place % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(place % 10)
        ordinal = f"{place}{suffix or 'th'}"
    return {
        "user": user_dict,
        "team": None,
        "status": status(status_value),
        "finish_time": duration(finish_time) if finish_time is not None else None,
        "finished_at": finished_at,
        "place": place,
        "place_ordinal": ordinal,
        "score": None,
        "score_change": None,
        "comment": None,
        "has_comment": False,
        "stream_live": False,
        "stream_override": False,
        "actions": list(ENTRANT_ACTIONS.get(status_value, [])),
    }


def _sort_key(item: tuple[int, dict[str, Any]]) -> tuple[int, int, int]:
    position, entrant_dict = item
    group = ENTRANT_ORDER.get(entrant_dict["status"]["value"], 9)
    place = entrant_dict.get("place") or 0
    return group, place if group == 0 else 0, position


def race(
    *,
    version: int,
    status_value: str,
    entrants: list[dict[str, Any]],
    slug: str = "fancy-wolf-4891",
    started_at: datetime | None = None,
    ended_at: datetime | None = None,
    cancelled_at: datetime | None = None,
    hide_entrants: bool = False,
) -> dict[str, Any]:
    """A full ``Race.as_dict`` with entrants in the server's order and consistent counts."""
    ordered = [e for _, e in sorted(enumerate(entrants), key=_sort_key)]
    joined = [
        e for e in ordered if e["status"]["value"] not in ("invited", "requested", "declined")
    ]
    finished = [e for e in joined if e["finish_time"] and e["status"]["value"] == "done"]
    inactive = [e for e in joined if e["status"]["value"] in ("dnf", "dq")]
    name = f"{CATEGORY['slug']}/{slug}"
    return {
        "version": version,
        "name": name,
        "slug": slug,
        "status": status(status_value, race=True),
        "url": f"/{name}",
        "data_url": f"/{name}/data",
        "websocket_url": f"/ws/race/{slug}",
        "websocket_bot_url": f"/ws/o/bot/{slug}",
        "websocket_oauth_url": f"/ws/o/race/{slug}",
        "category": dict(CATEGORY),
        "goal": {"name": "Beat the game", "custom": False},
        "info": "flow test",
        "info_bot": "",
        "info_user": "flow test",
        "team_race": False,
        "entrants_count": len(joined),
        "entrants_count_finished": len(finished),
        "entrants_count_inactive": len(inactive),
        "entrants": ordered,
        "opened_at": timestamp(BASE_TIME),
        "start_delay": "P0DT00H00M10S",
        "started_at": timestamp(started_at) if started_at else None,
        "ended_at": timestamp(ended_at) if ended_at else None,
        "cancelled_at": timestamp(cancelled_at) if cancelled_at else None,
        "ranked": True,
        "unlisted": False,
        "time_limit": "P1DT00H00M00S",
        "time_limit_auto_complete": False,
        "require_even_teams": False,
        "streaming_required": False,
        "auto_start": True,
        "opened_by": None,
        "opened_by_bot": "TestBot",
        "monitors": [],
        "recordable": True,
        "recorded": False,
        "recorded_by": None,
        "disqualify_unready": False,
        "allow_comments": True,
        "hide_comments": False,
        "hide_entrants": hide_entrants,
        "chat_restricted": False,
        "allow_prerace_chat": True,
        "allow_midrace_chat": True,
        "allow_non_entrant_chat": True,
        "chat_message_delay": "P0DT00H00M00S",
        "bot_meta": {},
    }


def race_data_frame(race_dict: dict[str, Any], *, date: datetime | None = None) -> dict[str, Any]:
    """The websocket envelope around race data, as ``consumers.py`` sends it."""
    when = date or BASE_TIME + timedelta(seconds=race_dict["version"])
    return {
        "type": "race.data",
        "date": when.isoformat(),
        "race": race_dict,
        "version": race_dict["version"],
    }


def encode(payload: Any) -> str:
    """JSON text like the server's ``json.dumps`` (default separators, no indent)."""
    return json.dumps(payload)


def race_sequence(
    n_entrants: int, *, first_version: int = 1, slug: str = "fancy-wolf-4891"
) -> list[dict[str, Any]]:
    """A whole race, one realistic change per snapshot (version + 1 each):

    open with everyone joined but not ready -> each entrant readies -> pending -> in_progress
    -> each entrant finishes (every fifth forfeits) -> finished.
    """
    users = [user(i) for i in range(n_entrants)]
    states: list[dict[str, Any]] = [{"status": "not_ready"} for _ in users]
    start = BASE_TIME + timedelta(minutes=5)
    snapshots: list[dict[str, Any]] = []
    version = first_version

    def snap(race_status: str, *, started: bool = False, ended: bool = False) -> None:
        nonlocal version
        entrant_dicts = [
            entrant(
                u,
                s["status"],
                place=s.get("place"),
                finish_time=s.get("finish_time"),
                started_at=start,
            )
            for u, s in zip(users, states, strict=True)
        ]
        snapshots.append(
            race(
                version=version,
                status_value=race_status,
                entrants=entrant_dicts,
                slug=slug,
                started_at=start if started else None,
                ended_at=start + timedelta(hours=2) if ended else None,
            )
        )
        version += 1

    snap("open")
    for state in states:
        state["status"] = "ready"
        snap("open")
    snap("pending", started=True)
    for state in states:
        state["status"] = "in_progress"
    snap("in_progress", started=True)
    place = 0
    for index, state in enumerate(states):
        if index % 5 == 4:
            state["status"] = "dnf"
        else:
            place += 1
            state.update(
                status="done",
                place=place,
                finish_time=timedelta(hours=1, minutes=23, seconds=45 + index, microseconds=407000),
            )
        snap("in_progress", started=True)
    snap("finished", started=True, ended=True)
    return snapshots
