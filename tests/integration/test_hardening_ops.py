"""/healthz may be public: it says what failed, never the database's error text (the log has
it). /metrics reads the database in bounded queries, at most once per few seconds however often
it is scraped. Served for real on 127.0.0.1 over real SQLite files."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import event

from bot.app.compose import App
from bot.app.ops_http import bound_port, ops_app, start_ops_server, stop_ops_server
from bot.app.roles import run_serve
from bot.app.settings import Settings
from jobs import metrics
from storage.store import Store
from tests.fakes.net import free_port
from tests.fakes.telegram_api import FakeTelegram


def now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
async def fresh_metrics() -> AsyncIterator[None]:
    metrics.use(None)
    yield
    metrics.use(None)


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


async def test_healthz_says_what_failed_and_logs_the_detail(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = Store.open(f"sqlite:///{tmp_path}/no/such/dir/bantin.db")
    runner = await start_ops_server("127.0.0.1:0", ops_app(store, clock=now))
    try:
        status, body = await get(f"http://127.0.0.1:{bound_port(runner)}/healthz")
    finally:
        await stop_ops_server(runner)
        await store.aclose()
    assert status == 503 and "database: unreachable" in body
    assert "unable to open" not in body and "OperationalError" not in body
    assert str(tmp_path) not in body
    logged = " ".join(str(getattr(r, "error", "")) for r in caplog.records)
    assert "unable to open database file" in logged  # operators still learn why


async def test_metrics_scrapes_share_one_bounded_read(store: Store, fresh_metrics: None) -> None:
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "deliveries" in statement or "dead_updates" in statement:
            statements.append(statement)

    event.listen(store.engine.sync_engine, "before_cursor_execute", count)
    sub, _ = await store.subscribers.subscribe("telegram", "1")
    await store.deliveries.enqueue_one(sub.id, "article", 1, now=now())
    statements.clear()
    runner = await start_ops_server("127.0.0.1:0", ops_app(store, clock=now))
    try:
        url = f"http://127.0.0.1:{bound_port(runner)}/metrics"
        first = await get(url)
        per_scrape = len(statements)
        answers = await asyncio.gather(*(get(url) for _ in range(20)))
    finally:
        await stop_ops_server(runner)
        event.remove(store.engine.sync_engine, "before_cursor_execute", count)
    assert first[0] == 200 and "bantin_outbox_depth 1.0" in first[1]
    assert all(status == 200 for status, _ in answers)
    assert len(statements) == per_scrape  # 21 scrapes, one read of the database
    assert not any("GROUP BY" in s.upper() for s in statements)  # no whole-table aggregate
    assert all("LIMIT" in s.upper() for s in statements)  # every figure is bounded


async def test_serve_keeps_metrics_off_the_public_listener_when_given_a_metrics_port(
    tmp_path: Path, telegram_api: FakeTelegram
) -> None:
    public, private = free_port(), free_port()
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/serve.db",
        quiet_hours="off",
        telegram_token=telegram_api.token,  # type: ignore[arg-type]
        telegram_api_url=telegram_api.api_url,
        telegram_webhook_url="https://bantin.example.vn/telegram",
        telegram_webhook_secret="s3cret-Token_value",  # type: ignore[arg-type]
        listen=f"127.0.0.1:{public}",
        metrics_port=private,
    )
    stop = asyncio.Event()
    started: asyncio.Future[App] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(run_serve(settings, stop=stop, on_start=started.set_result))
    try:
        await asyncio.wait_for(started, 30)
        public_metrics = (await get(f"http://127.0.0.1:{public}/metrics"))[0]
        public_health = (await get(f"http://127.0.0.1:{public}/healthz"))[0]
        private_metrics = await get(f"http://127.0.0.1:{private}/metrics")
    finally:
        stop.set()
        assert await asyncio.wait_for(task, 30) == 0
    assert public_metrics == 404
    assert public_health in (200, 503)  # load balancers still ask the public listener
    assert private_metrics[0] == 200 and "bantin_outbox_depth" in private_metrics[1]
