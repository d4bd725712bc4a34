"""/donvi and /linhvuc in chat: admins only (role read per command), every change audited,
Vietnamese subcommands with or without diacritics, English aliases."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.dialog.events import Command, Who
from bot.dialog.flows.units import fold, split_args
from bot.dialog.router import Dialog
from jobs.channel import Capabilities
from storage.store import Store

NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
ADMIN = Who("telegram", "900", "900")
EDITOR = Who("telegram", "901", "901")
CITIZEN = Who("telegram", "501", "501")
GROUP = Who("telegram", "-100777", "900", chat_type="supergroup")


@pytest.fixture
async def dialog(any_store: Store) -> Dialog:
    await any_store.staff.ensure("telegram", "900", role="admin")
    await any_store.staff.ensure("telegram", "901", role="editor")
    caps = Capabilities(markup="plain")
    return Dialog(any_store, capabilities=lambda _p: caps, clock=lambda: NOW)


async def say(dialog: Dialog, who: Who, name: str, args: str = "") -> str:
    out = await dialog.handle(Command(who, name, args))
    return out.replies[0].text


async def test_units_from_chat(dialog: Dialog, any_store: Store) -> None:
    store = any_store
    for who in (EDITOR, CITIZEN):  # admins only, checked in the database
        assert "quản trị" in (await say(dialog, who, "donvi", "them Phòng X")).lower()
    assert await store.units.find("Phòng X") is None
    listed = await say(dialog, ADMIN, "donvi")
    assert "Bộ phận một cửa *" in listed and "nhóm cán bộ chung" in listed
    assert "#2" in await say(dialog, ADMIN, "donvi", "thêm Phòng Tài nguyên")
    assert "Đã có" in await say(dialog, ADMIN, "donvi", "them phòng tài nguyên")
    # "nhom" must be typed in the unit's group; it becomes the unit's chat there.
    assert "Gõ lệnh này trong nhóm" in await say(dialog, ADMIN, "donvi", "nhom Phòng Tài nguyên")
    assert "telegram:-100777" in await say(dialog, GROUP, "donvi", "nhóm Phòng Tài nguyên")
    assert (await store.units.find("2")).chat_id == "-100777"  # type: ignore[union-attr]
    assert "chưa là cán bộ" in await say(dialog, ADMIN, "donvi", "themtv Phòng Tài nguyên | 777")
    assert await store.units.members(2) == []  # 777 is not staff
    assert "Đã thêm" in await say(dialog, ADMIN, "units", "addmember 2 | telegram:901")
    assert "telegram:901" in await say(dialog, ADMIN, "donvi", "thanhvien 2")
    assert "ra khỏi" in await say(dialog, ADMIN, "donvi", "xoatv 2 | 901")
    assert "nhóm cán bộ chung" in await say(dialog, ADMIN, "donvi", "bonhom 2")
    assert "Phòng TNMT" in await say(dialog, ADMIN, "donvi", "doiten 2 | Phòng TNMT")
    assert "mặc định" in await say(dialog, ADMIN, "donvi", "xoa Bộ phận một cửa")
    assert "Đã xoá" in await say(dialog, ADMIN, "donvi", "xoá Phòng TNMT")
    assert "Cách dùng /donvi" in await say(dialog, ADMIN, "donvi", "bay")
    assert "Không có đơn vị" in await say(dialog, ADMIN, "donvi", "xoa Không có")
    entries = await store.audit.recent(action="unit")
    assert [(e.actor, e.action) for e in reversed(entries)] == [
        ("telegram:900", "unit.add"),
        ("telegram:900", "unit.set_chat"),
        ("telegram:900", "unit.member_add"),
        ("telegram:900", "unit.member_remove"),
        ("telegram:900", "unit.set_chat"),
        ("telegram:900", "unit.rename"),
        ("telegram:900", "unit.remove"),
    ]


async def test_categories_from_chat(dialog: Dialog, any_store: Store) -> None:
    store = any_store
    await store.units.add("Giao thông vận tải")
    assert "quản trị" in (await say(dialog, EDITOR, "linhvuc", "them A | - | 3")).lower()
    assert "Chưa có lĩnh vực" in await say(dialog, ADMIN, "linhvuc")
    assert "5 ngày" in await say(dialog, ADMIN, "linhvuc", "them Đường sá | Giao thông vận tải | 5")
    assert "10 ngày" in await say(dialog, ADMIN, "linhvuc", "thêm Khác")
    assert "Không có đơn vị" in await say(dialog, ADMIN, "linhvuc", "them B | Không có | 5")
    assert "Cách dùng" in await say(dialog, ADMIN, "linhvuc", "them C | - | năm")
    assert "Cách dùng" in await say(dialog, ADMIN, "linhvuc", "them C | - | 999")
    await say(dialog, ADMIN, "linhvuc", "han Khác | 7")
    await say(dialog, ADMIN, "linhvuc", "vitri Khác | 0")
    await say(dialog, ADMIN, "categories", "unit đường sá | -")
    listed = await say(dialog, ADMIN, "linhvuc")
    assert listed.index("Khác") < listed.index("Đường sá")
    assert "Khác → đơn vị mặc định, hạn 7 ngày" in listed
    assert "Đường sá → đơn vị mặc định" in listed
    assert "ẩn" in await say(dialog, ADMIN, "linhvuc", "an Khác")
    assert [c.name for c in await store.units.categories(active_only=True)] == ["Đường sá"]
    assert "(đã ẩn)" in await say(dialog, ADMIN, "linhvuc")
    await say(dialog, ADMIN, "linhvuc", "hien Khác")
    assert "Đã xoá" in await say(dialog, ADMIN, "linhvuc", "xoa Khác")  # no case uses it
    actions = [e.action for e in reversed(await store.audit.recent(action="category"))]
    assert actions == [
        "category.add",
        "category.add",
        "category.edit",
        "category.edit",
        "category.edit",
        "category.hide",
        "category.show",
        "category.removed",
    ]


@pytest.mark.parametrize(
    ("text", "word", "parts"),
    [
        ("Thêm Phòng A", "them", ["Phòng A"]),
        ("  xoatv  Phòng  A |  901 ", "xoatv", ["Phòng A", "901"]),
        ("ĐỔI TÊN", "doi", ["TÊN"]),
        ("", "", []),
    ],
)
def test_split_args(text: str, word: str, parts: list[str]) -> None:
    assert split_args(text) == (word, parts)
    assert fold("Đơn Vị") == "don vi"
