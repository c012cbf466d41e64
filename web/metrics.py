"""RaceDesk's metrics in Prometheus form: the recorder ``core`` and ``racetime`` call, and the
state read when ``/metrics`` is scraped.

:class:`PrometheusMetrics` implements ``core.metrics.Metrics`` over its own
``CollectorRegistry`` (never prometheus-client's global one, so two instances, as in tests,
never share a series). Counters and histograms are recorded where things happen; state
(rooms connected, the dispatcher's queue, the notification outbox, each bot's status) is
read by a :data:`StateSampler` at scrape time, so nothing has to keep a gauge up to date.
Every series and its labels are listed in the README's "Metrics" section.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from core.events import EventDispatcher
from core.leadership import LeadershipStatus
from db.models import BotStatus, RacetimeBot
from racetime.manager import RacetimeManager

log = logging.getLogger(__name__)

# From a few milliseconds (the log's group commit) to minutes (a listener retrying).
DELAY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
# A scheduled room opens within seconds of its time; minutes late is worth an alert.
LATENESS_BUCKETS = (1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
BOT_STATUSES = tuple(status.name.lower() for status in BotStatus)


@dataclass(frozen=True, slots=True)
class State:
    """What the state gauges show; sampled at each scrape."""

    # category -> (rooms connected, rooms not connected: reconnecting or connecting)
    rooms: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    queue_depth: int = 0
    outbox: Mapping[str, int] = field(default_factory=dict)  # status -> rows
    bots: Mapping[str, str] = field(default_factory=dict)  # category -> status name


StateSampler = Callable[[], Awaitable[State]]


class RuntimeState:
    """Samples :class:`State` from the running parts: the engine's rooms and the dispatcher's
    queue in memory, the outbox and the bots' statuses with one small query each."""

    def __init__(
        self,
        *,
        racetime: RacetimeManager,
        dispatcher: EventDispatcher,
        outbox_depth: Callable[[], Awaitable[Mapping[str, int]]],
        bots: Callable[[], Awaitable[Sequence[RacetimeBot]]],
    ) -> None:
        self._racetime = racetime
        self._dispatcher = dispatcher
        self._outbox_depth = outbox_depth
        self._bots = bots

    async def __call__(self) -> State:
        rooms = {}
        for category, bot in self._racetime.bots.items():
            watched = [room for room in bot.rooms.values() if not room.finished]
            connected = sum(1 for room in watched if room.is_connected)
            rooms[category] = (connected, len(watched) - connected)
        return State(
            rooms=rooms,
            queue_depth=self._dispatcher.pending,
            outbox=await self._outbox_depth(),
            bots={bot.category: BotStatus(bot.status).name.lower() for bot in await self._bots()},
        )


class _StateCollector(Collector):
    """The state gauges, from the last :class:`State` sampled."""

    def __init__(self) -> None:
        self.sampler: StateSampler | None = None
        self.state: State | None = None

    async def refresh(self) -> None:
        if self.sampler is None:
            return
        try:
            self.state = await self.sampler()
        except Exception:
            # The counters are still worth serving; the state gauges are left out.
            log.exception("Could not sample the state for /metrics")
            self.state = None

    def collect(self) -> Iterator[Metric]:
        state = self.state
        if state is None:
            return
        connected = GaugeMetricFamily(
            "racedesk_racetime_rooms_connected",
            "Rooms whose websocket is connected, by category.",
            labels=["category"],
        )
        reconnecting = GaugeMetricFamily(
            "racedesk_racetime_rooms_reconnecting",
            "Rooms watched but not connected (connecting or reconnecting), by category.",
            labels=["category"],
        )
        for category, (up, down) in sorted(state.rooms.items()):
            connected.add_metric([category], up)
            reconnecting.add_metric([category], down)
        yield connected
        yield reconnecting
        yield GaugeMetricFamily(
            "racedesk_dispatcher_queue_depth",
            "Events committed and waiting in memory for delivery.",
            value=state.queue_depth,
        )
        outbox = GaugeMetricFamily(
            "racedesk_notification_outbox_depth",
            "Notification outbox rows still to deliver, by status (pending, sending).",
            labels=["status"],
        )
        for status, rows in sorted(state.outbox.items()):
            outbox.add_metric([status], rows)
        yield outbox
        bots = GaugeMetricFamily(
            "racedesk_racetime_bot_status",
            "1 for each racetime bot's current status, 0 for the others.",
            labels=["category", "status"],
        )
        for category, current in sorted(state.bots.items()):
            for status in BOT_STATUSES:
                bots.add_metric([category, status], 1 if status == current else 0)
        yield bots


class _LeadershipCollector(Collector):
    """Whether this process leads, and the lease's epoch as it knows it (issue 27)."""

    def __init__(self, status: Callable[[], LeadershipStatus]) -> None:
        self._status = status

    def collect(self) -> Iterator[Metric]:
        status = self._status()
        yield GaugeMetricFamily(
            "racedesk_leader",
            "1 when this process does the work (it leads with its parts started, or runs "
            "alone), 0 on a standby or a leader still starting.",
            value=1 if status.acts else 0,
        )
        if status.epoch is not None:
            yield GaugeMetricFamily(
                "racedesk_leader_epoch",
                "The leader lease's epoch: the one this process leads under, or on a standby "
                "the leader's as last seen (grows by one at every change of leader).",
                value=status.epoch,
            )


