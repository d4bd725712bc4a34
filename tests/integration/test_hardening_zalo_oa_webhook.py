"""The Zalo OA webhook trusts nothing before the signature, refuses stale events and
recognises repeats: OAWebhook served on loopback, events signed like FakeZaloOA (as Zalo
does), a real SQLite file. Also the Zalo Bot webhook's refusal of absurd bodies."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import httpx
import pytest

from bot.adapters.zalo.bot_platform import UpdateIntake, start_webhook_server, webhook_handler
from bot.adapters.zalo.official_account import PLATFORM, OAWebhook
from bot.dialog.events import Event, Text
from storage.store import Store
from tests.fakes.net import free_port
from tests.fakes.zalo_oa_api import FakeZaloOA

DEPTH = 5_000  # far past json's recursion limit, still a small body (10 KB)


def now() -> datetime:
    return datetime.now(UTC)


def now_ms() -> int:
    return int(time.time() * 1000)


@pytest.fixture
def oa() -> Iterator[FakeZaloOA]:
    with FakeZaloOA() as fake:
        yield fake


class Served:
    def __init__(self, url: str) -> None:
        self.url = url
        self.got: list[Event] = []

    async def post(self, body: object, headers: dict[str, str] | None = None) -> int:
        async with httpx.AsyncClient() as client:
            response = await client.post(self.url, content=body, headers=headers or {})  # type: ignore[arg-type]
        return response.status_code


@pytest.fixture
async def hook(oa: FakeZaloOA, store: Store) -> AsyncIterator[Served]:
    port = free_port()
    served = Served(f"http://127.0.0.1:{port}/zalo/oa")

    async def handle(event: Event) -> None:
        served.got.append(event)

    webhook = OAWebhook(
        app_id=oa.app_id,
        secret=oa.oa_secret,
        repo=store.zalo,
        store=store,
        handle=handle,
        clock=now,
    )
    runner = await start_webhook_server(f"127.0.0.1:{port}", {"/zalo/oa": webhook})
    try:
        yield served
    finally:
        await runner.cleanup()


def _deep(stamp: str) -> bytes:
    return b'{"timestamp": "' + stamp.encode() + b'", "x": ' + b"[" * DEPTH + b"]" * DEPTH + b"}"


def _errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


async def test_unsigned_deep_body_is_refused_before_parsing(
    oa: FakeZaloOA, hook: Served, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    body = _deep(str(now_ms()))
    assert await hook.post(body, {"Content-Type": "application/json"}) == 401
    forged = oa.sign_raw(body, str(now_ms()), signature="mac=" + "0" * 64)
    assert await hook.post(body, forged) == 401
    assert _errors(caplog) == [] and hook.got == []


async def test_signed_deep_body_is_a_bad_request_not_a_crash(
    oa: FakeZaloOA, hook: Served, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    stamp = str(now_ms())
    body = _deep(stamp)
    assert await hook.post(body, oa.sign_raw(body, stamp)) == 400
    assert _errors(caplog) == [] and hook.got == []


async def test_stale_and_future_events_are_refused_a_fresh_replay_is_dropped(
    oa: FakeZaloOA, hook: Served, store: Store
) -> None:
    stale = oa.text_event("u1", "Tin cũ", at_ms=now_ms() - 3600 * 1000)
    assert await oa.send_event(hook.url, stale) == 400
    ahead = oa.text_event("u1", "Tin từ tương lai", at_ms=now_ms() + 3600 * 1000)
    assert await oa.send_event(hook.url, ahead) == 400
    undated = oa.text_event("u1", "Không có giờ")
    del undated["timestamp"]
    assert await oa.send_event(hook.url, undated) == 400
    assert hook.got == [] and await store.zalo.last_contact(PLATFORM, "u1") is None

    fresh = oa.text_event("u1", "Xin chào")
    assert await oa.send_event(hook.url, fresh) == 200
    assert await oa.send_event(hook.url, fresh) == 200  # captured and replayed at once
    assert [e.text for e in hook.got if isinstance(e, Text)] == ["Xin chào"]


async def test_an_event_without_msg_id_is_handled_once(oa: FakeZaloOA, hook: Served) -> None:
    event = oa.text_event("u2", "Đường hỏng", msg_id=False)
    assert await oa.send_event(hook.url, event) == 200
    assert await oa.send_event(hook.url, event) == 200  # Zalo's retry: the same signed body
    other = oa.text_event("u2", "Đèn hỏng", msg_id=False)
    assert await oa.send_event(hook.url, other) == 200  # a different event is not a repeat
    again = oa.text_event("u2", "Cống tắc", msg_id=False)
    both = await asyncio.gather(oa.send_event(hook.url, again), oa.send_event(hook.url, again))
    assert both == [200, 200]  # a retry racing the first delivery is dropped all the same
    texts = [e.text for e in hook.got if isinstance(e, Text)]
    assert texts == ["Đường hỏng", "Đèn hỏng", "Cống tắc"]


async def test_oversized_body_is_refused_with_413(oa: FakeZaloOA, hook: Served) -> None:
    big = oa.text_event("u3", "chữ " * 20_000)  # ~100 KB: no real event is near this
    body, headers = oa.signed(big)
    assert await hook.post(body, headers) == 413

    async def chunked() -> AsyncIterator[bytes]:  # no Content-Length to go by
        for start in range(0, len(body), 8192):
            yield body[start : start + 8192]

    assert await hook.post(chunked(), headers) == 413
    assert hook.got == []


async def test_zalo_bot_webhook_deep_body_is_a_bad_request(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    got: list[Event] = []

    async def handle(event: Event) -> None:
        got.append(event)

    secret = "s3cret-webhook-token"
    port = free_port()
    intake = UpdateIntake(store.zalo, handle, clock=now)
    runner = await start_webhook_server(
        f"127.0.0.1:{port}", {"/zalo/bot": webhook_handler(secret, intake)}
    )
    try:
        served = Served(f"http://127.0.0.1:{port}/zalo/bot")
        headers = {"X-Bot-Api-Secret-Token": secret, "Content-Type": "application/json"}
        assert await served.post(b"[" * DEPTH + b"]" * DEPTH, headers) == 400
        assert await served.post(json.dumps({"ok": True}).encode(), headers) == 200
    finally:
        await runner.cleanup()
    assert _errors(caplog) == [] and got == []


async def test_seen_ids_outlast_the_event_window_and_the_retention_job_prunes_them(
    store: Store,
) -> None:
    """A replay the window lets through is still remembered; ids go only after SEEN_KEEP."""
    from datetime import timedelta

    from bot.app.settings import Settings
    from jobs.ops.retention import prune
    from storage.zalo import SEEN_KEEP

    widest = Settings.model_fields["zalo_oa_event_max_age"].metadata
    assert max(getattr(m, "le", 0) for m in widest) < SEEN_KEEP.total_seconds()
    with pytest.raises(ValueError):
        Settings(zalo_oa_event_max_age=int(SEEN_KEEP.total_seconds()))

    repo = store.zalo
    at = now()
    await repo.mark_seen(PLATFORM, "old", at - SEEN_KEEP - timedelta(hours=1))
    await repo.mark_seen(PLATFORM, "recent", at - timedelta(days=1))
    report = await prune(store, now=at, delivered_days=30, article_days=180)
    assert report.seen_ids == 1
    assert not await repo.was_seen(PLATFORM, "old") and await repo.was_seen(PLATFORM, "recent")
