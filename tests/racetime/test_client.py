"""The racetime HTTP client against the fake server, over real sockets."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from core.metrics import NoMetrics
from fake_racetime import FakeRacetimeServer, serialize
from racetime.client import (
    AccessToken,
    RaceSettings,
    RacetimeClient,
    endpoint_template,
    split_race_name,
)
from racetime.errors import (
    RacetimeAuthError,
    RacetimeConnectionError,
    RacetimeError,
    RacetimeNotFoundError,
    RacetimeServerError,
    RacetimeValidationError,
)
from racetime.models import CategoryData
from tests.plugins.fake_racetime import ALTTPR_CLIENT_ID, ALTTPR_CLIENT_SECRET


def assert_safe(exc: BaseException, *secrets: str) -> None:
    for secret in (ALTTPR_CLIENT_SECRET, *secrets):
        assert secret not in str(exc)
        assert secret not in repr(exc)


async def test_token_success_and_expiry(
    fake_racetime: FakeRacetimeServer, racetime_client: RacetimeClient
) -> None:
    before = datetime.now(UTC)
    token = await racetime_client.get_token(ALTTPR_CLIENT_ID, ALTTPR_CLIENT_SECRET)
    assert token.value in fake_racetime.tokens
    assert token.has_scope("create_race")
    assert token.expires_at.tzinfo is not None
    assert before + timedelta(seconds=35999) <= token.expires_at
    assert token.expires_at <= datetime.now(UTC) + timedelta(seconds=36000)
    assert not token.is_expired()
    assert token.expires_within(timedelta(hours=11))
    assert token.value not in repr(token)
    assert "hidden" in repr(token)


async def test_token_lifetime_follows_server(fake_racetime: FakeRacetimeServer) -> None:
    fake_racetime.token_lifetime = 60
    async with RacetimeClient(fake_racetime.host, secure=False) as client:
        token = await client.get_token(ALTTPR_CLIENT_ID, ALTTPR_CLIENT_SECRET)
    assert token.expires_within(timedelta(seconds=61))


async def test_token_bad_secret(racetime_client: RacetimeClient) -> None:
    with pytest.raises(RacetimeAuthError) as info:
        await racetime_client.get_token(ALTTPR_CLIENT_ID, "wrong-secret-value")
    assert info.value.status == 401
    assert_safe(info.value, "wrong-secret-value")


async def test_category_data_includes_unlisted(
    fake_racetime: FakeRacetimeServer,
    racetime_client: RacetimeClient,
    racetime_token: AccessToken,
) -> None:
    hidden = fake_racetime.open_race("alttpr", unlisted=True)
    data = await racetime_client.get_category_data("alttpr", racetime_token)
    assert [r["name"] for r in data["current_races"]] == [hidden.name]
    public = await racetime_client.get_public_category_data("alttpr")
    assert public["current_races"] == []
    with pytest.raises(RacetimeAuthError) as info:
        await racetime_client.get_category_data("smz3", racetime_token)
    assert_safe(info.value, racetime_token.value)
    with pytest.raises(RacetimeNotFoundError):
        await racetime_client.get_public_category_data("nope")


async def test_category_read_in_one_pass_is_the_category_data(
    fake_racetime: FakeRacetimeServer,
    racetime_client: RacetimeClient,
    racetime_token: AccessToken,
) -> None:
    fake_racetime.open_race("alttpr", unlisted=True)
    fake_racetime.open_race("alttpr")
    typed = await racetime_client.get_category("alttpr", racetime_token)
    raw = await racetime_client.get_category_data("alttpr", racetime_token)
    assert typed == msgspec.convert(raw, CategoryData)
    assert len(typed.current_races) == 2
    with pytest.raises(RacetimeAuthError):
        await racetime_client.get_category("smz3", racetime_token)


async def test_category_data_of_the_wrong_shape_is_a_server_error(
    fake_racetime: FakeRacetimeServer,
    racetime_client: RacetimeClient,
    racetime_token: AccessToken,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_racetime.open_race("alttpr")
    summary = serialize.race_summary
    monkeypatch.setattr(serialize, "race_summary", lambda race: {**summary(race), "status": 5})
    with pytest.raises(RacetimeServerError, match="unreadable category data"):
        await racetime_client.get_category("alttpr", racetime_token)


async def test_start_race_sends_every_field(
    fake_racetime: FakeRacetimeServer,
    racetime_client: RacetimeClient,
    racetime_token: AccessToken,
) -> None:
    settings = RaceSettings(
        goal="Any% NMG",
        invitational=True,
        unlisted=True,
        ranked=False,
        info_user="Round 1",
        info_bot="Seed: ABC",
        start_delay=30,
        time_limit=3,
        time_limit_auto_complete=True,
        streaming_required=False,
        auto_start=False,
        allow_comments=False,
        hide_comments=True,
        allow_prerace_chat=False,
        allow_midrace_chat=False,
        allow_non_entrant_chat=False,
        chat_message_delay=5,
        require_even_teams=True,
    )
    name = await racetime_client.start_race("alttpr", racetime_token, settings)
    category, slug = split_race_name(name)
    assert category == "alttpr"
    data = await racetime_client.get_race_data(name)
    assert data == await racetime_client.get_race_data("alttpr", slug)
    assert data["goal"] == {"name": "Any% NMG", "custom": False}
    assert data["status"]["value"] == "invitational"
    expected = {
        "unlisted": True, "ranked": False, "info_user": "Round 1", "info_bot": "Seed: ABC",
        "start_delay": "P0DT00H00M30S", "time_limit": "P0DT03H00M00S",
        "time_limit_auto_complete": True, "streaming_required": False, "auto_start": False,
        "allow_comments": False, "hide_comments": True, "allow_prerace_chat": False,
        "allow_midrace_chat": False, "allow_non_entrant_chat": False,
        "chat_message_delay": "P0DT00H00M05S", "require_even_teams": True, "team_race": False,
        "opened_by_bot": "TestBot", "opened_by": None,
    }  # fmt: skip
    assert {k: data[k] for k in expected} == expected
    form = settings.to_form()
    assert form["unlisted"] == "true"
    assert form["auto_start"] == "false"
    assert "partitionable" not in form
    assert {f.name for f in fields(RaceSettings)} - set(form) == {"partitionable", "hide_entrants"}


async def test_default_settings_are_tournament_friendly(
    racetime_client: RacetimeClient, racetime_token: AccessToken
) -> None:
    name = await racetime_client.start_race(
        "alttpr", racetime_token, RaceSettings(custom_goal="Custom")
    )
    data = await racetime_client.get_race_data(name)
    assert data["streaming_required"] is False  # the model default would be True
    assert data["status"]["value"] == "invitational"
    assert data["goal"] == {"name": "Custom", "custom": True}


async def test_start_race_validation_errors(
    racetime_client: RacetimeClient, racetime_token: AccessToken
) -> None:
    with pytest.raises(RacetimeValidationError) as info:
        await racetime_client.start_race("alttpr", racetime_token, RaceSettings())
    assert info.value.errors == {"__all__": ["You need to set a goal for this race."]}
    assert "You need to set a goal for this race." in str(info.value)
    bad = RaceSettings(goal="Beat the game", start_delay=5, time_limit=100)
    with pytest.raises(RacetimeValidationError) as info:
        await racetime_client.start_race("alttpr", racetime_token, bad)
    assert set(info.value.errors) == {"start_delay", "time_limit"}
    assert "start_delay: Ensure this value is greater than or equal to 0:00:10." in str(info.value)
    assert_safe(info.value, racetime_token.value)


async def test_start_race_auth_and_not_found(
    fake_racetime: FakeRacetimeServer, racetime_client: RacetimeClient
) -> None:
    read_only = await racetime_client.get_token(ALTTPR_CLIENT_ID, ALTTPR_CLIENT_SECRET, "read")
    with pytest.raises(RacetimeAuthError) as info:
        await racetime_client.start_race("alttpr", read_only, RaceSettings(goal="Beat the game"))
    assert info.value.status == 403
    assert_safe(info.value, read_only.value)
    token = await racetime_client.get_token(ALTTPR_CLIENT_ID, ALTTPR_CLIENT_SECRET)
    fake_racetime.expire_tokens(token=token.value)
    with pytest.raises(RacetimeAuthError):
        await racetime_client.start_race("alttpr", token, RaceSettings(goal="Beat the game"))
    fresh = await racetime_client.get_token(ALTTPR_CLIENT_ID, ALTTPR_CLIENT_SECRET)
    with pytest.raises(RacetimeNotFoundError):
        await racetime_client.start_race("nope", fresh, RaceSettings(goal="Beat the game"))


async def test_server_errors_are_not_retried(
    fake_racetime: FakeRacetimeServer,
    racetime_client: RacetimeClient,
    racetime_token: AccessToken,
) -> None:
    fake_racetime.fail_next(1, status=503, path_prefix="/o/alttpr/startrace")
    with pytest.raises(RacetimeServerError) as info:
        await racetime_client.start_race(
            "alttpr", racetime_token, RaceSettings(goal="Beat the game")
        )
    assert info.value.status == 503
    assert fake_racetime.request_count("/o/alttpr/startrace") == 1  # no hidden retries
    assert fake_racetime.races == {}
    assert_safe(info.value, racetime_token.value)


async def test_timeout_becomes_connection_error(fake_racetime: FakeRacetimeServer) -> None:
    fake_racetime.delay(1.0, "/o/token")
    async with RacetimeClient(fake_racetime.host, secure=False, timeout=0.2) as client:
        with pytest.raises(RacetimeConnectionError) as info:
            await client.get_token(ALTTPR_CLIENT_ID, ALTTPR_CLIENT_SECRET)
    assert_safe(info.value)
    fake_racetime.delay(0)


async def test_unreachable_host_is_connection_error() -> None:
    async with RacetimeClient("127.0.0.1:1", secure=False, timeout=1.0) as client:
        with pytest.raises(RacetimeConnectionError) as info:
            await client.get_token(ALTTPR_CLIENT_ID, ALTTPR_CLIENT_SECRET)
    assert isinstance(info.value, RacetimeError)
    assert_safe(info.value)


async def test_edit_keeps_fields_when_all_are_sent(
    fake_racetime: FakeRacetimeServer,
    racetime_client: RacetimeClient,
    racetime_token: AccessToken,
) -> None:
    settings = RaceSettings(goal="Beat the game", info_user="Keep me", start_delay=20)
    name = await racetime_client.start_race("alttpr", racetime_token, settings)
    settings.goal = "Any% NMG"
    await racetime_client.edit_race("alttpr", name, racetime_token, settings)
    data = await racetime_client.get_race_data(name)
    assert data["goal"]["name"] == "Any% NMG"
    assert data["info_user"] == "Keep me"
    assert data["start_delay"] == "P0DT00H00M20S"
    assert data["streaming_required"] is False
    settings.time_limit = 0
    with pytest.raises(RacetimeValidationError):
        await racetime_client.edit_race("alttpr", name, racetime_token, settings)
    race = fake_racetime.race(name)
    await fake_racetime.apply(race, lambda now: race.cancel(now))
    with pytest.raises(RacetimeAuthError):
        await racetime_client.edit_race("alttpr", name, racetime_token, settings)


async def test_client_session_lifecycle(fake_racetime: FakeRacetimeServer) -> None:
    client = RacetimeClient(fake_racetime.host, secure=False)
    assert client.base_url == f"http://{fake_racetime.host}"
    await client.get_public_category_data("alttpr")
    session = client._session
    await client.get_public_category_data("alttpr")
    assert client._session is session  # one shared session
    await client.close()
    assert session is not None
    assert session.closed
    assert RacetimeClient("racetime.gg").base_url == "https://racetime.gg"


def test_split_race_name() -> None:
    assert split_race_name("alttpr/fancy-wolf-1234") == ("alttpr", "fancy-wolf-1234")
    assert split_race_name("/alttpr/fancy-wolf-1234") == ("alttpr", "fancy-wolf-1234")
    assert split_race_name("fancy-wolf-1234", "alttpr") == ("alttpr", "fancy-wolf-1234")
    with pytest.raises(ValueError):
        split_race_name("fancy-wolf-1234")


def test_endpoint_template_names_no_category_or_room() -> None:
    assert endpoint_template("/o/token") == "/o/token"
    assert endpoint_template("/o/userinfo") == "/o/userinfo"
    assert endpoint_template("/o/alttpr/data") == "/o/{category}/data"
    assert endpoint_template("/alttpr/data") == "/{category}/data"
    assert endpoint_template("/alttpr/fancy-wolf-1234/data") == "/{category}/{race}/data"
    assert endpoint_template("/o/alttpr/startrace") == "/o/{category}/startrace"
    assert endpoint_template("/o/alttpr/fancy-wolf-1234/edit") == "/o/{category}/{race}/edit"
    assert endpoint_template("/a/b/c/d?x=y") == "/{category}/{race}/{other}/{other}"


class RecordedRequests(NoMetrics):
    def __init__(self) -> None:
        self.requests: list[tuple[str, str, str]] = []

    def racetime_request(self, method: str, endpoint: str, status: str) -> None:
        self.requests.append((method, endpoint, status))


async def test_every_request_is_recorded_by_templated_endpoint_and_answer(
    fake_racetime: FakeRacetimeServer,
) -> None:
    metrics = RecordedRequests()
    async with RacetimeClient(fake_racetime.host, secure=False, metrics=metrics) as client:
        await client.get_token(ALTTPR_CLIENT_ID, ALTTPR_CLIENT_SECRET)
        with pytest.raises(RacetimeNotFoundError):
            await client.get_race_data("alttpr", "no-such-room-1234")
    async with RacetimeClient("127.0.0.1:1", secure=False, metrics=metrics) as client:
        with pytest.raises(RacetimeConnectionError):
            await client.get_public_category_data("alttpr")
    assert metrics.requests == [
        ("POST", "/o/token", "200"),
        ("GET", "/{category}/{race}/data", "404"),
        ("GET", "/{category}/data", "error"),
    ]
