"""Abuse and authorization through the dialog, on a real SQLite store.

Every way a citizen's words are filed obeys the ban and the rate limit; a broadcast confirm acts
only on the presser's own draft and honours its plan; the last admin can be neither removed nor
demoted; in a group each member's step (answering a ticket, /huy) is their own; forged or absurd
callback data gets a polite toast and changes nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.dialog.events import Command, Event, Press, Text, Who
from bot.dialog.router import Dialog
from jobs.channel import HTML, Capabilities
from jobs.route.announce import release_due_broadcasts
from storage.models import FeedbackMessageRow, FeedbackRow
from storage.records import NewArticle
from storage.store import Store

NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)  # 15:00 in Vietnam: nobody's quiet hours
CAPS = Capabilities(markup=HTML)
CITIZEN = Who("telegram", "501", "501", display_name="Nguyễn Văn A")
ADMIN = Who("telegram", "900", "900", display_name="Cán bộ")
EDITOR = Who("telegram", "901", "901", display_name="Biên tập")
GROUP = "-100777"
IN_GROUP_ADMIN = Who("telegram", GROUP, "900", chat_type="supergroup")
IN_GROUP_EDITOR = Who("telegram", GROUP, "901", chat_type="supergroup")
IN_GROUP_CITIZEN = Who("telegram", GROUP, "501", chat_type="supergroup")


@pytest.fixture
def store(any_store: Store) -> Store:
    """SQLite, and PostgreSQL too when BANTIN_TEST_DATABASE_URL is set."""
    return any_store


@pytest.fixture
async def dialog(store: Store) -> Dialog:
    await store.staff.ensure("telegram", "900", role="admin")
    await store.staff.ensure("telegram", "901", role="editor")
    return Dialog(store, capabilities=lambda _p: CAPS, clock=lambda: NOW, portal_name="Cổng")


async def _article(store: Store) -> int:
    feed, _ = await store.feeds.add("https://p.example/rss")
    [art] = await store.articles.add(
        feed.id,
        [NewArticle("g", "https://p.example/1", "Sửa đường", "Tóm tắt", None, None, (), NOW)],
        now=NOW,
        seen=[False],
    )
    return art.id


async def _citizen_words(store: Store) -> int:
    """Tickets plus citizens' replies: everything a citizen ever got stored."""
    async with store.engine.connect() as conn:
        tickets = (await conn.execute(select(func.count()).select_from(FeedbackRow))).scalar_one()
        replies = (
            await conn.execute(
                select(func.count())
                .select_from(FeedbackMessageRow)
                .where(FeedbackMessageRow.author == "citizen")
            )
        ).scalar_one()
    return int(tickets) + int(replies)


async def _sent(store: Store, sub_id: int, kind: str, item: int, message_id: str) -> None:
    await store.deliveries.enqueue_one(sub_id, kind, item, now=NOW)
    [row] = await store.deliveries.claim_due(now=NOW, limit=1, lease_seconds=60)
    await store.deliveries.mark_sent(row.id, message_id=message_id, now=NOW)


# -- every feedback path: the same refusal --

Path = Callable[[Dialog, int], Awaitable[list[Event]]]


async def _button(_d: Dialog, aid: int) -> list[Event]:
    return [Press(CITIZEN, f"fb:{aid}"), Text(CITIZEN, "Ý kiến qua nút")]


async def _code_with_text(_d: Dialog, aid: int) -> list[Event]:
    return [Text(CITIZEN, f"PH {aid} Ý kiến qua mã")]


async def _code_then_text(_d: Dialog, aid: int) -> list[Event]:
    return [Text(CITIZEN, f"PH {aid}"), Text(CITIZEN, "Ý kiến sau mã")]


async def _plain(_d: Dialog, _aid: int) -> list[Event]:
    return [Text(CITIZEN, "Ý kiến không theo mẫu")]


