"""The shared send budget (storage/budget.py) on real PostgreSQL: reservations made at the same
time by several "workers" get disjoint stretches of time, so together they keep the rate."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from datetime import UTC, datetime

import pytest

from bench.support import drop_pg_database, fresh_pg_database, seed_subscribers
from bot.adapters.telegram.adapter import TelegramChannel, make_bot
from jobs.route.fanout import queue_announcement
from jobs.send.deliverer import Deliverer
from storage.budget import GAP, LEAD, SendBudget, Stretch
from storage.kinds import AnnouncementStatus
from storage.store import Store
from tests.fakes.telegram_api import FakeTelegram
from tests.integration.conftest import PG_URL


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
        # once the schedule has passed, a new reservation starts now (after the moment its
        # worker needs to read the answer)
        await asyncio.sleep(max(delays) + 0.15)
        assert await budgets[1].reserve(5) == pytest.approx(LEAD, abs=0.005)
    finally:
        for s in stores:
            await s.aclose()
        await drop_pg_database(url)


@pytest.mark.postgres
@pytest.mark.skipif(not PG_URL, reason="PostgreSQL test: set BANTIN_TEST_DATABASE_URL")
async def test_two_workers_together_keep_one_rate(telegram_api: FakeTelegram) -> None:
    """Two deliverers (as two `bantin worker` processes would) on one outbox at 20/s each:
    without the shared budget they would send about 40/s; with it, never more than 20 in any
    one-second window at the server, and everyone gets the message once, from one of them."""
    assert PG_URL
    url = await fresh_pg_database(PG_URL)
    stores = [Store.open(url) for _ in range(2)]
    bots = [make_bot(telegram_api.token, telegram_api.api_url, pool_size=8) for _ in range(2)]
    try:
        await stores[0].migrate()
        n = 70
        await seed_subscribers(stores[0], n)
        ann = await stores[0].announcements.create("Lịch cắt nước", created_by="t")
        now = datetime.now(UTC)
        await stores[0].announcements.transition(
            ann.id, frm=AnnouncementStatus.DRAFT, to=AnnouncementStatus.QUEUED, now=now
        )
        assert await queue_announcement(stores[0], ann.id, now=now) == n
        workers = []
        for store, bot in zip(stores, bots, strict=True):
            await bot.initialize()
            workers.append(
                Deliverer(
                    store,
                    {"telegram": TelegramChannel(bot)},
                    rate=20,
                    concurrency=8,
                    clock=lambda: datetime.now(UTC),
                    budget=SendBudget(store.engine, 20),
                )
            )
        await asyncio.gather(*(w.run_until_idle() for w in workers))
        await asyncio.gather(*(w.drain() for w in workers))
        chats = Counter(m.chat_id for m in telegram_api.sent)
        assert len(chats) == n and max(chats.values()) == 1
        # Which worker sends is the schedule's choice: while one worker's stretches run the
        # other leaves them to it (a stretch of its own would cost a gap), so one may send all.
        assert sum(w.sent for w in workers) == n
        assert telegram_api.max_sends_per_second() <= 20
    finally:
        for bot in bots:
            await bot.shutdown()
        for s in stores:
            await s.aclose()
        await drop_pg_database(url)


@pytest.mark.postgres
@pytest.mark.skipif(not PG_URL, reason="PostgreSQL test: set BANTIN_TEST_DATABASE_URL")
async def test_a_workers_own_next_stretch_follows_at_once_anothers_after_the_gap() -> None:
    """Between two workers' stretches lies GAP (a late tail of one must not crowd the other);
    a worker's next stretch right after its own needs none (one pacer paces both) and says so,
    so the first one's last second may catch up too. Slots are as far apart as asked, never
    closer than 1/rate."""
    assert PG_URL
    url = await fresh_pg_database(PG_URL)
    stores = [Store.open(url) for _ in range(2)]
    try:
        await stores[0].migrate()
        rate = 100.0
        a, b = (SendBudget(s.engine, rate=rate) for s in stores)
        a1 = await a.reserve_stretch(50)  # 0.5 s
        a2 = await a.reserve_stretch(50, interval=0.012)  # 0.6 s at the asked spacing
        b1 = await b.reserve_stretch(50, interval=0.001)  # closer than 1/rate: 1/rate
        a3 = await a.reserve_stretch(10)
        assert a1 and a2 and b1 and a3
        assert (a2.interval, b1.interval) == (0.012, 0.01)

        def end(s: Stretch) -> float:
            return s.start + s.slots * s.interval

        # Both budgets read PostgreSQL's clock onto this process's one monotonic clock, each
        # within a few milliseconds.
        assert a2.after_own and abs(a2.start - end(a1)) < 0.005
        assert not b1.after_own and b1.start - end(a2) > GAP - 0.005
        assert not a3.after_own and a3.start - end(b1) > GAP - 0.005
        assert all(s.strict_end for s in (a1, a2, b1, a3))
        # the schedule's end is a's (a missed row's retry follows it with no gap), busy for
        # about as long as what was reserved
        assert await a.ends_with_mine() and not await b.ends_with_mine()
        busy, _ = await a.schedule()
        assert busy == pytest.approx(end(a3) - time.monotonic(), abs=0.05)
    finally:
        for s in stores:
            await s.aclose()
        await drop_pg_database(url)
