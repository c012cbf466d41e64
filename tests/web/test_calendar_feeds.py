"""Calendar feeds over real HTTP: the web server built as in production (``bot.web_server``)
serves each secret URL as ``text/calendar``, the room's link once the API opened it, and the
same 404 for a revoked URL as for one that never was."""

from __future__ import annotations

from urllib.parse import urlsplit

import aiohttp
import icalendar
import vobject

from core.access import Actor
from tests.web.scene import ADA, BY_ORGANIZER, GUILD, ORGANIZER, OTHER_GUILD, ApiScene


async def get(scene: ApiScene, url: str) -> aiohttp.ClientResponse:
    """GET the feed ``url`` (built on ``[web] public_url``) from the running server."""
    async with scene.http.get(scene.url(urlsplit(url).path)) as response:
        await response.read()
        return response


async def feed_events(scene: ApiScene, url: str) -> dict[str, icalendar.Event]:
    async with scene.http.get(scene.url(urlsplit(url).path)) as response:
        assert response.status == 200
        body = await response.read()
    return {str(e["UID"]): e for e in icalendar.Calendar.from_ical(body).walk("VEVENT")}


def match_uid(match_id: int) -> str:
    return f"match-{match_id}@localhost"  # [web] public_url's host (the default here)


async def test_a_feed_is_served_as_a_calendar_and_gains_the_room_once_it_opens(
    scene: ApiScene,
) -> None:
    link = await scene.services.calendars.player_feed(actor=Actor.member(ADA, GUILD))
    async with scene.http.get(scene.url(urlsplit(link.url).path)) as response:
        assert response.status == 200
        assert response.content_type == "text/calendar"
        assert response.charset == "utf-8"
        assert response.headers["Cache-Control"].startswith("private")
        assert response.headers["Referrer-Policy"] == "no-referrer"
        body = await response.read()
    vobject.readOne(body.decode())  # a second parser reads what was served, too
    events = {str(e["UID"]): e for e in icalendar.Calendar.from_ical(body).walk("VEVENT")}
    # Ada plays in both servers' matches: her feed has both.
    assert set(events) == {match_uid(scene.match_id), match_uid(scene.other_match_id)}
    assert "URL" not in events[match_uid(scene.match_id)]

    etag = response.headers["ETag"]
    async with scene.http.get(
        scene.url(urlsplit(link.url).path), headers={"If-None-Match": etag}
    ) as unchanged:
        assert unchanged.status == 304  # nothing changed: the calendar keeps its copy

    status, opened, _ = await scene.call("POST", scene.room_path())
    assert status == 201
    event = (await feed_events(scene, link.url))[match_uid(scene.match_id)]
    assert str(event["URL"]) == opened["room_url"]
    assert f"Race room: {opened['room_url']}" in str(event["DESCRIPTION"])
    assert event["SEQUENCE"] == 1
    async with scene.http.get(
        scene.url(urlsplit(link.url).path), headers={"If-None-Match": etag}
    ) as changed:
        assert changed.status == 200 and changed.headers["ETag"] != etag
        assert "Last-Modified" in changed.headers


async def test_a_reset_url_is_a_404_like_any_unknown_one(scene: ApiScene) -> None:
    feeds = scene.services.calendars
    old = await feeds.tournament_feed(GUILD, "Winter Cup", actor=BY_ORGANIZER)
    assert (await get(scene, old.url)).status == 200
    new = await feeds.tournament_feed(GUILD, "Winter Cup", actor=BY_ORGANIZER, reset=True)
    assert new.url != old.url
    assert (await get(scene, new.url)).status == 200
    answers = []
    for path in (
        urlsplit(old.url).path,  # revoked
        urlsplit(old.url).path.replace("cal_", "cal_x"),  # never was
        "/calendars/player/" + urlsplit(new.url).path.rsplit("/", 1)[1],  # another kind's
        "/calendars/tournament/cal_%27%20OR%201%3D1.ics",
    ):
        async with scene.http.get(scene.url(path)) as response:
            answers.append((response.status, await response.json()))
    assert len({str(answer) for answer in answers}) == 1, answers
    assert answers[0][0] == 404
    async with scene.http.get(scene.url("/calendars/events/x.ics")) as response:
        assert response.status == 404


async def test_a_tournament_feed_shows_only_its_own_servers_matches(scene: ApiScene) -> None:
    theirs = await scene.services.calendars.tournament_feed(
        OTHER_GUILD, "Winter Cup", actor=Actor.server_admin(ORGANIZER, OTHER_GUILD)
    )
    ours = await scene.services.calendars.tournament_feed(
        GUILD, "Winter Cup", actor=BY_ORGANIZER
    )
    assert theirs.url != ours.url
    assert set(await feed_events(scene, theirs.url)) == {match_uid(scene.other_match_id)}
    assert set(await feed_events(scene, ours.url)) == {match_uid(scene.match_id)}
