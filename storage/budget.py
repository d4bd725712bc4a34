"""One send rate shared by every worker process on PostgreSQL.

Why: Telegram's limit (about 30 messages/s, or the paid-broadcast rate) is per bot, not per
process. Each process paces itself (jobs/send/pacing.py), but two workers at 25/s each would send
50/s. So before a worker sends a batch of n messages it reserves n slots of the shared schedule: a
GCRA whose "theoretical arrival time" (TAT) lives in one `app_state` row and moves with one
atomic UPDATE per batch. Each reservation gets its own stretch of time, [TAT - n/rate, TAT];
the worker waits until its stretch starts and its local pacer spreads the n sends across it,
so all workers together never exceed the rate, whatever their number.

Times are PostgreSQL's own clock (clock_timestamp()) and the caller gets back only a delay in
seconds, so the machines' clocks need not agree. SQLite has one process: no reservation needed.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

BUDGET_KEY = "send.budget.tat"
# Slots 5 % wider than 1/rate: with slots exactly 1/rate apart the 1st and the (rate+1)th send
# are exactly 1 s apart, and the least jitter puts both in one window. Sends of several processes
# (each with its own event loop, GIL and HTTP client) jitter more than one process's (whose
# pacer uses 2 %): at 20/s, 5 % tolerates 50 ms of difference between two sends' delays.
MARGIN = 1.05

_RESERVE = text(
    """
    INSERT INTO app_state (key, value, updated_at)
    VALUES (:key, (extract(epoch from clock_timestamp()) + :cost)::text, now())
    ON CONFLICT (key) DO UPDATE SET
        value = (GREATEST(app_state.value::float8, extract(epoch from clock_timestamp()))
                 + :cost)::text,
        updated_at = now()
    RETURNING value::float8 - :cost - extract(epoch from clock_timestamp())
    """
)


class SendBudget:
    """`await reserve(n)` → seconds to wait before sending n messages (0 when not shared)."""

    def __init__(self, engine: AsyncEngine, rate: float | None, *, key: str = BUDGET_KEY) -> None:
        self._engine = engine
        self._rate = rate
        self._key = key
        self.shared = engine.dialect.name == "postgresql" and rate is not None
        self.interval = MARGIN / rate if rate else 0.0
        """Seconds between two slots of the shared schedule."""

    async def reserve(self, n: int) -> float:
        if not self.shared or n <= 0:
            return 0.0
        async with self._engine.begin() as conn:
            delay = (
                await conn.execute(_RESERVE, {"key": self._key, "cost": n * self.interval})
            ).scalar_one()
        return max(0.0, float(delay))
