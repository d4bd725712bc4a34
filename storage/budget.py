"""One send rate shared by every worker process on PostgreSQL.

Why: Telegram's limit (about 30 messages/s, or the paid-broadcast rate) is per bot, not per
process. Each process paces itself (jobs/send/pacing.py), but two workers at 25/s each would send
50/s. So before a worker sends a batch of n messages it reserves a stretch of the shared
schedule, whose end (and who reserved it) lives in one `app_state` row and moves with one
atomic UPDATE per batch: n slots at least 1/rate apart (as far apart as the worker's own pacer
spaces its sends), starting a GAP after the previous stretch ends, or right at its end when it
was this worker's own (one pacer paces both). The worker sends one send per slot, never before
its slot; in the stretch's last second never more than the deliverer's LATE after it either
(a late sender skips the slots it missed there; before, it may catch up, see
`Stretch.may_catch_up`), unless its own next stretch follows; so its sends stay inside its
stretch plus LATE, which the GAP absorbs: in any one second the server sees at most the rate
from all workers together, whatever their number.

Stretches are long (seconds of sends, STRETCH_SECONDS), so a GAP costs about 0.5 % of the rate,
and none is paid while one worker's stretches follow each other (the deliverer leaves a running
schedule to the worker running it: jobs/send/deliverer.py). The former design (slots 5 % wider
than 1/rate, one second per batch, lateness counted from when the worker woke up rather than
from the schedule) gave up 5 % of the rate and still let a late worker's tail overlap the next
stretch: three workers at 1000/s on a loaded machine made the stand-in server count 1,100 in
one second.

Times are PostgreSQL's own clock (clock_timestamp()); each worker maps them onto its monotonic
clock with an offset measured as NTP does (PostgreSQL's time against the middle of the round
trip, keeping the measurement with the shortest round trip), so machines' clocks need not agree
and an answer read late (a busy CPU) does not shift the stretch. SQLite has one process: no
reservation.
"""

from __future__ import annotations

import math
import time
import uuid
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

BUDGET_KEY = "send.budget.tat"
# Seconds between the end of one stretch (one interval after its last slot) and the first
# slot of the next: covers how late a send may go (the deliverer's LATE, 20 ms, checked in the
# send's own task just before its call) plus 20 ms from that check to the bytes on the socket.
# One interval more is added (`SendBudget.gap`): with J the most a send may be late, any one
# second holds at most rate × (1 + J - gap) + 1 sends across a boundary, so gap ≥ J + 1/rate.
GAP = 0.04
LEAD = 0.02  # seconds from its grant to an idle schedule's next stretch: answer read, first send
STRETCH_SECONDS = 8.0  # a batch's share of the schedule at most: 8 s of sends (GAP: ~0.5 %)
CALIBRATED = 0.002  # seconds of offset error under which no calibration is needed
CALIBRATION_READS = 5
DRIFT = 5e-4  # how fast two clocks may drift apart (NTP slews at most 500 ppm)

# The row holds the end of the last stretch and who reserved it ("<end> <owner>"); a new one
# starts GAP after it, or right at it when the same worker reserved it (its own sends need no
# gap: one local pacer paces both), or LEAD from now if that has passed (an idle schedule owes
# nobody a gap, but a stretch granted to start at once would find its first slots passed by the
# time its worker has read the answer, and a short stretch keeps to its slots: see Stretch).
_RESERVE = text(
    """
    INSERT INTO app_state (key, value, updated_at)
    VALUES (:key, (extract(epoch from clock_timestamp()) + :lead + :cost)::text || ' ' || :owner,
            now())
    ON CONFLICT (key) DO UPDATE SET
        value = (GREATEST(
                    split_part(app_state.value, ' ', 1)::float8
                    + CASE WHEN split_part(app_state.value, ' ', 2) = :owner
                           THEN 0.0 ELSE CAST(:gap AS float8) END,
                    extract(epoch from clock_timestamp()) + :lead)
                 + :cost)::text || ' ' || :owner,
        updated_at = now()
    RETURNING split_part(value, ' ', 1)::float8 - :cost, extract(epoch from clock_timestamp())
    """
)

_NOW = text("SELECT extract(epoch from clock_timestamp())")

_BUSY = text(
    """
    SELECT split_part(value, ' ', 1)::float8 - extract(epoch from clock_timestamp()),
           split_part(value, ' ', 2)
    FROM app_state WHERE key = :key
    """
)


