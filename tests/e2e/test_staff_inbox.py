"""The feedback inbox end to end, against the fake Bot API with python-telegram-bot's client:
citizen feedback → card with buttons in the staff chat → a forged press by a citizen changes
nothing → staff reply to the card → the citizen receives the answer (through the outbox, quoting
their words) → the citizen replies to it → the same ticket, re-opened, as a card → closed → ban.
"""

from __future__ import annotations

import asyncio
from contextlib import suppress

from bot.app.compose import App
from bot.app.roles import run_app
from bot.app.settings import Settings
from storage.store import Store
from tests.e2e.test_telegram_flow import NEW, OLD, rss
from tests.fakes.feed_server import FeedServer
from tests.fakes.telegram_api import FakeTelegram

ADMIN = 900
STAFF_CHAT = -500
CITIZEN = 501
OTHER = 502


async def test_feedback_round_trip(tmp_path: object, telegram_api: FakeTelegram) -> None:
    tg = telegram_api
    with FeedServer() as feeds:
        headers = {"Content-Type": "application/rss+xml"}
        feed_url = feeds.add("/rss.xml", body=rss(OLD), headers=headers)
        settings = Settings(
            database_url=f"sqlite:///{tmp_path}/staff.db",
            telegram_token=tg.token,  # type: ignore[arg-type]
            telegram_api_url=tg.api_url,
            admin_ids=[ADMIN],
            staff_chat_id=STAFF_CHAT,
            feeds=[feed_url],
            allow_private_hosts=["127.0.0.1"],  # FeedServer is on loopback
            poll_interval=3600,
            send_rate=30,
            quiet_hours="off",  # the test may run in the evening, Vietnam time
        )
        stop = asyncio.Event()
        started: asyncio.Future[App] = asyncio.get_running_loop().create_future()
        task = asyncio.create_task(run_app(settings, stop=stop, on_start=started.set_result))
        try:
            app = await asyncio.wait_for(started, 20)
            await tg.async_wait_until(lambda: feeds.requests, timeout=15)
            for _ in range(200):  # the first poll's backlog reaches nobody: wait for it
                if all(f.last_success_at for f in await app.store.feeds.all()):
                    break
                await asyncio.sleep(0.05)
            for chat in (CITIZEN, OTHER):
                tg.user_sends(chat, "/start", first_name=f"Dân {chat}")
                await tg.async_wait_for(lambda m, c=chat: m.chat_id == c)
            feeds.add("/rss.xml", body=rss(NEW, OLD), headers=headers)
            await app.poll_cycle(force=True)
            push = await tg.async_wait_for(
                lambda m: m.chat_id == CITIZEN and "ĐT.188" in m.plain_text, timeout=15
            )
            await _round_trip(app.store, tg, push.message_id)
        finally:
            stop.set()
            with suppress(asyncio.CancelledError):
                assert await asyncio.wait_for(task, 30) == 0


async def _sent(store: Store, kind: str, count: int) -> None:
    """Wait until the outbox has recorded `count` sent rows of `kind` (message ids stored just
    after the fake answers, so a reply to one can be matched)."""
    for _ in range(200):
        if (await store.deliveries.counts(kind=kind)).get("sent", 0) >= count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{kind}: fewer than {count} sent")


