"""Units, members, categories and canned answers on a real database (SQLite, PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from storage.feedback import CaseIntake, RateLimit
from storage.store import Store
from storage.units import DEFAULT_UNIT_NAME

NOW = datetime(2026, 4, 22, 3, tzinfo=UTC)


async def test_default_unit_is_created_once(any_store: Store) -> None:
    """Migration 0011 creates the default unit under a placeholder name; the configured name
    replaces it once, and an admin's own name is never replaced."""
    first = await any_store.units.ensure_default()
    again = await any_store.units.ensure_default("Another name")
    assert first.id == again.id and first.is_default and first.name == DEFAULT_UNIT_NAME
    assert first.chat_id is None and first.platform is None  # the configured staff chat
    assert [u.id for u in await any_store.units.all()] == [first.id]
    assert await any_store.units.rename(first.id, "Văn phòng UBND") is not None
    assert (await any_store.units.ensure_default()).name == "Văn phòng UBND"


async def test_units_crud(any_store: Store) -> None:
    units = any_store.units
    default = await units.ensure_default()
    roads = await units.add("Phòng Quản lý đô thị", platform="telegram", chat_id="-1001")
    assert roads is not None and roads.chat_id == "-1001" and not roads.is_default
    assert await units.add("phòng quản lý  ĐÔ THỊ") is None  # names compare case-insensitively
    assert (await units.find("phòng quản lý đô thị")) == roads
    assert (await units.find(f"#{roads.id}")) == roads
    assert await units.find("nowhere") is None
    assert await units.set_chat(roads.id, "zalo", "g-77")
    assert (await units.get(roads.id)).chat_id == "g-77"  # type: ignore[union-attr]
    assert await units.set_chat(roads.id, None, None)
    with pytest.raises(ValueError):
        await units.set_chat(roads.id, "zalo", None)
    renamed = await units.rename(roads.id, "Phòng QLĐT")
    assert renamed is not None and renamed.name == "Phòng QLĐT"
    assert await units.rename(roads.id, default.name) is None
    assert await units.remove(default.id) == "default"
    assert await units.remove(999) == "missing"
    assert await units.remove(roads.id) == "removed"
    assert [u.name for u in await units.all()] == [DEFAULT_UNIT_NAME]


async def test_a_unit_with_open_cases_cannot_be_removed(any_store: Store) -> None:
    units = any_store.units
    await units.ensure_default()
    roads = await units.add("Giao thông")
    assert roads is not None
    sub = await any_store.subscribers.ensure("telegram", "501")
    filed = await any_store.feedback.file(
        sub.id, None, "Ổ gà", limit=RateLimit(), now=NOW, intake=CaseIntake(unit_id=roads.id)
    )
    assert getattr(filed, "unit_id", None) == roads.id
    assert await units.remove(roads.id) == "open_cases"
    await any_store.cases.close(filed.id, actor="cli", now=NOW)  # type: ignore[union-attr]
    assert await units.remove(roads.id) == "removed"


async def test_members_must_be_staff(any_store: Store) -> None:
    units = any_store.units
    unit = await units.add("Tiếp dân")
    assert unit is not None
    assert await units.add_member(unit.id, "telegram", "42") == "no_staff"
    await any_store.staff.ensure("telegram", "42", role="editor")
    assert await units.add_member(unit.id, "telegram", "42") == "added"
    assert await units.add_member(unit.id, "telegram", "42") == "exists"
    assert await units.add_member(999, "telegram", "42") == "missing"
    assert [m.user_id for m in await units.members(unit.id)] == ["42"]
    assert [u.id for u in await units.units_of("telegram", "42")] == [unit.id]
    assert await units.is_member(unit.id, "telegram", "42")
    assert await units.remove_member(unit.id, "telegram", "42")
    assert not await units.remove_member(unit.id, "telegram", "42")
    assert not await units.is_member(unit.id, "telegram", "42")


async def test_categories(any_store: Store) -> None:
    units = any_store.units
    unit = await units.add("Môi trường")
    assert unit is not None
    trash = await units.add_category("Rác thải", unit_id=unit.id, deadline_days=5)
    noise = await units.add_category("Tiếng ồn", unit_id=None, deadline_days=10)
    assert trash is not None and noise is not None
    assert (trash.position, noise.position) == (1, 2) and trash.active
    assert await units.add_category("rác thải", unit_id=None, deadline_days=3) is None
    assert await units.add_category("X", unit_id=999, deadline_days=3) is None
    with pytest.raises(ValueError):
        await units.add_category("Y", unit_id=None, deadline_days=-1)
    moved = await units.edit_category(noise.id, position=0, deadline_days=7, unit_id=unit.id)
    assert moved is not None and moved.deadline_days == 7 and moved.unit_id == unit.id
    assert [c.name for c in await units.categories()] == ["Tiếng ồn", "Rác thải"]
    assert await units.edit_category(noise.id, name="Rác thải") is None  # another's name
    assert (await units.find_category("TIẾNG ỒN")) == moved
    # A category no case uses is deleted; one that a case uses is only deactivated.
    sub = await any_store.subscribers.ensure("zalo", "u1")
    filed = await any_store.feedback.file(
        sub.id, None, "Rác", limit=RateLimit(), now=NOW, intake=CaseIntake(category_id=trash.id)
    )
    assert getattr(filed, "unit_id", None) == unit.id  # routed by its category
    assert await units.remove_category(trash.id) == "deactivated"
    assert await units.remove_category(noise.id) == "removed"
    assert await units.remove_category(noise.id) == "missing"
    assert [c.name for c in await units.categories()] == ["Rác thải"]
    assert await units.categories(active_only=True) == []
    assert await units.edit_category(trash.id, active=True) is not None
    assert await units.deactivate_category(trash.id)
    # Removing a unit (its cases over) sends its categories to the default unit (unit NULL).
    await any_store.cases.close(filed.id, actor="cli", now=NOW)  # type: ignore[union-attr]
    assert await units.remove(unit.id) == "removed"
    assert (await units.category(trash.id)).unit_id is None  # type: ignore[union-attr]


async def test_canned_answers(any_store: Store) -> None:
    units = any_store.units
    unit = await units.add("Xây dựng")
    other = await units.add("Y tế")
    assert unit is not None and other is not None
    mine = await units.add_canned(unit.id, "Đã tiếp nhận", "Mã {ma_phan_anh}", created_by="cli")
    shared = await units.add_canned(None, "Cảm ơn", "Cảm ơn {ten}", created_by="cli")
    assert mine is not None and shared is not None
    assert await units.add_canned(unit.id, "Đã tiếp nhận", "again", created_by="cli") is None
    assert await units.add_canned(None, "Cảm ơn", "again", created_by="cli") is None
    assert await units.add_canned(999, "T", "x", created_by="cli") is None
    await units.add_canned(other.id, "Khác", "x", created_by="cli")
    assert [c.title for c in await units.canned(unit.id)] == ["Cảm ơn", "Đã tiếp nhận"]
    assert [c.title for c in await units.canned(unit.id, shared=False)] == ["Đã tiếp nhận"]
    assert [c.title for c in await units.canned(None)] == ["Cảm ơn"]
    assert (await units.canned_answer(mine.id)) == mine
    assert await units.remove_canned(mine.id)
    assert not await units.remove_canned(mine.id)
