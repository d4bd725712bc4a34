"""The outbox survives crashes and stops cleanly: subprocesses against the fake Bot API.

- SIGKILL mid-broadcast, restart: every recipient has the announcement, and no more
  recipients got it twice than the send concurrency (the in-flight window).
- SIGTERM mid-broadcast: the process stops claiming, finishes what is in flight, exits 0,
  leaves nothing leased; a restart sends the rest and nobody gets anything twice.
- A burst of 5,000 /start is answered and stored, none lost.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bench.support import seed_subscribers
from bot.app.compose import App
from bot.app.roles import run_app
from bot.app.settings import Settings
from jobs.route.fanout import queue_announcement
from storage.kinds import AnnouncementStatus
from storage.store import Store
from tests.e2e.conftest import Bantin
from tests.fakes.telegram_api import FakeTelegram

CONCURRENCY = 40


def _broadcast_to(bantin: Bantin, n: int) -> None:
    async def work(store: Store) -> None:
        await seed_subscribers(store, n)
        ann = await store.announcements.create("Thông báo khẩn: lịch cắt điện", created_by="t")
        now = datetime.now(UTC)
        await store.announcements.transition(
            ann.id, frm=AnnouncementStatus.DRAFT, to=AnnouncementStatus.QUEUED, now=now
        )
        assert await queue_announcement(store, ann.id, now=now) == n

    bantin.with_store(work)


def _deliver(
    bantin: Bantin, tg: FakeTelegram, tmp_path: Path, name: str, **env: str
) -> subprocess.Popen[str]:
    defaults = {
        "BANTIN_TELEGRAM_TOKEN": tg.token,
        "BANTIN_TELEGRAM_API_URL": tg.api_url,
        "BANTIN_SEND_RATE": "1000",
        "BANTIN_PAID_BROADCAST": "true",
        "BANTIN_SEND_CONCURRENCY": str(CONCURRENCY),
        "BANTIN_LEASE_SECONDS": "5",
    }
    bantin.env_extra.update({**defaults, **env})
    return bantin.popen("deliver", "--until-idle", stderr=tmp_path / f"{name}.stderr")


def _counts(bantin: Bantin) -> dict[str, int]:
    async def work(store: Store) -> dict[str, int]:
        return await store.deliveries.counts()

    return bantin.with_store(work)


@pytest.mark.slow
def test_sigkill_mid_broadcast_loses_nothing(
    bantin: Bantin, telegram_api: FakeTelegram, tmp_path: Path
) -> None:
    n = 10_000
    _broadcast_to(bantin, n)
    first = _deliver(bantin, telegram_api, tmp_path, "first")
    deadline = time.monotonic() + 120
    while len(telegram_api.sent) < n // 3:
        assert first.poll() is None, "the sender ended before the kill"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    sent_before = len(telegram_api.sent)
    assert sent_before < n

    second = _deliver(bantin, telegram_api, tmp_path, "second")
    assert second.wait(180) == 0, (tmp_path / "second.stderr").read_text()
    per_chat = Counter(m.chat_id for m in telegram_api.sent)
    assert len(per_chat) == n, "every recipient has the announcement"
    twice = [chat for chat, k in per_chat.items() if k > 1]
    assert max(per_chat.values()) <= 2
    assert len(twice) <= CONCURRENCY, f"{len(twice)} recipients got it twice"
    assert _counts(bantin) == {"sent": n}


@pytest.mark.slow
def test_sigterm_finishes_in_flight_and_exits_zero(
    bantin: Bantin, telegram_api: FakeTelegram, tmp_path: Path
) -> None:
    n = 400
    _broadcast_to(bantin, n)
    first = _deliver(bantin, telegram_api, tmp_path, "first", BANTIN_SEND_RATE="50")
    while len(telegram_api.sent) < 60:
        assert first.poll() is None
        time.sleep(0.02)
    first.send_signal(signal.SIGTERM)
    assert first.wait(20) == 0, (tmp_path / "first.stderr").read_text()
    counts = _counts(bantin)
    assert "sending" not in counts, counts  # nothing left leased
    assert counts["sent"] == len(telegram_api.sent) < n

    second = _deliver(bantin, telegram_api, tmp_path, "second")
    assert second.wait(60) == 0
    per_chat = Counter(m.chat_id for m in telegram_api.sent)
    assert len(per_chat) == n and max(per_chat.values()) == 1
    assert _counts(bantin) == {"sent": n}


@pytest.mark.slow
async def test_burst_of_5000_starts_is_answered_and_stored(
    tmp_path: Path, telegram_api: FakeTelegram
) -> None:
    tg = telegram_api
    n = 5000
    for i in range(n):
        tg.user_sends(30_000_000 + i, "/start", first_name=f"Dân {i}")
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/burst.db",
        quiet_hours="off",  # pushes must not wait for 06:00 when tests run at night
        telegram_token=tg.token,  # type: ignore[arg-type]
        telegram_api_url=tg.api_url,
        send_rate=1000,
        paid_broadcast=True,
        send_concurrency=32,
    )
    stop = asyncio.Event()
    started: asyncio.Future[App] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(run_app(settings, stop=stop, on_start=started.set_result))
    try:
        app = await asyncio.wait_for(started, 30)
        await tg.async_wait_until(lambda: len(tg.sent) >= n, timeout=240)
        assert (await app.store.subscribers.counts())["active"] == n
    finally:
        stop.set()
        assert await asyncio.wait_for(task, 60) == 0
    answered = Counter(m.chat_id for m in tg.sent)
    assert len(answered) == n and max(answered.values()) == 1
    assert tg.pending_updates == 0
