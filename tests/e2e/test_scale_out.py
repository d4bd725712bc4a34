"""Scale-out on PostgreSQL: `bantin worker` and `bantin scheduler` as real processes.

- Three workers share one 20,000-recipient broadcast: every recipient gets it exactly once.
- Two schedulers: one active, one standby; SIGKILL the active one and the standby takes over
  within 30 s (the advisory lock dies with the killed process's connection).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import pytest

from bench.support import drop_pg_database, fresh_pg_database, seed_subscribers
from jobs.ops.leader import LEADER_STATE_KEY
from jobs.route.fanout import queue_announcement
from storage.kinds import AnnouncementStatus
from storage.store import Store
from tests.e2e.conftest import Bantin
from tests.fakes.telegram_api import FakeTelegram
from tests.integration.conftest import PG_URL

T = TypeVar("T")

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not PG_URL, reason="PostgreSQL test: set BANTIN_TEST_DATABASE_URL"),
]


@pytest.fixture
def pg_url() -> Iterator[str]:
    assert PG_URL
    url = asyncio.run(fresh_pg_database(PG_URL))
    yield url
    asyncio.run(drop_pg_database(url))


def _with_store(url: str, work: Callable[[Store], Awaitable[T]]) -> T:
    async def go() -> T:
        store = Store.open(url)
        try:
            await store.migrate()
            return await work(store)
        finally:
            await store.aclose()

    return asyncio.run(go())


def _stop_all(procs: list[subprocess.Popen[str]], sig: int = signal.SIGTERM) -> list[int]:
    for p in procs:
        if p.poll() is None:
            p.send_signal(sig)
    return [p.wait(30) for p in procs]


@pytest.mark.slow
def test_three_workers_deliver_20000_exactly_once(
    bantin: Bantin, telegram_api: FakeTelegram, tmp_path: Path, pg_url: str
) -> None:
    n = 20_000

    async def seed(store: Store) -> None:
        await seed_subscribers(store, n)
        ann = await store.announcements.create("Thông báo: lịch tiêm chủng", created_by="t")
        now = datetime.now(UTC)
        await store.announcements.transition(
            ann.id, frm=AnnouncementStatus.DRAFT, to=AnnouncementStatus.QUEUED, now=now
        )
        assert await queue_announcement(store, ann.id, now=now) == n

    _with_store(pg_url, seed)
    bantin.env_extra.update(
        {
            "BANTIN_DATABASE_URL": pg_url,
            "BANTIN_TELEGRAM_TOKEN": telegram_api.token,
            "BANTIN_TELEGRAM_API_URL": telegram_api.api_url,
            "BANTIN_SEND_RATE": "1000",
            "BANTIN_PAID_BROADCAST": "true",
            "BANTIN_SEND_CONCURRENCY": "30",
        }
    )
    workers = [bantin.popen("worker", stderr=tmp_path / f"w{i}.stderr") for i in range(3)]
    try:
        deadline = time.monotonic() + 300
        while len(telegram_api.sent) < n:
            for i, w in enumerate(workers):
                assert w.poll() is None, (tmp_path / f"w{i}.stderr").read_text()[-3000:]
            assert time.monotonic() < deadline, f"only {len(telegram_api.sent)} sent"
            time.sleep(0.2)
        time.sleep(1.0)  # anything sent twice would arrive now
    finally:
        codes = _stop_all(workers)
    assert codes == [0, 0, 0], [(tmp_path / f"w{i}.stderr").read_text()[-2000:] for i in range(3)]
    per_chat = Counter(m.chat_id for m in telegram_api.sent)
    assert len(per_chat) == n, "every recipient has the announcement"
    assert max(per_chat.values()) == 1, "nobody got it twice"

    async def counts(store: Store) -> dict[str, int]:
        return await store.deliveries.counts()

    assert _with_store(pg_url, counts) == {"sent": n}
    # every worker did a share of the work: the outbox really was shared
    logs = [(tmp_path / f"w{i}.stderr").read_text() for i in range(3)]
    assert all("worker running" in text for text in logs)


def _leader(url: str) -> str | None:
    async def read(store: Store) -> str | None:
        return await store.state.get(LEADER_STATE_KEY)

    return _with_store(url, read)


def _pid_of(leader: str | None) -> int | None:
    """`host:pid since time` → pid."""
    if not leader:
        return None
    who = leader.split(" ", 1)[0]
    return int(who.rpartition(":")[2])


@pytest.mark.slow
def test_standby_scheduler_takes_over_within_30_seconds(
    bantin: Bantin, tmp_path: Path, pg_url: str
) -> None:
    bantin.env_extra.update({"BANTIN_DATABASE_URL": pg_url, "BANTIN_LEADER_RETRY": "2"})
    _with_store(pg_url, lambda store: asyncio.sleep(0))  # migrate once, before both start
    first = bantin.popen("scheduler", stderr=tmp_path / "s1.stderr")
    procs = [first]
    try:
        deadline = time.monotonic() + 60
        while _pid_of(_leader(pg_url)) != first.pid:
            assert first.poll() is None, (tmp_path / "s1.stderr").read_text()[-3000:]
            assert time.monotonic() < deadline, "the first scheduler never became active"
            time.sleep(0.3)
        second = bantin.popen("scheduler", stderr=tmp_path / "s2.stderr")
        procs.append(second)
        deadline = time.monotonic() + 60
        while "standby" not in (tmp_path / "s2.stderr").read_text():
            assert second.poll() is None, (tmp_path / "s2.stderr").read_text()[-3000:]
            assert time.monotonic() < deadline, "the second scheduler never stood by"
            time.sleep(0.2)
        time.sleep(3)  # a few of the standby's retries: it must not take over while first lives
        assert _pid_of(_leader(pg_url)) == first.pid

        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
        killed_at = time.monotonic()
        while _pid_of(_leader(pg_url)) != second.pid:
            assert second.poll() is None, (tmp_path / "s2.stderr").read_text()[-3000:]
            assert time.monotonic() - killed_at < 30, "the standby did not take over in 30 s"
            time.sleep(0.2)
        took = time.monotonic() - killed_at
        assert "scheduler active" in (tmp_path / "s2.stderr").read_text()
        print(f"standby took over {took:.1f} s after SIGKILL")
    finally:
        codes = _stop_all(procs)
    assert codes[-1] == 0
