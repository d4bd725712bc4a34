"""Bounded figures for /metrics: rows per outbox status, each count capped.

Why not `GROUP BY status` over the outbox: it reads every row, and the outbox keeps every sent
row until retention prunes it (millions after a few broadcasts), so a scrape (or anyone who can
reach /metrics) could keep the database busy. Each status is counted on the (status, due) index
and stops at `cap`: a figure at the cap means "at least this many", which is all a dashboard
needs to see that something piles up.
"""

from __future__ import annotations

from sqlalchemy import func, select

from storage.base import Repo
from storage.kinds import DeliveryStatus
from storage.models import DeadUpdateRow, DeliveryRow

OUTBOX_STATUSES = (
    DeliveryStatus.PENDING,
    DeliveryStatus.SENDING,
    DeliveryStatus.SENT,
    DeliveryStatus.DEAD,
    DeliveryStatus.CANCELLED,
    DeliveryStatus.BLOCKED,
)
COUNT_CAP = 100_000


class Figures(Repo):
    async def outbox_rows(self, *, cap: int = COUNT_CAP) -> dict[str, int]:
        """Rows per status (statuses with none left out), each at most `cap`."""
        out: dict[str, int] = {}
        async with self._tx() as s:
            for status in OUTBOX_STATUSES:
                limited = (
                    select(DeliveryRow.id).where(DeliveryRow.status == status).limit(cap).subquery()
                )
                n = int((await s.execute(select(func.count()).select_from(limited))).scalar_one())
                if n:
                    out[status] = n
        return out

    async def dead_updates(self, *, cap: int = COUNT_CAP) -> int:
        """Incoming updates kept as dead (bot/adapters/intake.py), at most `cap`."""
        limited = select(DeadUpdateRow.id).limit(cap).subquery()
        async with self._tx() as s:
            return int((await s.execute(select(func.count()).select_from(limited))).scalar_one())
