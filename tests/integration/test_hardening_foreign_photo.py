"""A Telegram photo never crosses to Zalo as a file id: a feedback card for a Zalo staff chat and
a photo broadcast to a Zalo subscriber arrive as text with a note saying where the photo can
be seen, while Telegram recipients still get the photo. Real SQLite file, the Zalo Bot adapter
against FakeZaloBot and python-telegram-bot against the fake Bot API, both on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import httpx
import pytest

from bot.adapters.telegram.adapter import TelegramChannel, make_bot
from bot.adapters.zalo.bot_platform import ZaloBotChannel, ZaloBotClient
from bot.adapters.zalo.official_account import PLATFORM as OA_PLATFORM
from bot.adapters.zalo.official_account import TokenKeeper, ZaloOAChannel
from jobs.channel import PLAIN, Channel, OutMessage
from jobs.send.deliverer import Deliverer
from jobs.staff.forward import forward_feedback
from storage.kinds import AnnouncementStatus, OutboxKind
from storage.store import Store
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.zalo_bot_api import FakeZaloBot
from tests.fakes.zalo_oa_api import FakeZaloOA

TELEGRAM_FILE_ID = "AgACAgIAAxkBAAIBZ2VkZXJtYWdpY2ZpbGVpZA"
NOTE = "Ảnh đính kèm chỉ xem được trên Telegram"


def clock() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
def zalo() -> Iterator[FakeZaloBot]:
    with FakeZaloBot() as fake:
        yield fake


@pytest.fixture
async def zalo_channel(zalo: FakeZaloBot) -> AsyncIterator[ZaloBotChannel]:
    client = ZaloBotClient(zalo.token, zalo.api_url)
    yield ZaloBotChannel(client)
    await client.aclose()


@pytest.fixture
async def telegram(telegram_api: FakeTelegram) -> AsyncIterator[TelegramChannel]:
    bot = make_bot(telegram_api.token, telegram_api.api_url)
    await bot.initialize()
    yield TelegramChannel(bot)
    await bot.shutdown()


async def test_telegram_photo_feedback_reaches_a_zalo_staff_chat_as_text_with_a_note(
    store: Store, zalo: FakeZaloBot, zalo_channel: ZaloBotChannel
) -> None:
    citizen, _ = await store.subscribers.subscribe("telegram", "901", display_name="Dân")
    await store.feedback.add(
        citizen.id, None, "Cống bị tắc", photo_file_id=TELEGRAM_FILE_ID, now=clock()
    )
    assert await forward_feedback(store, zalo_channel, "zalo-staff", clock=clock) == 1

    [card] = zalo.messages_to("zalo-staff")
    assert card.method == "sendMessage" and card.photo is None
    assert "Cống bị tắc" in card.text and NOTE in card.text
    assert all(TELEGRAM_FILE_ID not in (s.photo or "") + s.text for s in zalo.sent)


async def test_telegram_photo_broadcast_reaches_zalo_as_text_and_telegram_as_photo(
    store: Store,
    zalo: FakeZaloBot,
    zalo_channel: ZaloBotChannel,
    telegram: TelegramChannel,
    telegram_api: FakeTelegram,
) -> None:
    ann = await store.announcements.create(
        "Lịch cắt điện ngày mai", created_by="telegram:1", origin_platform="telegram"
    )
    await store.announcements.set_plan(ann.id, photo_file_id=TELEGRAM_FILE_ID)
    assert await store.announcements.transition(
        ann.id, frm=AnnouncementStatus.DRAFT, to=AnnouncementStatus.QUEUED, now=clock()
    )
    on_zalo, _ = await store.subscribers.subscribe("zalo", "z-citizen")
    on_telegram, _ = await store.subscribers.subscribe("telegram", "902")
    for sub in (on_zalo, on_telegram):
        await store.deliveries.enqueue_one(sub.id, OutboxKind.ANNOUNCEMENT, ann.id, now=clock())

    channels: dict[str, Channel] = {"zalo": zalo_channel, "telegram": telegram}
    await Deliverer(store, channels, rate=None, clock=clock).run_until_idle()

    assert {d.status for d in await store.deliveries.all()} == {"sent"}
    [message] = zalo.messages_to("z-citizen")
    assert message.method == "sendMessage" and message.photo is None
    assert "Lịch cắt điện ngày mai" in message.text and NOTE in message.text
    [photo] = telegram_api.messages_to(902)
    assert photo.method == "sendPhoto" and photo.photo == TELEGRAM_FILE_ID
    assert NOTE not in photo.plain_text


async def test_telegram_photo_to_zalo_oa_is_text_with_a_note(store: Store) -> None:
    """Zalo OA sends text only: a Telegram photo is named in a note, not lost silently."""
    repo = store.zalo
    with FakeZaloOA() as oa:
        async with httpx.AsyncClient() as http:
            keeper = TokenKeeper(
                repo,
                http,
                app_id=oa.app_id,
                secret_key=oa.secret_key,
                oauth_url=oa.url,
                clock=clock,
            )
            await keeper.seed(*oa.authorize())
            oa.follow("u1")
            await repo.touch_contact(OA_PLATFORM, "u1", clock())
            channel = ZaloOAChannel(keeper, repo, http, api_url=oa.url, clock=clock)
            message = OutMessage(
                "Lịch cắt điện", markup=PLAIN, photo_url=TELEGRAM_FILE_ID, photo_platform="telegram"
            )
            await channel.send("u1", message)
            [sent] = oa.sent
    assert "Lịch cắt điện" in sent.text and NOTE in sent.text
    assert TELEGRAM_FILE_ID not in sent.text


async def test_a_zalo_photo_reaches_telegram_as_text_with_a_note(
    telegram_api: FakeTelegram, telegram: TelegramChannel
) -> None:
    """The rule holds in the other direction too: Telegram is never handed a Zalo photo."""
    message = OutMessage(
        text="Ổ gà trên đường Lê Lợi", photo_url="zalo-photo-123", photo_platform="zalo"
    )
    await telegram.send("777", message)
    assert [c.method for c in telegram_api.calls if str(c.chat_id) == "777"] == ["sendMessage"]
    [sent] = telegram_api.messages_to(777)
    assert "Ổ gà trên đường Lê Lợi" in sent.plain_text and "Zalo" in sent.plain_text
