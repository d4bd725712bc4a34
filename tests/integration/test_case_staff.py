"""Staff handle cases in their unit's chat: the card lands in the unit's chat by category, and
take, note, canned answer, transfer, merge, not responsible and close each work from the
card's buttons, are checked against the role and the unit at the moment of the press, are
audited, and tell the citizen through the outbox — an internal note never reaches them.
Real SQLite file (and PostgreSQL where the database decides), python-telegram-bot against the
fake Bot API on loopback, the deliverer sending the outbox for real."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from bot.adapters.telegram.adapter import TelegramChannel, make_bot
from bot.dialog.events import Command, Press, Text, Who
from bot.dialog.router import Dialog
from jobs.channel import HTML, Capabilities
from jobs.send.deliverer import Deliverer
from jobs.staff.forward import forward_feedback
from storage.feedback import CaseIntake, RateLimit
from storage.kinds import Author, CaseEventKind, OutboxKind, TicketState
from storage.records import Feedback
from storage.store import Store
from tests.fakes.telegram_api import FakeTelegram

NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)  # Wednesday 10:00 in Vietnam
STAFF_CHAT = "-900"  # the configured staff chat (BANTIN_STAFF_CHAT_ID)
CHAT_A = "-1001"
CHAT_B = "-1002"
CITIZEN = Who("telegram", "501", "501", display_name="Nguyễn Văn A")
ADMIN = Who("telegram", "900", "900")
EDITOR_A = Who("telegram", CHAT_A, "901", chat_type="supergroup")
EDITOR_B = Who("telegram", CHAT_B, "902", chat_type="supergroup")
B_IN_A = Who("telegram", CHAT_A, "902", chat_type="supergroup")
CITIZEN_IN_A = Who("telegram", CHAT_A, "501", chat_type="supergroup")


def clock() -> datetime:
    return NOW


@dataclass
class Rig:
    store: Store
    tg: FakeTelegram
    channel: TelegramChannel
    dialog: Dialog
    unit_a: int
    unit_b: int
    category: int
    canned: int
    citizen: int

    async def case(self, text: str = "Ổ gà lớn trên đường Lê Lợi") -> Feedback:
        filed = await self.store.feedback.file(
            self.citizen,
            None,
            text,
            limit=RateLimit(count=100),
            now=NOW,
            intake=CaseIntake(
                category_id=self.category,
                due_at=NOW + timedelta(days=5),
                place_lat=10.7725,
                place_lon=106.6980,
                place_label="Lê Lợi, Quận 1",
            ),
        )
        assert isinstance(filed, Feedback)
        return filed

    async def forward(self) -> int:
        return await forward_feedback(self.store, self.channel, STAFF_CHAT, clock=clock)

    async def deliver(self) -> None:
        # The real clock: the citizen's notices are paced apart, the fixed one never moves.
        deliverer = Deliverer(
            self.store,
            {"telegram": self.channel},
            rate=None,
            concurrency=2,
            clock=lambda: datetime.now(UTC),
        )
        await deliverer.run_until_idle()

    async def press(self, who: Who, data: str, message_id: str | None = None) -> object:
        return await self.dialog.handle(Press(who, data, message_id=message_id))

    async def get(self, case_id: int) -> Feedback:
        case = await self.store.feedback.get(case_id)
        assert case is not None
        return case


async def make_rig(store: Store, tg: FakeTelegram, channel: TelegramChannel) -> Rig:
    await store.staff.ensure("telegram", "900", role="admin")
    await store.staff.ensure("telegram", "901", role="editor")
    await store.staff.ensure("telegram", "902", role="editor")
    unit_a = await store.units.add("Phòng Quản lý đô thị", platform="telegram", chat_id=CHAT_A)
    unit_b = await store.units.add("Phòng Tài nguyên", platform="telegram", chat_id=CHAT_B)
    assert unit_a is not None and unit_b is not None
    assert await store.units.add_member(unit_a.id, "telegram", "901") == "added"
    assert await store.units.add_member(unit_b.id, "telegram", "902") == "added"
    category = await store.units.add_category("Giao thông", unit_id=unit_a.id, deadline_days=5)
    assert category is not None
    canned = await store.units.add_canned(
        unit_a.id,
        "Tiếp nhận",
        "Chào {ten}, phản ánh {ma_phan_anh} ({linh_vuc}) đã được {don_vi} tiếp nhận.",
        created_by="telegram:900",
    )
    assert canned is not None
    sub, _ = await store.subscribers.subscribe("telegram", "501", display_name="Nguyễn Văn A")
    dialog = Dialog(store, capabilities=lambda _p: channel.capabilities, clock=clock)
    return Rig(store, tg, channel, dialog, unit_a.id, unit_b.id, category.id, canned.id, sub.id)


@pytest.fixture
async def channel(telegram_api: FakeTelegram) -> AsyncIterator[TelegramChannel]:
    bot = make_bot(telegram_api.token, telegram_api.api_url)
    await bot.initialize()
    yield TelegramChannel(bot)
    await bot.shutdown()


@pytest.fixture
async def rig(any_store: Store, telegram_api: FakeTelegram, channel: TelegramChannel) -> Rig:
    return await make_rig(any_store, telegram_api, channel)


def _data(message: object) -> list[str]:
    markup = getattr(message, "reply_markup", None) or {}
    return [b["callback_data"] for row in markup.get("inline_keyboard", []) for b in row]


def _buttons(outcome: object) -> list[str]:
    return [b.data for m in outcome.replies for row in m.buttons for b in row]  # type: ignore[attr-defined]


async def test_a_case_lands_in_its_units_chat_and_is_taken(rig: Rig) -> None:
    store, tg = rig.store, rig.tg
    case = await rig.case()
    assert await rig.forward() == 1
    assert tg.messages_to(int(STAFF_CHAT)) == [] and tg.messages_to(int(CHAT_B)) == []
    [card] = tg.messages_to(int(CHAT_A))
    text = card.plain_text
    assert case.shown_code in text and "Ổ gà lớn" in text
    assert "Giao thông" in text and "Phòng Quản lý đô thị" in text and "Trạng thái: mới" in text
    assert "Hạn trả lời: 07/12/2026 10:00" in text and "quá hạn" not in text
    assert "https://www.openstreetmap.org/?mlat=10.772500&amp;mlon=106.698000" in card.text
    data = _data(card)
    assert data[:3] == [f"ib:r:{case.id}", f"ib:c:{case.id}", f"ib:b:{case.id}"]
    assert {f"cs:t:{case.id}", f"cs:n:{case.id}", f"cs:x:{case.id}"} <= set(data)
    assert {f"cs:m:{case.id}", f"cs:k:{case.id}"} <= set(data)

    # Another unit's editor and a citizen change nothing.
    other = await rig.press(B_IN_A, f"cs:t:{case.id}", str(card.message_id))
    assert "đơn vị khác" in (other.toast or "")  # type: ignore[attr-defined]
    forged = await rig.press(CITIZEN_IN_A, f"cs:t:{case.id}", str(card.message_id))
    assert "cán bộ" in (forged.toast or "")  # type: ignore[attr-defined]
    assert (await rig.get(case.id)).status == TicketState.NEW
    assert await store.deliveries.counts(kind=OutboxKind.CASE_NOTICE) == {}

    taken = await rig.press(EDITOR_A, f"cs:t:{case.id}", str(card.message_id))
    fresh = await rig.get(case.id)
    assert (fresh.status, fresh.assignee) == (TicketState.ACCEPTED, "telegram:901")
    assert taken.edit is not None  # type: ignore[attr-defined]
    assert "đã tiếp nhận" in taken.edit.text and "telegram:901" in taken.edit.text  # type: ignore[attr-defined]
    assert [e.action for e in await store.audit.recent()] == ["case.take"]

    await rig.deliver()
    [notice] = tg.messages_to(501)
    assert case.shown_code in notice.plain_text and "Phòng Quản lý đô thị" in notice.plain_text


async def test_a_note_never_reaches_the_citizen(rig: Rig) -> None:
    store, tg = rig.store, rig.tg
    case = await rig.case()
    await rig.forward()
    prompt = await rig.press(EDITOR_A, f"cs:n:{case.id}")
    assert "ghi chú" in prompt.replies[0].text.lower()  # type: ignore[attr-defined]
    # Another member's text in the group is not the note.
    await rig.dialog.handle(Text(B_IN_A, "Tôi không phải người ghi chú"))
    done = await rig.dialog.handle(Text(EDITOR_A, "BÍ MẬT: đã cử đội kiểm tra"))
    assert "người dân không thấy" in done.replies[0].text
    [note] = await store.cases.thread(case.id, notes=True)
    assert (note.author, note.staff_user) == (Author.NOTE, "telegram:901")
    assert await store.cases.thread(case.id, notes=False) == []
    assert [e.action for e in await store.audit.recent()] == ["case.note"]
    assert [r.kind for r in await store.deliveries.all()] == []  # nothing for the citizen

    await rig.forward()  # notes are never a card of their own either
    await rig.deliver()
    everything = [m.plain_text for chat in (501, int(CHAT_A)) for m in tg.messages_to(chat)]
    assert not any("BÍ MẬT" in text for text in everything)
    assert tg.messages_to(501) == []


async def test_answer_with_a_canned_answer(rig: Rig) -> None:
    store, tg = rig.store, rig.tg
    case = await rig.case()
    await rig.forward()
    prompt = await rig.press(EDITOR_A, f"ib:r:{case.id}")
    assert f"cs:a:{case.id}:{rig.canned}" in _buttons(prompt)
    assert "Nhập câu trả lời" in prompt.replies[0].text  # type: ignore[attr-defined]
    preview = await rig.press(EDITOR_A, f"cs:a:{case.id}:{rig.canned}")
    filled = (
        f"Chào Nguyễn Văn A, phản ánh {case.shown_code} (Giao thông) đã được "
        "Phòng Quản lý đô thị tiếp nhận."
    )
    assert filled in preview.replies[0].text  # type: ignore[attr-defined]
    assert _buttons(preview) == [f"cs:s:{case.id}:{rig.canned}"]
    assert await store.feedback.messages(case.id) == []  # a preview sends nothing
    sent = await rig.press(EDITOR_A, f"cs:s:{case.id}:{rig.canned}")
    assert sent.wake_outbox  # type: ignore[attr-defined]
    [answer] = await store.feedback.messages(case.id)
    assert (answer.text, answer.staff_user) == (filled, "telegram:901")
    assert (await rig.get(case.id)).status == TicketState.ANSWERED
    # The «Trả lời» step is over: the next text is not a second answer.
    await rig.dialog.handle(Text(EDITOR_A, "câu chuyện riêng trong nhóm"))
    assert len(await store.feedback.messages(case.id)) == 1
    await rig.deliver()
    assert any(filled in m.plain_text for m in tg.messages_to(501))
    # A canned answer of another unit is refused.
    other = await store.units.add_canned(rig.unit_b, "Khác", "Không", created_by="x")
    assert other is not None
    refused = await rig.press(EDITOR_A, f"cs:a:{case.id}:{other.id}")
    assert refused.toast and not refused.replies  # type: ignore[attr-defined]


async def test_transfer_posts_the_card_in_the_other_units_chat(rig: Rig) -> None:
    store, tg = rig.store, rig.tg
    case = await rig.case()
    await rig.forward()
    [card] = tg.messages_to(int(CHAT_A))
    picked = await rig.press(EDITOR_A, f"cs:x:{case.id}", str(card.message_id))
    assert f"cs:u:{case.id}:{rig.unit_b}" in _buttons(picked)
    assert f"cs:u:{case.id}:{rig.unit_a}" not in _buttons(picked)
    asked = await rig.press(EDITOR_A, f"cs:u:{case.id}:{rig.unit_b}")
    assert "Phòng Tài nguyên" in asked.replies[0].text  # type: ignore[attr-defined]
    done = await rig.dialog.handle(Text(EDITOR_A, "Thuộc lĩnh vực môi trường"))
    assert "Phòng Tài nguyên" in done.replies[0].text
    fresh = await rig.get(case.id)
    assert (fresh.unit_id, fresh.status, fresh.assignee) == (rig.unit_b, TicketState.NEW, None)
    [event] = [e for e in await store.cases.history(case.id) if e.kind == "transferred"]
    assert (event.detail, event.unit_id, event.actor) == (
        "Thuộc lĩnh vực môi trường",
        rig.unit_b,
        "telegram:901",
    )
    assert [e.action for e in await store.audit.recent()] == ["case.transfer"]

    assert await rig.forward() == 1  # the card again, in the new unit's chat
    [moved] = tg.messages_to(int(CHAT_B))
    assert case.shown_code in moved.plain_text and "Phòng Tài nguyên" in moved.plain_text
    # From now on the old unit's editor may not act, the new unit's may.
    refused = await rig.press(EDITOR_A, f"cs:t:{case.id}", str(card.message_id))
    assert "đơn vị khác" in (refused.toast or "")  # type: ignore[attr-defined]
    await rig.press(EDITOR_B, f"cs:t:{case.id}", str(moved.message_id))
    assert (await rig.get(case.id)).assignee == "telegram:902"

    await rig.deliver()
    told = "\n".join(m.plain_text for m in tg.messages_to(501))
    assert "Phòng Tài nguyên" in told and "Thuộc lĩnh vực môi trường" in told


async def test_merge_not_responsible_and_close(rig: Rig) -> None:
    store, tg = rig.store, rig.tg
    kept = await rig.case("Ổ gà Lê Lợi (lần đầu)")
    dup = await rig.case("Ổ gà Lê Lợi (lần hai)")
    other = await rig.case("Cây đổ")
    closing = await rig.case("Đèn đường")
    await rig.forward()

    await rig.press(EDITOR_A, f"cs:m:{dup.id}")
    merged = await rig.dialog.handle(Text(EDITOR_A, kept.shown_code.lower()))
    assert kept.shown_code in merged.replies[0].text
    fresh = await rig.get(dup.id)
    assert (fresh.status, fresh.merged_into) == (TicketState.DUPLICATE, kept.id)
    assert (await store.cases.followed(dup.id)).id == kept.id  # type: ignore[union-attr]

    await rig.press(EDITOR_A, f"cs:k:{other.id}")
    reason = "Cây xanh do Công ty Công viên quản lý, liên hệ 028 1234 5678"
    await rig.dialog.handle(Text(EDITOR_A, reason))
    fresh = await rig.get(other.id)
    assert (fresh.status, fresh.state_reason) == (TicketState.NOT_RESPONSIBLE, reason)

    [card] = [m for m in tg.messages_to(int(CHAT_A)) if closing.shown_code in m.plain_text]
    closed = await rig.press(EDITOR_A, f"ib:c:{closing.id}", str(card.message_id))
    assert "đã đóng" in closed.edit.text  # type: ignore[attr-defined]
    assert (await rig.get(closing.id)).status == TicketState.CLOSED
    again = await rig.press(EDITOR_A, f"ib:c:{closing.id}", str(card.message_id))
    assert again.toast and again.edit is None  # type: ignore[attr-defined]

    actions = [e.action for e in reversed(await store.audit.recent())]
    assert actions == ["case.merge", "case.not_responsible", "feedback.close"]
    await rig.deliver()
    told = "\n".join(m.plain_text for m in tg.messages_to(501))
    assert kept.shown_code in told and "028 1234 5678" in told


async def test_inbox_lists_the_units_open_cases_overdue_first(rig: Rig) -> None:
    store = rig.store
    late = await rig.case("Quá hạn rồi")
    soon = await rig.case("Sắp tới hạn")
    async with store.feedback._tx() as s:  # due times as the deadline job would have set
        from storage.models import FeedbackRow

        (await s.get(FeedbackRow, late.id)).due_at = NOW - timedelta(days=1)  # type: ignore[union-attr]
        (await s.get(FeedbackRow, soon.id)).due_at = NOW + timedelta(hours=3)  # type: ignore[union-attr]
    elsewhere = await store.feedback.file(
        rig.citizen,
        None,
        "Của phòng khác",
        limit=RateLimit(count=100),
        now=NOW,
        intake=CaseIntake(unit_id=rig.unit_b),
    )
    assert isinstance(elsewhere, Feedback)
    listed = await rig.dialog.handle(Command(EDITOR_A, "inbox"))
    text = listed.replies[0].text
    assert text.index(late.shown_code) < text.index(soon.shown_code)
    assert "quá hạn" in text and elsewhere.shown_code not in text
    everything = (await rig.dialog.handle(Command(ADMIN, "inbox"))).replies[0].text
    assert elsewhere.shown_code in everything
    refused = await rig.dialog.handle(Command(CITIZEN, "inbox"))
    assert "cán bộ" in refused.replies[0].text


async def test_a_default_unit_without_members_is_every_staff_members(rig: Rig) -> None:
    store = rig.store
    filed = await store.feedback.file(
        rig.citizen, None, "Không rõ lĩnh vực", limit=RateLimit(count=100), now=NOW
    )
    assert isinstance(filed, Feedback)
    assert await rig.forward() == 1
    [card] = rig.tg.messages_to(int(STAFF_CHAT))  # the default unit: the configured chat
    assert filed.shown_code in card.plain_text
    in_staff = Who("telegram", STAFF_CHAT, "902", chat_type="supergroup")
    await rig.press(in_staff, f"cs:t:{filed.id}", str(card.message_id))
    assert (await rig.get(filed.id)).assignee == "telegram:902"


async def test_old_card_buttons_still_work(rig: Rig) -> None:
    """A card sent before cases existed carried only ib:r/ib:c/ib:b/ib:u: each still works,
    and so does a reply to that card."""
    store = rig.store
    case = await rig.case()
    await store.feedback.mark_forwarded(case.id, message_id="77", now=NOW, chat_id=CHAT_A)
    out = await rig.press(EDITOR_A, f"ib:b:{case.id}", "77")
    assert await store.feedback.is_banned(rig.citizen) and "Bỏ chặn" in str(out.edit)  # type: ignore[attr-defined]
    await rig.press(EDITOR_A, f"ib:u:{case.id}", "77")
    assert not await store.feedback.is_banned(rig.citizen)
    await rig.dialog.handle(Text(EDITOR_A, "Đã chuyển tổ kỹ thuật", reply_to="77"))
    [answer] = await store.feedback.messages(case.id)
    assert answer.text == "Đã chuyển tổ kỹ thuật"
    # The other unit's editor cannot answer by replying either.
    await rig.dialog.handle(Text(B_IN_A, "Tôi trả lời hộ", reply_to="77"))
    assert len(await store.feedback.messages(case.id)) == 1
    await rig.press(EDITOR_A, f"ib:c:{case.id}", "77")
    assert (await rig.get(case.id)).status == TicketState.CLOSED
    kinds = [e.kind for e in await store.cases.history(case.id)]
    assert kinds == [CaseEventKind.CREATED, CaseEventKind.ANSWERED, CaseEventKind.CLOSED]


async def test_forged_case_data_gets_a_toast(rig: Rig) -> None:
    case = await rig.case()
    for data in (
        "cs:t:99999999999999",
        "cs:u:1",
        f"cs:u:{case.id}:x",
        f"cs:t:{case.id}:5",
        "cs:zz:1",
        "cs:",
    ):
        out = await rig.press(EDITOR_A, data)
        assert out.toast and not out.replies and out.edit is None, data  # type: ignore[attr-defined]
    assert (await rig.get(case.id)).status == TicketState.NEW


CAPS = Capabilities(markup=HTML)