async def _round_trip(store: Store, tg: FakeTelegram, push_id: int) -> None:
    # 1. The citizen replies to the push: feedback, and a card with buttons for staff.
    await _sent(store, "article", 2)
    tg.user_sends(CITIZEN, "Mặt đường có ổ gà <lớn> & nguy hiểm.", reply_to_message_id=push_id)
    await tg.async_wait_for(lambda m: m.chat_id == CITIZEN and "Mã phản hồi #" in m.plain_text)
    [ticket] = await store.feedback.by_status("new")
    card = await tg.async_wait_for(lambda m: m.chat_id == STAFF_CHAT)
    assert f"#{ticket.id}" in card.plain_text and "ổ gà <lớn> & nguy hiểm" in card.plain_text
    assert "ĐT.188" in card.plain_text  # the article's title (linked)
    buttons = card.reply_markup["inline_keyboard"][0]  # type: ignore[index]
    assert [b["text"] for b in buttons] == ["Trả lời", "Đã xử lý", "Chặn"]
    data = {b["text"]: b["callback_data"] for b in buttons}

    # 2. A citizen forging staff buttons (ban, close) and commands changes nothing.
    for forged in (data["Chặn"], data["Đã xử lý"]):
        tg.user_presses(STAFF_CHAT, card.message_id, forged, user_id=OTHER)
    await tg.async_wait_until(lambda: len(tg.answered_callbacks) >= 2)
    tg.user_sends(OTHER, "/inbox")
    await tg.async_wait_for(lambda m: m.chat_id == OTHER and "cán bộ" in m.plain_text)
    assert not await store.feedback.is_banned(ticket.subscriber_id)
    assert (await store.feedback.get(ticket.id)).status == "new"  # type: ignore[union-attr]
    assert await store.audit.recent() == []

    # 3. Staff reply to the card: the citizen gets the answer through the outbox, quoted.
    tg.user_sends(
        STAFF_CHAT,
        "Chúng tôi sẽ vá trong tuần này.",
        user_id=ADMIN,
        reply_to_message_id=card.message_id,
        chat_type="group",
    )
    await tg.async_wait_for(lambda m: m.chat_id == STAFF_CHAT and "Đã gửi trả lời" in m.plain_text)
    answer = await tg.async_wait_for(
        lambda m: m.chat_id == CITIZEN and "vá trong tuần" in m.plain_text, timeout=15
    )
    assert f"#{ticket.id}" in answer.plain_text and "ổ gà <lớn> & nguy hiểm" in answer.plain_text
    assert answer.parse_mode == "HTML"
    assert (await store.feedback.get(ticket.id)).status == "answered"  # type: ignore[union-attr]

    # 4. The citizen replies to the answer: the same ticket, open again, a card for staff.
    await _sent(store, "answer", 1)
    tg.user_sends(CITIZEN, "Cảm ơn, còn cả đèn đường hỏng.", reply_to_message_id=answer.message_id)
    thanks = await tg.async_wait_for(
        lambda m: m.chat_id == CITIZEN and "đã chuyển" in m.text.lower()
    )
    assert f"#{ticket.id}" in thanks.plain_text
    reply_card = await tg.async_wait_for(
        lambda m: m.chat_id == STAFF_CHAT and "đèn đường hỏng" in m.plain_text
    )
    assert f"#{ticket.id}" in reply_card.plain_text
    assert await store.feedback.count() == 1  # no second ticket
    assert (await store.feedback.get(ticket.id)).status == "in_progress"  # type: ignore[union-attr]
    thread = await store.feedback.messages(ticket.id)
    assert [m.author for m in thread] == ["staff", "citizen"]

    # 5. "Trả lời" on the reply card, then text: a second answer, quoting the later words.
    reply_buttons = reply_card.reply_markup["inline_keyboard"][0]  # type: ignore[index]
    tg.user_presses(STAFF_CHAT, reply_card.message_id, reply_buttons[0]["callback_data"], ADMIN)
    await tg.async_wait_for(
        lambda m: m.chat_id == STAFF_CHAT and "Nhập câu trả lời" in m.plain_text
    )
    tg.user_sends(STAFF_CHAT, "Đã báo điện lực.", user_id=ADMIN, chat_type="group")
    second = await tg.async_wait_for(
        lambda m: m.chat_id == CITIZEN and "Đã báo điện lực" in m.plain_text, timeout=15
    )
    assert "đèn đường hỏng" in second.plain_text
    await _sent(store, "answer", 2)

    # 6. "Đã xử lý" closes the ticket; "Chặn" bans the citizen; both are audited.
    tg.user_presses(STAFF_CHAT, card.message_id, data["Đã xử lý"], user_id=ADMIN)
    await tg.async_wait_until(
        lambda: any("đã đóng" in (e.text or "") for e in tg.edits if e.chat_id == STAFF_CHAT)
    )
    assert (await store.feedback.get(ticket.id)).status == "closed"  # type: ignore[union-attr]
    tg.user_presses(STAFF_CHAT, card.message_id, data["Chặn"], user_id=ADMIN)
    for _ in range(100):
        if await store.feedback.is_banned(ticket.subscriber_id):
            break
        await asyncio.sleep(0.05)
    assert await store.feedback.is_banned(ticket.subscriber_id)
    tg.user_sends(CITIZEN, "Thêm ý kiến.", reply_to_message_id=second.message_id)
    await tg.async_wait_for(
        lambda m: m.chat_id == CITIZEN and "không nhận phản hồi" in m.plain_text
    )
    actions = [e.action for e in reversed(await store.audit.recent())]
    assert actions == ["feedback.answer", "feedback.answer", "feedback.close", "citizen.ban"]
    assert {e.actor for e in await store.audit.recent()} == {f"telegram:{ADMIN}"}
