"""`bantin scheduler` and `bantin worker` in-process on SQLite: each runs only its own part and
answers /healthz and /metrics on BANTIN_METRICS_PORT."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx

from bench.support import seed_subscribers
from bot.app.compose import App
from bot.app.roles import run_scheduler, run_worker
from bot.app.settings import Settings
from jobs import metrics
from jobs.ops.leader import LEADER_STATE_KEY
from jobs.route.fanout import queue_announcement
from storage.kinds import AnnouncementStatus
from tests.fakes.net import free_port
from tests.fakes.telegram_api import FakeTelegram


async def _running(
    role: Callable[..., Awaitable[int]], settings: Settings
) -> tuple[App, asyncio.Event, asyncio.Task[int]]:
    stop = asyncio.Event()
    started: asyncio.Future[App] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(role(settings, stop=stop, on_start=started.set_result))
    return await asyncio.wait_for(started, 30), stop, task


async def _get(url: str) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.get(url)


async def test_scheduler_leads_beats_and_is_healthy(tmp_path: Path) -> None:
    counted = metrics.use(None)
    port = free_port()
    settings = Settings(database_url=f"sqlite:///{tmp_path}/s.db", metrics_port=port)
    app, stop, task = await _running(run_scheduler, settings)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            health = await _get(base + "/healthz")
            if health.status_code == 200:
                break
            await asyncio.sleep(0.1)
        assert health.status_code == 200, health.text
        leader = await app.store.state.get(LEADER_STATE_KEY)
        assert leader is not None and " since " in leader
        # the first poll (the bundled sample feed) is counted and scraped
        for _ in range(100):
            if counted.registry.get_sample_value("bantin_polls_total", {"result": "ok"}):
                break
            await asyncio.sleep(0.1)
        scraped = await _get(base + "/metrics")
        assert scraped.status_code == 200
        assert 'bantin_polls_total{result="ok"} 1.0' in scraped.text
        stored = counted.registry.get_sample_value("bantin_articles_stored_total")
        assert stored is not None and stored >= 1
    finally:
        stop.set()
        assert await asyncio.wait_for(task, 30) == 0


async def test_worker_delivers_the_outbox_counts_it_and_stops_cleanly(
    tmp_path: Path, telegram_api: FakeTelegram
) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/w.db",
        quiet_hours="off",
        telegram_token=telegram_api.token,  # type: ignore[arg-type]
        telegram_api_url=telegram_api.api_url,
    )
    counted = metrics.use(None)
    app, stop, task = await _running(run_worker, settings)
    try:
        chats = await seed_subscribers(app.store, 20)
        telegram_api.block(chats[0])
        ann = await app.store.announcements.create("Lịch cắt điện", created_by="t")
        now = datetime.now(UTC)
        await app.store.announcements.transition(
            ann.id, frm=AnnouncementStatus.DRAFT, to=AnnouncementStatus.QUEUED, now=now
        )
        assert await queue_announcement(app.store, ann.id, now=now) == 20
        # no wake-up from another process: the worker finds the rows by itself
        await telegram_api.async_wait_until_count(19, timeout=30)
        await telegram_api.async_wait_until(
            lambda: _sample(counted, "bantin_deliveries_total", "blocked") == 1, timeout=10
        )
        assert await app.store.state.get(LEADER_STATE_KEY) is None, "a worker never leads"
        # what start-up built is out of the collector's full passes (a 50-100 ms stall each)
        assert gc.get_freeze_count() > 10_000
    finally:
        stop.set()
        assert await asyncio.wait_for(task, 30) == 0
    assert (await _counts(settings)) == {"sent": 19, "blocked": 1}
    assert _sample(counted, "bantin_deliveries_total", "sent") == 19
    latency = counted.registry.get_sample_value(
        "bantin_send_seconds_count", {"platform": "telegram"}
    )
    assert latency == 20


def _sample(m: metrics.Metrics, name: str, status: str) -> float | None:
    return m.registry.get_sample_value(name, {"status": status, "platform": "telegram"})


async def _counts(settings: Settings) -> dict[str, int]:
    from storage.store import Store

    store = Store.open(settings.database_url)
    try:
        return await store.deliveries.counts()
    finally:
        await store.aclose()
