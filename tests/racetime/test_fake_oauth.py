"""The fake racetime server's OAuth2 for people, over real HTTP: /o/authorize, the
authorization-code and refresh-token grants of /o/token, and /o/userinfo; and the
RacetimeClient methods that speak them."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest

from fake_racetime import FakeRacetimeServer
from fake_racetime.oauth import AUTHORIZATION_CODE_SECONDS
from racetime.client import RacetimeClient
from racetime.errors import (
    RacetimeAuthError,
    RacetimeConnectionError,
    RacetimeGrantError,
    RacetimeServerError,
)
from tests.plugins.fake_racetime import ALTTPR_CLIENT_ID, ALTTPR_CLIENT_SECRET

APP_ID, APP_SECRET = "racedesk-link-app", "link-app-very-secret-789"
REDIRECT = "http://127.0.0.1:9/racetime/callback"


@pytest.fixture
def person(fake_racetime: FakeRacetimeServer) -> str:
    fake_racetime.register_oauth_app(APP_ID, APP_SECRET, [REDIRECT])
    user = fake_racetime.add_user("Linker", discriminator="4321")
    fake_racetime.authorize_as(user)
    return user


@pytest.fixture
async def browser() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def follow(browser: aiohttp.ClientSession, url: str) -> tuple[int, str, dict[str, str]]:
    """GET ``url`` as a browser's first hop: status, Location, and Location's query."""
    async with browser.get(url, allow_redirects=False) as resp:
        await resp.read()
        location = resp.headers.get("Location", "")
    query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    return resp.status, location, query


async def authorize(
    client: RacetimeClient, browser: aiohttp.ClientSession, state: str = "st-1"
) -> str:
    status, location, query = await follow(
        browser, client.authorize_url(APP_ID, REDIRECT, state)
    )
    assert status == 302
    assert location.startswith(REDIRECT + "?")
    assert query["state"] == state
    return query["code"]


async def test_authorize_redirects_with_a_code_and_the_state(
    person: str, racetime_client: RacetimeClient, browser: aiohttp.ClientSession
) -> None:
    code = await authorize(racetime_client, browser, state="abc xyz/+")
    assert len(code) >= 20


async def test_a_declined_authorization_redirects_with_access_denied(
    fake_racetime: FakeRacetimeServer,
    person: str,
    racetime_client: RacetimeClient,
    browser: aiohttp.ClientSession,
) -> None:
    fake_racetime.deny_authorization()
    status, location, query = await follow(
        browser, racetime_client.authorize_url(APP_ID, REDIRECT, "s")
    )
    assert status == 302 and location.startswith(REDIRECT)
    assert query == {"error": "access_denied", "state": "s"}


@pytest.mark.parametrize(
    ("client_id", "redirect_uri", "text"),
    [
        ("nobody", REDIRECT, "Invalid client_id"),
        (APP_ID, "http://evil.example/callback", "Mismatching redirect URI"),
        (ALTTPR_CLIENT_ID, REDIRECT, "Invalid client_id"),  # a bot app: not for people
    ],
)
async def test_an_unknown_client_or_redirect_is_a_400_page_not_a_redirect(
    person: str,
    racetime_client: RacetimeClient,
    browser: aiohttp.ClientSession,
    client_id: str,
    redirect_uri: str,
    text: str,
) -> None:
    url = racetime_client.authorize_url(client_id, redirect_uri, "s")
    async with browser.get(url, allow_redirects=False) as resp:
        assert resp.status == 400
        assert "Location" not in resp.headers
        assert text in await resp.text()


async def test_a_bad_response_type_or_scope_redirects_with_the_error(
    fake_racetime: FakeRacetimeServer, person: str, browser: aiohttp.ClientSession
) -> None:
    base = f"{fake_racetime.base_url}/o/authorize?client_id={APP_ID}&redirect_uri={REDIRECT}"
    _, _, query = await follow(browser, base + "&response_type=token&state=s")
    assert query == {"error": "unsupported_response_type", "state": "s"}
    _, _, query = await follow(browser, base + "&response_type=code&scope=create_race&state=s")
    assert query == {"error": "invalid_scope", "state": "s"}


async def test_nobody_logged_in_is_sent_to_the_login_page(
    fake_racetime: FakeRacetimeServer, racetime_client: RacetimeClient,
    browser: aiohttp.ClientSession,
) -> None:
    fake_racetime.register_oauth_app(APP_ID, APP_SECRET, [REDIRECT])
    status, location, query = await follow(
        browser, racetime_client.authorize_url(APP_ID, REDIRECT, "s")
    )
    assert status == 302
    assert location.startswith("/account/auth?")
    assert query["next"].startswith("/o/authorize?")


async def test_code_exchange_userinfo_and_refresh(
    fake_racetime: FakeRacetimeServer,
    person: str,
    racetime_client: RacetimeClient,
    browser: aiohttp.ClientSession,
) -> None:
    code = await authorize(racetime_client, browser)
    token = await racetime_client.exchange_code(APP_ID, APP_SECRET, code, REDIRECT)
    assert token.scope == ("read",)
    assert token.refresh_token
    assert "<hidden>" in repr(token)
    assert token.access_token not in repr(token) and token.refresh_token not in repr(token)

    me = await racetime_client.get_userinfo(token.access_token)
    assert (me.id, me.name, me.full_name, me.discriminator) == (
        person, "Linker", "Linker#4321", "4321"
    )

    renewed = await racetime_client.refresh_user_token(APP_ID, APP_SECRET, token.refresh_token)
    assert renewed.access_token != token.access_token
    assert renewed.refresh_token not in (None, token.refresh_token)
    assert (await racetime_client.get_userinfo(renewed.access_token)).id == person
    # Rotation: the old access token and the old refresh token are dead.
    with pytest.raises(RacetimeAuthError) as refused:
        await racetime_client.get_userinfo(token.access_token)
    assert refused.value.status == 403
    with pytest.raises(RacetimeGrantError) as reused:
        await racetime_client.refresh_user_token(APP_ID, APP_SECRET, token.refresh_token)
    assert reused.value.error == "invalid_grant"


async def test_userinfo_sends_racetimes_user_summary(
    fake_racetime: FakeRacetimeServer,
    person: str,
    racetime_client: RacetimeClient,
    browser: aiohttp.ClientSession,
) -> None:
    code = await authorize(racetime_client, browser)
    token = await racetime_client.exchange_code(APP_ID, APP_SECRET, code, REDIRECT)
    headers = {"Authorization": f"Bearer {token.access_token}"}
    async with browser.get(f"{fake_racetime.base_url}/o/userinfo", headers=headers) as resp:
        assert resp.status == 200
        body = await resp.json()
    assert set(body) == {
        "id", "full_name", "name", "discriminator", "url", "avatar", "pronouns", "flair",
        "twitch_name", "twitch_display_name", "twitch_channel",
    }
    assert body["url"] == f"/user/{person}/linker"


async def test_userinfo_refuses_bot_and_missing_tokens(
    fake_racetime: FakeRacetimeServer, racetime_client: RacetimeClient,
    browser: aiohttp.ClientSession,
) -> None:
    bot = await racetime_client.get_token(ALTTPR_CLIENT_ID, ALTTPR_CLIENT_SECRET)
    for value in (bot.value, "nonsense"):
        with pytest.raises(RacetimeAuthError):
            await racetime_client.get_userinfo(value)
    async with browser.get(f"{fake_racetime.base_url}/o/userinfo") as resp:
        assert resp.status == 403


async def test_a_code_is_single_use(
    person: str, racetime_client: RacetimeClient, browser: aiohttp.ClientSession
) -> None:
    code = await authorize(racetime_client, browser)
    await racetime_client.exchange_code(APP_ID, APP_SECRET, code, REDIRECT)
    with pytest.raises(RacetimeGrantError) as second:
        await racetime_client.exchange_code(APP_ID, APP_SECRET, code, REDIRECT)
    assert second.value.error == "invalid_grant"


async def test_a_code_expires_after_a_minute(
    fake_racetime: FakeRacetimeServer,
    person: str,
    racetime_client: RacetimeClient,
    browser: aiohttp.ClientSession,
) -> None:
    code = await authorize(racetime_client, browser)
    fake_racetime.clock.advance(AUTHORIZATION_CODE_SECONDS)
    with pytest.raises(RacetimeGrantError, match="invalid_grant"):
        await racetime_client.exchange_code(APP_ID, APP_SECRET, code, REDIRECT)


async def test_a_code_is_bound_to_its_client_and_redirect_uri(
    fake_racetime: FakeRacetimeServer,
    person: str,
    racetime_client: RacetimeClient,
    browser: aiohttp.ClientSession,
) -> None:
    other = "http://127.0.0.1:9/other"
    fake_racetime.register_oauth_app("other-app", "other-secret", [other])
    code = await authorize(racetime_client, browser)
    with pytest.raises(RacetimeGrantError, match="invalid_request"):
        await racetime_client.exchange_code(APP_ID, APP_SECRET, code, REDIRECT + "x")
    with pytest.raises(RacetimeGrantError, match="invalid_grant"):
        await racetime_client.exchange_code("other-app", "other-secret", code, other)
    # Neither attempt used it up.
    assert await racetime_client.exchange_code(APP_ID, APP_SECRET, code, REDIRECT)


async def test_bad_app_credentials_are_an_auth_error_not_a_grant_error(
    person: str, racetime_client: RacetimeClient, browser: aiohttp.ClientSession
) -> None:
    code = await authorize(racetime_client, browser)
    with pytest.raises(RacetimeAuthError) as refused:
        await racetime_client.exchange_code(APP_ID, "wrong", code, REDIRECT)
    assert not isinstance(refused.value, RacetimeGrantError)
    assert refused.value.status == 401
    assert "wrong" not in str(refused.value)


async def test_a_bot_app_may_not_use_the_person_grants(
    racetime_client: RacetimeClient,
) -> None:
    with pytest.raises(RacetimeGrantError, match="unauthorized_client"):
        await racetime_client.refresh_user_token(ALTTPR_CLIENT_ID, ALTTPR_CLIENT_SECRET, "x")


async def test_a_revoked_refresh_token_is_invalid_grant(
    fake_racetime: FakeRacetimeServer,
    person: str,
    racetime_client: RacetimeClient,
    browser: aiohttp.ClientSession,
) -> None:
    code = await authorize(racetime_client, browser)
    token = await racetime_client.exchange_code(APP_ID, APP_SECRET, code, REDIRECT)
    assert fake_racetime.revoke_refresh_tokens(person) == 1
    assert token.refresh_token
    with pytest.raises(RacetimeGrantError, match="invalid_grant"):
        await racetime_client.refresh_user_token(APP_ID, APP_SECRET, token.refresh_token)


async def test_racetime_down_is_not_a_grant_error(
    fake_racetime: FakeRacetimeServer,
    person: str,
    racetime_client: RacetimeClient,
    browser: aiohttp.ClientSession,
) -> None:
    code = await authorize(racetime_client, browser)
    fake_racetime.fail_next(1, 502, "/o/token")
    with pytest.raises(RacetimeServerError):
        await racetime_client.exchange_code(APP_ID, APP_SECRET, code, REDIRECT)
    fake_racetime.fail_next(1, 503, "/o/userinfo")
    token = await racetime_client.exchange_code(APP_ID, APP_SECRET, code, REDIRECT)
    with pytest.raises(RacetimeServerError):
        await racetime_client.get_userinfo(token.access_token)
    async with RacetimeClient("127.0.0.1:1", secure=False, timeout=2.0) as unreachable:
        with pytest.raises(RacetimeConnectionError):
            await unreachable.exchange_code(APP_ID, APP_SECRET, code, REDIRECT)


async def test_the_test_api_drives_authorization(
    fake_racetime: FakeRacetimeServer, racetime_client: RacetimeClient,
    browser: aiohttp.ClientSession,
) -> None:
    base = fake_racetime.base_url
    user = fake_racetime.add_user("Remote")
    body = {"client_id": APP_ID, "client_secret": APP_SECRET, "redirect_uris": [REDIRECT]}
    async with browser.post(f"{base}/_test/oauth/apps", json=body) as resp:
        assert resp.status == 201
    async with browser.post(f"{base}/_test/oauth/authorize-as", json={"user_id": "x"}) as resp:
        assert resp.status == 404
    async with browser.post(f"{base}/_test/oauth/authorize-as", json={"user_id": user}) as resp:
        assert resp.status == 200
    code = await authorize(racetime_client, browser)
    token = await racetime_client.exchange_code(APP_ID, APP_SECRET, code, REDIRECT)
    async with browser.post(f"{base}/_test/oauth/revoke-refresh", json={}) as resp:
        assert (await resp.json()) == {"revoked": 1}
    async with browser.post(f"{base}/_test/oauth/deny") as resp:
        assert resp.status == 200
    _, _, query = await follow(browser, racetime_client.authorize_url(APP_ID, REDIRECT, "s"))
    assert query["error"] == "access_denied"
    assert token.refresh_token


async def test_the_code_grant_takes_http_basic_client_auth(
    fake_racetime: FakeRacetimeServer,
    person: str,
    racetime_client: RacetimeClient,
    browser: aiohttp.ClientSession,
) -> None:
    code = await authorize(racetime_client, browser)
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    basic = base64.b64encode(f"{APP_ID}:{APP_SECRET}".encode()).decode()
    headers = {"Authorization": f"Basic {basic}"}
    url = f"{fake_racetime.base_url}/o/token"
    async with browser.post(url, data=form, headers=headers) as resp:
        assert resp.status == 200
        body = await resp.json()
    assert set(body) == {"access_token", "expires_in", "token_type", "scope", "refresh_token"}
    assert (body["expires_in"], body["token_type"], body["scope"]) == (36000, "Bearer", "read")


async def test_a_persons_token_is_no_bot_token(
    fake_racetime: FakeRacetimeServer,
    person: str,
    racetime_client: RacetimeClient,
    browser: aiohttp.ClientSession,
) -> None:
    code = await authorize(racetime_client, browser)
    token = await racetime_client.exchange_code(APP_ID, APP_SECRET, code, REDIRECT)
    headers = {"Authorization": f"Bearer {token.access_token}"}
    async with browser.get(f"{fake_racetime.base_url}/o/alttpr/data", headers=headers) as resp:
        assert resp.status == 403
