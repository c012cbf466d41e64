"""``/api/matches``: a scheduling sheet or bracket tool pushes its schedule.

- ``POST /api/matches`` ``{"tournament", "round", "players": [...], "when", "title"?,
  "goal"?, "key"?}`` schedules a match (201), or, when the tournament already has the match
  (the same ``key``, else the same round and players), updates it (200, ``"outcome":
  "updated"``) or changes nothing (200, ``"unchanged"``): pushing a schedule twice is safe.
  ``players`` are Discord ids or racetime.gg names of linked accounts; ``when`` a time with
  its zone.
- ``PATCH /api/matches/{id}`` ``{"when"?, "title"?, "goal"?, "round"?}`` (``null`` clears a
  goal or round) changes a match still to be played; a new time only before its room opens.
- ``POST /api/matches/{id}/cancel`` ``{"reason"}`` cancels it; the players are told why.

Each answers ``{"outcome", "changed", "match": {...}}``. Bad input is 400 with the
``field``; a match of another server 404; what the match's state refuses 409.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.accounts.api_tokens import ApiTokenInfo
from core.tournaments.imports import KEY_MAX, PLAYERS_MAX
from core.tournaments.match_api import MatchChange
from core.tournaments.match_info import MatchInfo
from core.tournaments.matches import REASON_MAX, ROUND_MAX, TITLE_MAX
from core.tournaments.tournaments import GOAL_MAX, NAME_MAX, UNSET
from web.auth import api_endpoint
from web.errors import ApiError
from web.keys import MATCH_API
from web.routes.matches import match_id_of

TEXT_MAX = 1000  # any one string a caller sends; the services check the real limits

Body = TypeVar("Body", bound=BaseModel)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class CreateBody(_Strict):
    tournament: str = Field(max_length=NAME_MAX)
    round: str = Field(max_length=ROUND_MAX)
    players: list[str] = Field(max_length=PLAYERS_MAX)
    when: str = Field(max_length=TEXT_MAX)
    title: str | None = Field(default=None, max_length=TITLE_MAX)
    goal: str | None = Field(default=None, max_length=GOAL_MAX)
    key: str | None = Field(default=None, max_length=KEY_MAX)


class UpdateBody(_Strict):
    when: str | None = Field(default=None, max_length=TEXT_MAX)
    title: str | None = Field(default=None, max_length=TITLE_MAX)
    goal: str | None = Field(default=None, max_length=GOAL_MAX)
    round: str | None = Field(default=None, max_length=ROUND_MAX)


class CancelBody(_Strict):
    reason: str = Field(max_length=REASON_MAX)


async def read_body(request: web.Request, model: type[Body]) -> Body:
    raw = await request.read()
    try:
        data: Any = json.loads(raw) if raw.strip() else None
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "invalid_json", "The body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_body", "The body must be a JSON object.")
    try:
        return model.model_validate(data)
    except ValidationError as error:
        first = error.errors(include_input=False, include_url=False)[0]
        field = ".".join(str(part) for part in first["loc"]) or "body"
        raise ApiError(400, "invalid_field", f"{field}: {first['msg']}", field=field) from None


def match_json(match: MatchInfo) -> dict[str, Any]:
    return {
        "id": match.id,
        "tournament": match.tournament,
        "round": match.round,
        "title": match.title,
        "status": match.status.value,
        "scheduled_at": match.scheduled_at.isoformat() if match.scheduled_at else None,
        "goal": match.goal,
        "players": [
            {"discord_id": str(player.discord_id), "racetime_name": player.racetime_name}
            for player in match.players
        ],
    }


def answer(change: MatchChange, *, status: int = 200) -> web.Response:
    return web.json_response(
        {"outcome": change.outcome, "changed": list(change.changed),
         "match": match_json(change.match)},
        status=status,
    )


@api_endpoint("api.matches.create")
async def create_match(request: web.Request, token: ApiTokenInfo) -> web.Response:
    body = await read_body(request, CreateBody)
    change = await request.app[MATCH_API].create(token.as_actor(), **body.model_dump())
    return answer(change, status=201 if change.outcome == "created" else 200)


@api_endpoint("api.matches.update")
async def update_match(request: web.Request, token: ApiTokenInfo) -> web.Response:
    match_id = match_id_of(request)
    body = await read_body(request, UpdateBody)
    given = body.model_fields_set
    change = await request.app[MATCH_API].update(
        token.as_actor(), match_id, when=body.when, title=body.title,
        goal=body.goal if "goal" in given else UNSET,
        round=body.round if "round" in given else UNSET,
    )
    return answer(change)


@api_endpoint("api.matches.cancel")
async def cancel_match(request: web.Request, token: ApiTokenInfo) -> web.Response:
    match_id = match_id_of(request)
    body = await read_body(request, CancelBody)
    change = await request.app[MATCH_API].cancel(token.as_actor(), match_id, body.reason)
    return answer(change)


def install(app: web.Application) -> None:
    """Only when the application was given the match API."""
    if MATCH_API in app:
        app.router.add_post("/api/matches", create_match)
        app.router.add_patch("/api/matches/{match_id}", update_match)
        app.router.add_post("/api/matches/{match_id}/cancel", cancel_match)
