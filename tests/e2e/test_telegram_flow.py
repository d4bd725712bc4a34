"""End to end: the real app, python-telegram-bot's HTTP client, a fake Bot API, a loopback feed.

/start → article push → "Gửi phản hồi" → feedback stored and forwarded to the staff chat →
admin /broadcast → confirm → every subscriber receives the announcement.
"""

from __future__ import annotations

import asyncio
from contextlib import suppress

from bot.app.compose import App
from bot.app.roles import run_app
from bot.app.settings import Settings
from storage.store import Store
from tests.fakes.feed_server import FeedServer
from tests.fakes.telegram_api import FakeTelegram

ADMIN = 900
STAFF_CHAT = -500
CITIZENS = [501, 502, 503]


def rss(*items: tuple[str, str, str]) -> str:
    body = "".join(
        f"<item><title>{title}</title><link>https://p.example/{guid}</link><guid>{guid}</guid>"
        f"<pubDate>{date}</pubDate><description><![CDATA[<p>{title}. Nội dung chi tiết của bài "
        f"viết về {title.lower()} được đăng trên cổng thông tin.</p>]]></description></item>"
        for guid, title, date in items
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>Cổng TTĐT huyện</title><link>https://p.example/</link>{body}"
        f"</channel></rss>"
    )


OLD = ("a1", "Tin cũ đã đăng", "Mon, 02 Nov 2026 09:00:00 +0700")
NEW = ("a2", "Sửa chữa cầu &amp; đường &lt;ĐT.188&gt;", "Sat, 28 Nov 2026 09:00:00 +0700")


async def test_whole_pipeline(tmp_path: object, telegram_api: FakeTelegram) -> None:
    tg = telegram_api
    with FeedServer() as feeds:
        feed_url = feeds.add(
            "/rss.xml", body=rss(OLD), headers={"Content-Type": "application/rss+xml"}
        )
        settings = Settings(
            database_url=f"sqlite:///{tmp_path}/e2e.db",
            quiet_hours="off",  # pushes must not wait for 06:00 when tests run at night
            telegram_token=tg.token,  # type: ignore[arg-type]
            telegram_api_url=tg.api_url,
            admin_ids=[ADMIN],
            staff_chat_id=STAFF_CHAT,
            feeds=[feed_url],
            allow_private_hosts=["127.0.0.1"],  # FeedServer is on loopback
            poll_interval=3600,
            send_rate=30,
        )
        stop = asyncio.Event()
        started: asyncio.Future[App] = asyncio.get_running_loop().create_future()
        task = asyncio.create_task(run_app(settings, stop=stop, on_start=started.set_result))
        try:
            app = await asyncio.wait_for(started, 20)
            await _walk(app, tg, feeds)
        finally:
            stop.set()
            with suppress(asyncio.CancelledError):
                assert await asyncio.wait_for(task, 30) == 0


