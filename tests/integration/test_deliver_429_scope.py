"""A 429 pauses one chat or everyone: the deliverer against the fake Bot API.

Retry-after values are longer than the deliverer's idle horizon, so `run_until_idle` returns
while the paused rows still wait: what was delivered meanwhile is then plain to count, and no
assertion depends on how fast this machine is.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from bot.adapters.telegram.adapter import TelegramChannel, make_bot
from jobs.route.fanout import queue_announcement
from jobs.send.deliverer import Deliverer
from storage.kinds import AnnouncementStatus
from storage.store import Store
from tests.fakes.telegram_api import FakeTelegram

LONG = 120  # seconds: beyond the idle horizon (61 s with the default lease)
CONCURRENCY = 8


def clock() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
async def channel(telegram_api: FakeTelegram) -> AsyncIterator[TelegramChannel]:
    bot = make_bot(telegram_api.token, telegram_api.api_url, pool_size=16)
    await bot.initialize()
    yield TelegramChannel(bot)
    await bot.shutdown()


async def _broadcast(store: Store, channel: TelegramChannel) -> Deliverer:
    ann = await store.announcements.create("Thông báo lịch tiếp dân", created_by="test")
    await store.announcements.transition(
        ann.id, frm=AnnouncementStatus.DRAFT, to=AnnouncementStatus.QUEUED, now=clock()
    )
    await queue_announcement(store, ann.id, now=clock())
    deliverer = Deliverer(
        store, {"telegram": channel}, rate=200, concurrency=CONCURRENCY, clock=clock
    )
    await deliverer.run_until_idle()
    return deliverer


def _send_calls(tg: FakeTelegram) -> list[int]:
    return [int(c.chat_id) for c in tg.calls if c.method == "sendMessage" and c.chat_id]


async def test_a_group_429_does_not_stop_other_chats(
    store: Store, channel: TelegramChannel, telegram_api: FakeTelegram
) -> None:
    """The group's own limit (20/min): only the group waits; everyone else is delivered."""
    tg = telegram_api
    await store.subscribers.subscribe("telegram", "-100123", chat_type="supergroup")
    privates = list(range(1, 31))
    for chat in privates:
        await store.subscribers.subscribe("telegram", str(chat))
    tg.fail(chat_id=-100123, code=429, retry_after=LONG, times=1)
    await _broadcast(store, channel)
    assert sorted(m.chat_id for m in tg.sent) == privates  # delivered during the group's pause
    assert _send_calls(tg).count(-100123) == 1  # tried once, then left alone
    rows = {r.status for r in await store.deliveries.all()}
    assert rows == {"sent", "pending"}
    [waiting] = await store.deliveries.all(status="pending")
    assert waiting.attempts == 0  # a 429 is never a failure
    assert waiting.last_error  # Telegram's words, for operators


async def test_a_flood_429_pauses_everyone(
    store: Store, channel: TelegramChannel, telegram_api: FakeTelegram
) -> None:
    """Telegram refuses every chat: the deliverer stops at the first 429 instead of trying
    every recipient, and every row waits for the retry, unfailed."""
    tg = telegram_api
    chats = list(range(1, 41))
    for chat in chats:
        await store.subscribers.subscribe("telegram", str(chat))
    tg.fail(chat_id=None, code=429, retry_after=LONG, times=None)
    await _broadcast(store, channel)
    assert tg.sent == []
    # Only the sends already in flight when the 429 came back reached the server.
    assert len(_send_calls(tg)) <= CONCURRENCY + 2
    rows = await store.deliveries.all()
    assert {r.status for r in rows} == {"pending"}
    assert all(r.attempts == 0 for r in rows)


async def test_groups_refused_together_are_a_flood(
    store: Store, channel: TelegramChannel, telegram_api: FakeTelegram
) -> None:
    """One group's 429 looks like its own limit, but a second group refused right after it
    means Telegram is refusing the bot: everyone pauses."""
    tg = telegram_api
    groups = [-1000 - i for i in range(30)]
    for chat in groups:
        await store.subscribers.subscribe("telegram", str(chat), chat_type="group")
    tg.fail(chat_id=None, code=429, retry_after=LONG, times=None)
    await _broadcast(store, channel)
    assert tg.sent == []
    assert len(_send_calls(tg)) <= CONCURRENCY + 3
    rows = await store.deliveries.all()
    assert {r.status for r in rows} == {"pending"} and all(r.attempts == 0 for r in rows)
