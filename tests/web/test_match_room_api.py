"""The match-room API over real HTTP: a real server on a free port, the real database
(SQLite, or PostgreSQL with RACEDESK_TEST_DB=postgres), and the real room service opening
rooms on the fake racetime server over sockets."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

import pytest
from aiohttp import web

from core.access import Actor
from tests.web.scene import BY_ORGANIZER, GUILD, ORGANIZER, OTHER_GUILD, ApiScene
from web.app import ROUTES, WebDependencies, WebServer, create_app
from web.rate_limit import RateLimiter

# -- opening ------------------------------------------------------------------------------------


async def test_post_opens_the_room_and_invites_the_linked_players(scene: ApiScene) -> None:
    status, body, _ = await scene.call("POST", scene.room_path())
    assert status == 201, body
    assert scene.rooms_on_fake() == [body["room_slug"]]
    assert body["room_url"] == f"http://{scene.fake.host}/alttpr/{body['room_slug']}"
    assert body["invited_players"] == ["RacerOne#1234", "RacerTwo#5678"]
    assert body["goal"] == "All dungeons"
    race = next(r for r in scene.fake.races.values() if r.slug == body["room_slug"])
    invited = {entrant.user.id for entrant in race.entrants}
    assert set(scene.fake.seed.users[name] for name in ("RacerOne", "RacerTwo")) <= invited


async def test_opening_twice_answers_the_same_room(scene: ApiScene) -> None:
    first_status, first, _ = await scene.call("POST", scene.room_path())
    again_status, again, _ = await scene.call("POST", scene.room_path(), json={})
    assert (first_status, again_status) == (201, 200)
    assert again["room_slug"] == first["room_slug"]
    assert again["invited_players"] == first["invited_players"]
    assert scene.rooms_on_fake() == [first["room_slug"]]


async def test_concurrent_posts_open_one_room(scene: ApiScene) -> None:
    answers = await asyncio.gather(*(scene.call("POST", scene.room_path()) for _ in range(3)))
    statuses = sorted(status for status, _, _ in answers)
    assert statuses.count(201) == 1, answers
    assert set(statuses) <= {200, 201, 503}  # 503: "being opened", with Retry-After
    assert len(scene.rooms_on_fake()) == 1


async def test_the_body_sets_the_goal_and_invitational_before_the_room_opens(
    scene: ApiScene,
) -> None:
    status, body, _ = await scene.call(
        "POST", scene.room_path(), json={"goal": "Reverse boss order", "invitational": False}
    )
    assert status == 201, body
    assert body["goal"] == "Reverse boss order"
    race = next(r for r in scene.fake.races.values() if r.slug == body["room_slug"])
    assert (race.custom_goal, race.status) == ("Reverse boss order", "open")
    info = await scene.services.matches.info(GUILD, scene.match_id)
    assert (info.goal, info.invitational) == ("Reverse boss order", False)
    options = await scene.services.audit.entries("match.room_options")
    assert [e.details["goal"] for e in options] == ["Reverse boss order"]

    same_status, same, _ = await scene.call(
        "POST", scene.room_path(), json={"goal": "Reverse boss order"}
    )
    assert (same_status, same["room_slug"]) == (200, body["room_slug"])
    other_status, other, _ = await scene.call("POST", scene.room_path(), json={"goal": "Any%"})
    assert other_status == 409
    assert other["error"] == "conflict" and "goal" in other["message"]
    flip_status, flip, _ = await scene.call(
        "POST", scene.room_path(), json={"invitational": True}
    )
    assert flip_status == 409 and "invitational" in flip["message"]
    assert scene.rooms_on_fake() == [body["room_slug"]]


async def test_get_describes_the_room(scene: ApiScene) -> None:
    status, before, _ = await scene.call("GET", scene.room_path())
    assert status == 200
    assert before == {
        "has_room": False, "room_slug": None, "room_url": None, "created_at": None,
        "invited_count": 0,
    }
    _, opened, _ = await scene.call("POST", scene.room_path())
    status, after, _ = await scene.call("GET", scene.room_path())
    assert status == 200
    assert after["has_room"] is True
    assert (after["room_slug"], after["room_url"]) == (opened["room_slug"], opened["room_url"])
    assert after["invited_count"] == 2
    assert datetime.fromisoformat(after["created_at"]).tzinfo is not None


# -- refusals ----------------------------------------------------------------------------------


async def test_a_missing_wrong_or_revoked_token_is_401(scene: ApiScene) -> None:
    status, body, headers = await scene.call("POST", scene.room_path(), headers={})
    assert status == 401 and body["error"] == "unauthorized"
    assert headers["WWW-Authenticate"].startswith("Bearer")
    for bad in ("rd_not-a-real-token", "", scene.token + "x"):
        status, body, headers = await scene.call("GET", scene.room_path(), token=bad)
        assert status == 401, bad
        assert "invalid_token" in headers["WWW-Authenticate"]
    status, _, _ = await scene.call(
        "GET", scene.room_path(), headers={"Authorization": f"Basic {scene.token}"}
    )
    assert status == 401
    await scene.services.api_tokens.revoke(GUILD, "stream-overlay", actor=BY_ORGANIZER)
    status, body, _ = await scene.call("POST", scene.room_path())
    assert status == 401 and "revoked" in body["message"]
    assert scene.rooms_on_fake() == []


async def test_another_servers_match_or_an_unknown_one_is_404(scene: ApiScene) -> None:
    for match in (scene.other_match_id, 987654, "abc", "0"):
        for method in ("GET", "POST"):
            status, body, _ = await scene.call(method, scene.room_path(match))
            assert (status, body["error"]) == (404, "not_found"), (method, match, body)
    other = await scene.services.api_tokens.create(
        OTHER_GUILD, "their-bot", actor=Actor.server_admin(ORGANIZER, OTHER_GUILD)
    )
    status, _, _ = await scene.call("POST", scene.room_path(), token=other.plaintext)
    assert status == 404
    assert scene.rooms_on_fake() == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"invitational": "yes"}, "invitational"),
        ({"goal": 5}, "goal"),
        ({"goal": "x" * 201}, "goal"),
        ({"goal": "Any%", "seed": 1}, "seed"),
    ],
)
async def test_a_wrong_field_is_400_naming_it(
    scene: ApiScene, body: dict[str, object], field: str
) -> None:
    status, answer, _ = await scene.call("POST", scene.room_path(), json=body)
    assert status == 400
    assert (answer["error"], answer["field"]) == ("invalid_field", field)
    assert answer["message"].startswith(f"{field}:")
    assert scene.rooms_on_fake() == []


async def test_malformed_json_is_400(scene: ApiScene) -> None:
    for raw in (b"{not json", b"[1, 2]", b"\xff\xfe"):
        status, answer, _ = await scene.call("POST", scene.room_path(), data=raw)
        assert status == 400, raw
        assert answer["error"] in ("invalid_json", "invalid_body")
        assert "Traceback" not in answer["message"]
    assert scene.rooms_on_fake() == []


async def test_unknown_routes_and_methods_answer_json(scene: ApiScene) -> None:
    status, body, _ = await scene.call("GET", "/api/nothing-here")
    assert (status, body["error"]) == (404, "not_found")
    status, body, headers = await scene.call("DELETE", scene.room_path())
    assert status == 405 and "GET" in headers["Allow"]


# -- audit and secrecy -------------------------------------------------------------------------


async def test_every_authenticated_call_is_audited_as_the_token(scene: ApiScene) -> None:
    await scene.call("GET", scene.room_path())
    await scene.call("POST", scene.room_path(), json={"invitational": "no"})
    await scene.call("POST", scene.room_path())
    await scene.call("GET", scene.room_path(scene.other_match_id))
    entries = await scene.services.audit.entries("api.")
    rows = [(e.action, e.details["status"], e.guild_id) for e in entries]
    assert rows == [
        ("api.match_room.get", 200, GUILD),
        ("api.match_room.open", 400, GUILD),
        ("api.match_room.open", 201, GUILD),
        ("api.match_room.get", 404, GUILD),
    ]
    token = (await scene.services.api_tokens.list_tokens(GUILD, actor=BY_ORGANIZER))[0]
    assert {(e.details["token_id"], e.details["token_name"]) for e in entries} == {
        (token.id, "stream-overlay")
    }
    assert token.last_used_at is not None
    opened = await scene.services.audit.entries("match.open_room")
    assert [e.details["match_id"] for e in opened] == [scene.match_id]


async def test_the_token_is_never_logged_or_stored(
    scene: ApiScene, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    created = await scene.services.api_tokens.create(GUILD, "ci", actor=BY_ORGANIZER)
    assert created.plaintext.startswith("rd_") and len(created.plaintext) > 40
    assert created.plaintext not in repr(created)
    await scene.call("POST", scene.room_path(), token=created.plaintext)
    await scene.call("GET", scene.room_path(), token=created.plaintext + "x")
    assert created.plaintext not in caplog.text
    async with scene.services.engine.connect() as connection:
        from sqlalchemy import text

        rows = (await connection.execute(text("SELECT * FROM api_tokens"))).all()
        audit = (await connection.execute(text("SELECT details FROM audit_log"))).all()
    assert created.plaintext not in repr(rows) + repr(audit)


async def test_a_cancelled_match_is_409_and_gets_no_room(scene: ApiScene) -> None:
    await scene.services.matches.cancel(
        GUILD, scene.match_id, "Rained out", actor=BY_ORGANIZER
    )
    status, body, _ = await scene.call("POST", scene.room_path())
    assert (status, body["error"]) == (409, "refused")
    assert "cancelled" in body["message"]
    assert scene.rooms_on_fake() == []


async def test_an_unexpected_error_is_a_bare_500_and_logged(
    scene: ApiScene, caplog: pytest.LogCaptureFixture
) -> None:
    """A route module added through ``create_app(routes=…)`` gets the same error handling."""

    async def boom(request: web.Request) -> web.Response:
        raise RuntimeError("secret internals")

    def install(app: web.Application) -> None:
        app.router.add_get("/boom", boom)

    dependencies = WebDependencies(
        health=scene.services.health, discord_connected=lambda: True,
        api_tokens=scene.services.api_tokens, room_api=scene.services.room_api,
        rate_limiter=RateLimiter(10, clock=scene.services.clock),
        linking=scene.services.linking,
    )
    server = WebServer(create_app(dependencies, (*ROUTES, install)), host="127.0.0.1", port=0)
    await server.start()
    try:
        async with scene.http.get(server.url + "/boom") as response:
            assert response.status == 500
            body = await response.json()
        async with scene.http.get(server.url + "/healthz") as response:
            assert response.status == 200
    finally:
        await server.stop()
    assert body == {"error": "internal_error", "message": "Something went wrong on our side."}
    assert "secret internals" in caplog.text  # in the log, with its traceback; not to the client


# -- edges -------------------------------------------------------------------------------------


async def test_ids_out_of_the_databases_range_or_not_plain_digits_are_404(
    scene: ApiScene,
) -> None:
    """Match ids are 32-bit on PostgreSQL: a larger one was a 500 there (a DataError)."""
    for match in (2**31, 2**31 - 1, 2**63 - 1, 2**64, "²", "١٢"):
        for method in ("GET", "POST"):
            status, body, _ = await scene.call(method, scene.room_path(match))
            assert (status, body["error"]) == (404, "not_found"), (method, match, body)


async def test_the_404_speaks_to_an_http_client(scene: ApiScene) -> None:
    """Not "pick one from the suggestions": there are none over HTTP."""
    for match in (scene.other_match_id, 987654):
        for method in ("GET", "POST"):
            status, body, _ = await scene.call(method, scene.room_path(match))
            assert status == 404
            assert "suggestions" not in body["message"] and "/match" not in body["message"]
            assert body["message"] == (
                f"There is no match #{match} in the server of this API token; use the id "
                "of one of its matches."
            )


async def test_a_cancelled_match_is_refused_before_anything_changes(scene: ApiScene) -> None:
    services = scene.services
    before = await services.matches.info(GUILD, scene.match_id)
    await services.matches.cancel(GUILD, scene.match_id, "Rained out", actor=BY_ORGANIZER)
    status, body, _ = await scene.call(
        "POST", scene.room_path(), json={"goal": "Reverse boss order", "invitational": False}
    )
    assert (status, body["error"]) == (409, "refused")
    assert "cancelled" in body["message"]
    after = await services.matches.info(GUILD, scene.match_id)
    assert (after.goal, after.invitational) == (before.goal, before.invitational)
    assert await services.audit.entries("match.room_options") == []
    assert scene.rooms_on_fake() == []
