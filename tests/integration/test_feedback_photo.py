"""A citizen's photo reaches staff: Telegram photo → neutral Text(photo=file id) → ticket with
the file id → card in the staff chat sent as that photo (nothing is downloaded)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from bot.adapters.telegram.adapter import TelegramChannel, make_bot, to_event
from bot.dialog.events import Press, Text
from bot.dialog.router import Dialog
from jobs.channel import HTML, Capabilities
from jobs.staff.forward import forward_feedback
from storage.records import NewArticle
from storage.store import Store
from tests.fakes.telegram_api import FakeTelegram, _photo_sizes

NOW = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)
STAFF_CHAT = "-500"


@pytest.fixture
async def channel(telegram_api: FakeTelegram) -> AsyncIterator[TelegramChannel]:
    bot = make_bot(telegram_api.token, telegram_api.api_url)
    await bot.initialize()
    yield TelegramChannel(bot)
    await bot.shutdown()


async def test_photo_feedback_is_stored_and_forwarded(
    store: Store, channel: TelegramChannel, telegram_api: FakeTelegram
) -> None:
    tg = telegram_api
    feed, _ = await store.feeds.add("https://p.example/rss")
    [art] = await store.articles.add(
        feed.id,
        [NewArticle("g", "https://p.example/1", "Đường ngập", "Tóm tắt", None, None, (), NOW)],
        now=NOW,
        seen=[False],
    )
    dialog = Dialog(store, capabilities=lambda _p: Capabilities(markup=HTML), clock=lambda: NOW)
    tg.user_sends(501, "/start")
    tg.user_sends(501, "Chỗ này ngập sâu", photo="street-photo")
    updates = await channel.bot.get_updates(timeout=0)
    events = [to_event(u) for u in updates]
    start, photo_text = events
    assert isinstance(photo_text, Text) and photo_text.text == "Chỗ này ngập sâu"
    expected_file = _photo_sizes("street-photo")[-1]["file_id"]
    assert photo_text.photo == expected_file

    assert start is not None
    await dialog.handle(start)
    await dialog.handle(Press(photo_text.who, f"fb:{art.id}"))
    done = await dialog.handle(photo_text)
    assert done.wake_feedback
    [row] = await store.feedback.export_rows()
    assert row.text == "Chỗ này ngập sâu"

    assert await forward_feedback(store, channel, STAFF_CHAT, clock=lambda: NOW) == 1
    [card] = tg.messages_to(int(STAFF_CHAT))
    assert card.method == "sendPhoto" and card.photo == expected_file
    assert "Chỗ này ngập sâu" in card.plain_text and "Đường ngập" in card.plain_text
