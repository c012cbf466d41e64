"""``/api/matches/{match_id}/racetime-room``: open a match's room, or describe it.

``POST`` takes an optional JSON body ``{"goal": str, "invitational": bool}`` and answers
``{"room_slug", "room_url", "invited_players", "goal"}`` (201 when this call opened the
room, 200 when it already had one). ``GET`` answers ``{"has_room", "room_slug", "room_url",
"created_at", "invited_count"}``. Both act only on the token's server's matches.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.accounts.api_tokens import ApiTokenInfo
from core.tournaments.tournaments import GOAL_MAX
from web.auth import api_endpoint
from web.errors import ApiError
from web.keys import ROOM_API

# Match ids are INTEGER columns (32 bits on PostgreSQL): a larger id is no match, not a
# database error.
MATCH_ID_MAX = 2**31 - 1


class OpenRoomBody(BaseModel):
    """The optional body of ``POST``; strict, so ``"yes"`` is not a boolean."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    goal: str | None = Field(default=None, max_length=GOAL_MAX)
    invitational: bool | None = None


def match_id_of(request: web.Request) -> int:
    text = request.match_info["match_id"]
    # ASCII digits only: str.isdigit() also takes "²" (which int() refuses) and "١٢".
    if not (text.isascii() and text.isdigit()) or not 0 < int(text) <= MATCH_ID_MAX:
        raise ApiError(404, "not_found", f"There is no match {text!r}.")
    return int(text)


async def parse_body(request: web.Request) -> OpenRoomBody:
    raw = await request.read()
    if not raw.strip():
        return OpenRoomBody()
    try:
        data: Any = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "invalid_json", "The body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_body", "The body must be a JSON object.")
    try:
        return OpenRoomBody.model_validate(data)
    except ValidationError as error:
        first = error.errors(include_input=False, include_url=False)[0]
        field = ".".join(str(part) for part in first["loc"]) or "body"
        raise ApiError(
            400, "invalid_field", f"{field}: {first['msg']}", field=field
        ) from None


@api_endpoint("api.match_room.open")
async def open_room(request: web.Request, token: ApiTokenInfo) -> web.Response:
    match_id = match_id_of(request)
    body = await parse_body(request)
    room = await request.app[ROOM_API].open(
        token, match_id, goal=body.goal, invitational=body.invitational
    )
    answer = {
        "room_slug": room.room_slug,
        "room_url": room.room_url,
        "invited_players": list(room.invited_players),
        "goal": room.goal,
    }
    return web.json_response(answer, status=201 if room.created else 200)


@api_endpoint("api.match_room.get")
async def get_room(request: web.Request, token: ApiTokenInfo) -> web.Response:
    state = await request.app[ROOM_API].state(token, match_id_of(request))
    return web.json_response(
        {
            "has_room": state.has_room,
            "room_slug": state.room_slug,
            "room_url": state.room_url,
            "created_at": state.created_at.isoformat() if state.created_at else None,
            "invited_count": state.invited_count,
        }
    )


def install(app: web.Application) -> None:
    app.router.add_post("/api/matches/{match_id}/racetime-room", open_room)
    app.router.add_get("/api/matches/{match_id}/racetime-room", get_room)
