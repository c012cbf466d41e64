"""``GET /metrics`` over real HTTP: the series move when what they count happens.

The scene is production's wiring (``bot.build_services`` and ``bot.web_server``) on the real
database, with the alttpr bot running against the fake racetime server over sockets.
"""

from __future__ import annotations

import ast
import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from bot import web_server
from core.config import WebSettings
from core.events import RacetimeRaceStatusChangedEvent
from core.identity import SYSTEM_USER_ID
from core.lifecycle import Lifecycle
from core.notifications.delivery import NotificationDelivery, OutgoingNotification
from tests.core.sample_events import status
from tests.plugins.faults import DatabaseFaults
from tests.plugins.racetime_engine import FAST_RETRY, eventually
from tests.web.scene import ADA, BOB, BY_ORGANIZER, CATEGORY, GUILD, STRANGER, ApiScene
from web.metrics import PrometheusMetrics

README = Path(__file__).resolve().parents[2] / "README.md"
Labels = frozenset[tuple[str, str]]
Samples = dict[tuple[str, Labels], float]


async def scrape(scene: ApiScene) -> Samples:
    async with scene.http.get(scene.url("/metrics")) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        text = await response.text()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def scrape_until(scene: ApiScene, done: Callable[[Samples], bool]) -> Samples:
    """Scrape until ``done`` (what other tasks are doing shows), for at most 5 s."""
    async with asyncio.timeout(5):
        while not done(samples := await scrape(scene)):  # noqa: ASYNC110 - polling HTTP
            await asyncio.sleep(0.01)
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sample ``name`` with exactly ``labels``; 0 when it is not there (yet)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def label_values(samples: Samples) -> set[str]:
    return {v for (_, labels) in samples for _, v in labels}


async def open_room(scene: ApiScene) -> str:
    status, body, _ = await scene.call("POST", scene.room_path())
    assert status == 201, body
    slug = body["room_slug"]
    connection = scene.services.racetime_engine.bot(CATEGORY).rooms[slug]
    await asyncio.wait_for(connection.wait_connected(), 5)
    await scene.services.dispatcher.drain()
    return str(slug)


async def test_opening_a_room_moves_the_room_frame_request_and_event_series(
    scene: ApiScene,
) -> None:
    before = await scrape(scene)
    assert value(before, "racedesk_racetime_rooms_connected", category=CATEGORY) == 0
    assert value(before, "racedesk_racetime_bot_status", category=CATEGORY,
                 status="connected") == 1
    assert value(before, "racedesk_racetime_bot_status", category=CATEGORY,
                 status="auth_failed") == 0

    slug = await open_room(scene)
    after = await scrape(scene)

    assert value(after, "racedesk_racetime_rooms_connected", category=CATEGORY) == 1
    assert value(after, "racedesk_racetime_rooms_reconnecting", category=CATEGORY) == 0
    frames = ("racedesk_racetime_frames_total",)
    assert value(after, *frames, category=CATEGORY, type="race.data") > value(
        before, *frames, category=CATEGORY, type="race.data"
    )
    startrace = {"method": "POST", "endpoint": "/o/{category}/startrace", "status": "201"}
    assert value(after, "racedesk_racetime_http_requests_total", **startrace) == value(
        before, "racedesk_racetime_http_requests_total", **startrace
    ) + 1
    read_back = {"method": "GET", "endpoint": "/{category}/{race}/data", "status": "200"}
    assert value(after, "racedesk_racetime_http_requests_total", **read_back) >= 1
    for kind in ("RacetimeRoomOpenedEvent", "RacetimeBotJoinedRaceEvent"):
        assert value(after, "racedesk_events_dispatched_total", type=kind) == value(
            before, "racedesk_events_dispatched_total", type=kind
        ) + 1, kind
    assert value(after, "racedesk_event_dispatch_delay_seconds_count") > value(
        before, "racedesk_event_dispatch_delay_seconds_count"
    )
    assert value(after, "racedesk_dispatcher_queue_depth") == 0
    assert value(after, "racedesk_database_up") == 1  # (0 while away: test_database_restart)

    # No label names the room, and none holds a Discord or racetime user id.
    users = {str(ADA), str(BOB), str(STRANGER), *scene.fake.seed.users.values()}
    leaked = {v for v in label_values(after) if slug in v or v in users}
    assert not leaked


