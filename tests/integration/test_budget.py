"""The shared send budget (storage/budget.py) on real PostgreSQL: reservations made at the same
time by several "workers" get disjoint stretches of time, so together they keep the rate."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest

from storage.budget import SendBudget
from storage.store import Store
from tests.integration.conftest import PG_URL, drop_pg_database, fresh_pg_database


async def test_sqlite_needs_no_reservation(store: Store) -> None:
    budget = SendBudget(store.engine, rate=10)
    assert not budget.shared
    assert await budget.reserve(1000) == 0.0


@pytest.mark.postgres
@pytest.mark.skipif(not PG_URL, reason="PostgreSQL test: set BANTIN_TEST_DATABASE_URL")
async def test_concurrent_reservations_queue_one_after_another() -> None:
    assert PG_URL
    url = await fresh_pg_database(PG_URL)
    stores = [Store.open(url) for _ in range(3)]
    try:
        await stores[0].migrate()
        rate = 100.0  # 10 messages cost 0.1 s of the shared schedule
        budgets = [SendBudget(s.engine, rate=rate) for s in stores]
        assert all(b.shared for b in budgets)
        assert await budgets[0].reserve(0) == 0.0

        async def start_of(budget: SendBudget) -> float:
            """When this reservation's stretch starts, on our clock."""
            delay = await budget.reserve(10)
            return time.monotonic() + delay

        starts = sorted(await asyncio.gather(*(start_of(b) for b in budgets for _ in range(4))))
        # 12 reservations of 0.1 s each get stretches one after another: the starts are
        # 0.1 s apart (up to the few milliseconds an answer takes to come back), none overlap.
        gaps = [b - a for a, b in itertools.pairwise(starts)]
        assert all(gap > 0.05 for gap in gaps), gaps
        assert starts[-1] - starts[0] > 1.0
        delays = [s - time.monotonic() for s in starts]
        # once the schedule has passed, a new reservation starts now
        await asyncio.sleep(max(delays) + 0.15)
        assert await budgets[1].reserve(5) == 0.0
    finally:
        for s in stores:
            await s.aclose()
        await drop_pg_database(url)
