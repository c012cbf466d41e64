"""Turn fake-server state into racetime's JSON, with Django's exact formats."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from fake_racetime.models import Category, ChatMessage, User
from fake_racetime.state import RACE_STATUS, Entrant, Race, ordinal

_MARKUP = re.compile(r"##(\w+?)##(.*?)##")

# Entrant ordering of race.py (finished by place, then ready/in progress, not ready, ...).
ENTRANT_ORDER = {
    "done": 0,
    "in_progress": 1,
    "ready": 1,
    "not_ready": 2,
    "invited": 3,
    "requested": 4,
    "dnf": 5,
    "dq": 6,
    "declined": 7,
    "partitioned": 8,
}

ENTRANT_STATUS_TEXT = {
    "requested": ("Join request", "Wishes to join the race."),
    "invited": ("Invited", "Invited to join the race."),
    "declined": ("Declined", "Declined invitation to join."),
    "partitioned": ("Partitioned", "Moved to partitioned race room."),
    "dnf": ("DNF", "Did not finish the race."),
    "dq": ("DQ", "Disqualified by a category moderator."),
    "done": ("Finished", "Finished the race."),
    "in_progress": ("In progress", "Still flyin'."),
    "ready": ("Ready", "Ready to begin the race."),
    "not_ready": ("Not ready", "Not ready to begin yet."),
}


def duration(value: timedelta) -> str:
    """Django's ``duration_iso_string``: ``P{d}DT{HH}H{MM}M{SS}[.ffffff]S``."""
    sign = ""
    if value < timedelta(0):
        sign = "-"
        value = -value
    days = value.days
    seconds = value.seconds
    micro = value.microseconds
    hours, rem = divmod(seconds, 3600)
    minutes, secs = divmod(rem, 60)
    ms = f".{micro:06d}" if micro else ""
    return f"{sign}P{days}DT{hours:02d}H{minutes:02d}M{secs:02d}{ms}S"


def dt(value: datetime | None) -> str | None:
    """DjangoJSONEncoder datetimes: milliseconds and ``Z`` (no fraction when it is 0)."""
    if value is None:
        return None
    text = value.isoformat()
    if value.microsecond:
        text = text[:23] + text[26:]
    return text.removesuffix("+00:00") + "Z"


def iso(value: datetime) -> str:
    """Envelope ``date`` and chat ``posted_at``: plain ``isoformat()`` with ``+00:00``."""
    return value.isoformat()


def strip_markup(text: str) -> str:
    return _MARKUP.sub(r"\2", text)


def user_summary(user: User | None, category: Category | None = None) -> dict[str, Any] | None:
    if user is None or user.deleted:
        return None
    slug = re.sub(r"[^a-z0-9]+", "-", user.name.lower()).strip("-")
    return {
        "id": user.id,
        "full_name": user.full_name,
        "name": user.name,
        "discriminator": user.discriminator,
        "url": f"/user/{user.id}/{slug}",
        "avatar": None,
        "pronouns": None,
        "flair": user.flair,
        "twitch_name": user.twitch_channel,
        "twitch_display_name": user.twitch_channel,
        "twitch_channel": (
            f"https://www.twitch.tv/{user.twitch_channel}" if user.twitch_channel else None
        ),
        "can_moderate": bool(category and category.can_moderate(user)),
    }


def status(value: str) -> dict[str, str]:
    verbose, help_text = RACE_STATUS[value]
    return {"value": value, "verbose_value": verbose, "help_text": help_text}


def entrant_status(race: Race, e: Entrant) -> str:
    if e.state in ("requested", "invited", "declined", "partitioned"):
        return e.state
    if e.dnf:
        return "dnf"
    if e.dq:
        return "dq"
    if e.finish_time:
        return "done"
    if race.status == "in_progress":
        return "in_progress"
    return "ready" if e.ready else "not_ready"


