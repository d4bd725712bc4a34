"""End to end on Zalo: the whole app against FakeZaloBot (and FakeTelegram) and a loopback
feed, with the same dialog code as Telegram.

subscribe → article push with its "PH <id>" code → feedback stored and forwarded to the Zalo
staff chat → a Zalo admin's /broadcast → numbered Gửi/Hủy menu → "1" → every subscriber gets
it. Then one deployment serving Telegram and Zalo at once: a broadcast reaches both.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import suppress

import pytest

from bot.adapters.zalo import menus
from bot.app.compose import App
from bot.app.roles import run_app
from bot.app.settings import Settings
from tests.e2e.test_telegram_flow import NEW, OLD, rss
from tests.fakes.feed_server import FeedServer
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.zalo_bot_api import FakeZaloBot

ADMIN = "a0d1m1n"
STAFF = "5taff0"
CITIZENS = ["c17a", "c27b", "c37c"]

pytestmark = pytest.mark.slow  # Zalo asks for a second between polls: ~15 s


async def _running(settings: Settings, walk: Callable[[App], Awaitable[None]]) -> None:
    stop = asyncio.Event()
    started: asyncio.Future[App] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(run_app(settings, stop=stop, on_start=started.set_result))
    try:
        app = await asyncio.wait_for(started, 20)
        for _ in range(200):  # the first poll's backlog reaches nobody
            if all(f.last_success_at for f in await app.store.feeds.all()):
                break
            await asyncio.sleep(0.05)
        await walk(app)
    finally:
        stop.set()
        with suppress(asyncio.CancelledError):
            assert await asyncio.wait_for(task, 30) == 0


async def test_whole_pipeline_on_zalo(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(menus, "EDIT_GAP", 0.5)  # progress edits arrive quickly in the test
    with FakeZaloBot() as zb, FeedServer() as feeds:
        feed_url = feeds.add(
            "/rss.xml", body=rss(OLD), headers={"Content-Type": "application/rss+xml"}
        )
        settings = Settings(
            database_url=f"sqlite:///{tmp_path}/zalo.db",
            quiet_hours="off",  # pushes must not wait for 06:00 when tests run at night
            zalo_bot_token=zb.token,  # type: ignore[arg-type]
            zalo_api_url=zb.api_url,
            zalo_admin_ids=[ADMIN],
            zalo_staff_chat_id=STAFF,
            feeds=[feed_url],
            allow_private_hosts=["127.0.0.1"],  # FeedServer is on loopback
            poll_interval=3600,
            send_rate=30,
        )

        async def walk(app: App) -> None:
            store = app.store
            # 1. Citizens subscribe.
            for chat in CITIZENS:
                zb.user_sends(chat, "/start", name=f"Dân {chat}")
            for chat in CITIZENS:
                welcome = await zb.async_wait_for(lambda m, c=chat: m.chat_id == c, timeout=15)
                assert "đăng ký" in welcome.text and "<" not in welcome.text
            assert (await store.subscribers.counts())["active"] == 3

            # 2. A new article is pushed, with its feedback code instead of a button.
            feeds.add(
                "/rss.xml", body=rss(NEW, OLD), headers={"Content-Type": "application/rss+xml"}
            )
            await app.poll_cycle(force=True)
            pushes = [
                await zb.async_wait_for(
                    lambda m, c=chat: m.chat_id == c and "ĐT.188" in m.text, timeout=15
                )
                for chat in CITIZENS
            ]
            push = pushes[0]
            assert push.text.startswith("Sửa chữa cầu & đường <ĐT.188>")  # plain, not escaped
            code = push.text.rsplit("trả lời ", 1)[1].strip()
            assert push.text.endswith(f"Gửi phản hồi: trả lời {code}") and code.startswith("PH ")

            # 3. "PH <id>" then the feedback; stored and forwarded to the Zalo staff chat.
            zb.user_sends(CITIZENS[0], code)
            await zb.async_wait_for(
                lambda m: (
                    m.chat_id == CITIZENS[0]
                    and "phản hồi" in m.text
                    and "ĐT.188" in m.text
                    and m.message_id > push.message_id
                )
            )
            zb.user_sends(CITIZENS[0], "Cầu đang sửa nhưng chưa có biển báo & đèn.")
            thanks = await zb.async_wait_for(
                lambda m: m.chat_id == CITIZENS[0] and "Mã phản hồi #" in m.text
            )
            [item] = await store.feedback.export_rows()
            assert item.text == "Cầu đang sửa nhưng chưa có biển báo & đèn."
            assert item.article_title == "Sửa chữa cầu & đường <ĐT.188>"
            assert f"#{item.ticket}" in thanks.text
            card = await zb.async_wait_for(lambda m: m.chat_id == STAFF, timeout=15)
            assert f"#{item.ticket}" in card.text and "biển báo & đèn" in card.text

            # 3b. The code with the text in one message; and a replayed update is not stored twice.
            zb.user_sends(CITIZENS[1], f"{code} Đề nghị làm nhanh.")
            await zb.async_wait_for(
                lambda m: m.chat_id == CITIZENS[1] and "Mã phản hồi #" in m.text
            )
            zb.replay_next()
            await zb.async_wait_for(lambda m: m.chat_id == STAFF and "Đề nghị làm nhanh" in m.text)
            await asyncio.sleep(2.5)  # the replay has been polled (1 s apart) and dropped
            assert len(await store.feedback.export_rows()) == 2

            # 4. A citizen cannot broadcast; the Zalo admin can: numbered menu, then "1".
            zb.user_sends(CITIZENS[2], "/broadcast Tin giả")
            await zb.async_wait_for(lambda m: m.chat_id == CITIZENS[2] and "cán bộ" in m.text)
            zb.user_sends(ADMIN, "/broadcast Lịch cắt điện thứ 7 <8h-17h> & Chủ nhật")
            preview = await zb.async_wait_for(
                lambda m: m.chat_id == ADMIN and "Xem trước" in m.text
            )
            assert preview.text.endswith("1. Gửi\n2. Hủy")
            assert await store.deliveries.counts(kind="announcement") == {}
            zb.user_sends(ADMIN, "1")
            for chat in CITIZENS:
                got = await zb.async_wait_for(
                    lambda m, c=chat: m.chat_id == c and "Lịch cắt điện" in m.text, timeout=15
                )
                assert "<8h-17h> & Chủ nhật" in got.text
            await zb.async_wait_for(lambda m: m.chat_id == ADMIN and "3/3" in m.text, timeout=15)
            for _ in range(100):
                if await store.deliveries.counts(kind="announcement") == {"sent": 3}:
                    break
                await asyncio.sleep(0.05)
            assert await store.deliveries.counts(kind="announcement") == {"sent": 3}
            assert all(zb.token not in m.text for m in zb.sent)

        await _running(settings, walk)


async def test_one_deployment_serves_telegram_and_zalo(
    tmp_path: object, telegram_api: FakeTelegram
) -> None:
    tg = telegram_api
    with FakeZaloBot() as zb, FeedServer() as feeds:
        feed_url = feeds.add(
            "/rss.xml", body=rss(OLD), headers={"Content-Type": "application/rss+xml"}
        )
        settings = Settings(
            database_url=f"sqlite:///{tmp_path}/both.db",
            quiet_hours="off",  # pushes must not wait for 06:00 when tests run at night
            telegram_token=tg.token,  # type: ignore[arg-type]
            telegram_api_url=tg.api_url,
            admin_ids=[900],
            zalo_bot_token=zb.token,  # type: ignore[arg-type]
            zalo_api_url=zb.api_url,
            feeds=[feed_url],
            allow_private_hosts=["127.0.0.1"],  # FeedServer is on loopback
            poll_interval=3600,
            send_rate=30,
        )

        async def walk(app: App) -> None:
            assert set(app.channels) == {"telegram", "zalo"}
            tg.user_sends(501, "/start")
            zb.user_sends("z501", "/start")
            await tg.async_wait_for(lambda m: m.chat_id == 501)
            await zb.async_wait_for(lambda m: m.chat_id == "z501", timeout=15)
            tg.user_sends(900, "/broadcast Thông báo chung cho mọi người")
            preview = await tg.async_wait_for(
                lambda m: m.chat_id == 900 and "Xem trước" in m.plain_text
            )
            confirm, _ = preview.reply_markup["inline_keyboard"][0]  # type: ignore[index]
            tg.user_presses(900, preview.message_id, confirm["callback_data"], user_id=900)
            await tg.async_wait_for(
                lambda m: m.chat_id == 501 and "Thông báo chung" in m.plain_text, timeout=15
            )
            await zb.async_wait_for(
                lambda m: m.chat_id == "z501" and "Thông báo chung" in m.text, timeout=15
            )

        await _running(settings, walk)
