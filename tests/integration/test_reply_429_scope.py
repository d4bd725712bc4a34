"""Interactive replies follow the deliverer's 429 rule (Pacer.rate_limited): a group's own 429
pauses that group, not the replies to everyone else; a 429 nothing explains pauses everyone."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from bot.adapters.telegram.adapter import TelegramChannel, make_bot
from bot.dialog.respond import paced_send
from jobs.channel import OutMessage
from jobs.send.pacing import Pacer
from tests.fakes.telegram_api import FakeTelegram


@pytest.fixture
async def channel(telegram_api: FakeTelegram) -> AsyncIterator[TelegramChannel]:
    bot = make_bot(telegram_api.token, telegram_api.api_url, pool_size=4)
    await bot.initialize()
    yield TelegramChannel(bot)
    await bot.shutdown()


async def _while_waiting_out_a_429(
    channel: TelegramChannel, tg: FakeTelegram, chat: int, chat_type: str
) -> tuple[Pacer, float, float]:
    """Reply to `chat`, which answers 429 once; returns (pacer, the global delay and the chat's
    own wait, both seen while the reply waits to try again)."""
    pacer = Pacer(None)
    tg.fail(chat_id=chat, retry_after=2, times=1)
    reply = asyncio.create_task(
        paced_send(
            channel,
            str(chat),
            OutMessage("Đã nhận"),
            pacer,
            platform="telegram",
            chat_type=chat_type,
        )
    )
    await tg.async_wait_until(lambda: any(c.status == 429 for c in tg.calls))
    await asyncio.sleep(0.05)
    now = time.monotonic()
    seen = pacer.global_delay(now), pacer.chat_ready_at(f"telegram:{chat}", now) - now
    await asyncio.wait_for(reply, 10)
    assert [m.chat_id for m in tg.sent] == [chat], "the reply went out after the wait"
    return pacer, *seen


async def test_a_groups_429_pauses_only_that_group(
    channel: TelegramChannel, telegram_api: FakeTelegram
) -> None:
    _, everyone, group = await _while_waiting_out_a_429(channel, telegram_api, -100500, "group")
    assert everyone == 0, "replies to everyone else go on"
    assert group > 1


async def test_an_unexplained_429_pauses_everyone(
    channel: TelegramChannel, telegram_api: FakeTelegram
) -> None:
    _, everyone, _ = await _while_waiting_out_a_429(channel, telegram_api, 7, "private")
    assert everyone > 1
