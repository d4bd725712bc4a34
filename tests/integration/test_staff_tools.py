"""Staff tools on the dialog and a real database: /staff, the guided /broadcast with audience,
time and urgency, scheduled release, cancelling a running broadcast, /broadcasts, the feedback
rate limit and bans, and forged staff callback data and commands from a citizen."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.dialog.events import Command, Press, Text, Who
from bot.dialog.router import Dialog
from jobs.channel import HTML, Capabilities
from jobs.route.announce import release_due_broadcasts
from storage.records import NewArticle
from storage.store import Store

NOW = datetime(2026, 11, 28, 1, 0, tzinfo=UTC)  # 08:00 in Vietnam
CAPS = Capabilities(markup=HTML)
ADMIN = Who("telegram", "900", "900", display_name="Cán bộ")
EDITOR = Who("telegram", "901", "901", display_name="Biên tập")
CITIZEN = Who("telegram", "501", "501", display_name="Nguyễn Văn A")


@pytest.fixture
async def dialog(any_store: Store) -> Dialog:
    await any_store.staff.ensure("telegram", "900", role="admin")
    return Dialog(any_store, capabilities=lambda _p: CAPS, clock=lambda: NOW)


def buttons(outcome_msg: object) -> list[str]:
    return [b.data for row in outcome_msg.buttons for b in row]  # type: ignore[attr-defined]


async def test_staff_command_is_admin_only_and_audited(dialog: Dialog, any_store: Store) -> None:
    store = any_store
    for who, args in ((CITIZEN, "add 501 admin"), (CITIZEN, "list")):
        out = await dialog.handle(Command(who, "staff", args))
        assert "quản trị viên" in out.replies[0].text
    assert await store.staff.role_of("telegram", "501") is None
    out = await dialog.handle(Command(ADMIN, "staff", "add 901 editor"))
    assert "901" in out.replies[0].text and await store.staff.role_of("telegram", "901") == "editor"
    refused = await dialog.handle(Command(EDITOR, "staff", "add 777 admin"))  # editors cannot
    assert "quản trị viên" in refused.replies[0].text
    listed = await dialog.handle(Command(ADMIN, "staff", ""))
    assert "telegram:901 — editor" in listed.replies[0].text
    last = await dialog.handle(Command(ADMIN, "staff", "remove 900"))
    assert "cuối cùng" in last.replies[0].text
    await dialog.handle(Command(ADMIN, "staff", "remove 901"))
    assert await store.staff.role_of("telegram", "901") is None
    log = [(e.actor, e.action, e.target) for e in reversed(await store.audit.recent())]
    assert log == [
        ("telegram:900", "staff.add", "telegram:901"),
        ("telegram:900", "staff.remove", "telegram:901"),
    ]


async def test_forged_staff_data_and_commands_from_a_citizen(
    dialog: Dialog, any_store: Store
) -> None:
    store = any_store
    await dialog.handle(Command(CITIZEN, "start"))
    sub = await store.subscribers.ensure("telegram", "501")
    assert sub is not None
    ticket = await store.feedback.add(sub.id, None, "Ý kiến")
    draft = await store.announcements.create("Nháp", created_by="telegram:900")
    for data in (
        f"ib:b:{ticket.id}",
        f"ib:c:{ticket.id}",
        f"ib:r:{ticket.id}",
        f"bw:ok:{draft.id}",
        f"bw:x:{draft.id}",
        f"bw:aud:{draft.id}:all",
        f"bc:ok:{draft.id}",
    ):
        out = await dialog.handle(Press(CITIZEN, data, message_id="7"))
        assert out.toast and "cán bộ" in out.toast and not out.wake_outbox
    for name in ("inbox", "broadcasts", "broadcast", "staff"):
        out = await dialog.handle(Command(CITIZEN, name, ""))
        assert "cán bộ" in out.replies[0].text or "quản trị" in out.replies[0].text
    assert not await store.feedback.is_banned(sub.id)
    assert (await store.feedback.get(ticket.id)).status == "new"  # type: ignore[union-attr]
    assert (await store.announcements.get(draft.id)).status == "draft"  # type: ignore[union-attr]
    assert await store.deliveries.counts() == {}
    assert await store.audit.recent() == []
    assert (await store.subscribers.get_by_id(sub.id)).dialog_state is None  # type: ignore[union-attr]


async def test_guided_broadcast_to_a_source_scheduled_then_released(
    dialog: Dialog, any_store: Store
) -> None:
    store = any_store
    feed, _ = await store.feeds.add("https://p.example/rss", name="Cổng xã")
    for chat in ("501", "502"):
        await dialog.handle(Command(Who("telegram", chat, chat), "start"))
    # 1. Compose, formatted; 2. no photo; 3. a source; 4. a time; 5. urgent; preview; confirm.
    first = await dialog.handle(Command(ADMIN, "broadcast", ""))
    assert "/broadcast" in first.replies[0].text
    photo = await dialog.handle(Text(ADMIN, "Cắt điện *thứ 7* <8h> & _CN_"))
    [draft] = await store.announcements.recent(1)
    assert buttons(photo.replies[0]) == [f"bw:skip:{draft.id}"]
    audience = await dialog.handle(Press(ADMIN, f"bw:skip:{draft.id}"))
    choices = buttons(audience.replies[0])
    assert f"bw:aud:{draft.id}:all" in choices and f"bw:aud:{draft.id}:f{feed.id}" in choices
    when = await dialog.handle(Press(ADMIN, f"bw:aud:{draft.id}:f{feed.id}"))
    assert buttons(when.replies[0]) == [f"bw:now:{draft.id}"]
    bad = await dialog.handle(Text(ADMIN, "mai"))
    assert "Không hiểu" in bad.replies[0].text
    urgent = await dialog.handle(Text(ADMIN, "09:30"))  # 09:30 Vietnam = 02:30 UTC today
    assert buttons(urgent.replies[0]) == [f"bw:urg:{draft.id}:1", f"bw:urg:{draft.id}:0"]
    preview = await dialog.handle(Press(ADMIN, f"bw:urg:{draft.id}:1"))
    exact = preview.replies[1].text
    assert "<b>thứ 7</b>" in exact and "&lt;8h&gt; &amp; <i>CN</i>" in exact
    summary = preview.replies[2]
    assert "Cổng xã" in summary.text and "(2 người)" in summary.text and "09:30" in summary.text
    assert buttons(summary) == [f"bw:ok:{draft.id}", f"bw:no:{draft.id}"]
    # Another staff member cannot drive this draft.
    await store.staff.ensure("telegram", "901", role="editor")
    other = await dialog.handle(Press(EDITOR, f"bw:ok:{draft.id}"))
    assert other.toast and "soạn lại" in other.toast
    done = await dialog.handle(Press(ADMIN, f"bw:ok:{draft.id}", message_id="44"))
    assert done.edit is not None and "09:30" in done.edit.text
    ann = await store.announcements.get(draft.id)
    assert ann is not None and ann.status == "scheduled" and ann.audience == f"feed:{feed.id}"
    assert await store.announcements.is_urgent(draft.id)
    assert await store.deliveries.counts(kind="announcement") == {}
    # The scheduler releases it when its time comes, once.
    assert await release_due_broadcasts(store, NOW + timedelta(minutes=10)) == 0
    assert await release_due_broadcasts(store, NOW + timedelta(minutes=91)) == 1
    assert await release_due_broadcasts(store, NOW + timedelta(minutes=92)) == 0
    assert await store.deliveries.counts(kind="announcement") == {"pending": 2}
    actions = [e.action for e in await store.audit.recent()]
    assert actions == ["broadcast.schedule"]


async def test_cancel_running_broadcast_counts_sent(dialog: Dialog, any_store: Store) -> None:
    store = any_store
    for chat in ("501", "502", "503"):
        await dialog.handle(Command(Who("telegram", chat, chat), "start"))
    await dialog.handle(Command(ADMIN, "broadcast", ""))
    await dialog.handle(Text(ADMIN, "Họp dân"))
    [draft] = await store.announcements.recent(1)
    await dialog.handle(Press(ADMIN, f"bw:skip:{draft.id}"))
    await dialog.handle(Press(ADMIN, f"bw:aud:{draft.id}:all"))
    await dialog.handle(Press(ADMIN, f"bw:now:{draft.id}"))
    await dialog.handle(Press(ADMIN, f"bw:urg:{draft.id}:0"))
    queued = await dialog.handle(Press(ADMIN, f"bw:ok:{draft.id}", message_id="9"))
    assert queued.wake_outbox and "3" in (queued.toast or "")
    [row, *_] = await store.deliveries.claim_due(now=NOW, limit=1, lease_seconds=60)
    await store.deliveries.mark_sent(row.id, message_id="1", now=NOW)
    listing = await dialog.handle(Command(ADMIN, "broadcasts", ""))
    assert "đã gửi 1, chờ 2" in listing.replies[0].text
    assert buttons(listing.replies[0]) == [f"bw:x:{draft.id}"]
    stopped = await dialog.handle(Press(ADMIN, f"bw:x:{draft.id}"))
    assert "dừng 2" in stopped.replies[0].text and "1 tin đã gửi" in stopped.replies[0].text
    assert await store.deliveries.counts(kind="announcement") == {"sent": 1, "cancelled": 2}
    again = await dialog.handle(Press(ADMIN, f"bw:x:{draft.id}"))
    assert again.toast and "không thể hủy" in again.toast
    actions = [e.action for e in reversed(await store.audit.recent())]
    assert actions == ["broadcast.queue", "broadcast.cancel"]


async def test_one_line_broadcast_is_unchanged_and_audited(
    dialog: Dialog, any_store: Store
) -> None:
    await dialog.handle(Command(CITIZEN, "start"))
    preview = await dialog.handle(Command(ADMIN, "broadcast", "Tin *nhanh*"))
    assert "Tin *nhanh*" in preview.replies[0].text  # plain text: no staff formatting
    [ann] = await any_store.announcements.recent(1)
    out = await dialog.handle(Press(ADMIN, f"bc:ok:{ann.id}", message_id="3"))
    assert out.wake_outbox
    assert [e.action for e in await any_store.audit.recent()] == ["broadcast.queue"]


async def test_feedback_rate_limit_and_ban(dialog: Dialog, any_store: Store) -> None:
    store = any_store
    feed, _ = await store.feeds.add("https://p.example/rss")
    [art] = await store.articles.add(
        feed.id,
        [NewArticle("g", "https://p.example/1", "Bài", "Tóm tắt", None, None, (), NOW)],
        now=NOW,
        seen=[False],
    )
    await dialog.handle(Command(CITIZEN, "start"))
    for n in range(5):
        await dialog.handle(Press(CITIZEN, f"fb:{art.id}"))
        out = await dialog.handle(Text(CITIZEN, f"Ý kiến {n}"))
        assert "Mã phản hồi" in out.replies[0].text
    await dialog.handle(Press(CITIZEN, f"fb:{art.id}"))
    limited = await dialog.handle(Text(CITIZEN, "Ý kiến thứ sáu"))
    assert "10 phút" in limited.replies[0].text and not limited.wake_feedback
    assert await store.feedback.count() == 5
    sub = await store.subscribers.ensure("telegram", "501")
    assert sub is not None and sub.dialog_state is None
    [first, *_] = await store.feedback.by_status("new")
    banned = await dialog.handle(Press(ADMIN, f"ib:b:{first.id}"))
    assert banned.toast and "chặn" in banned.toast
    refused = await dialog.handle(Press(CITIZEN, f"fb:{art.id}"))
    assert "không nhận phản hồi" in refused.replies[0].text
    await dialog.handle(Press(ADMIN, f"ib:u:{first.id}"))
    assert not await store.feedback.is_banned(sub.id)
    inbox = await dialog.handle(Command(ADMIN, "inbox", ""))
    assert "(5)" in inbox.replies[0].text and f"ib:r:{first.id}" in buttons(inbox.replies[0])
