"""One fake clock for every test that moves time by hand.

Code under test takes its clock as a callable (`clock: Callable[[], datetime]`, or a float
`monotonic` for supervision), so a test passes this object (or its `monotonic`) and moves time
with `advance` or by setting `now`; both readings move together.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


class FakeClock:
    """`clock()` is the current time (an aware datetime, `now`); `clock.monotonic()` is seconds
    on a monotonic scale that starts at `monotonic_start` and advances with `now`."""

    def __init__(self, start: datetime = EPOCH, *, monotonic_start: float = 1000.0) -> None:
        self.now = start
        self._start = start
        self._monotonic_start = monotonic_start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float = 0.0, **delta: float) -> datetime:
        """Move on by `seconds` (and/or timedelta keywords: hours=1, minutes=5); the new now."""
        self.now += timedelta(seconds=seconds, **delta)
        return self.now

    def monotonic(self) -> float:
        return self._monotonic_start + (self.now - self._start).total_seconds()
