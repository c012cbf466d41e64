"""A wall clock that tests can push forward, so countdowns and expiries need no sleeping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class FakeClock:
    """Real UTC time plus an offset that only ever grows (``advance``).

    A held clock stands still until it is advanced: what it shows then depends only on the
    script that drives it, not on how fast the machine ran it (the rehearsal holds it, so a
    race lasts exactly the seconds its script advanced).
    """

    def __init__(self, *, held: bool = False) -> None:
        self._offset = timedelta(0)
        self._held_at: datetime | None = None
        if held:
            self.hold()

    @property
    def held(self) -> bool:
        return self._held_at is not None

    def now(self) -> datetime:
        if self._held_at is not None:
            return self._held_at + self._offset
        return datetime.now(UTC) + self._offset

    def hold(self) -> None:
        """Stop the clock where it is; only :meth:`advance` moves it from now on."""
        if self._held_at is None:
            self._held_at = self.now() - self._offset

    def release(self) -> None:
        """Let the clock run with real time again, never going back."""
        if self._held_at is None:
            return
        shown = self.now()
        self._held_at = None
        self._offset = max(timedelta(0), shown - datetime.now(UTC))

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self._offset += timedelta(seconds=seconds)