async def _reply_to_push(d: Dialog, aid: int) -> list[Event]:
    sub = await d.ctx.store.subscribers.get("telegram", "501")
    assert sub is not None
    await _sent(d.ctx.store, sub.id, "article", aid, "55")
    return [Text(CITIZEN, "Ý kiến trả lời tin", reply_to="55")]


async def _follow_up(d: Dialog, _aid: int) -> list[Event]:
    store = d.ctx.store
    sub = await store.subscribers.get("telegram", "501")
    assert sub is not None
    ticket = await store.feedback.add(sub.id, None, "Ý kiến cũ", now=NOW - timedelta(days=2))
    answer = await store.feedback.add_answer(
        ticket.id, staff_user="telegram:900", text="Đã tiếp nhận", now=NOW - timedelta(days=1)
    )
    assert answer is not None
    await _sent(store, sub.id, "answer", answer.id, "66")
    return [Text(CITIZEN, "Cảm ơn, nhưng vẫn chưa sửa", reply_to="66")]


PATHS = {
    "button": _button,
    "code_with_text": _code_with_text,
    "code_then_text": _code_then_text,
    "plain_message": _plain,
    "reply_to_push": _reply_to_push,
    "follow_up": _follow_up,
}


@pytest.mark.parametrize("why", ["banned", "over_limit"])
@pytest.mark.parametrize("path", list(PATHS))
async def test_every_feedback_path_refuses_banned_and_over_limit_citizens(
    dialog: Dialog, store: Store, path: str, why: str
) -> None:
    sub, _ = await store.subscribers.subscribe("telegram", "501")
    aid = await _article(store)
    events = await PATHS[path](dialog, aid)
    if why == "banned":
        await store.feedback.ban(sub.id, by="telegram:900", now=NOW)
    else:
        for n in range(5):  # the default limit: 5 in 10 minutes
            await store.feedback.add(sub.id, None, f"Ý kiến {n}", now=NOW - timedelta(minutes=1))
    before = await _citizen_words(store)
    said = []
    for event in events:
        out = await dialog.handle(event)
        said += [m.text for m in out.replies]
        assert not out.wake_feedback
    assert await _citizen_words(store) == before
    expected = "không nhận phản hồi" if why == "banned" else "10 phút"
    if path != "plain_message":  # a plain message is only ever given the how-to hint
        assert any(expected in text for text in said), said


async def test_a_citizen_under_the_limit_still_files_by_code(dialog: Dialog, store: Store) -> None:
    aid = await _article(store)
    out = await dialog.handle(Text(CITIZEN, f"PH {aid} Cầu hỏng"))
    assert out.wake_feedback
    [item] = await store.feedback.unforwarded()
    assert (item.article_id, item.text) == (aid, "Cầu hỏng")


# -- broadcast confirm: own drafts only, with their own plan --


async def test_one_line_confirm_refuses_another_staff_members_draft(
    dialog: Dialog, store: Store
) -> None:
    for chat in ("501", "502"):
        await dialog.handle(Command(Who("telegram", chat, chat), "start"))
    await dialog.handle(Command(ADMIN, "broadcast", "Lịch tiếp dân"))
    [draft] = await store.announcements.recent(1)
    stolen = await dialog.handle(Press(EDITOR, f"bc:ok:{draft.id}"))
    assert stolen.toast and not stolen.wake_outbox
    discarded = await dialog.handle(Press(EDITOR, f"bc:no:{draft.id}"))
    assert discarded.edit is None
    ann = await store.announcements.get(draft.id)
    assert ann is not None and ann.status == "draft"
    assert await store.deliveries.counts(kind="announcement") == {}
    done = await dialog.handle(Press(ADMIN, f"bc:ok:{draft.id}"))
    assert done.wake_outbox
    assert await store.deliveries.counts(kind="announcement") == {"pending": 2}


