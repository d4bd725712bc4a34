"""The platform-neutral dialog on a real SQLite store: subscribe, feedback, staff broadcast."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.dialog.events import Command, Press, Text, Who
from bot.dialog.flows.feedback import FEEDBACK_MAX_CHARS
from bot.dialog.router import Dialog
from jobs.channel import HTML, Capabilities
from storage.records import NewArticle
from storage.store import Store

NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
CAPS = Capabilities(markup=HTML)
CITIZEN = Who("telegram", "501", "501", display_name="Nguyễn Văn A")
ADMIN = Who("telegram", "900", "900", display_name="Cán bộ")


@pytest.fixture
async def dialog(store: Store) -> Dialog:
    await store.staff.ensure("telegram", "900", role="admin")
    return Dialog(store, capabilities=lambda _p: CAPS, clock=lambda: NOW, portal_name="Cổng")


async def _article(store: Store) -> int:
    feed, _ = await store.feeds.add("https://p.example/rss")
    [art] = await store.articles.add(
        feed.id,
        [
            NewArticle(
                "g", "https://p.example/1", "Sửa đường <QL2> & cầu", "Tóm tắt", None, None, (), NOW
            )
        ],
        now=NOW,
        seen=[False],
    )
    return art.id


async def test_start_stop_help(dialog: Dialog, store: Store) -> None:
    out = await dialog.handle(Command(CITIZEN, "start"))
    assert "đăng ký" in out.replies[0].text and "Nguyễn Văn A" in out.replies[0].text
    again = await dialog.handle(Command(CITIZEN, "start"))
    assert "đã đăng ký" in again.replies[0].text
    assert (await store.subscribers.counts())["active"] == 1
    helped = await dialog.handle(Command(CITIZEN, "help"))
    assert "/start" in helped.replies[0].text and "/broadcast" not in helped.replies[0].text
    staff_help = await dialog.handle(Command(ADMIN, "help"))
    assert "/broadcast" in staff_help.replies[0].text
    stopped = await dialog.handle(Command(CITIZEN, "stop"))
    assert "ngừng" in stopped.replies[0].text
    assert (await store.subscribers.counts())["active"] == 0


async def test_unknown_command_is_answered(dialog: Dialog) -> None:
    out = await dialog.handle(Command(CITIZEN, "xyz"))
    assert "/xyz" in out.replies[0].text and "/help" in out.replies[0].text


async def test_feedback_button_then_text(dialog: Dialog, store: Store) -> None:
    await dialog.handle(Command(CITIZEN, "start"))
    aid = await _article(store)
    asked = await dialog.handle(Press(CITIZEN, f"fb:{aid}", message_id="10", press_id="q1"))
    assert "Sửa đường" in asked.replies[0].text
    # the prompt escapes the title for Telegram HTML
    assert "&lt;QL2&gt; &amp;" in asked.replies[0].text
    done = await dialog.handle(Text(CITIZEN, "Đoạn đường Km 12 nhiều ổ gà."))
    assert done.wake_feedback
    [item] = await store.feedback.unforwarded()
    assert item.article_id == aid and item.text == "Đoạn đường Km 12 nhiều ổ gà."
    assert f"Mã phản hồi #{item.id}" in done.replies[0].text
    # the state is cleared: the next text is not feedback
    hint = await dialog.handle(Text(CITIZEN, "xin chào"))
    assert not hint.wake_feedback and len(await store.feedback.unforwarded()) == 1


async def test_reply_to_a_push_is_feedback(dialog: Dialog, store: Store) -> None:
    sub, _ = await store.subscribers.subscribe("telegram", "501")
    aid = await _article(store)
    await store.deliveries.enqueue_one(sub.id, "article", aid, now=NOW)
    [row] = await store.deliveries.claim_due(now=NOW, limit=1, lease_seconds=60)
    await store.deliveries.mark_sent(row.id, message_id="55", now=NOW)
    out = await dialog.handle(Text(CITIZEN, "Ý kiến của tôi", reply_to="55"))
    assert out.wake_feedback
    [item] = await store.feedback.unforwarded()
    assert item.article_id == aid


async def test_over_long_feedback_is_refused_whole(dialog: Dialog, store: Store) -> None:
    aid = await _article(store)
    await dialog.handle(Press(CITIZEN, f"fb:{aid}"))
    out = await dialog.handle(Text(CITIZEN, "a" * (FEEDBACK_MAX_CHARS + 1)))
    assert str(FEEDBACK_MAX_CHARS) in out.replies[0].text
    assert await store.feedback.count() == 0
    # still waiting: a shorter text is taken
    await dialog.handle(Text(CITIZEN, "ngắn gọn"))
    assert await store.feedback.count() == 1


async def test_cancel_feedback(dialog: Dialog, store: Store) -> None:
    aid = await _article(store)
    await dialog.handle(Press(CITIZEN, f"fb:{aid}"))
    out = await dialog.handle(Command(CITIZEN, "huy"))
    assert "hủy" in out.replies[0].text.lower()
    await dialog.handle(Text(CITIZEN, "không phải phản hồi"))
    assert await store.feedback.count() == 0


async def test_admin_broadcast_preview_confirm(dialog: Dialog, store: Store) -> None:
    for chat in ("1", "2", "3"):
        await store.subscribers.subscribe("telegram", chat)
    preview = await dialog.handle(Command(ADMIN, "broadcast", "Lịch cắt điện <thứ 7> & CN"))
    msg = preview.replies[0]
    assert "&lt;thứ 7&gt; &amp; CN" in msg.text and "3" in msg.text
    confirm, cancel = msg.buttons[0]
    assert confirm.label == "Gửi" and cancel.label == "Hủy"
    done = await dialog.handle(Press(ADMIN, confirm.data, message_id="9", press_id="p"))
    assert done.wake_outbox and done.edit is not None and "3" in done.edit.text
    assert await store.deliveries.counts(kind="announcement") == {"pending": 3}
    twice = await dialog.handle(Press(ADMIN, confirm.data, message_id="9", press_id="p2"))
    assert not twice.wake_outbox
    assert await store.deliveries.counts(kind="announcement") == {"pending": 3}


async def test_admin_can_cancel_a_draft(dialog: Dialog, store: Store) -> None:
    await store.subscribers.subscribe("telegram", "1")
    preview = await dialog.handle(Command(ADMIN, "broadcast", "Nội dung"))
    _, cancel = preview.replies[0].buttons[0]
    out = await dialog.handle(Press(ADMIN, cancel.data))
    assert out.edit is not None
    assert await store.deliveries.counts() == {}


async def test_citizen_cannot_broadcast_even_with_forged_buttons(
    dialog: Dialog, store: Store
) -> None:
    await store.subscribers.subscribe("telegram", "1")
    refused = await dialog.handle(Command(CITIZEN, "broadcast", "Tin giả"))
    assert "cán bộ" in refused.replies[0].text
    assert await store.announcements.recent() == []
    # A real draft by an admin; the citizen forges its confirm button.
    preview = await dialog.handle(Command(ADMIN, "broadcast", "Thật"))
    confirm, _ = preview.replies[0].buttons[0]
    for data in (confirm.data, "bc:ok:1", "bc:ok:999", "bc:no:1", "bc:ok:x"):
        out = await dialog.handle(Press(CITIZEN, data, press_id="z"))
        assert not out.wake_outbox and out.edit is None
    assert await store.deliveries.counts() == {}
    [ann] = await store.announcements.recent()
    assert ann.status == "draft"


async def test_empty_and_over_long_broadcast(dialog: Dialog, store: Store) -> None:
    usage = await dialog.handle(Command(ADMIN, "broadcast", "   "))
    assert "/broadcast" in usage.replies[0].text
    too_long = await dialog.handle(Command(ADMIN, "broadcast", "x" * 5000))
    assert "5000" in too_long.replies[0].text
    assert await store.announcements.recent() == []
