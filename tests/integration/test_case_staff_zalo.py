"""Zalo staff chats have no buttons: staff act on cases by typed commands ("PA00042 nhan",
"PA00042 tl …", "PA00042 gc …", "PA00042 mau 1", "PA00042 chuyen 3 <lý do>", "PA00042 gop
PA00031", "PA00042 ktq <lý do>", "PA00042 dong"), checked against the role and the unit in the
database like a press; a citizen typing one changes nothing. Real SQLite (and PostgreSQL when
configured), the dialog as the Zalo adapter drives it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.dialog.events import Command, Text, Who
from bot.dialog.router import Dialog
from jobs.channel import PLAIN, Capabilities
from jobs.staff.casework import parse_command, split_transfer
from storage.feedback import CaseIntake, RateLimit
from storage.kinds import Author, OutboxKind, TicketState
from storage.records import Feedback
from storage.store import Store

NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
ZALO_CAPS = Capabilities(markup=PLAIN, max_text=1800, max_caption=1800, buttons=True)
GROUP = "zg-phuong"
STAFF = Who("zalo", GROUP, "z901", chat_type="group", display_name="Cán bộ phường")
OUTSIDER = Who("zalo", GROUP, "z902", chat_type="group")
CITIZEN = Who("zalo", "z501", "z501", display_name="Trần Thị B")


@pytest.fixture
def store(any_store: Store) -> Store:
    return any_store


async def _setup(store: Store) -> tuple[Dialog, int, int, int]:
    await store.staff.ensure("zalo", "z901", role="editor")
    await store.staff.ensure("zalo", "z902", role="editor")
    ward = await store.units.add("UBND phường", platform="zalo", chat_id=GROUP)
    district = await store.units.add("Phòng Quản lý đô thị", platform="telegram", chat_id="-1")
    assert ward is not None and district is not None
    await store.units.add_member(ward.id, "zalo", "z901")
    await store.units.add_member(district.id, "zalo", "z902")
    await store.units.add_canned(
        ward.id,
        "Đã nhận",
        "Phản ánh {ma_phan_anh} của {ten} đã được {don_vi} tiếp nhận.",
        created_by="zalo:z901",
    )
    sub, _ = await store.subscribers.subscribe("zalo", "z501", display_name="Trần Thị B")
    dialog = Dialog(store, capabilities=lambda _p: ZALO_CAPS, clock=lambda: NOW)
    return dialog, ward.id, district.id, sub.id


async def _case(store: Store, sub: int, unit: int, text: str) -> Feedback:
    filed = await store.feedback.file(
        sub, None, text, limit=RateLimit(count=100), now=NOW, intake=CaseIntake(unit_id=unit)
    )
    assert isinstance(filed, Feedback)
    return filed


async def _say(dialog: Dialog, who: Who, text: str) -> str:
    out = await dialog.handle(Text(who, text))
    return "\n".join(m.text for m in out.replies)


async def test_typed_commands_handle_a_case(store: Store) -> None:
    dialog, ward, district, sub = await _setup(store)
    case = await _case(store, sub, ward, "Cống tắc ở tổ 5")
    code = case.shown_code

    # The staff help says how; a citizen's does not.
    staff_help = (await dialog.handle(Command(STAFF, "help"))).replies[0].text
    assert "PA00042 nhan" in staff_help and "PA00042 ktq" in staff_help
    citizen_help = (await dialog.handle(Command(CITIZEN, "help"))).replies[0].text
    assert "PA00042 nhan" not in citizen_help

    shown = await _say(dialog, STAFF, code.lower())
    assert code in shown and "Cống tắc" in shown and f"{code} nhan" in shown
    assert "quá hạn" not in shown

    # Another unit's editor and a citizen change nothing.
    assert "đơn vị khác" in await _say(dialog, OUTSIDER, f"{code} nhan")
    assert "cán bộ" in await _say(dialog, CITIZEN, f"{code} dong")
    assert (await store.feedback.get(case.id)).status == TicketState.NEW  # type: ignore[union-attr]

    assert code in await _say(dialog, STAFF, f"{code} Nhận")
    taken = await store.feedback.get(case.id)
    assert taken is not None and (taken.status, taken.assignee) == ("accepted", "zalo:z901")

    assert "không thấy" in await _say(dialog, STAFF, f"{code} gc Đội đã tới hiện trường")
    [note] = await store.cases.thread(case.id, notes=True)
    assert note.author == Author.NOTE and note.text == "Đội đã tới hiện trường"

    listed = await _say(dialog, STAFF, f"{code} mau")
    assert "1. Đã nhận" in listed and f"Phản ánh {code} của Trần Thị B" in listed
    await _say(dialog, STAFF, f"{code} mau 1")
    await _say(dialog, STAFF, f"{code} tl Đã thông cống xong, cảm ơn bạn")
    answers = [m.text for m in await store.feedback.messages(case.id) if m.author == "staff"]
    assert answers == [
        f"Phản ánh {code} của Trần Thị B đã được UBND phường tiếp nhận.",
        "Đã thông cống xong, cảm ơn bạn",
    ]
    owed = [r for r in await store.deliveries.all() if r.kind == OutboxKind.ANSWER]
    assert len(owed) == 2  # the note is not among what the citizen is owed
    assert all(r.item_id != note.id for r in await store.deliveries.all())

    listing = await dialog.handle(Text(STAFF, f"{code} chuyen"))
    units = listing.replies[0].text
    assert listing.replies[0].buttons == ()  # numbers to type, not a second numbering
    assert f"{district}. Phòng Quản lý đô thị" in units
    moved = await _say(dialog, STAFF, f"{code} chuyển {district} Thuộc tuyến đường quận")
    assert "Phòng Quản lý đô thị" in moved
    fresh = await store.feedback.get(case.id)
    assert fresh is not None and (fresh.unit_id, fresh.status) == (district, TicketState.NEW)
    # Now the case is the other unit's: the ward's editor is refused, the district's is not.
    assert "đơn vị khác" in await _say(dialog, STAFF, f"{code} dong")
    await _say(dialog, OUTSIDER, f"{code} đóng")
    assert (await store.feedback.get(case.id)).status == TicketState.CLOSED  # type: ignore[union-attr]

    audit = [e.action for e in reversed(await store.audit.recent())]
    assert audit == [
        "case.take",
        "case.note",
        "feedback.answer",
        "feedback.answer",
        "case.transfer",
        "feedback.close",
    ]


async def test_typed_merge_not_responsible_and_steps(store: Store) -> None:
    dialog, ward, _, sub = await _setup(store)
    kept = await _case(store, sub, ward, "Ổ gà lần đầu")
    dup = await _case(store, sub, ward, "Ổ gà lần hai")
    other = await _case(store, sub, ward, "Chó thả rông")

    assert kept.shown_code in await _say(dialog, STAFF, f"{dup.shown_code} gop {kept.shown_code}")
    merged = await store.feedback.get(dup.id)
    assert merged is not None and (merged.status, merged.merged_into) == ("duplicate", kept.id)
    refused = await _say(dialog, STAFF, f"{kept.shown_code} gop {kept.shown_code}")
    assert "chính" in refused

    # "ktq" without a reason asks for it; the next text of that member is the reason.
    asked = await _say(dialog, STAFF, f"{other.shown_code} ktq")
    assert "lý do" in asked
    await _say(dialog, OUTSIDER, "không phải lý do")  # another member's text is not it
    await _say(dialog, STAFF, "Thuộc thú y huyện, gọi 0123 456 789")
    done = await store.feedback.get(other.id)
    assert done is not None and done.status == TicketState.NOT_RESPONSIBLE
    assert done.state_reason == "Thuộc thú y huyện, gọi 0123 456 789"
    # A citizen writing their own code is left to the citizen flows.
    out = await dialog.handle(Text(CITIZEN, kept.shown_code))
    assert "cán bộ" not in " ".join(m.text for m in out.replies)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("PA00042 nhan", (42, "take", "")),
        ("pa42 tl Đã sửa xong", (42, "answer", "Đã sửa xong")),
        ("PA-42 trả lời Đã sửa", (42, "answer", "Đã sửa")),
        ("PA00042: ghi chú nội bộ thôi", (42, "note", "nội bộ thôi")),
        ("PA00042 Ghi chú nội bộ", (42, "note", "nội bộ")),
        ("PA00042 bỏ chặn", (42, "unban", "")),
        ("PA00042 nhận xử lý", (42, "take", "")),
        ("PA00042 ĐÓNG", (42, "close", "")),
        ("PA00042 gop PA00031", (42, "merge", "PA00031")),
        ("PA00042", (42, "show", "")),
        ("PA00042 hello", None),
        ("PH 12 nội dung", None),
        ("42 dong", None),
        ("PA999999999999 dong", None),
    ],
)
def test_parse_command(typed: str, expected: tuple[int, str, str] | None) -> None:
    parsed = parse_command(typed)
    assert (None if parsed is None else (parsed.case_id, parsed.action, parsed.arg)) == expected


def test_split_transfer() -> None:
    assert split_transfer("3 Sai địa bàn") == ("3", "Sai địa bàn")
    assert split_transfer("Phòng Xây dựng: Sai địa bàn") == ("Phòng Xây dựng", "Sai địa bàn")
    assert split_transfer("Phòng Xây dựng") == ("Phòng Xây dựng", "")
