"""Linking racetime accounts, against the fake racetime server over real HTTP and the real
database: the browser's hop through /o/authorize is followed with aiohttp as a browser would
(no redirects followed, ``Location`` read)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import select

from core.accounts.linking import (
    CALLBACK_PATH,
    STATE_LIFETIME,
    LinkFailure,
    LinkOutcome,
    LinkService,
    LinkSettings,
    LinkUnavailableError,
)
from core.audit import AuditService
from core.clock import ManualClock
from core.errors import UserFacingError
from core.event_store.event_log import DatabaseEventLog
from db.models import AuditLog, EventLogEntry, LinkState, User
from db.secrets import SecretBox
from fake_racetime import FakeRacetimeServer
from racetime.client import RacetimeClient

APP_ID, APP_SECRET = "racedesk-link-app", "link-app-very-secret-789"
REDIRECT = "http://127.0.0.1:9" + CALLBACK_PATH
ADA, BOB = 900_000_000_000_000_001, 900_000_000_000_000_002


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def racer(fake_racetime: FakeRacetimeServer) -> str:
    fake_racetime.register_oauth_app(APP_ID, APP_SECRET, [REDIRECT])
    user = fake_racetime.add_user("Linker", discriminator="4321")
    fake_racetime.authorize_as(user)
    return user


@pytest.fixture
async def client(
    fake_racetime: FakeRacetimeServer, clock: ManualClock
) -> AsyncIterator[RacetimeClient]:
    async with RacetimeClient(fake_racetime.host, secure=False, timeout=2.0, clock=clock) as c:
        yield c


def make_service(
    db_sessionmaker: async_sessionmaker[AsyncSession],
    client: RacetimeClient,
    secret_box: SecretBox,
    clock: ManualClock,
    settings: LinkSettings | None = LinkSettings(APP_ID, APP_SECRET, REDIRECT),  # noqa: B008
) -> LinkService:
    return LinkService(
        db_sessionmaker,
        DatabaseEventLog(db_sessionmaker, clock=clock),
        client,
        secret_box,
        AuditService(db_sessionmaker),
        settings,
        clock=clock,
    )


@pytest.fixture
def service(
    db_sessionmaker: async_sessionmaker[AsyncSession],
    client: RacetimeClient,
    secret_box: SecretBox,
    clock: ManualClock,
    racer: str,
) -> LinkService:
    return make_service(db_sessionmaker, client, secret_box, clock)


@pytest.fixture
async def browser() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def click(browser: aiohttp.ClientSession, url: str) -> dict[str, str]:
    """Open the authorization URL; the query racetime redirects back with."""
    async with browser.get(url, allow_redirects=False) as resp:
        assert resp.status == 302, await resp.text()
        location = resp.headers["Location"]
    assert location.startswith(REDIRECT + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


async def link(
    service: LinkService, browser: aiohttp.ClientSession, discord_id: int = ADA
) -> LinkOutcome:
    start = await service.start_link(discord_id)
    back = await click(browser, start.url)
    return await service.complete_link(back["state"], back.get("code"), back.get("error"))


async def user_row(sm: async_sessionmaker[AsyncSession], discord_id: int) -> User | None:
    async with sm() as session:
        result = await session.execute(select(User).where(User.discord_id == discord_id))
        return result.scalar_one_or_none()


async def audit_actions(sm: async_sessionmaker[AsyncSession]) -> list[str]:
    async with sm() as session:
        result = await session.execute(select(AuditLog.action).order_by(AuditLog.id))
        return [a for a in result.scalars() if a.startswith("racetime.")]


async def logged_events(sm: async_sessionmaker[AsyncSession]) -> list[tuple[str, dict]]:
    async with sm() as session:
        result = await session.execute(
            select(EventLogEntry.kind, EventLogEntry.payload).order_by(EventLogEntry.seq)
        )
        return [(kind, payload) for kind, payload in result.all()]


async def assert_not_linked(sm: async_sessionmaker[AsyncSession], discord_id: int) -> None:
    user = await user_row(sm, discord_id)
    if user is not None:
        assert user.racetime_id is None
        assert user.access_token_encrypted is None and user.refresh_token_encrypted is None


# -- the happy path -----------------------------------------------------------------------------


async def test_a_player_links_through_racetime(
    service: LinkService,
    browser: aiohttp.ClientSession,
    db_sessionmaker: async_sessionmaker[AsyncSession],
    secret_box: SecretBox,
    client: RacetimeClient,
    racer: str,
    clock: ManualClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    start = await service.start_link(ADA)
    assert start.expires_at == clock.now() + STATE_LIFETIME
    assert start.url not in repr(start)
    query = parse_qs(urlsplit(start.url).query)
    assert query["client_id"] == [APP_ID] and query["redirect_uri"] == [REDIRECT]
    assert query["scope"] == ["read"] and query["response_type"] == ["code"]
    state = query["state"][0]

    back = await click(browser, start.url)
    assert back["state"] == state
    outcome = await service.complete_link(back["state"], back["code"])

    assert outcome.ok and outcome.failure is None
    assert (outcome.discord_user_id, outcome.racetime_id, outcome.racetime_name) == (
        ADA, racer, "Linker#4321"
    )
    assert "Linker#4321" in outcome.message
    user = await user_row(db_sessionmaker, ADA)
    assert user is not None and user.racetime_id == racer
    assert user.racetime_name == "Linker#4321"
    assert user.access_token_encrypted and user.refresh_token_encrypted
    access = secret_box.decrypt(user.access_token_encrypted)
    refresh = secret_box.decrypt(user.refresh_token_encrypted)
    assert access.encode() not in user.access_token_encrypted
    assert (await client.get_userinfo(access)).id == racer
    assert user.token_expires_at == clock.now() + timedelta(seconds=36000)
    assert await audit_actions(db_sessionmaker) == ["racetime.link"]
    [(kind, payload)] = await logged_events(db_sessionmaker)
    assert kind == "RacetimeAccountLinkedEvent"
    assert payload["discord_user_id"] == ADA and payload["racetime_id"] == racer
    assert payload["user_id"] == user.id and payload["replaced_racetime_id"] is None

    info = await service.link_of(ADA)
    assert info is not None
    assert (info.racetime_id, info.racetime_name, info.needs_reauthorization) == (
        racer, "Linker#4321", False
    )
    assert info.profile_url == f"{client.base_url}/user/{racer}"
    assert await service.link_of(BOB) is None
    assert await service.access_token_for(ADA) == access

    # Only the hash of the state is stored; no secret reached a log.
    async with db_sessionmaker() as session:
        hashes = list((await session.execute(select(LinkState.state_hash))).scalars())
    assert len(hashes) == 1 and hashes[0] != state and len(hashes[0]) == 64
    for secret in (state, back["code"], access, refresh, APP_SECRET):
        assert secret not in caplog.text


async def test_a_state_survives_a_restart(
    service: LinkService,
    browser: aiohttp.ClientSession,
    db_sessionmaker: async_sessionmaker[AsyncSession],
    secret_box: SecretBox,
    clock: ManualClock,
    fake_racetime: FakeRacetimeServer,
) -> None:
    start = await service.start_link(ADA)
    back = await click(browser, start.url)
    async with RacetimeClient(fake_racetime.host, secure=False, timeout=2.0) as other_client:
        restarted = make_service(db_sessionmaker, other_client, secret_box, clock)
        outcome = await restarted.complete_link(back["state"], back["code"])
    assert outcome.ok and outcome.discord_user_id == ADA


async def test_linking_again_replaces_the_account(
    service: LinkService,
    browser: aiohttp.ClientSession,
    fake_racetime: FakeRacetimeServer,
    racer: str,
    db_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    assert (await link(service, browser)).ok
    second = fake_racetime.add_user("Second", discriminator="0000")
    fake_racetime.authorize_as(second)
    outcome = await link(service, browser)
    assert outcome.ok and outcome.racetime_id == second and outcome.racetime_name == "Second"
    assert outcome.replaced_racetime_id == racer
    assert await audit_actions(db_sessionmaker) == ["racetime.link", "racetime.link"]
    events = await logged_events(db_sessionmaker)
    assert [p["replaced_racetime_id"] for _, p in events] == [None, racer]


# -- failures: nothing stored, nothing half-linked ------------------------------------------------


async def test_a_declined_authorization_links_nothing(
    service: LinkService,
    browser: aiohttp.ClientSession,
    fake_racetime: FakeRacetimeServer,
    db_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    fake_racetime.deny_authorization()
    outcome = await link(service, browser)
    assert not outcome.ok and outcome.failure is LinkFailure.DECLINED
    assert outcome.discord_user_id == ADA
    assert "/link-racetime" in outcome.message
    await assert_not_linked(db_sessionmaker, ADA)
    assert await audit_actions(db_sessionmaker) == []
    assert fake_racetime.request_count("/o/token") == 0


@pytest.mark.parametrize("state", ["", "made-up-state"])
async def test_an_unknown_state_links_nothing(
    service: LinkService,
    fake_racetime: FakeRacetimeServer,
    db_sessionmaker: async_sessionmaker[AsyncSession],
    state: str,
) -> None:
    outcome = await service.complete_link(state, "some-code")
    assert not outcome.ok and outcome.failure is LinkFailure.UNKNOWN_STATE
    assert outcome.discord_user_id is None
    assert fake_racetime.request_count("/o/token") == 0


async def test_a_state_works_once(
    service: LinkService,
    browser: aiohttp.ClientSession,
    fake_racetime: FakeRacetimeServer,
) -> None:
    start = await service.start_link(ADA)
    back = await click(browser, start.url)
    assert (await service.complete_link(back["state"], back["code"])).ok
    again = await service.complete_link(back["state"], back["code"])
    assert not again.ok and again.failure is LinkFailure.USED_STATE
    assert "already used" in again.message
    assert fake_racetime.request_count("/o/token") == 1


async def test_two_callbacks_racing_with_one_state_link_once(
    service: LinkService,
    browser: aiohttp.ClientSession,
    db_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    start = await service.start_link(ADA)
    back = await click(browser, start.url)
    outcomes = await asyncio.gather(
        *(service.complete_link(back["state"], back["code"]) for _ in range(2))
    )
    assert sorted(o.ok for o in outcomes) == [False, True]
    assert {o.failure for o in outcomes} == {None, LinkFailure.USED_STATE}
    assert await audit_actions(db_sessionmaker) == ["racetime.link"]


async def test_a_state_expires_after_ten_minutes(
    service: LinkService,
    browser: aiohttp.ClientSession,
    clock: ManualClock,
    fake_racetime: FakeRacetimeServer,
    db_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    start = await service.start_link(ADA)
    back = await click(browser, start.url)
    await clock.advance(STATE_LIFETIME.total_seconds())
    outcome = await service.complete_link(back["state"], back["code"])
    assert not outcome.ok and outcome.failure is LinkFailure.EXPIRED_STATE
    assert "ten minutes" in outcome.message
    assert fake_racetime.request_count("/o/token") == 0
    await assert_not_linked(db_sessionmaker, ADA)


async def test_a_state_just_inside_ten_minutes_still_works(
    service: LinkService, browser: aiohttp.ClientSession, clock: ManualClock
) -> None:
    start = await service.start_link(ADA)
    back = await click(browser, start.url)
    await clock.advance(STATE_LIFETIME.total_seconds() - 1)
    assert (await service.complete_link(back["state"], back["code"])).ok


async def test_old_states_are_forgotten_after_a_day(
    service: LinkService,
    clock: ManualClock,
    db_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    await service.start_link(ADA)
    await clock.advance(2 * 24 * 3600)
    await service.start_link(BOB)
    async with db_sessionmaker() as session:
        owners = list((await session.execute(select(LinkState.discord_id))).scalars())
    assert owners == [BOB]


async def test_an_account_linked_to_another_discord_user_is_refused(
    service: LinkService,
    browser: aiohttp.ClientSession,
    racer: str,
    db_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    assert (await link(service, browser, ADA)).ok
    before = await user_row(db_sessionmaker, ADA)
    outcome = await link(service, browser, BOB)
    assert not outcome.ok and outcome.failure is LinkFailure.ALREADY_LINKED
    assert outcome.discord_user_id == BOB
    assert "Linker#4321" in outcome.message and "/unlink-racetime" in outcome.message
    await assert_not_linked(db_sessionmaker, BOB)
    after = await user_row(db_sessionmaker, ADA)
    assert after is not None and before is not None
    assert after.racetime_id == racer
    assert after.access_token_encrypted == before.access_token_encrypted
    assert await audit_actions(db_sessionmaker) == ["racetime.link"]
    assert len(await logged_events(db_sessionmaker)) == 1


@pytest.mark.parametrize("path", ["/o/token", "/o/userinfo"])
async def test_racetime_down_links_nothing_and_uses_the_state(
    service: LinkService,
    browser: aiohttp.ClientSession,
    fake_racetime: FakeRacetimeServer,
    db_sessionmaker: async_sessionmaker[AsyncSession],
    path: str,
) -> None:
    start = await service.start_link(ADA)
    back = await click(browser, start.url)
    fake_racetime.fail_next(1, 503, path)
    outcome = await service.complete_link(back["state"], back["code"])
    assert not outcome.ok and outcome.failure is LinkFailure.RACETIME_DOWN
    assert "not answering" in outcome.message and "/link-racetime" in outcome.message
    await assert_not_linked(db_sessionmaker, ADA)
    assert await audit_actions(db_sessionmaker) == []
    assert await logged_events(db_sessionmaker) == []
    # Documented: the state is used up even then; a new /link-racetime works.
    again = await service.complete_link(back["state"], back["code"])
    assert again.failure is LinkFailure.USED_STATE
    assert (await link(service, browser)).ok


async def test_racetime_unreachable_links_nothing(
    db_sessionmaker: async_sessionmaker[AsyncSession],
    secret_box: SecretBox,
    clock: ManualClock,
    racer: str,
) -> None:
    async with RacetimeClient("127.0.0.1:1", secure=False, timeout=2.0) as dead:
        service = make_service(db_sessionmaker, dead, secret_box, clock)
        # The browser could reach racetime, RaceDesk cannot: its callback, by hand.
        start = await service.start_link(ADA)
        state = parse_qs(urlsplit(start.url).query)["state"][0]
        outcome = await service.complete_link(state, "a-code")
    assert outcome.failure is LinkFailure.RACETIME_DOWN
    await assert_not_linked(db_sessionmaker, ADA)


async def test_a_refused_code_links_nothing(
    service: LinkService,
    browser: aiohttp.ClientSession,
    client: RacetimeClient,
    db_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    start = await service.start_link(ADA)
    back = await click(browser, start.url)
    await client.exchange_code(APP_ID, APP_SECRET, back["code"], REDIRECT)  # used elsewhere
    outcome = await service.complete_link(back["state"], back["code"])
    assert not outcome.ok and outcome.failure is LinkFailure.REFUSED
    await assert_not_linked(db_sessionmaker, ADA)


async def test_a_callback_without_code_or_error_links_nothing(
    service: LinkService, db_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    start = await service.start_link(ADA)
    state = parse_qs(urlsplit(start.url).query)["state"][0]
    outcome = await service.complete_link(state)
    assert outcome.failure is LinkFailure.BAD_CALLBACK
    await assert_not_linked(db_sessionmaker, ADA)


async def test_a_wrong_app_secret_is_reported_as_configuration(
    db_sessionmaker: async_sessionmaker[AsyncSession],
    client: RacetimeClient,
    secret_box: SecretBox,
    clock: ManualClock,
    racer: str,
    browser: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
) -> None:
    wrong = LinkSettings(APP_ID, "not-the-secret-xyz", REDIRECT)
    service = make_service(db_sessionmaker, client, secret_box, clock, wrong)
    outcome = await link(service, browser)
    assert outcome.failure is LinkFailure.NOT_CONFIGURED
    assert "owner" in outcome.message
    assert "not-the-secret-xyz" not in outcome.message + caplog.text
    await assert_not_linked(db_sessionmaker, ADA)


async def test_without_oauth_settings_linking_says_it_is_not_set_up(
    db_sessionmaker: async_sessionmaker[AsyncSession],
    client: RacetimeClient,
    secret_box: SecretBox,
    clock: ManualClock,
) -> None:
    service = make_service(db_sessionmaker, client, secret_box, clock, None)
    assert not service.configured
    with pytest.raises(UserFacingError, match=r"oauth\.client_id"):
        await service.start_link(ADA)
    outcome = await service.complete_link("x", "y")
    assert outcome.failure is LinkFailure.NOT_CONFIGURED


# -- unlinking ----------------------------------------------------------------------------------


async def test_unlink_removes_the_link_and_its_tokens(
    service: LinkService,
    browser: aiohttp.ClientSession,
    racer: str,
    db_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    assert (await link(service, browser)).ok
    removed = await service.unlink(ADA)
    assert removed.racetime_id == racer
    assert await service.link_of(ADA) is None
    await assert_not_linked(db_sessionmaker, ADA)
    assert await service.access_token_for(ADA) is None
    assert await audit_actions(db_sessionmaker) == ["racetime.link", "racetime.unlink"]
    with pytest.raises(UserFacingError, match="/link-racetime"):
        await service.unlink(ADA)
    # The account is free again for another Discord user.
    assert (await link(service, browser, BOB)).ok


# -- tokens -------------------------------------------------------------------------------------


async def test_an_expired_token_is_refreshed(
    service: LinkService,
    browser: aiohttp.ClientSession,
    clock: ManualClock,
    fake_racetime: FakeRacetimeServer,
    client: RacetimeClient,
    racer: str,
    db_sessionmaker: async_sessionmaker[AsyncSession],
    secret_box: SecretBox,
) -> None:
    assert (await link(service, browser)).ok
    first = await service.access_token_for(ADA)
    assert fake_racetime.request_count("/o/token") == 1
    await clock.advance(fake_racetime.token_lifetime)
    fake_racetime.clock.advance(fake_racetime.token_lifetime)

    renewed = await service.access_token_for(ADA)
    assert renewed is not None and renewed != first
    assert fake_racetime.request_count("/o/token") == 2
    assert (await client.get_userinfo(renewed)).id == racer
    user = await user_row(db_sessionmaker, ADA)
    assert user is not None and user.access_token_encrypted is not None
    assert secret_box.decrypt(user.access_token_encrypted) == renewed
    assert user.token_expires_at is not None and user.token_expires_at > clock.now()
    # Fresh again: no further refresh.
    assert await service.access_token_for(ADA) == renewed
    assert fake_racetime.request_count("/o/token") == 2


async def test_concurrent_uses_of_an_expired_token_refresh_once(
    service: LinkService,
    browser: aiohttp.ClientSession,
    clock: ManualClock,
    fake_racetime: FakeRacetimeServer,
) -> None:
    assert (await link(service, browser)).ok
    await clock.advance(fake_racetime.token_lifetime)
    tokens = await asyncio.gather(*(service.access_token_for(ADA) for _ in range(3)))
    assert len(set(tokens)) == 1 and tokens[0] is not None
    assert fake_racetime.request_count("/o/token") == 2


async def test_a_refused_refresh_marks_the_link_for_reauthorization(
    service: LinkService,
    browser: aiohttp.ClientSession,
    clock: ManualClock,
    fake_racetime: FakeRacetimeServer,
    racer: str,
    db_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    assert (await link(service, browser)).ok
    fake_racetime.revoke_refresh_tokens(racer)
    await clock.advance(fake_racetime.token_lifetime)
    assert await service.access_token_for(ADA) is None

    info = await service.link_of(ADA)
    assert info is not None and info.racetime_id == racer and info.needs_reauthorization
    user = await user_row(db_sessionmaker, ADA)
    assert user is not None and user.access_token_encrypted is None
    assert await audit_actions(db_sessionmaker) == [
        "racetime.link", "racetime.link_needs_reauthorization"
    ]
    kinds = [kind for kind, _ in await logged_events(db_sessionmaker)]
    assert kinds == ["RacetimeAccountLinkedEvent", "RacetimeLinkNeedsReauthorizationEvent"]
    assert await service.access_token_for(ADA) is None
    assert fake_racetime.request_count("/o/token") == 2  # not asked again

    assert (await link(service, browser)).ok  # linking again restores it
    info = await service.link_of(ADA)
    assert info is not None and not info.needs_reauthorization
    assert await service.access_token_for(ADA) is not None


async def test_racetime_down_during_a_refresh_keeps_the_link(
    service: LinkService,
    browser: aiohttp.ClientSession,
    clock: ManualClock,
    fake_racetime: FakeRacetimeServer,
) -> None:
    assert (await link(service, browser)).ok
    await clock.advance(fake_racetime.token_lifetime)
    fake_racetime.fail_next(1, 503, "/o/token")
    with pytest.raises(LinkUnavailableError, match="Try again"):
        await service.access_token_for(ADA)
    info = await service.link_of(ADA)
    assert info is not None and not info.needs_reauthorization
    assert await service.access_token_for(ADA) is not None


async def test_no_link_no_token(service: LinkService) -> None:
    assert await service.access_token_for(ADA) is None
