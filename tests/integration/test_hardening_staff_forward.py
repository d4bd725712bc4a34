"""Forwarding feedback to the staff chat never stops for good: a staff group Telegram moved to
a supergroup is followed (the new id stored and used from then on), and a card the staff chat
refuses becomes a dead letter staff can see, not a wall in front of the later cards. Real
SQLite file, python-telegram-bot against the fake Bot API on loopback."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import pytest

from bot.adapters.telegram.adapter import TelegramChannel, make_bot
from jobs.render.cards import render_inbox
from jobs.staff.forward import current_staff_chat, forward_feedback
from storage.store import Store
from tests.fakes.telegram_api import JSON, ApiError, FakeTelegram

STAFF_CHAT = "-900"
SUPERGROUP = "-100900"


def clock() -> datetime:
    return datetime.now(UTC)


class RefusingTelegram(FakeTelegram):
    """Refuses every message that carries POISON, as Telegram refuses a card it cannot take
    (whatever the markup), and takes everything else."""

    def _m_sendmessage(self, params: JSON) -> JSON:
        if "POISON" in str(params.get("text")):
            raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
        return super()._m_sendmessage(params)


@pytest.fixture
def refusing() -> Iterator[RefusingTelegram]:
    with RefusingTelegram(token="123:TEST") as fake:
        yield fake


async def _channel(fake: FakeTelegram) -> TelegramChannel:
    bot = make_bot(fake.token, fake.api_url)
    await bot.initialize()
    return TelegramChannel(bot)


@pytest.fixture
async def channel(telegram_api: FakeTelegram) -> AsyncIterator[TelegramChannel]:
    ch = await _channel(telegram_api)
    yield ch
    await ch.bot.shutdown()


async def _feedback(store: Store, chat: int, text: str) -> int:
    sub, _ = await store.subscribers.subscribe("telegram", str(chat), display_name="Dân")
    return (await store.feedback.add(sub.id, None, text, now=clock())).id


async def test_a_migrated_staff_group_is_followed(
    store: Store,
    channel: TelegramChannel,
    telegram_api: FakeTelegram,
    caplog: pytest.LogCaptureFixture,
) -> None:
    tg = telegram_api
    tg.fail(
        chat_id=int(STAFF_CHAT),
        method=None,
        code=400,
        migrate_to_chat_id=int(SUPERGROUP),
        times=None,
    )
    first = await _feedback(store, 801, "Ổ gà trên đường Lê Lợi")
    with caplog.at_level(logging.WARNING, logger="jobs.staff.forward"):
        assert await forward_feedback(store, channel, STAFF_CHAT, clock=clock) == 1
    [card] = tg.messages_to(int(SUPERGROUP))
    assert "Ổ gà" in card.plain_text
    ticket = await store.feedback.get(first)
    assert ticket is not None and ticket.forwarded_chat_id == SUPERGROUP
    assert str(ticket.forwarded_message_id) == str(card.message_id)
    [warning] = [r for r in caplog.records if "staff chat moved" in r.getMessage()]
    assert warning.new_chat == SUPERGROUP and warning.setting == "BANTIN_STAFF_CHAT_ID"  # type: ignore[attr-defined]
    assert await current_staff_chat(store, "telegram", STAFF_CHAT) == SUPERGROUP

    # From then on the new chat directly: the old one is not asked again.
    old_calls = len([c for c in tg.calls if str(c.chat_id) == STAFF_CHAT])
    await _feedback(store, 802, "Cây đổ chắn đường")
    assert await forward_feedback(store, channel, STAFF_CHAT, clock=clock) == 1
    assert len(tg.messages_to(int(SUPERGROUP))) == 2
    assert len([c for c in tg.calls if str(c.chat_id) == STAFF_CHAT]) == old_calls


async def test_a_refused_card_is_a_dead_letter_not_a_wall(
    store: Store, refusing: RefusingTelegram
) -> None:
    tg = refusing
    channel = await _channel(tg)
    try:
        bad = await _feedback(store, 811, "POISON: cái này Telegram không nhận")
        good = await _feedback(store, 812, "Nước máy bị đục")
        assert await forward_feedback(store, channel, STAFF_CHAT, clock=clock) == 1

        staff = tg.messages_to(int(STAFF_CHAT))
        assert any("Nước máy bị đục" in m.plain_text for m in staff)
        # Staff see that a card is missing, which, and why.
        [notice] = [m for m in staff if f"#{bad}" in m.plain_text]
        assert "button_data_invalid" in notice.plain_text.lower() and "/inbox" in notice.plain_text
        dead = await store.feedback.get(bad)
        assert dead is not None and "button_data_invalid" in (dead.forward_error or "").lower()
        assert dead.forwarded_message_id is None
        assert [t.id for t in await store.feedback.dead_cards()] == [bad]
        assert await store.feedback.dead_card_count() == 1
        listed = render_inbox([(dead, None)], 1, "vi", channel.capabilities).text
        assert "không đăng được vào nhóm" in listed
        done = await store.feedback.get(good)
        assert done is not None and done.forwarded_message_id is not None

        # Later cards keep flowing; the dead one is not tried again.
        later = await _feedback(store, 813, "Rác chưa thu gom")
        sends_before = len(tg.calls)
        assert await forward_feedback(store, channel, STAFF_CHAT, clock=clock) == 1
        assert len(tg.calls) == sends_before + 1
        fresh = await store.feedback.get(later)
        assert fresh is not None and fresh.forwarded_message_id is not None
    finally:
        await channel.bot.shutdown()


async def test_a_card_with_bad_markup_goes_as_plain_text(
    store: Store, channel: TelegramChannel, telegram_api: FakeTelegram
) -> None:
    """A one-off refusal of the card's form: the words still reach staff, as plain text."""
    tg = telegram_api
    tg.fail(
        chat_id=int(STAFF_CHAT),
        method="sendMessage",
        code=400,
        description="Bad Request: can't parse entities: unsupported start tag",
        times=1,
    )
    ident = await _feedback(store, 821, "Đèn tín hiệu hỏng")
    assert await forward_feedback(store, channel, STAFF_CHAT, clock=clock) == 1
    [card] = tg.messages_to(int(STAFF_CHAT))
    assert "Đèn tín hiệu hỏng" in card.plain_text and card.parse_mode is None
    ticket = await store.feedback.get(ident)
    assert ticket is not None and ticket.forward_error is None
