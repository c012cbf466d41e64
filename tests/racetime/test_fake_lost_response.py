"""The fake server's lost-response fault: the request is carried out, the answer is not."""

from __future__ import annotations

import pytest

from fake_racetime import FakeRacetimeServer
from racetime.client import AccessToken, RaceSettings, RacetimeClient
from racetime.errors import RacetimeConnectionError, RacetimeServerError


def open_rooms(fake: FakeRacetimeServer) -> list[str]:
    return [race.slug for race in fake.races.values() if race.category.slug == "alttpr"]


async def test_a_cut_connection_after_startrace_leaves_the_room_open(
    fake_racetime: FakeRacetimeServer, racetime_client: RacetimeClient, racetime_token: AccessToken
) -> None:
    fake_racetime.lose_next_response(path_prefix="/o/alttpr/startrace")
    with pytest.raises(RacetimeConnectionError):
        await racetime_client.start_race("alttpr", racetime_token, RaceSettings(goal="Any% NMG"))
    assert len(open_rooms(fake_racetime)) == 1, "the room was opened all the same"
    # The rule is used up: the next startrace is answered normally.
    name = await racetime_client.start_race("alttpr", racetime_token, RaceSettings(goal="Any% NMG"))
    assert name.split("/")[1] in open_rooms(fake_racetime)
    assert len(open_rooms(fake_racetime)) == 2


async def test_a_gateway_status_instead_of_the_answer(
    fake_racetime: FakeRacetimeServer, racetime_client: RacetimeClient, racetime_token: AccessToken
) -> None:
    fake_racetime.lose_next_response(path_prefix="/o/alttpr/startrace", status=504)
    with pytest.raises(RacetimeServerError):
        await racetime_client.start_race("alttpr", racetime_token, RaceSettings(goal="Any% NMG"))
    assert len(open_rooms(fake_racetime)) == 1
    # Other paths are untouched while a rule waits.
    fake_racetime.lose_next_response(path_prefix="/o/smz3/")
    assert (await racetime_client.get_public_category_data("alttpr"))["slug"] == "alttpr"
    fake_racetime.clear_faults()
    assert fake_racetime.lose_rules == []
