"""A case card sent as a photo with its words as the caption is rewritten in place after a
staff action, like a text card: Telegram needs editMessageCaption there, not editMessageText."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from bot.adapters.telegram.adapter import TelegramChannel, make_bot
from jobs.channel import HTML, Button, OutMessage
from tests.fakes.telegram_api import FakeTelegram


@pytest.fixture
async def channel(telegram_api: FakeTelegram) -> AsyncIterator[TelegramChannel]:
    bot = make_bot(telegram_api.token, telegram_api.api_url)
    await bot.initialize()
    yield TelegramChannel(bot)
    await bot.shutdown()


async def test_a_photo_card_is_edited_through_its_caption(
    channel: TelegramChannel, telegram_api: FakeTelegram
) -> None:
    card = OutMessage(
        text="<b>Phản ánh PA00001</b>\nTrạng thái: mới",
        markup=HTML,
        photo_url="AgADphoto",
        photo_platform="telegram",
        buttons=((Button("Nhận xử lý", "cs:t:1"),),),
    )
    sent = await channel.send("-600", card)
    taken = replace(card, text="<b>Phản ánh PA00001</b>\nTrạng thái: đã tiếp nhận")
    await channel.edit("-600", sent, taken)
    [edit] = telegram_api.edits
    assert edit.method == "editMessageCaption" and "đã tiếp nhận" in (edit.text or "")
    text_card = await channel.send("-600", replace(card, photo_url=None, photo_platform=None))
    await channel.edit("-600", text_card, replace(taken, photo_url=None, photo_platform=None))
    assert telegram_api.edits[-1].method == "editMessageText"