def entrant_actions(race: Race, e: Entrant, now: datetime) -> list[str]:
    """``Entrant.available_actions`` (race.py), without teams and partitions."""
    if e.state == "requested":
        return ["cancel_invite"]
    if e.state == "invited":
        return ["accept_invite", "decline_invite"]
    if not e.joined:
        return []
    actions: list[str] = []
    if race.is_preparing:
        if e.ready:
            actions.append("unready")
        elif not race.streaming_required or e.stream_live or e.stream_override:
            actions.append("ready")
        else:
            actions.append("not_live")
        actions.append("leave")
    can_comment = (
        race.allow_comments
        and not e.dq
        and (
            (race.status == "in_progress" and (e.finish_time is not None or e.dnf))
            or (race.status == "finished" and not race.recorded)
        )
    )
    if can_comment:
        actions.append("change_comment" if e.comment else "add_comment")
    if race.status == "in_progress" or race.is_unfinalized(now):
        if not e.dq and not e.dnf:
            actions.append("undone" if e.finish_time else "done")
        if not e.dq and not e.finish_time:
            actions.append("unforfeit" if e.dnf else "forfeit")
    return actions


def entrant_dict(race: Race, e: Entrant, now: datetime) -> dict[str, Any]:
    value = entrant_status(race, e)
    verbose, help_text = ENTRANT_STATUS_TEXT[value]
    finished_at = race.started_at + e.finish_time if e.finish_time and race.started_at else None
    return {
        "user": user_summary(e.user, race.category),
        "team": None,
        "status": {"value": value, "verbose_value": verbose, "help_text": help_text},
        "finish_time": duration(e.finish_time) if e.finish_time else None,
        "finished_at": dt(finished_at),
        "place": e.place,
        "place_ordinal": _ordinal(e.place),
        "score": None,
        "score_change": None,
        "comment": None if race.hide_comments and not race.is_done else e.comment,
        "has_comment": bool(e.comment),
        "stream_live": e.stream_live,
        "stream_override": e.stream_override,
        "actions": entrant_actions(race, e, now),
    }


def _ordinal(place: int | None) -> str | None:
    return ordinal(place) if place else None


def sorted_entrants(race: Race) -> list[Entrant]:
    def key(e: Entrant) -> tuple[int, float, int]:
        group = ENTRANT_ORDER[entrant_status(race, e)]
        place = float(e.place) if group == 0 and e.place else 0.0
        return group, place, e.seq

    return sorted(race.entrants, key=key)


def goal(race: Race) -> dict[str, Any]:
    if race.custom_goal:
        return {"name": race.custom_goal, "custom": True}
    return {"name": race.goal, "custom": False}


def category_brief(category: Category) -> dict[str, Any]:
    return {
        "name": category.name,
        "short_name": category.short_name,
        "slug": category.slug,
        "url": f"/{category.slug}",
        "data_url": f"/{category.slug}/data",
        "image": category.image,
    }


def race_dict(race: Race, now: datetime) -> dict[str, Any]:
    """``Race.as_dict``: the HTTP race data and the ``race`` of ``race.data`` frames."""
    joined = race.joined_entrants()
    data: dict[str, Any] = {
        "version": race.version,
        "name": race.name,
        "slug": race.slug,
        "status": status(race.status),
        "url": f"/{race.name}",
        "data_url": f"/{race.name}/data",
        "websocket_url": f"/ws/race/{race.slug}",
        "websocket_bot_url": f"/ws/o/bot/{race.slug}",
        "websocket_oauth_url": f"/ws/o/race/{race.slug}",
        "category": category_brief(race.category),
        "goal": goal(race),
        "info": "\n".join([race.info_user or "", race.info_bot or ""]).strip(),
        "info_bot": race.info_bot,
        "info_user": race.info_user,
        "team_race": race.team_race,
        "entrants_count": len(joined),
        "entrants_count_finished": sum(
            1 for e in joined if e.finish_time and not e.dnf and not e.dq
        ),
        "entrants_count_inactive": sum(1 for e in joined if e.dnf or e.dq),
        "entrants": [entrant_dict(race, e, now) for e in sorted_entrants(race)],
        "opened_at": dt(race.opened_at),
        "start_delay": duration(race.start_delay),
        "started_at": dt(race.started_at),
        "ended_at": dt(race.ended_at),
        "cancelled_at": dt(race.cancelled_at),
        "ranked": race.ranked,
        "unlisted": race.unlisted,
        "time_limit": duration(race.time_limit),
        "time_limit_auto_complete": race.time_limit_auto_complete,
        "require_even_teams": race.require_even_teams,
        "streaming_required": race.streaming_required,
        "auto_start": race.auto_start,
        "opened_by": user_summary(race.opened_by, race.category),
        "opened_by_bot": race.opened_by_bot,
        "monitors": [user_summary(u, race.category) for u in race.monitors if not u.deleted],
        "recordable": race.recordable,
        "recorded": race.recorded,
        "recorded_by": None,
        "disqualify_unready": race.disqualify_unready,
        "allow_comments": race.allow_comments,
        "hide_comments": race.hide_comments,
        "hide_entrants": race.hide_entrants,
        "chat_restricted": race.chat_restricted,
        "allow_prerace_chat": race.allow_prerace_chat,
        "allow_midrace_chat": race.allow_midrace_chat,
        "allow_non_entrant_chat": race.allow_non_entrant_chat,
        "chat_message_delay": duration(race.chat_message_delay),
        "bot_meta": dict(race.bot_meta),
    }
    data.update(race.extra_keys)
    return data