async def test_one_line_confirm_of_a_composed_draft_keeps_its_audience_and_time(
    dialog: Dialog, store: Store
) -> None:
    feed, _ = await store.feeds.add("https://p.example/rss", name="Cổng xã")
    other_feed, _ = await store.feeds.add("https://q.example/rss", name="Cổng huyện")
    for chat in ("501", "502", "503"):
        await dialog.handle(Command(Who("telegram", chat, chat), "start"))
    prefs = store.preferences
    for chat, source in (("501", feed.id), ("503", other_feed.id)):
        sub = await store.subscribers.get("telegram", chat)
        assert sub is not None
        await prefs.choose(sub.id, feed=source, on=True)  # 502 keeps all news
    await dialog.handle(Command(ADMIN, "broadcast", ""))
    await dialog.handle(Text(ADMIN, "Cắt điện xã"))
    [draft] = await store.announcements.recent(1)
    await dialog.handle(Press(ADMIN, f"bw:skip:{draft.id}"))
    await dialog.handle(Press(ADMIN, f"bw:aud:{draft.id}:f{feed.id}"))
    await dialog.handle(Text(ADMIN, "23:30"))  # later today in Vietnam
    # The one-line confirm pressed on the composed draft: scheduled, to its source, as planned.
    await dialog.handle(Press(ADMIN, f"bc:ok:{draft.id}"))
    ann = await store.announcements.get(draft.id)
    assert ann is not None and ann.status == "scheduled"
    assert await store.deliveries.counts(kind="announcement") == {}
    assert await release_due_broadcasts(store, NOW + timedelta(hours=9)) == 1
    # 501 follows the source, 502 takes all news; 503 follows another source only.
    assert await store.deliveries.counts(kind="announcement") == {"pending": 2}


async def test_the_one_queueing_path_refuses_a_draft_of_someone_else(store: Store) -> None:
    from jobs.route.announce import REFUSED, submit

    ann = await store.announcements.create("Thông báo", created_by="telegram:900")
    assert (await submit(store, ann.id, by="telegram:901", now=NOW)).outcome == REFUSED
    assert (await submit(store, ann.id, by="cli", now=NOW)).outcome == REFUSED
    fresh = await store.announcements.get(ann.id)
    assert fresh is not None and fresh.status == "draft"


# -- the last admin --


async def test_the_last_admin_cannot_demote_themselves(dialog: Dialog, store: Store) -> None:
    out = await dialog.handle(Command(ADMIN, "staff", "add 900 editor"))
    assert "cuối cùng" in out.replies[0].text
    assert await store.staff.role_of("telegram", "900") == "admin"
    # With a second admin, the demotion goes through.
    await dialog.handle(Command(ADMIN, "staff", "add 902 admin"))
    await dialog.handle(Command(ADMIN, "staff", "add 900 editor"))
    assert await store.staff.role_of("telegram", "900") == "editor"
    admins = [m for m in await store.staff.all() if m.platform == "telegram" and m.role == "admin"]
    assert len(admins) == 1


async def test_storage_refuses_demoting_the_last_admin_whatever_the_path(store: Store) -> None:
    await store.staff.ensure("zalo", "z1", role="admin")
    assert await store.staff.set_role_unless_last_admin("zalo", "z1", role="editor") == (
        "last_admin"
    )
    with pytest.raises(ValueError):
        await store.staff.ensure("zalo", "z1", role="editor")
    assert await store.staff.role_of("zalo", "z1") == "admin"


# -- per-person steps in a group --


async def test_two_staff_answer_two_tickets_in_one_group(dialog: Dialog, store: Store) -> None:
    sub_a, _ = await store.subscribers.subscribe("telegram", "601")
    sub_b, _ = await store.subscribers.subscribe("telegram", "602")
    first = await store.feedback.add(sub_a.id, None, "Đường hỏng", now=NOW)
    second = await store.feedback.add(sub_b.id, None, "Đèn tắt", now=NOW)
    await dialog.handle(Press(IN_GROUP_ADMIN, f"ib:r:{first.id}"))
    await dialog.handle(Press(IN_GROUP_EDITOR, f"ib:r:{second.id}"))
    to_first = await dialog.handle(Text(IN_GROUP_ADMIN, "Sẽ sửa tuần này"))
    to_second = await dialog.handle(Text(IN_GROUP_EDITOR, "Đã báo điện lực"))
    assert f"#{first.id}" in to_first.replies[0].text
    assert f"#{second.id}" in to_second.replies[0].text
    [a1] = await store.feedback.messages(first.id)
    [a2] = await store.feedback.messages(second.id)
    assert (a1.text, a1.staff_user) == ("Sẽ sửa tuần này", "telegram:900")
    assert (a2.text, a2.staff_user) == ("Đã báo điện lực", "telegram:901")