class _DatabaseCollector(Collector):
    """Whether the database answers, as the watch last found it (no query at scrape time)."""

    def __init__(self, available: Callable[[], bool]) -> None:
        self._available = available

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "racedesk_database_up",
            "1 while the database answers, 0 while it is away (RaceDesk waits for it).",
            value=1 if self._available() else 0,
        )


class _Children:
    """A labelled metric's children, kept by label values: prometheus-client's ``labels()``
    costs three times the ``inc()`` it precedes, and a frame counter runs for every frame.
    The labels are bounded (see ``core.metrics``), so the cache is too."""

    __slots__ = ("_children", "_metric")

    def __init__(self, metric: Counter | Histogram) -> None:
        self._metric = metric
        self._children: dict[tuple[str, ...], Any] = {}

    def __call__(self, *values: str) -> Any:
        child = self._children.get(values)
        if child is None:
            child = self._children[values] = self._metric.labels(*values)
        return child


class PrometheusMetrics:
    """``core.metrics.Metrics`` recorded into a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        counter = self._counter
        self._frames = counter(
            "racedesk_racetime_frames", "Websocket frames read from racetime rooms.",
            "category", "type",
        )
        self._reconnects = counter(
            "racedesk_racetime_room_reconnects",
            "Times a room's connection dropped (or was refused) and was tried again.",
            "category",
        )
        self._requests = counter(
            "racedesk_racetime_http_requests", "HTTP requests to racetime, by answer.",
            "method", "endpoint", "status",
        )
        self._dispatched = counter(
            "racedesk_events_dispatched", "Events handed to their listeners.", "type"
        )
        self._delay = Histogram(
            "racedesk_event_dispatch_delay_seconds",
            "Seconds from an event's occurrence to the start of its delivery.",
            registry=self.registry, buckets=DELAY_BUCKETS,
        )
        listener = ("type", "listener")
        self._listener_errors = counter(
            "racedesk_listener_errors", "Listener attempts that raised.", *listener
        )
        self._listener_timeouts = counter(
            "racedesk_listener_timeouts", "Listener attempts that ran past their timeout.",
            *listener,
        )
        self._parked = counter(
            "racedesk_listener_parked",
            "Deliveries given up after every retry and parked for an admin.", *listener,
        )
        self._deliveries = counter(
            "racedesk_notification_deliveries",
            "Notification delivery attempts, by the row's status after it "
            "(sent, fallback, failed; pending: to be retried).",
            "type", "status",
        )
        self._lateness = _Children(Histogram(
            "racedesk_room_open_lateness_seconds",
            "Seconds between a scheduled room's planned opening and its opening.",
            ["category"], registry=self.registry, buckets=LATENESS_BUCKETS,
        ))
        self._state = _StateCollector()
        self.registry.register(self._state)

    def _counter(self, name: str, documentation: str, *labels: str) -> _Children:
        return _Children(Counter(name, documentation, labels, registry=self.registry))

    def watch_leadership(self, status: Callable[[], LeadershipStatus]) -> None:
        """Serve ``racedesk_leader`` and ``racedesk_leader_epoch`` from ``status``."""
        self.registry.register(_LeadershipCollector(status))

    def watch_database(self, available: Callable[[], bool]) -> None:
        """Serve ``racedesk_database_up`` from ``available`` (``core.outage``)."""
        self.registry.register(_DatabaseCollector(available))

    def sample_state_with(self, sampler: StateSampler) -> None:
        """Read the state gauges from ``sampler`` at each scrape."""
        self._state.sampler = sampler

    async def exposition(self) -> bytes:
        """Every series in Prometheus' text format, the state sampled now."""
        await self._state.refresh()
        return generate_latest(self.registry)

    # -- core.metrics.Metrics -----------------------------------------------------------------

    def frame_processed(self, category: str, frame_type: str) -> None:
        self._frames(category, frame_type).inc()

    def room_reconnecting(self, category: str) -> None:
        self._reconnects(category).inc()

    def event_dispatched(self, event_type: str, delay_seconds: float) -> None:
        self._dispatched(event_type).inc()
        self._delay.observe(max(delay_seconds, 0.0))

    def listener_failed(self, event_type: str, listener: str, *, timed_out: bool) -> None:
        failures = self._listener_timeouts if timed_out else self._listener_errors
        failures(event_type, listener).inc()

    def listener_parked(self, event_type: str, listener: str) -> None:
        self._parked(event_type, listener).inc()

    def notification_delivered(self, notification_type: str, status: str) -> None:
        self._deliveries(notification_type, status).inc()

    def room_opened(self, category: str, lateness_seconds: float) -> None:
        self._lateness(category).observe(max(lateness_seconds, 0.0))

    def racetime_request(self, method: str, endpoint: str, status: str) -> None:
        self._requests(method, endpoint, status).inc()


__all__ = ["PrometheusMetrics", "RuntimeState", "State", "StateSampler"]