async def _walk(app: App, tg: FakeTelegram, feeds: FeedServer) -> None:
    store: Store = app.store
    # The first poll runs at start; its backlog reaches nobody (no one has subscribed yet).
    await tg.async_wait_until(lambda: feeds.requests, timeout=15)
    for _ in range(200):
        if all(f.last_success_at for f in await store.feeds.all()):
            break
        await asyncio.sleep(0.05)
    # 1. Citizens subscribe.
    for chat in CITIZENS:
        tg.user_sends(chat, "/start", first_name=f"Dân {chat}")
    for chat in CITIZENS:
        welcome = await tg.async_wait_for(lambda m, c=chat: m.chat_id == c)
        assert "đăng ký" in welcome.plain_text
    assert (await store.subscribers.counts())["active"] == 3
    # The first poll's backlog was never pushed.
    assert all(len(tg.messages_to(c)) == 1 for c in CITIZENS)

    # 2. A new article appears and is pushed to every subscriber.
    feeds.add("/rss.xml", body=rss(NEW, OLD), headers={"Content-Type": "application/rss+xml"})
    await app.poll_cycle(force=True)
    pushes = []
    for chat in CITIZENS:
        push = await tg.async_wait_for(
            lambda m, c=chat: m.chat_id == c and "ĐT.188" in m.plain_text, timeout=15
        )
        pushes.append(push)
    push = pushes[0]
    assert push.plain_text.startswith("Sửa chữa cầu & đường <ĐT.188>")
    assert push.parse_mode == "HTML"
    [[button]] = push.reply_markup["inline_keyboard"]  # type: ignore[index]
    assert button["text"] == "Gửi phản hồi"

    # 3. The citizen presses "Gửi phản hồi" and writes feedback.
    tg.user_presses(CITIZENS[0], push.message_id, button["callback_data"])
    prompt = await tg.async_wait_for(
        lambda m: (
            m.chat_id == CITIZENS[0]
            and "phản hồi" in m.plain_text
            and "ĐT.188" in m.plain_text
            and m.message_id > push.message_id
        )
    )
    assert tg.answered_callbacks
    tg.user_sends(CITIZENS[0], "Cầu đang sửa nhưng chưa có biển báo & đèn.")
    thanks = await tg.async_wait_for(
        lambda m: m.chat_id == CITIZENS[0] and "Mã phản hồi #" in m.plain_text
    )
    [item] = await store.feedback.export_rows()
    assert item.text == "Cầu đang sửa nhưng chưa có biển báo & đèn."
    assert item.article_title == "Sửa chữa cầu & đường <ĐT.188>"
    assert f"#{item.ticket}" in thanks.plain_text and prompt.message_id < thanks.message_id
    card = await tg.async_wait_for(lambda m: m.chat_id == STAFF_CHAT)
    assert f"#{item.ticket}" in card.plain_text and "biển báo & đèn" in card.plain_text
    assert "ĐT.188" in card.plain_text

    # 3b. A Telegram reply to a push is feedback on that article too.
    tg.user_sends(CITIZENS[1], "Đề nghị làm nhanh.", reply_to_message_id=pushes[1].message_id)
    await tg.async_wait_for(lambda m: m.chat_id == CITIZENS[1] and "Mã phản hồi #" in m.plain_text)
    await tg.async_wait_for(
        lambda m: m.chat_id == STAFF_CHAT and "Đề nghị làm nhanh" in m.plain_text
    )

    # 4. A citizen cannot broadcast; the admin can, with preview and confirm.
    tg.user_sends(CITIZENS[2], "/broadcast Tin giả")
    await tg.async_wait_for(lambda m: m.chat_id == CITIZENS[2] and "cán bộ" in m.plain_text)
    tg.user_sends(ADMIN, "/broadcast Lịch cắt điện thứ 7 <8h-17h> & Chủ nhật")
    preview = await tg.async_wait_for(lambda m: m.chat_id == ADMIN and "Xem trước" in m.plain_text)
    confirm, cancel = preview.reply_markup["inline_keyboard"][0]  # type: ignore[index]
    assert (confirm["text"], cancel["text"]) == ("Gửi", "Hủy")
    # A forged press by a citizen on the admin's preview changes nothing.
    tg.user_presses(ADMIN, preview.message_id, confirm["callback_data"], user_id=CITIZENS[2])
    await tg.async_wait_until(lambda: len(tg.answered_callbacks) >= 2)
    assert await store.deliveries.counts(kind="announcement") == {}
    tg.user_presses(ADMIN, preview.message_id, confirm["callback_data"], user_id=ADMIN)
    for chat in CITIZENS:
        got = await tg.async_wait_for(
            lambda m, c=chat: m.chat_id == c and "Lịch cắt điện" in m.plain_text, timeout=15
        )
        assert "<8h-17h> & Chủ nhật" in got.plain_text
    # The preview becomes one progress message, edited as the broadcast goes (no flood).
    await tg.async_wait_until(
        lambda: any(e.text and "đã gửi xong: 3/3" in e.text for e in tg.edits), timeout=15
    )
    assert all(e.message_id == preview.message_id for e in tg.edits if e.chat_id == ADMIN)
    assert len([m for m in tg.sent if m.chat_id == ADMIN]) == 1  # only the preview was sent
    for _ in range(100):  # the fake has the messages; the outbox marks them a moment later
        if await store.deliveries.counts(kind="announcement") == {"sent": 3}:
            break
        await asyncio.sleep(0.05)
    assert await store.deliveries.counts(kind="announcement") == {"sent": 3}