async def test_a_dropped_room_socket_counts_a_reconnect_and_the_room_comes_back(
    scene: ApiScene,
) -> None:
    slug = await open_room(scene)
    before = await scrape(scene)
    connection = scene.services.racetime_engine.bot(CATEGORY).rooms[slug]
    connects = connection.connect_count

    assert await scene.fake.drop_sockets(slug) == 1
    await eventually(lambda: connection.connect_count > connects and connection.is_connected)

    after = await scrape(scene)
    reconnects = "racedesk_racetime_room_reconnects_total"
    assert value(after, reconnects, category=CATEGORY) == value(
        before, reconnects, category=CATEGORY
    ) + 1
    assert value(after, "racedesk_racetime_rooms_connected", category=CATEGORY) == 1


async def test_a_room_racetime_will_not_take_back_shows_as_reconnecting(
    scene: ApiScene,
) -> None:
    slug = await open_room(scene)
    before = await scrape(scene)
    reconnects = "racedesk_racetime_room_reconnects_total"
    dropped = value(before, reconnects, category=CATEGORY)
    scene.fake.fail_next(1000, status=503, path_prefix=f"/ws/o/bot/{slug}")

    await scene.fake.drop_sockets(slug)
    # Dropped, then refused once: counted twice, and not connected meanwhile.
    down = await scrape_until(
        scene, lambda s: value(s, reconnects, category=CATEGORY) >= dropped + 2
    )
    assert value(down, "racedesk_racetime_rooms_connected", category=CATEGORY) == 0
    assert value(down, "racedesk_racetime_rooms_reconnecting", category=CATEGORY) == 1


async def test_frames_racetime_does_not_define_are_counted_by_kind_not_by_name(
    scene: ApiScene,
) -> None:
    slug = await open_room(scene)
    before = await scrape(scene)
    await scene.fake.inject_frame(slug, {"type": f"{slug}.whatever", "date": None})
    await scene.fake.inject_frame(slug, "not json at all")
    frames = "racedesk_racetime_frames_total"
    invalid_before = value(before, frames, category=CATEGORY, type="invalid")
    after = await scrape_until(
        scene, lambda s: value(s, frames, category=CATEGORY, type="invalid") > invalid_before
    )
    assert value(after, frames, category=CATEGORY, type="unknown") == value(
        before, frames, category=CATEGORY, type="unknown"
    ) + 1
    assert value(after, frames, category=CATEGORY, type="invalid") == value(
        before, frames, category=CATEGORY, type="invalid"
    ) + 1
    assert not any(slug in v for v in label_values(after))


async def test_failing_and_slow_listeners_count_errors_timeouts_and_parking(
    scene: ApiScene,
) -> None:
    dispatcher = scene.services.dispatcher
    never = asyncio.Event()

    async def broken(event: RacetimeRaceStatusChangedEvent) -> None:
        raise RuntimeError("listener bug")

    async def stuck(event: RacetimeRaceStatusChangedEvent) -> None:
        await never.wait()

    dispatcher.subscribe(RacetimeRaceStatusChangedEvent, broken)
    dispatcher.subscribe(RacetimeRaceStatusChangedEvent, stuck, timeout=0.01)
    before = await scrape(scene)
    await dispatcher.emit(status("a-room-no-match-has"))
    await dispatcher.drain()
    after = await scrape(scene)

    event = {"type": "RacetimeRaceStatusChangedEvent"}
    broken_labels = {**event, "listener": broken.__qualname__}
    stuck_labels = {**event, "listener": stuck.__qualname__}
    attempts = FAST_RETRY.attempts
    assert value(after, "racedesk_events_dispatched_total", **event) == value(
        before, "racedesk_events_dispatched_total", **event
    ) + 1
    assert value(after, "racedesk_listener_errors_total", **broken_labels) == attempts
    assert value(after, "racedesk_listener_timeouts_total", **stuck_labels) == attempts
    assert value(after, "racedesk_listener_errors_total", **stuck_labels) == 0
    assert value(after, "racedesk_listener_parked_total", **broken_labels) == 1
    assert value(after, "racedesk_listener_parked_total", **stuck_labels) == 1


@dataclass
class Sender:
    """Where Discord would be: takes every DM."""

    dms: list[int] = field(default_factory=list)

    async def send_dm(self, discord_user_id: int, message: OutgoingNotification, *,
                      nonce: str, dm_channel_id: int | None = None) -> int:
        self.dms.append(discord_user_id)
        return discord_user_id + 1

    async def post_in_channel(self, channel_id: int, discord_user_id: int,
                              message: OutgoingNotification, *, nonce: str) -> str:
        raise AssertionError("no fallback expected")