async def test_a_reply_to_another_card_answers_that_card(dialog: Dialog, store: Store) -> None:
    sub, _ = await store.subscribers.subscribe("telegram", "601")
    first = await store.feedback.add(sub.id, None, "Một", now=NOW)
    second = await store.feedback.add(sub.id, None, "Hai", now=NOW)
    await store.feedback.mark_forwarded(second.id, message_id="88", now=NOW, chat_id=GROUP)
    await dialog.handle(Press(IN_GROUP_ADMIN, f"ib:r:{first.id}"))
    await dialog.handle(Text(IN_GROUP_ADMIN, "Trả lời thẻ hai", reply_to="88"))
    assert await store.feedback.messages(first.id) == []
    [answer] = await store.feedback.messages(second.id)
    assert answer.text == "Trả lời thẻ hai"


async def test_huy_in_a_group_cancels_only_the_senders_step(dialog: Dialog, store: Store) -> None:
    sub, _ = await store.subscribers.subscribe("telegram", "601")
    ticket = await store.feedback.add(sub.id, None, "Đường hỏng", now=NOW)
    await dialog.handle(Press(IN_GROUP_ADMIN, f"ib:r:{ticket.id}"))
    out = await dialog.handle(Command(IN_GROUP_CITIZEN, "huy"))
    assert "hủy" not in out.replies[0].text.lower() or "không có" in out.replies[0].text.lower()
    await dialog.handle(Text(IN_GROUP_ADMIN, "Sẽ sửa"))
    [answer] = await store.feedback.messages(ticket.id)
    assert answer.text == "Sẽ sửa"


# -- forged or absurd callback data --

FORGED = [
    "fb:99999999999999999999999",
    "fb:²",
    "fb:-1",
    "fb:0",
    "st:t:424242",
    "st:f:424242",
    f"st:t:{2**63}",
    "st:t:abc",
    "st:zzz",
    "ib:r:99999999999999999999",
    "ib:c:2147483648",
    "bc:ok:18446744073709551616",
    "bc:ok:٣",
    "bw:aud:1:t99999999999",
    "bw:ok:99999999999999999999",
    "garbage",
    "nope:1",
    "\x00:\x00",
    "",
]


@pytest.mark.parametrize("data", FORGED)
@pytest.mark.parametrize("who", [CITIZEN, ADMIN], ids=["citizen", "admin"])
async def test_forged_callback_data_gets_a_toast_and_changes_nothing(
    dialog: Dialog, store: Store, data: str, who: Who
) -> None:
    await dialog.handle(Command(who, "start"))
    before = await store.subscribers.get("telegram", who.chat_id)
    out = await dialog.handle(Press(who, data, message_id="5", press_id="q"))
    assert out.toast, data
    assert not out.replies and out.edit is None and not out.wake_outbox
    assert await store.subscribers.get("telegram", who.chat_id) == before
    assert await store.feedback.count() == 0
    assert await store.announcements.recent(5) == []
    sub = await dialog.ctx.subscriber(who)
    assert sub.dialog_state is None


def test_parse_id_accepts_only_ids_a_row_can_have() -> None:
    from bot.dialog.context import parse_id

    assert parse_id("1") == 1 and parse_id("2147483647") == 2**31 - 1
    for bad in ("", "0", "-1", "2147483648", "²", "٣", " 1", "1 ", "1e3", "01" * 8, "+1"):
        assert parse_id(bad) is None, bad
