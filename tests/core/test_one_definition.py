"""One definition each: a racetime category as typed (every service reads it the same way),
and the two "minutes before" ranges under names of their own (issue 22)."""

from __future__ import annotations

import pytest

from core.errors import UserFacingError
from core.live_races.live_races import (
    LIVE_RACE_ROOM_MINUTES_MAX,
    LIVE_RACE_ROOM_MINUTES_MIN,
    check_live_race_room_minutes,
)
from core.racetime_bots.admin import RacetimeAdminService
from core.racetime_bots.category_slug import NOT_A_SLUG, normalise_category
from core.tournaments.tournaments import (
    MATCH_ROOM_MINUTES_MAX,
    MATCH_ROOM_MINUTES_MIN,
    check_match_room_minutes,
)
from tests.plugins.discord_bot import DiscordHarness


@pytest.mark.parametrize(
    ("typed", "slug"),
    [("alttpr", "alttpr"), (" ALTTPR ", "alttpr"), ("/alttpr/", "alttpr"), ("smz3/", "smz3")],
)
def test_a_category_as_copied_from_its_url_is_its_slug(typed: str, slug: str) -> None:
    assert normalise_category(typed) == slug


@pytest.mark.parametrize("typed", ["", "  ", "/", "alttpr/cool-doge-1234", "alt tpr"])
def test_what_cannot_be_a_slug_is_refused(typed: str) -> None:
    with pytest.raises(UserFacingError) as refused:
        normalise_category(typed)
    assert refused.value.message == NOT_A_SLUG


async def test_the_bot_and_tournament_services_read_a_category_alike(
    discord_harness: DiscordHarness,
) -> None:
    """/racetime bot refused a leading slash that /tournament accepted, and /tournament took
    ``alttpr/cool-doge-1234`` for a category it then said it had no bot for."""
    harness = discord_harness
    services = harness.services
    admin: RacetimeAdminService = services.racetime_admin
    owner = harness.set_up
    assert await admin.check_can_add("/alttpr/", actor=owner) == "alttpr"
    for typed in ("alttpr/cool-doge-1234", "alt tpr"):
        with pytest.raises(UserFacingError) as by_bots:
            await admin.check_can_add(typed, actor=owner)
        with pytest.raises(UserFacingError) as by_tournaments:
            await services.tournaments.create(
                harness.guild.id, "Cup", category=typed, actor=owner
            )
        assert by_bots.value.message == by_tournaments.value.message == NOT_A_SLUG


def test_each_room_lead_time_has_its_own_name_and_range() -> None:
    assert (MATCH_ROOM_MINUTES_MIN, MATCH_ROOM_MINUTES_MAX) == (30, 120)
    assert (LIVE_RACE_ROOM_MINUTES_MIN, LIVE_RACE_ROOM_MINUTES_MAX) == (1, 120)
    assert check_match_room_minutes(30) == 30
    assert check_live_race_room_minutes(1) == 1
    with pytest.raises(UserFacingError, match="before a match"):
        check_match_room_minutes(29)
    with pytest.raises(UserFacingError, match="before the race"):
        check_live_race_room_minutes(0)