async def test_the_outbox_depth_and_deliveries_follow_the_outbox(scene: ApiScene) -> None:
    # Scheduling the scene's matches queued "match scheduled" DMs for the linked players.
    await scene.services.dispatcher.drain()
    before = await scrape(scene)
    queued = value(before, "racedesk_notification_outbox_depth", status="pending")
    assert queued >= 2
    assert value(before, "racedesk_notification_outbox_depth", status="sending") == 0

    sender = Sender()
    delivery = NotificationDelivery(
        scene.services.sessionmaker, scene.services.notifications, sender,
        metrics=scene.services.metrics,
    )
    assert await delivery.deliver_due() == queued
    after = await scrape(scene)

    assert value(after, "racedesk_notification_outbox_depth", status="pending") == 0
    sent = {"type": "MATCH_SCHEDULED", "status": "sent"}
    assert value(after, "racedesk_notification_deliveries_total", **sent) == len(sender.dms)
    assert len(sender.dms) == queued


async def test_a_scheduled_room_records_how_late_it_opened(scene: ApiScene) -> None:
    # The room of a match in 5 minutes was due 55 minutes ago (rooms open 60 minutes before).
    starts = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=5)
    match = await scene.services.matches.schedule(
        GUILD, "Winter Cup", [ADA, BOB], starts, "Final", actor=BY_ORGANIZER
    )
    before = await scrape(scene)
    opening = await scene.services.match_rooms.create_race_room_for_match(
        match.id, actor_user_id=SYSTEM_USER_ID, reason="scheduled"
    )
    assert opening.ok, opening
    after = await scrape(scene)

    lateness = "racedesk_room_open_lateness_seconds"
    count = value(after, f"{lateness}_count", category=CATEGORY) - value(
        before, f"{lateness}_count", category=CATEGORY
    )
    late = value(after, f"{lateness}_sum", category=CATEGORY) - value(
        before, f"{lateness}_sum", category=CATEGORY
    )
    assert count == 1
    assert 55 * 60 - 60 <= late <= 55 * 60 + 60
    assert value(after, f"{lateness}_bucket", category=CATEGORY, le="1800.0") == value(
        before, f"{lateness}_bucket", category=CATEGORY, le="1800.0"
    )
    assert value(after, f"{lateness}_bucket", category=CATEGORY, le="3600.0") == value(
        before, f"{lateness}_bucket", category=CATEGORY, le="3600.0"
    ) + 1

    # Opened by hand, a room is not late for anything: nothing more is recorded.
    status, _, _ = await scene.call("POST", scene.room_path())
    assert status == 201
    manual = await scrape(scene)
    assert value(manual, f"{lateness}_count", category=CATEGORY) == value(
        after, f"{lateness}_count", category=CATEGORY
    )


async def test_a_database_that_fails_the_state_query_leaves_the_counters_served(
    scene: ApiScene,
) -> None:
    await open_room(scene)
    faults = DatabaseFaults(scene.services.engine)
    try:
        faults.fail(r"GROUP BY notification_log.status")
        down = await scrape(scene)
    finally:
        faults.close()
    frames = {"category": CATEGORY, "type": "race.data"}
    assert value(down, "racedesk_racetime_frames_total", **frames) > 0
    assert not any(name.startswith("racedesk_notification_outbox") for name, _ in down)
    assert not any(name.startswith("racedesk_racetime_rooms") for name, _ in down)
    back = await scrape(scene)
    assert value(back, "racedesk_racetime_rooms_connected", category=CATEGORY) == 1


async def test_metrics_can_be_turned_off(scene: ApiScene) -> None:
    server = web_server(scene.services, WebSettings(bind_port=0, metrics=False), lambda: True)
    async with Lifecycle() as lifecycle:
        await lifecycle.add("web server", server.start, server.stop)
        async with scene.http.get(server.url + "/metrics") as response:
            assert response.status == 404
        async with scene.http.get(server.url + "/healthz") as response:
            assert response.status == 200


async def test_every_series_is_documented_in_the_readme(scene: ApiScene) -> None:
    await scrape(scene)  # the state gauges are sampled
    metrics = scene.services.metrics
    assert isinstance(metrics, PrometheusMetrics)
    families = {family.name for family in metrics.registry.collect()}
    assert len(families) == 17
    readme = README.read_text(encoding="utf-8")
    undocumented = {name for name in families if f"`{name}" not in readme}
    assert not undocumented


def test_core_and_racetime_never_import_the_exporter() -> None:
    root = README.parent
    offenders = []
    for folder in ("core", "racetime"):
        for path in sorted((root / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom):
                    names = [node.module or ""]
                else:
                    continue
                offenders += [
                    f"{path.relative_to(root)}: {name}" for name in names
                    if name.split(".")[0] in ("prometheus_client", "web")
                ]
    assert offenders == []
