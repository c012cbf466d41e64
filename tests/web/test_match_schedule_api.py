"""The schedule API over real HTTP (``POST /api/matches``, ``PATCH /api/matches/{id}``,
``POST /api/matches/{id}/cancel``): the same checks, events and audit as the slash commands,
a token acting only in its own server, bad input answered 400 with the field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.web.scene import ADA, BOB, BY_ORGANIZER, GUILD, OTHER_GUILD, STRANGER, ApiScene

SOON = (datetime.now(UTC) + timedelta(days=10)).replace(minute=0, second=0, microsecond=0)


def at(when: datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M UTC")


def new_match(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "tournament": "Winter Cup", "round": "Round 1", "players": [str(ADA), "RacerTwo"],
        "when": at(SOON), "title": "Quarter-final 1", "key": "qf1",
    }
    return {**body, **changes}


async def test_create_then_the_same_again_changes_nothing_and_a_new_time_updates(
    scene: ApiScene,
) -> None:
    status, body, _ = await scene.call("POST", "/api/matches", json=new_match())
    assert status == 201, body
    assert body["outcome"] == "created"
    match = body["match"]
    assert (match["title"], match["round"], match["status"]) == (
        "Quarter-final 1", "Round 1", "scheduled"
    )
    assert datetime.fromisoformat(match["scheduled_at"]) == SOON
    assert [p["discord_id"] for p in match["players"]] == [str(ADA), str(BOB)]
    created = await scene.services.audit.entries("match.schedule")
    assert any(e.details["match_id"] == match["id"] for e in created)

    again_status, again, _ = await scene.call("POST", "/api/matches", json=new_match())
    assert (again_status, again["outcome"], again["match"]["id"]) == (200, "unchanged", match["id"])

    later = SOON + timedelta(hours=2)
    moved_status, moved, _ = await scene.call(
        "POST", "/api/matches", json=new_match(when=at(later))
    )
    assert (moved_status, moved["outcome"], moved["match"]["id"]) == (200, "updated", match["id"])
    assert datetime.fromisoformat(moved["match"]["scheduled_at"]) == later


async def test_patch_changes_a_match_and_cancel_calls_it_off(scene: ApiScene) -> None:
    later = SOON + timedelta(days=1)
    path = f"/api/matches/{scene.match_id}"
    status, body, _ = await scene.call(
        "PATCH", path, json={"when": later.isoformat(), "round": "Top 8", "goal": None}
    )
    assert status == 200, body
    assert body["outcome"] == "updated" and set(body["changed"]) == {"scheduled_at", "round"}
    assert datetime.fromisoformat(body["match"]["scheduled_at"]) == later
    again_status, again, _ = await scene.call("PATCH", path, json={"round": "Top 8"})
    assert (again_status, again["outcome"], again["changed"]) == (200, "unchanged", [])
    updates = await scene.services.audit.entries("match.update")
    assert [e.details["match_id"] for e in updates] == [scene.match_id]

    cancel_status, cancelled, _ = await scene.call(
        "POST", path + "/cancel", json={"reason": "A player withdrew"}
    )
    assert (cancel_status, cancelled["match"]["status"]) == (200, "cancelled")
    twice_status, twice, _ = await scene.call(
        "POST", path + "/cancel", json={"reason": "Again"}
    )
    assert twice_status == 409 and "already cancelled" in twice["message"]
    late_status, late, _ = await scene.call("PATCH", path, json={"title": "New"})
    assert late_status == 409 and "cancelled" in late["message"]


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("PATCH", "", {"title": "Taken over"}),
        ("POST", "/cancel", {"reason": "Taken over"}),
    ],
)
async def test_another_servers_match_is_not_found(
    scene: ApiScene, method: str, suffix: str, body: dict[str, Any]
) -> None:
    status, answer, _ = await scene.call(
        method, f"/api/matches/{scene.other_match_id}{suffix}", json=body
    )
    assert status == 404 and answer["error"] == "not_found"
    info = await scene.services.matches.info(OTHER_GUILD, scene.other_match_id)
    assert (info.title, info.status.value) == ("Semi-final", "scheduled")


async def test_a_tournament_of_another_server_is_not_found(scene: ApiScene) -> None:
    # OTHER_GUILD has a "Winter Cup" too; this token's server has no "Summer Cup".
    status, body, _ = await scene.call(
        "POST", "/api/matches", json=new_match(tournament="Summer Cup")
    )
    assert status == 400 and "Summer Cup" in body["message"]


@pytest.mark.parametrize("token", ["", "Bearer nonsense", "Basic abc"])
async def test_bad_tokens_are_refused_and_change_nothing(scene: ApiScene, token: str) -> None:
    headers = {"Authorization": token} if token else {}
    for method, path, body in (
        ("POST", "/api/matches", new_match()),
        ("PATCH", f"/api/matches/{scene.match_id}", {"title": "x"}),
        ("POST", f"/api/matches/{scene.match_id}/cancel", {"reason": "x"}),
    ):
        status, answer, _ = await scene.call(method, path, headers=headers, json=body)
        assert status == 401 and answer["error"] == "unauthorized"
    assert await scene.services.audit.entries("match.schedule") != []  # the scene's own
    info = await scene.services.matches.info(GUILD, scene.match_id)
    assert (info.title, info.status.value) == ("Semi-final", "scheduled")


async def test_a_revoked_token_is_refused(scene: ApiScene) -> None:
    await scene.services.api_tokens.revoke(GUILD, "stream-overlay", actor=BY_ORGANIZER)
    status, _, _ = await scene.call("POST", "/api/matches", json=new_match())
    assert status == 401


@pytest.mark.parametrize(
    ("body", "field", "says"),
    [
        (new_match(when="2026-13-40 19:00 UTC"), None, "is not a real date"),
        (new_match(when=at(SOON).removesuffix(" UTC")), None, "has no timezone"),
        (new_match(when="2001-01-01 19:00 UTC"), None, "in the past"),
        (new_match(players=[str(ADA)]), None, "at least 2 players"),
        (new_match(players=[str(ADA), "Nobody#0000"]), None, "is not a Discord id"),
        (new_match(players="Ada, Bob"), "players", "list"),
        (new_match(title="x" * 201), "title", "at most 200"),
        (new_match(colour="red"), "colour", "Extra inputs"),
        ({"round": "Round 1"}, "tournament", "Field required"),
    ],
)
async def test_bad_input_is_400_and_says_why(
    scene: ApiScene, body: dict[str, Any], field: str | None, says: str
) -> None:
    status, answer, _ = await scene.call("POST", "/api/matches", json=body)
    assert status == 400, answer
    assert answer.get("field") == field
    assert says in answer["message"]


@pytest.mark.parametrize(
    ("body", "field", "says"),
    [
        ({}, None, "Give at least one of"),
        ({"when": "tomorrow-ish"}, "when", "not a time RaceDesk can read"),
        ({"when": "2001-01-01T19:00Z"}, "when", "in the past"),
        ({"players": [str(STRANGER)]}, "players", "Extra inputs"),
        ({"title": 12}, "title", "valid string"),
    ],
)
async def test_bad_updates_are_400(
    scene: ApiScene, body: dict[str, Any], field: str | None, says: str
) -> None:
    status, answer, _ = await scene.call("PATCH", f"/api/matches/{scene.match_id}", json=body)
    assert status == 400, answer
    assert answer.get("field") == field
    assert says in answer["message"]


async def test_not_json_and_unknown_ids(scene: ApiScene) -> None:
    status, answer, _ = await scene.call("POST", "/api/matches", data=b"{nope")
    assert (status, answer["error"]) == (400, "invalid_json")
    status, answer, _ = await scene.call("PATCH", "/api/matches/99999", json={"title": "x"})
    assert status == 404
    status, answer, _ = await scene.call("POST", "/api/matches/abc/cancel", json={"reason": "x"})
    assert status == 404


async def test_once_the_room_is_open_the_time_no_longer_changes(scene: ApiScene) -> None:
    status, created, _ = await scene.call("POST", "/api/matches", json=new_match())
    assert status == 201, created
    match_id = created["match"]["id"]
    opened, room, _ = await scene.call("POST", scene.room_path(match_id))
    assert opened == 201, room

    later = at(SOON + timedelta(hours=1))
    pushed_status, pushed, _ = await scene.call("POST", "/api/matches", json=new_match(when=later))
    assert pushed_status == 409 and "room is already open" in pushed["message"]
    patched_status, patched, _ = await scene.call(
        "PATCH", f"/api/matches/{match_id}", json={"when": later}
    )
    assert patched_status == 409 and "can no longer change" in patched["message"]
    # What does not move the race still may.
    titled, answer, _ = await scene.call(
        "PATCH", f"/api/matches/{match_id}", json={"title": "Quarter-final 1 (restream)"}
    )
    assert (titled, answer["changed"]) == (200, ["title"])
