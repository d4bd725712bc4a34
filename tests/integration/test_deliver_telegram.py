"""The deliverer with python-telegram-bot's real HTTP client against the fake Bot API."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from bot.adapters.telegram.adapter import TelegramChannel, make_bot
from jobs.channel import OutMessage
from jobs.route.fanout import queue_announcement
from jobs.send.deliverer import Deliverer
from jobs.send.pacing import WIRE_SLOT, Pacer
from storage.kinds import AnnouncementStatus, OutboxKind
from storage.records import NewArticle
from storage.store import Store
from tests.fakes.telegram_api import FakeTelegram

HOSTILE_TITLE = 'Điều chỉnh giá <xăng> & "dầu" > 20.000đ'


@pytest.fixture
async def channel(telegram_api: FakeTelegram) -> AsyncIterator[TelegramChannel]:
    bot = make_bot(telegram_api.token, telegram_api.api_url, pool_size=16)
    await bot.initialize()
    yield TelegramChannel(bot)
    await bot.shutdown()


def clock() -> datetime:
    return datetime.now(UTC)


async def _subscribe(store: Store, chats: list[int]) -> None:
    for chat in chats:
        await store.subscribers.subscribe("telegram", str(chat))


async def _announce(store: Store, text: str = "Thông báo lịch tiếp dân") -> int:
    ann = await store.announcements.create(text, created_by="test")
    await store.announcements.transition(
        ann.id, frm=AnnouncementStatus.DRAFT, to=AnnouncementStatus.QUEUED, now=clock()
    )
    await queue_announcement(store, ann.id, now=clock())
    return ann.id


def _deliverer(
    store: Store, channel: TelegramChannel, rate: float = 200, **kw: object
) -> Deliverer:
    return Deliverer(store, {"telegram": channel}, rate=rate, concurrency=8, clock=clock, **kw)  # type: ignore[arg-type]


async def test_article_push_with_hostile_title_and_huge_body(
    store: Store, channel: TelegramChannel, telegram_api: FakeTelegram
) -> None:
    await _subscribe(store, [101])
    feed, _ = await store.feeds.add("https://p.example/rss", name="Cổng <TTĐT>")
    body = 'Nội dung & <chi tiết> "quan trọng". ' * 300
    [art] = await store.articles.add(
        feed.id,
        [
            NewArticle(
                "g",
                "https://p.example/a?x=1&y=2",
                HOSTILE_TITLE,
                body[:10_000],
                body[:10_000],
                None,
                (),
                clock(),
            )
        ],
        now=clock(),
        seen=[False],
    )
    await store.deliveries.enqueue_fanout(OutboxKind.ARTICLE, art.id, now=clock())
    await _deliverer(store, channel).run_until_idle()
    [sent] = telegram_api.messages_to(101)
    assert sent.parse_mode == "HTML"
    assert sent.plain_text.startswith(HOSTILE_TITLE)
    assert sent.callback_data == [f"fb:{art.id}"]
    [row] = await store.deliveries.all()
    assert row.status == "sent" and row.message_id == str(sent.message_id)


async def test_blocked_and_missing_chats_are_deactivated(
    store: Store, channel: TelegramChannel, telegram_api: FakeTelegram
) -> None:
    await _subscribe(store, [1, 2, 3, 4])
    telegram_api.block(2)
    telegram_api.fail(chat_id=3, code=400, description="Bad Request: chat not found", times=None)
    telegram_api.fail(chat_id=4, code=403, description="Forbidden: user is deactivated", times=None)
    await _announce(store)
    await _deliverer(store, channel).run_until_idle()
    assert [m.chat_id for m in telegram_api.sent] == [1]
    counts = await store.subscribers.counts()
    assert counts == {"active": 1, "inactive": 3}
    assert await store.deliveries.counts() == {"sent": 1, "blocked": 3}


async def test_rate_limit_waits_and_delivers(
    store: Store, channel: TelegramChannel, telegram_api: FakeTelegram
) -> None:
    await _subscribe(store, [1, 2, 3])
    telegram_api.fail(chat_id=2, code=429, retry_after=1, times=1)
    await _announce(store)
    await _deliverer(store, channel).run_until_idle()
    assert sorted(m.chat_id for m in telegram_api.sent) == [1, 2, 3]
    rows = await store.deliveries.all()
    assert all(r.status == "sent" for r in rows)
    assert all(r.attempts == 0 for r in rows)  # a 429 is not a failure


async def test_migrated_group_gets_the_message_at_its_new_id(
    store: Store, channel: TelegramChannel, telegram_api: FakeTelegram
) -> None:
    await _subscribe(store, [-100])
    telegram_api.fail(chat_id=-100, code=400, migrate_to_chat_id=-1009999, times=1)
    await _announce(store)
    await _deliverer(store, channel).run_until_idle()
    assert [m.chat_id for m in telegram_api.sent] == [-1009999]
    sub = await store.subscribers.get("telegram", "-1009999")
    assert sub is not None and sub.active


async def test_server_errors_back_off_then_succeed_or_dead_letter(
    store: Store, channel: TelegramChannel, telegram_api: FakeTelegram
) -> None:
    await _subscribe(store, [1, 2])
    telegram_api.fail(chat_id=1, code=502, times=1)
    telegram_api.fail(chat_id=2, code=502, times=None)
    await _announce(store)
    deliverer = _deliverer(store, channel, max_attempts=2, backoff=lambda attempt: 0.05)
    await deliverer.run_until_idle()
    assert [m.chat_id for m in telegram_api.sent] == [1]
    rows = {r.subscriber_id: r for r in await store.deliveries.all()}
    statuses = sorted(r.status for r in rows.values())
    assert statuses == ["dead", "sent"]
    dead = next(r for r in rows.values() if r.status == "dead")
    assert dead.last_error and "Bad Gateway" in dead.last_error and dead.attempts == 2


async def test_pacing_never_exceeds_the_rate(
    store: Store, channel: TelegramChannel, telegram_api: FakeTelegram
) -> None:
    await _subscribe(store, list(range(1, 41)))
    await _announce(store)
    await _deliverer(store, channel, rate=10).run_until_idle()
    assert len(telegram_api.sent) == 40
    assert telegram_api.max_sends_per_second() <= 10
    assert await store.deliveries.counts(kind=OutboxKind.ANNOUNCEMENT) == {"sent": 40}


async def test_unparseable_markup_falls_back_to_plain_text(
    store: Store, channel: TelegramChannel, telegram_api: FakeTelegram
) -> None:
    await _subscribe(store, [1])
    telegram_api.fail(
        chat_id=1,
        code=400,
        description="Bad Request: can't parse entities: unsupported start tag",
        times=1,
    )
    await _announce(store, "Lịch <b>họp</b>")
    await _deliverer(store, channel).run_until_idle()
    [sent] = telegram_api.sent
    assert sent.parse_mode is None and "Lịch <b>họp</b>" in sent.text


async def test_too_long_answer_is_split_and_sent(
    store: Store, channel: TelegramChannel, telegram_api: FakeTelegram
) -> None:
    """An announcement longer than one message goes out in parts, in order; and a part the
    platform still finds too long is split finer."""
    await _subscribe(store, [1])
    telegram_api.fail(chat_id=1, code=400, description="Bad Request: message is too long", times=1)
    text = "\n\n".join(f"Đoạn {i}: " + "nội dung thông báo " * 60 for i in range(8))
    await _announce(store, text)
    await _deliverer(store, channel).run_until_idle()
    parts = telegram_api.messages_to(1)
    assert len(parts) == 5  # 3 parts of ≤ 4096, the first refused once and sent as 3
    assert "Đoạn 0" in parts[0].plain_text and "Đoạn 7" in parts[-1].plain_text
    assert "".join(p.plain_text for p in parts).count("Đoạn") == 8
    [row] = await store.deliveries.all()
    assert row.status == "sent" and row.message_id == str(parts[0].message_id)


async def test_paid_broadcast_only_when_enabled(
    store: Store, telegram_api: FakeTelegram, channel: TelegramChannel
) -> None:
    await _subscribe(store, [1])
    await _announce(store, "Miễn phí")
    await _deliverer(store, channel).run_until_idle()
    assert "allow_paid_broadcast" not in telegram_api.sent[0].params
    paid = TelegramChannel(channel.bot, paid_broadcast=True)
    await _announce(store, "Trả phí")
    await _deliverer(store, paid).run_until_idle()
    assert telegram_api.sent[1].params["allow_paid_broadcast"] is True


async def test_every_error_at_once_within_the_rate(
    store: Store, telegram_api: FakeTelegram
) -> None:
    """429s, blocks, deactivations, chat not found, a migration, 502s and a timeout together:
    every reachable recipient gets the message once, blocked ones are deactivated, and no
    one-second window at the server holds more than the configured rate."""
    tg = telegram_api
    chats = list(range(1, 41))
    await _subscribe(store, chats)
    tg.fail(chat_id=1, code=429, retry_after=1)
    tg.fail(chat_id=2, code=429, retry_after=2)
    tg.block(3)
    tg.fail(chat_id=4, code=403, description="Forbidden: user is deactivated", times=None)
    tg.fail(chat_id=5, code=400, description="Bad Request: chat not found", times=None)
    tg.fail(chat_id=6, code=400, migrate_to_chat_id=-1006, times=1)
    tg.fail(chat_id=7, code=502, times=2)
    tg.fail(chat_id=8, code=None, delay=1.5, times=1)  # answers after the client gave up
    await _announce(store)
    bot = make_bot(tg.token, tg.api_url, read_timeout=0.5)
    await bot.initialize()
    deliverer = _deliverer(store, TelegramChannel(bot), rate=10, backoff=lambda attempt: 0.2)
    try:
        await deliverer.run_until_idle()
    finally:
        await bot.shutdown()
    got = {m.chat_id for m in tg.sent}
    reachable = (set(chats) - {3, 4, 5, 6}) | {-1006}
    assert reachable <= got
    assert not got & {3, 4, 5, 6}
    per_chat = [m.chat_id for m in tg.sent]
    # Only the timed-out chat may have it twice (Telegram delivered the first try).
    assert all(per_chat.count(c) == 1 for c in reachable - {8})
    assert await store.subscribers.counts() == {"active": 37, "inactive": 3}
    assert tg.max_sends_per_second() <= 10  # counted at arrival, as Telegram counts
    counts = await store.deliveries.counts()
    assert counts == {"sent": 37, "blocked": 3}


async def test_http_layer_reports_the_write_to_the_pacer(
    channel: TelegramChannel, telegram_api: FakeTelegram
) -> None:
    """The pacer's window counts a send from when its body is written (bot/adapters/telegram/http.py
    WireRequest → pacing.on_wire), not from the call; an interactive reply (no slot) is
    unaffected."""
    pacer = Pacer(1000)
    slot = pacer.reserve(time.monotonic())
    called = time.monotonic()
    token = WIRE_SLOT.set(slot)
    try:
        await channel.send("101", OutMessage(text="Thông báo"))
    finally:
        WIRE_SLOT.reset(token)
    assert slot.started_at is not None
    assert called <= slot.started_at <= time.monotonic()
    await channel.send("102", OutMessage(text="Trả lời"))  # no slot in this context
    assert [m.chat_id for m in telegram_api.sent] == [101, 102]


async def test_link_preview_follows_each_subscribers_choice(
    store: Store, channel: TelegramChannel, telegram_api: FakeTelegram
) -> None:
    """One article, rendered once per preview choice: each recipient gets their own."""
    await _subscribe(store, [101, 102, 103])
    wants = await store.subscribers.get("telegram", "102")
    assert wants is not None
    await store.preferences.update(wants.id, link_preview=True)
    feed, _ = await store.feeds.add("https://p.example/rss", name="Cổng")
    [art] = await store.articles.add(
        feed.id,
        [NewArticle("g", "https://p.example/a", "Tin", "Nội dung", "Tóm tắt", None, (), clock())],
        now=clock(),
        seen=[False],
    )
    await store.deliveries.enqueue_fanout(OutboxKind.ARTICLE, art.id, now=clock())
    await _deliverer(store, channel).run_until_idle()
    disabled = {
        chat: telegram_api.messages_to(chat)[0].params["link_preview_options"]["is_disabled"]
        for chat in (101, 102, 103)
    }
    assert disabled == {101: True, 102: False, 103: True}


async def test_stop_hands_back_the_batch_claimed_ahead(
    store: Store, channel: TelegramChannel, telegram_api: FakeTelegram
) -> None:
    """The next batch is claimed while a full one is still being paced; a stop then returns
    those rows to the outbox at once instead of leaving them leased until the lease ends."""
    await _subscribe(store, list(range(1000, 1100)))
    await _announce(store)
    deliverer = _deliverer(store, channel, rate=50)  # batches of 32 (4 x concurrency)
    stop = asyncio.Event()
    running = asyncio.create_task(deliverer.run_forever(stop, idle=0.05))
    await telegram_api.async_wait_until_count(30)  # the ahead claim starts at the 28th row
    stop.set()
    await asyncio.wait_for(running, 10)
    counts = await store.deliveries.counts()
    assert counts.get("sending", 0) == 0
    assert counts.get("sent", 0) == len(telegram_api.sent) < 100
    assert counts["sent"] + counts["pending"] == 100