def race_summary(race: Race) -> dict[str, Any]:
    """The ``current_races`` entries of category data (models/race.py:308-340)."""
    joined = race.joined_entrants()
    return {
        "name": race.name,
        "status": status(race.status),
        "url": f"/{race.name}",
        "data_url": f"/{race.name}/data",
        "goal": goal(race),
        "info": "\n".join([race.info_user or "", race.info_bot or ""]).strip(),
        "entrants_count": len(joined),
        "entrants_count_finished": sum(
            1 for e in joined if e.finish_time and not e.dnf and not e.dq
        ),
        "entrants_count_inactive": sum(1 for e in joined if e.dnf or e.dq),
        "opened_at": dt(race.opened_at),
        "started_at": dt(race.started_at),
        "time_limit": duration(race.time_limit),
        "opened_by_bot": race.opened_by_bot,
    }


def category_dict(category: Category, races: list[Race]) -> dict[str, Any]:
    """``Category.dump_json_data``; the caller picks which races are current."""
    return {
        **category_brief(category),
        "info": category.info,
        "streaming_required": category.streaming_required,
        "owners": [user_summary(u, category) for u in category.owners],
        "moderators": [user_summary(u, category) for u in category.moderators],
        "goals": list(category.goals),
        "current_races": [race_summary(r) for r in races],
        "emotes": {},
    }


def chat_message_dict(msg: ChatMessage, race: Race) -> dict[str, Any]:
    """racetime-app's ``Message.as_dict``. ``is_monitor`` is whether the sender can monitor
    the race now (null without a sender); ``delay`` is the race's ``chat_message_delay`` in
    seconds for a person who is not a monitor, else 0. racetime sends the message to every
    socket at once: the delay is for the site's page, which hides it from everyone but its
    sender and the monitors until then (racetime-app ``race.js``)."""
    is_monitor = race.can_monitor(msg.user) if msg.user is not None else None
    delay = 0
    if msg.bot is None and not msg.is_system and not is_monitor:
        delay = race.chat_message_delay.seconds  # racetime reads ``.seconds`` too
    return {
        "id": msg.id,
        "user": user_summary(msg.user, race.category),
        "bot": msg.bot,
        "direct_to": user_summary(msg.direct_to, race.category),
        "posted_at": iso(msg.posted_at),
        "message": msg.message,
        "message_plain": strip_markup(msg.message),
        "highlight": msg.highlight,
        "is_dm": msg.is_dm,
        "is_bot": msg.bot is not None,
        "is_monitor": is_monitor,
        "is_system": msg.is_system,
        "is_pinned": msg.pinned,
        "delay": delay,
        "actions": dict(msg.actions),
    }


def renders(race: Race, now: datetime) -> dict[str, str]:
    """Stand-ins for the server-rendered HTML fragments (same keys, simple markup)."""
    rows = "".join(
        f"<li>{e.user.name if not e.user.deleted else '(deleted user)'}: "
        f"{entrant_status(race, e)}</li>"
        for e in sorted_entrants(race)
    )
    return {
        "entrants": f'<ol class="race-entrants">{rows}</ol>',
        "intro": f'<div class="race-intro"><span>{goal(race)["name"]}</span></div>',
        "status": f'<div class="race-status">{RACE_STATUS[race.status][0]}</div>',
        "streams": '<div class="race-streams"></div>',
    }


def envelope(kind: str, now: datetime, **payload: Any) -> dict[str, Any]:
    return {"type": kind, "date": iso(now), **payload}