@dataclass(frozen=True)
class Stretch:
    """A reserved stretch of the shared schedule, on this process's monotonic clock.

    Slot i (of `slots`) lies at `start + i * interval`; `slack` is how far our reading of
    `start` may be off either way, so a send for slot i may go from `start + slack + i *
    interval` (never early) and no later than `start - slack + i * interval + LATE`. A sender
    that fell behind (a stall, a busy CPU) skips the slots it missed instead of giving up the
    stretch: each send takes its own slot, in order, so the stretch's sends still lie within
    its slots plus LATE."""

    start: float
    interval: float
    slack: float
    slots: int
    # Whether this stretch starts right where this worker's previous one ends (nobody else's
    # sends between, no gap); then that one's last second need not keep to its slots.
    after_own: bool = False
    # Whether the stretch's last second keeps to its slots (another worker's stretch may come
    # next); False once this worker's own next stretch is known to follow it directly.
    strict_end: bool = True

    def may_catch_up(self, now: float) -> bool:
        """Before the stretch's last second a send may take its slot however late (a sender
        behind after a stall catches up, as far as its own pacer allows): sends are never
        early, so however they bunch, the stretch's sends up to any moment never outnumber
        its slots up to then, which is all a second shared with the previous stretch needs.
        In the last second, a second shared with the next stretch also needs each send
        within LATE of its slot: there a late send skips to a later slot. Unless the next
        stretch is this worker's own: its one pacer keeps any second across both."""
        return not self.strict_end or now < self.end_zone()

    def deadline(self, i: int, late: float) -> float | None:
        """The latest moment slot i's send may go (None: no limit, see `may_catch_up`)."""
        if not self.strict_end:
            return None
        return max(self.latest(i, late), self.end_zone())

    def end_zone(self) -> float:
        """From this moment on (the stretch's last second) every send keeps to its slot."""
        return self.start - self.slack + self.slots * self.interval - 1.0

    def next_slot(self, now: float, after: int, late: float) -> int:
        """The first slot from `after` on that a send at `now` is not too late for (may be
        `slots`: none left)."""
        if self.interval <= 0:
            return after
        missed = math.ceil((now - self.start + self.slack - late) / self.interval)
        return max(after, missed)

    def earliest(self, i: int) -> float:
        return self.start + self.slack + i * self.interval

    def latest(self, i: int, late: float) -> float:
        return self.start - self.slack + i * self.interval + late


class SendBudget:
    """`await reserve_stretch(n)` → the stretch to send n messages in (None when not shared)."""

    def __init__(self, engine: AsyncEngine, rate: float | None, *, key: str = BUDGET_KEY) -> None:
        self._engine = engine
        self._rate = rate
        self._key = key
        self._owner = uuid.uuid4().hex[:16]  # this worker in the schedule's row
        self._end = -math.inf  # the end of our last stretch, in PostgreSQL's epoch seconds
        self.shared = engine.dialect.name == "postgresql" and rate is not None
        self.interval = 1.0 / rate if rate else 0.0
        """Seconds between two slots of the shared schedule."""
        self.gap = GAP + self.interval
        # PostgreSQL's epoch seconds minus our monotonic clock, ± the error, measured when.
        self._offset = 0.0
        self._error = float("inf")
        self._measured = 0.0

    def batch_limit(self) -> int:
        """Rows per reservation: STRETCH_SECONDS of sends."""
        return max(1, int((self._rate or 0.0) * STRETCH_SECONDS))

    async def schedule(self) -> tuple[float, bool]:
        """(seconds until the schedule's last reserved stretch ends, whether that stretch is
        this worker's); (0, True) when not shared."""
        if not self.shared:
            return 0.0, True
        async with self._engine.connect() as conn:
            row = (await conn.execute(_BUSY, {"key": self._key})).one_or_none()
        if row is None:
            return 0.0, False
        return max(0.0, float(row[0])), row[1] == self._owner

    async def ends_with_mine(self) -> bool:
        """Whether the schedule's last reserved stretch is this worker's (so its next one
        follows with no gap)."""
        return (await self.schedule())[1]

    async def reserve(self, n: int) -> float:
        """Seconds from PostgreSQL's now until the stretch for n messages starts (0 when not
        shared)."""
        if not self.shared or n <= 0:
            return 0.0
        start, pg_now, _, _ = await self._reserve(n)
        return max(0.0, start - pg_now)

    async def reserve_stretch(self, n: int, interval: float | None = None) -> Stretch | None:
        """The stretch for n messages on our clock (None when not shared), its slots
        `interval` apart (at least the shared 1/rate): a sender whose own pacer spaces sends a
        little wider than 1/rate (its window's margin for jitter) asks for that spacing, or it
        would fall behind its slots by that margin, seconds after seconds, and lose the slots
        it is late for at the stretch's end."""
        if not self.shared or n <= 0:
            return None
        if self._error > CALIBRATED:
            await self._calibrate()
        interval = max(self.interval, interval or 0.0)
        start, pg_now, before, after = await self._reserve(n, interval)
        self._learn(pg_now, before, after)
        slack = self._error + (after - self._measured) * DRIFT
        # Another worker's stretch between would leave at least GAP; the tolerance covers
        # float rounding of epoch seconds (~1e-7 s) only.
        after_own = abs(start - self._end) < 1e-4
        self._end = start + n * interval
        return Stretch(start - self._offset, interval, slack, n, after_own=after_own)

    async def _reserve(
        self, n: int, interval: float | None = None
    ) -> tuple[float, float, float, float]:
        """(stretch start, PostgreSQL's now) in its epoch seconds, and our monotonic clock
        before and after asking."""
        cost = n * (interval or self.interval)
        params = {
            "key": self._key,
            "cost": cost,
            "gap": self.gap,
            "owner": self._owner,
            "lead": LEAD,
        }
        before = time.monotonic()
        async with self._engine.begin() as conn:
            start, pg_now = (await conn.execute(_RESERVE, params)).one()
        return float(start), float(pg_now), before, time.monotonic()

    async def _calibrate(self) -> None:
        """A few bare clock readings: a reservation may wait behind another worker's, and its
        round trip alone would leave the offset too uncertain to send in a stretch."""
        async with self._engine.connect() as conn:
            for _ in range(CALIBRATION_READS):
                before = time.monotonic()
                pg_now = (await conn.execute(_NOW)).scalar_one()
                self._learn(float(pg_now), before, time.monotonic())

    def _learn(self, pg_now: float, before: float, after: float) -> None:
        """Keep the offset measured over the shortest round trip, aged by DRIFT."""
        error = (after - before) / 2
        if error <= self._error + (after - self._measured) * DRIFT:
            self._offset = pg_now - (before + after) / 2
            self._error = error
            self._measured = after
