"""A staff answer is owed to the citizen whatever their news subscription: it reaches a citizen
who unsubscribed, and when the citizen blocked the bot the ticket says so and the staff chat is
told. Real SQLite file, python-telegram-bot against the fake Bot API on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from bot.adapters.telegram.adapter import TelegramChannel, make_bot
from jobs.send.deliverer import Deliverer
from jobs.staff.forward import forward_feedback
from storage.kinds import DeliveryStatus, OutboxKind, TicketState
from storage.store import Store
from tests.fakes.telegram_api import FakeTelegram

CITIZEN = 701
STAFF_CHAT = "-900"


def clock() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
async def channel(telegram_api: FakeTelegram) -> AsyncIterator[TelegramChannel]:
    bot = make_bot(telegram_api.token, telegram_api.api_url)
    await bot.initialize()
    yield TelegramChannel(bot)
    await bot.shutdown()


async def _ticket_with_answer(store: Store, text: str = "Đã sửa đèn đường") -> tuple[int, int]:
    """A citizen's ticket, its card in the staff chat not needed; returns (ticket, answer)."""
    sub, _ = await store.subscribers.subscribe("telegram", str(CITIZEN))
    ticket = await store.feedback.add(sub.id, None, "Đèn đường hỏng", now=clock())
    answer = await store.feedback.add_answer(
        ticket.id, staff_user="telegram:1", text=text, now=clock()
    )
    assert answer is not None
    await store.deliveries.enqueue_one(sub.id, OutboxKind.ANSWER, answer.id, now=clock())
    return ticket.id, answer.id


def _deliverer(store: Store, channel: TelegramChannel) -> Deliverer:
    return Deliverer(store, {"telegram": channel}, rate=None, concurrency=4, clock=clock)


async def test_unsubscribed_citizen_still_gets_the_answer(
    store: Store, channel: TelegramChannel, telegram_api: FakeTelegram
) -> None:
    _, answer_id = await _ticket_with_answer(store)
    sub = await store.subscribers.get("telegram", str(CITIZEN))
    assert sub is not None
    # What /stop does (bot/dialog/flows/subscription.py): the subscription ends, queued news is
    # dropped.
    assert await store.subscribers.deactivate(sub.id, "unsubscribed")
    await store.deliveries.cancel_pending_for(sub.id, reason="unsubscribed")

    await _deliverer(store, channel).run_until_idle()

    [row] = await store.deliveries.all()
    assert (row.kind, row.item_id, row.status) == (
        OutboxKind.ANSWER,
        answer_id,
        DeliveryStatus.SENT,
    )
    [message] = telegram_api.messages_to(CITIZEN)
    assert "Đã sửa đèn đường" in message.plain_text


async def test_unsubscribed_citizen_gets_no_news(store: Store, channel: TelegramChannel) -> None:
    """Only owed replies pass: news queued before /stop is still cancelled."""
    sub, _ = await store.subscribers.subscribe("telegram", str(CITIZEN))
    await store.deliveries.enqueue_one(sub.id, "article", 12345, now=clock())
    await store.subscribers.deactivate(sub.id, "unsubscribed")
    await _deliverer(store, channel).run_until_idle()
    [row] = await store.deliveries.all()
    assert row.status == "cancelled"


async def test_blocked_citizen_answer_is_marked_and_staff_are_told(
    store: Store, channel: TelegramChannel, telegram_api: FakeTelegram
) -> None:
    tg = telegram_api
    ticket_id, answer_id = await _ticket_with_answer(store)
    # The card went to the staff chat before the answer was written.
    assert await forward_feedback(store, channel, STAFF_CHAT, clock=clock) == 1
    [card] = tg.messages_to(int(STAFF_CHAT))
    tg.block(CITIZEN)

    await _deliverer(store, channel).run_until_idle()

    [row] = await store.deliveries.all()
    assert row.status == DeliveryStatus.BLOCKED
    ticket = await store.feedback.get(ticket_id)
    assert ticket is not None
    # no longer «answered»: the citizen never got it
    assert ticket.status == TicketState.IN_PROGRESS
    assert ticket.delivery_error and "blocked" in ticket.delivery_error
    answer = await store.feedback.message(answer_id)
    assert answer is not None and answer.delivery_error

    # The forwarder's next run tells the staff chat, under the card, and updates the card.
    await forward_feedback(store, channel, STAFF_CHAT, clock=clock)
    notices = [m for m in tg.messages_to(int(STAFF_CHAT)) if m.message_id != card.message_id]
    assert len(notices) == 1
    assert f"#{ticket_id}" in notices[0].plain_text
    assert "không gửi được" in notices[0].plain_text
    edited = tg.current_message(int(STAFF_CHAT), card.message_id)
    assert edited is not None and "chưa tới được người dân" in str(edited.get("text"))
    # Told once.
    await forward_feedback(store, channel, STAFF_CHAT, clock=clock)
    assert len(tg.messages_to(int(STAFF_CHAT))) == 2
