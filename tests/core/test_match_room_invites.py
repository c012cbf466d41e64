"""Invites report what racetime did: a refused invite is the match's problem, told to the
player and the organizers; a tournament can turn streaming off; a player who links late, and
rooms resumed after a restart, get their invites. Against the fake racetime server over real
sockets (a racer without Twitch in a room that requires streaming), the real engine and the
real database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import select

from core.events import (
    MatchInviteRefusedEvent,
    RacetimeAccountLinkedEvent,
    RacetimeRoomOpenedEvent,
)
from core.identity import SYSTEM_USER_ID
from core.rooms.match_rooms import MatchRoomService, OpeningStatus
from core.rooms.rules import invite_advice
from db.models import MatchPlayer, MatchRoomClaim, User
from tests.core.match_room_helpers import add_match, room_service
from tests.core.test_match_rooms import entrants, invited, logged
from tests.plugins.racetime_engine import EngineEnv, eventually
from tests.racetime.engine_helpers import CATEGORY, add_alttpr_bot, started

WHEN = datetime.now(UTC) + timedelta(hours=2)


def without_twitch(env: EngineEnv, name: str = "NoTwitch") -> str:
    """A racetime user with no Twitch connected (racetime refuses them in streamed rooms)."""
    user_id = env.fake.add_user(name)
    env.fake.seed.users[name] = user_id
    return user_id


async def invite_errors(env: EngineEnv, match_id: int) -> dict[str | None, str | None]:
    async with env.sessionmaker() as session:
        rows = await session.execute(
            select(User.racetime_id, MatchPlayer.invite_error)
            .join(User, User.id == MatchPlayer.user_id)  # type: ignore[arg-type]
            .where(MatchPlayer.match_id == match_id)
        )
        return {racetime_id: error for racetime_id, error in rows.all()}


async def running_service(env: EngineEnv) -> MatchRoomService:
    await add_alttpr_bot(env)
    return room_service(env, await started(env))


async def test_a_refused_invite_is_the_matchs_problem_and_never_counted_invited(
    engine_env: EngineEnv,
) -> None:
    env = engine_env
    service = await running_service(env)
    no_twitch = without_twitch(env)
    setup = await add_match(env, scheduled_at=WHEN, linked=("RacerOne", "NoTwitch"), unlinked=0)

    opening = await service.create_race_room_for_match(
        setup.match_id, actor_user_id=42, reason="manual"
    )

    assert opening.status is OpeningStatus.OPENED
    racer_one = env.fake.seed.users["RacerOne"]
    assert opening.invited == (racer_one,), "only whom racetime let in"
    [(who, why)] = opening.refused
    shown = f"NoTwitch#{env.fake.users[no_twitch].discriminator}"
    assert who == "NoTwitch#1234" and why == f"{shown} is not allowed to join this race."
    assert opening.problems == ()
    assert invited(env, opening.slug) == [racer_one]
    assert no_twitch not in entrants(env, opening.slug)
    assert (await invite_errors(env, setup.match_id))[no_twitch] == why

    [refused] = await logged(env, MatchInviteRefusedEvent)
    assert (refused.racetime_user_id, refused.reason, refused.user_id) == (
        no_twitch, why, SYSTEM_USER_ID
    )
    assert "connect Twitch" in refused.advice and refused.advice == invite_advice(why)
    [opened] = await logged(env, RacetimeRoomOpenedEvent)
    assert (opened.invited_count, opened.player_count) == (1, 2)
    assert opened.not_invited == (refused.player_user_id,)

    # The bot joining again (or any later reconcile) repeats nothing and announces nothing new,
    # and still reports the player racetime would not let in.
    assert await service.reconcile_room(setup.match_id) == [f"NoTwitch#1234: {why}"]
    await env.dispatcher.drain()
    assert len(await logged(env, MatchInviteRefusedEvent)) == 1
    assert len(await logged(env, RacetimeRoomOpenedEvent)) == 1


async def test_a_tournament_without_streaming_opens_rooms_everyone_can_join(
    engine_env: EngineEnv,
) -> None:
    env = engine_env
    service = await running_service(env)
    no_twitch = without_twitch(env)
    setup = await add_match(
        env, scheduled_at=WHEN, linked=("RacerOne", "NoTwitch"), unlinked=0,
        settings={"auto_create_rooms": True, "streaming_required": False},
    )

    opening = await service.create_race_room_for_match(
        setup.match_id, actor_user_id=42, reason="manual"
    )

    data = await env.client.get_race_data(CATEGORY, opening.slug or "")
    assert data["streaming_required"] is False, "the room as racetime shows it"
    assert sorted(opening.invited) == sorted([env.fake.seed.users["RacerOne"], no_twitch])
    assert opening.refused == ()
    assert await logged(env, MatchInviteRefusedEvent) == []


async def test_a_player_who_links_while_the_room_waits_is_invited_then(
    engine_env: EngineEnv,
) -> None:
    env = engine_env
    service = await running_service(env)
    setup = await add_match(env, scheduled_at=WHEN, linked=("RacerOne",), unlinked=1)
    opening = await service.create_race_room_for_match(
        setup.match_id, actor_user_id=42, reason="manual"
    )
    [late] = setup.unlinked_user_ids
    racer_three = env.fake.seed.users["RacerThree"]
    assert racer_three not in entrants(env, opening.slug or "")

    async with env.sessionmaker.begin() as session:  # what linking stores
        user = await session.get(User, late)
        assert user is not None
        user.racetime_id, user.racetime_name = racer_three, "RacerThree#1234"
    await env.dispatcher.emit(RacetimeAccountLinkedEvent(
        user_id=late, discord_user_id=user.discord_id, racetime_id=racer_three,
        racetime_name="RacerThree#1234",
    ))
    await env.dispatcher.drain()

    await eventually(lambda: entrants(env, opening.slug or "").get(racer_three) == "invited")


async def test_a_room_whose_invites_failed_gets_them_once_after_a_restart(
    engine_env: EngineEnv,
) -> None:
    """The engine resumes rooms from their stored snapshot without a fresh join: the start-up
    reconcile invites whoever the last run could not, and repeats nothing racetime shows."""
    env = engine_env
    await add_alttpr_bot(env)
    manager = await started(env)
    service = room_service(env, manager)
    setup = await add_match(env, scheduled_at=WHEN, linked=("RacerOne", "RacerTwo"), unlinked=0)
    two = env.fake.seed.users["RacerTwo"]
    env.fake.delete_user_soon = None
    opening = await service.create_race_room_for_match(
        setup.match_id, actor_user_id=42, reason="manual"
    )
    slug = opening.slug or ""
    # As if the last run had died before inviting RacerTwo: racetime shows no entry for them.
    env.fake.race(slug).entrants = [
        e for e in env.fake.race(slug).entrants if e.user.id != two
    ]
    await manager.stop()

    restarted = await started(env)
    again = room_service(env, restarted)
    await again.reconcile_unfinished()

    await eventually(lambda: entrants(env, slug).get(two) == "invited")
    assert list(entrants(env, slug)).count(env.fake.seed.users["RacerOne"]) == 1
    await again.reconcile_unfinished()  # the sweep's later calls leave the room alone
    async with env.sessionmaker() as session:
        claim = (await session.execute(select(MatchRoomClaim))).scalar_one()
    assert claim.announced_at is not None
    assert len(await logged(env, RacetimeRoomOpenedEvent)) == 1
