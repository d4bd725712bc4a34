"""/healthz and /metrics served for real: an aiohttp server on 127.0.0.1 (a free port) over a
real database, asked with an aiohttp client."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from bot.app.health import beat
from bot.app.ops_http import ExtraRoutes, bound_port, ops_app, start_ops_server, stop_ops_server
from jobs import metrics
from storage.store import Store
from tests.fakes.clock import FakeClock

NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)

Serve = Callable[..., Awaitable[str]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """Starts ops apps on 127.0.0.1:0; returns their base URL; stops them after the test."""
    runners: list[web.AppRunner] = []

    async def start(store: Store, clock: FakeClock, **kw: Any) -> str:
        runner = await start_ops_server("127.0.0.1:0", ops_app(store, clock=clock, **kw))
        runners.append(runner)
        return f"http://127.0.0.1:{bound_port(runner)}"

    metrics.use(None)
    yield start
    for runner in runners:
        await stop_ops_server(runner)
    metrics.use(None)


async def get(url: str) -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, response.headers["Content-Type"], await response.text()


async def test_healthz_is_200_with_a_fresh_heartbeat_and_a_moving_outbox(
    any_store: Store, serve: Serve
) -> None:
    clock = FakeClock(NOW)
    await beat(any_store, NOW - timedelta(seconds=30))
    sub, _ = await any_store.subscribers.subscribe("telegram", "1")
    await any_store.deliveries.enqueue_one(sub.id, "article", 1, now=NOW - timedelta(seconds=60))
    base = await serve(any_store, clock)

    status, ctype, body = await get(f"{base}/healthz")
    assert status == 200 and ctype.startswith("application/json")
    data = json.loads(body)
    assert data["ok"] is True and data["reasons"] == []
    assert data["checks"]["scheduler"]["heartbeat_age_seconds"] == 30
    assert data["checks"]["outbox"]["lag_seconds"] == 60


async def test_healthz_is_503_with_the_reason_when_the_heartbeat_is_stale(
    any_store: Store, serve: Serve
) -> None:
    clock = FakeClock(NOW)
    await beat(any_store, NOW)
    base = await serve(any_store, clock, max_heartbeat_age=120)
    assert (await get(f"{base}/healthz"))[0] == 200

    clock.now = NOW + timedelta(minutes=5)  # the scheduler stopped beating
    status, _, body = await get(f"{base}/healthz")
    assert status == 503
    assert "scheduler heartbeat is 300 s old (limit 120 s)" in body

    await beat(any_store, clock.now)  # a standby took over
    assert (await get(f"{base}/healthz"))[0] == 200


async def test_healthz_is_503_when_no_scheduler_ever_ran_or_the_outbox_is_stuck(
    any_store: Store, serve: Serve
) -> None:
    clock = FakeClock(NOW)
    base = await serve(any_store, clock, max_outbox_lag=600)
    status, _, body = await get(f"{base}/healthz")
    assert status == 503 and "no scheduler has ever run" in body

    await beat(any_store, NOW)
    sub, _ = await any_store.subscribers.subscribe("telegram", "1")
    await any_store.deliveries.enqueue_one(sub.id, "article", 1, now=NOW - timedelta(hours=1))
    status, _, body = await get(f"{base}/healthz")
    assert status == 503 and "oldest due outbox row has waited 3600 s" in body

    # A worker that must not be judged by the scheduler or the outbox skips those checks.
    lenient = await serve(any_store, clock, max_heartbeat_age=None, max_outbox_lag=None)
    assert (await get(f"{lenient}/healthz"))[0] == 200


async def test_healthz_is_503_when_the_database_is_unreachable(
    tmp_path: Path, serve: Serve
) -> None:
    store = Store.open(f"sqlite:///{tmp_path}/no/such/dir/bantin.db")
    try:
        base = await serve(store, FakeClock(NOW))
        status, _, body = await get(f"{base}/healthz")
    finally:
        await store.aclose()
    assert status == 503 and "database: unreachable" in body


async def test_metrics_text_has_the_names_and_the_outbox_depth(
    any_store: Store, serve: Serve
) -> None:
    subs = [(await any_store.subscribers.subscribe("telegram", str(n)))[0] for n in range(5)]
    for sub in subs:
        await any_store.deliveries.enqueue_one(sub.id, "article", 1, now=NOW)
    await any_store.deliveries.enqueue_one(subs[0].id, "article", 2, now=NOW)
    sent = await any_store.deliveries.claim_due(now=NOW, limit=2, lease_seconds=60)
    await any_store.deliveries.mark_sent(sent[0].id, message_id="9", now=NOW)
    pending = (await any_store.deliveries.counts()).get("pending", 0)
    assert pending == 4  # 6 queued, one sent, one leased

    metrics.poll("ok")
    metrics.delivery("sent", "telegram", 0.12)
    base = await serve(any_store, FakeClock(NOW))
    status, ctype, body = await get(f"{base}/metrics")
    assert status == 200
    assert ctype.startswith("text/plain") and "version=" in ctype
    families = {f.name: f for f in text_string_to_metric_families(body)}
    for name in (
        "bantin_polls",
        "bantin_fetch_errors",
        "bantin_articles_stored",
        "bantin_deliveries",
        "bantin_send_seconds",
        "bantin_outbox_depth",
        "bantin_rate_limited",
    ):
        assert name in families, name
    assert families["bantin_outbox_depth"].samples[0].value == pending
    rows = {s.labels["status"]: s.value for s in families["bantin_outbox_rows"].samples}
    assert rows == {"pending": 4, "sending": 1, "sent": 1}
    assert 'bantin_polls_total{result="ok"} 1.0' in body


class CallableHandler:
    """Like the webhook handlers: an object, not a coroutine function."""

    async def __call__(self, request: web.Request) -> web.Response:
        return web.Response(text="object " + await request.text())


@pytest.mark.parametrize(
    "routes",
    [
        {"/hook": CallableHandler()},
        [web.post("/hook", CallableHandler().__call__)],
        lambda app: app.router.add_post("/hook", CallableHandler().__call__),
    ],
    ids=["mapping", "routedefs", "callable"],
)
async def test_extra_routes_are_mounted_beside_health_and_metrics(
    store: Store, serve: Serve, routes: ExtraRoutes
) -> None:
    await beat(store, NOW)
    base = await serve(store, FakeClock(NOW), extra_routes=routes)
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{base}/hook", data="hi") as response:
            assert response.status == 200 and await response.text() == "object hi"
        async with session.get(f"{base}/hook") as response:
            assert response.status == 405  # POST only
    assert (await get(f"{base}/healthz"))[0] == 200
