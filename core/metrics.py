"""What RaceDesk counts as it works, as a small interface that costs nothing when unwired.

``core`` and ``racetime`` record through :class:`Metrics` at the places where things happen
(a frame read, an event delivered, a request answered); they never import an exporter.
:data:`NO_METRICS` is the default everywhere, so a part built without metrics (a test, a
bench, a tool) records nothing. The composition root wires the Prometheus implementation
(``web.metrics``), which also samples state (rooms connected, queue depth, outbox depth, bot
status) when ``/metrics`` is scraped rather than having it counted here.

Labels are few and bounded: a racetime category, an event or notification type, a status,
a listener's name, a templated endpoint. Never a room, a user or anything racetime chose.
This module is stdlib-only, so every layer may import it.
"""

from __future__ import annotations

from typing import Protocol


class Metrics(Protocol):
    """Counters and histograms recorded where things happen; each call must be cheap."""

    def frame_processed(self, category: str, frame_type: str) -> None:
        """A room connection read one websocket frame (``frame_type``: its known type,
        ``unknown`` or ``invalid``)."""
        ...

    def room_reconnecting(self, category: str) -> None:
        """A room connection dropped (or was refused) and will connect again."""
        ...

    def event_dispatched(self, event_type: str, delay_seconds: float) -> None:
        """An event is handed to its listeners, ``delay_seconds`` after it occurred."""
        ...

    def listener_failed(self, event_type: str, listener: str, *, timed_out: bool) -> None:
        """One attempt of a listener raised (or ran past its timeout)."""
        ...

    def listener_parked(self, event_type: str, listener: str) -> None:
        """A listener kept failing: its delivery was parked for an admin."""
        ...

    def notification_delivered(self, notification_type: str, status: str) -> None:
        """One delivery attempt of an outbox row ended with the row in ``status``."""
        ...

    def room_opened(self, category: str, lateness_seconds: float) -> None:
        """A scheduled room opened ``lateness_seconds`` after its planned opening time."""
        ...

    def racetime_request(self, method: str, endpoint: str, status: str) -> None:
        """An HTTP request to racetime answered ``status`` (or ``error``/``timeout``);
        ``endpoint`` is templated: ``/o/{category}/startrace``, never a room's path."""
        ...


class NoMetrics:
    """Records nothing: what every part uses when no metrics are wired."""

    def frame_processed(self, category: str, frame_type: str) -> None:
        pass

    def room_reconnecting(self, category: str) -> None:
        pass

    def event_dispatched(self, event_type: str, delay_seconds: float) -> None:
        pass

    def listener_failed(self, event_type: str, listener: str, *, timed_out: bool) -> None:
        pass

    def listener_parked(self, event_type: str, listener: str) -> None:
        pass

    def notification_delivered(self, notification_type: str, status: str) -> None:
        pass

    def room_opened(self, category: str, lateness_seconds: float) -> None:
        pass

    def racetime_request(self, method: str, endpoint: str, status: str) -> None:
        pass


NO_METRICS: Metrics = NoMetrics()

__all__ = ["NO_METRICS", "Metrics", "NoMetrics"]
