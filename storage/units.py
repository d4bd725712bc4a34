"""Units (đơn vị xử lý), their members, categories (lĩnh vực) and canned answers.

Admins set these up from chat (/donvi, /linhvuc) or the CLI (`bantin units|categories|canned`).
A deployment that sets up nothing keeps working as before: the default unit, created on first
use, has no chat of its own, which means "the configured staff chat(s)"
(BANTIN_STAFF_CHAT_ID / BANTIN_ZALO_STAFF_CHAT_ID); the layers above resolve that.

Rules kept here rather than in each caller:
- the default unit cannot be removed, and a unit still holding open cases cannot either
  (transfer them first), so no case is ever left without somebody to answer it;
- a category that cases refer to is deactivated, never deleted, so old cases and the monthly
  report keep their category;
- a member must be on the staff list first (roles live there; a unit only says where).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Literal

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.base import Repo
from storage.kinds import OPEN_STATES
from storage.models import (
    CannedAnswerRow,
    CategoryRow,
    FeedbackRow,
    StaffRow,
    UnitMemberRow,
    UnitRow,
    utcnow,
)
from storage.records import CannedAnswer, Category, StaffMember, Unit

DEFAULT_UNIT_NAME = "Bộ phận một cửa"
# What migration 0011 (and storage/feedback.py) names the default unit it creates; replaced by
# the configured name (BANTIN_DEFAULT_UNIT_NAME) at start, unless an admin renamed it.
MIGRATED_DEFAULT_NAME = "Mặc định"
NAME_MAX = 200
TITLE_MAX = 100
MAX_DEADLINE_DAYS = 365

RemoveUnit = Literal["removed", "missing", "default", "open_cases"]
RemoveCategory = Literal["removed", "deactivated", "missing"]
AddMember = Literal["added", "exists", "no_staff", "missing"]


def _unit(row: UnitRow) -> Unit:
    return Unit(
        id=row.id,
        name=row.name,
        platform=row.platform,
        chat_id=row.chat_id,
        is_default=bool(row.is_default),
        created_at=row.created_at,
    )


def _category(row: CategoryRow) -> Category:
    return Category(
        id=row.id,
        name=row.name,
        unit_id=row.unit_id,
        deadline_days=row.deadline_days,
        position=row.position,
        active=bool(row.active),
    )


def _canned(row: CannedAnswerRow) -> CannedAnswer:
    return CannedAnswer(
        id=row.id,
        unit_id=row.unit_id,
        title=row.title,
        text=row.text,
        created_by=row.created_by,
        created_at=row.created_at,
    )


def _clean(name: str, limit: int = NAME_MAX) -> str:
    cleaned = " ".join(name.split())
    if not cleaned or len(cleaned) > limit:
        raise ValueError(f"a name must be 1 to {limit} characters")
    return cleaned


def _check_days(days: int) -> int:
    if not 0 <= days <= MAX_DEADLINE_DAYS:
        raise ValueError(f"deadline days must be 0 to {MAX_DEADLINE_DAYS}")
    return days


class UnitRepo(Repo):
    """Units, members, categories and canned answers; records out, sessions stay inside."""

    # -- units ---------------------------------------------------------------------------------

    async def all(self) -> list[Unit]:
        """Default unit first, then by name."""
        q = select(UnitRow).order_by(UnitRow.is_default.desc(), UnitRow.name, UnitRow.id)
        async with self._tx() as s:
            return [_unit(r) for r in (await s.execute(q)).scalars()]

    async def get(self, unit_id: int) -> Unit | None:
        async with self._tx() as s:
            row = await s.get(UnitRow, unit_id)
            return _unit(row) if row else None

    async def find(self, ref: str) -> Unit | None:
        """A unit by id ("3", "#3") or by name, case-insensitively (what admins type)."""
        ref = " ".join(ref.split())
        digits = ref.lstrip("#")
        async with self._tx() as s:
            if digits.isascii() and digits.isdigit() and len(digits) < 10:
                row = await s.get(UnitRow, int(digits))
                if row is not None:
                    return _unit(row)
            return await self._by_name(s, ref)

    async def _by_name(self, s: AsyncSession, name: str) -> Unit | None:
        wanted = name.casefold()
        # Unit lists are short (tens): compare in Python so "Phòng Xây dựng" matches
        # "phòng xây dựng" on SQLite too, whose lower() knows ASCII only.
        for row in (await s.execute(select(UnitRow))).scalars():
            if row.name.casefold() == wanted:
                return _unit(row)
        return None

    async def ensure_default(self, name: str = DEFAULT_UNIT_NAME) -> Unit:
        """The default unit, created (chat NULL: the configured staff chat) if there is none,
        and given `name` if it still has the migration's placeholder name.

        Two processes starting together may both try; the name is unique, so the loser reads
        the winner's row."""
        for _ in range(3):
            async with self._tx() as s:
                row = await self._default_row(s)
                if row is not None:
                    if row.name == MIGRATED_DEFAULT_NAME and name != row.name:
                        # the placeholder the migration gave it: the operator's name wins
                        if await self._by_name(s, _clean(name)) is None:
                            row.name = _clean(name)
                    return _unit(row)
            try:
                async with self._tx() as s:
                    taken = await self._by_name(s, _clean(name))
                    if taken is not None:  # an ordinary unit of that name becomes the default
                        await s.execute(
                            update(UnitRow).where(UnitRow.id == taken.id).values(is_default=True)
                        )
                        return replace(taken, is_default=True)
                    row = UnitRow(name=_clean(name), is_default=True, created_at=utcnow())
                    s.add(row)
                    await s.flush()
                    return _unit(row)
            except IntegrityError:
                continue
        raise RuntimeError("could not create the default unit")

    async def _default_row(self, s: AsyncSession) -> UnitRow | None:
        q = select(UnitRow).where(UnitRow.is_default.is_(True)).order_by(UnitRow.id).limit(1)
        return (await s.execute(q)).scalar_one_or_none()

    async def add(
        self, name: str, *, platform: str | None = None, chat_id: str | None = None
    ) -> Unit | None:
        """A new unit; None when the name is taken (names are what admins type)."""
        cleaned = _clean(name)
        if (platform is None) != (chat_id is None):
            raise ValueError("a chat needs both its platform and its id")
        try:
            async with self._tx() as s:
                if await self._by_name(s, cleaned) is not None:
                    return None
                row = UnitRow(name=cleaned, platform=platform, chat_id=chat_id, created_at=utcnow())
                s.add(row)
                await s.flush()
                return _unit(row)
        except IntegrityError:
            return None

    async def rename(self, unit_id: int, name: str) -> Unit | None:
        """None when the unit is missing or the name belongs to another unit."""
        cleaned = _clean(name)
        try:
            async with self._tx() as s:
                other = await self._by_name(s, cleaned)
                row = await s.get(UnitRow, unit_id)
                if row is None or (other is not None and other.id != unit_id):
                    return None
                row.name = cleaned
                return _unit(row)
        except IntegrityError:
            return None

    async def set_chat(self, unit_id: int, platform: str | None, chat_id: str | None) -> bool:
        """The unit's staff chat; (None, None) sends it back to the configured staff chat."""
        if (platform is None) != (chat_id is None):
            raise ValueError("a chat needs both its platform and its id")
        async with self._tx() as s:
            res = await s.execute(
                update(UnitRow)
                .where(UnitRow.id == unit_id)
                .values(platform=platform, chat_id=chat_id)
            )
            return bool(res.rowcount)  # type: ignore[attr-defined]

    async def set_default(self, unit_id: int) -> bool:
        """Make this unit the default one (where cases without a category go)."""
        async with self._tx() as s:
            if await s.get(UnitRow, unit_id) is None:
                return False
            await s.execute(update(UnitRow).values(is_default=UnitRow.id == unit_id))
            return True

    async def remove(self, unit_id: int) -> RemoveUnit:
        """Remove a unit, unless it is the default one or still holds open cases (transfer
        them first). Its categories then route to the default unit (unit NULL)."""
        async with self._tx() as s:
            row = await s.get(UnitRow, unit_id, with_for_update=True)
            if row is None:
                return "missing"
            if row.is_default:
                return "default"
            open_cases = select(func.count()).where(
                FeedbackRow.unit_id == unit_id, FeedbackRow.status.in_(OPEN_STATES)
            )
            if int((await s.execute(open_cases)).scalar_one()) > 0:
                return "open_cases"
            await s.execute(
                update(CategoryRow).where(CategoryRow.unit_id == unit_id).values(unit_id=None)
            )
            await s.execute(delete(UnitMemberRow).where(UnitMemberRow.unit_id == unit_id))
            await s.execute(delete(CannedAnswerRow).where(CannedAnswerRow.unit_id == unit_id))
            await s.delete(row)
            return "removed"

    # -- members -------------------------------------------------------------------------------

    async def members(self, unit_id: int) -> list[StaffMember]:
        q = (
            select(StaffRow)
            .join(UnitMemberRow, UnitMemberRow.staff_id == StaffRow.id)
            .where(UnitMemberRow.unit_id == unit_id)
            .order_by(StaffRow.platform, StaffRow.user_id)
        )
        async with self._tx() as s:
            return [
                StaffMember(
                    id=r.id,
                    platform=r.platform,
                    user_id=r.user_id,
                    role=r.role,
                    added_by=r.added_by,
                    created_at=r.created_at,
                )
                for r in (await s.execute(q)).scalars()
            ]

    async def add_member(self, unit_id: int, platform: str, user_id: str) -> AddMember:
        """'added', 'exists', 'no_staff' (add them with `bantin staff add` first) or 'missing'
        (no such unit)."""
        async with self._tx() as s:
            if await s.get(UnitRow, unit_id) is None:
                return "missing"
            staff_id = await self._staff_id(s, platform, user_id)
            if staff_id is None:
                return "no_staff"
            if await s.get(UnitMemberRow, (unit_id, staff_id)) is not None:
                return "exists"
            stmt = (
                self._insert(UnitMemberRow)
                .values(unit_id=unit_id, staff_id=staff_id, created_at=utcnow())
                .on_conflict_do_nothing(index_elements=["unit_id", "staff_id"])
            )
            await s.execute(stmt)
            return "added"

    async def remove_member(self, unit_id: int, platform: str, user_id: str) -> bool:
        async with self._tx() as s:
            staff_id = await self._staff_id(s, platform, user_id)
            if staff_id is None:
                return False
            res = await s.execute(
                delete(UnitMemberRow).where(
                    UnitMemberRow.unit_id == unit_id, UnitMemberRow.staff_id == staff_id
                )
            )
            return bool(res.rowcount)  # type: ignore[attr-defined]

    async def units_of(self, platform: str, user_id: str) -> list[Unit]:
        """The units a staff member belongs to (for unit checks on staff actions)."""
        q = (
            select(UnitRow)
            .join(UnitMemberRow, UnitMemberRow.unit_id == UnitRow.id)
            .join(StaffRow, StaffRow.id == UnitMemberRow.staff_id)
            .where(StaffRow.platform == platform, StaffRow.user_id == user_id)
            .order_by(UnitRow.id)
        )
        async with self._tx() as s:
            return [_unit(r) for r in (await s.execute(q)).scalars()]

    async def is_member(self, unit_id: int, platform: str, user_id: str) -> bool:
        q = (
            select(UnitMemberRow.unit_id)
            .join(StaffRow, StaffRow.id == UnitMemberRow.staff_id)
            .where(
                UnitMemberRow.unit_id == unit_id,
                StaffRow.platform == platform,
                StaffRow.user_id == user_id,
            )
        )
        async with self._tx() as s:
            return (await s.execute(q)).first() is not None

    async def _staff_id(self, s: AsyncSession, platform: str, user_id: str) -> int | None:
        q = select(StaffRow.id).where(StaffRow.platform == platform, StaffRow.user_id == user_id)
        found = (await s.execute(q)).scalar_one_or_none()
        return int(found) if found is not None else None

    # -- categories ----------------------------------------------------------------------------

    async def categories(self, *, active_only: bool = False) -> list[Category]:
        """In the order citizens see them (position, then id)."""
        q = select(CategoryRow).order_by(CategoryRow.position, CategoryRow.id)
        if active_only:
            q = q.where(CategoryRow.active.is_(True))
        async with self._tx() as s:
            return [_category(r) for r in (await s.execute(q)).scalars()]

    async def category(self, category_id: int) -> Category | None:
        async with self._tx() as s:
            row = await s.get(CategoryRow, category_id)
            return _category(row) if row else None

    async def find_category(self, ref: str) -> Category | None:
        """By id ("2", "#2") or by name, case-insensitively."""
        ref = " ".join(ref.split())
        digits = ref.lstrip("#")
        async with self._tx() as s:
            if digits.isascii() and digits.isdigit() and len(digits) < 10:
                row = await s.get(CategoryRow, int(digits))
                if row is not None:
                    return _category(row)
            wanted = ref.casefold()
            for row in (await s.execute(select(CategoryRow))).scalars():
                if row.name.casefold() == wanted:
                    return _category(row)
        return None

    async def add_category(
        self,
        name: str,
        *,
        unit_id: int | None,
        deadline_days: int,
        position: int | None = None,
    ) -> Category | None:
        """A new category at the end of the list (or at `position`); None when the name is
        taken or the unit is missing."""
        cleaned, days = _clean(name), _check_days(deadline_days)
        try:
            async with self._tx() as s:
                if unit_id is not None and await s.get(UnitRow, unit_id) is None:
                    return None
                for row in (await s.execute(select(CategoryRow.name))).scalars():
                    if row.casefold() == cleaned.casefold():
                        return None
                if position is None:
                    last = (await s.execute(select(func.max(CategoryRow.position)))).scalar()
                    position = int(last or 0) + 1
                new = CategoryRow(
                    name=cleaned,
                    unit_id=unit_id,
                    deadline_days=days,
                    position=position,
                    active=True,
                    created_at=utcnow(),
                )
                s.add(new)
                await s.flush()
                return _category(new)
        except IntegrityError:
            return None

    async def edit_category(
        self,
        category_id: int,
        *,
        name: str | None = None,
        unit_id: int | Literal["keep"] | None = "keep",
        deadline_days: int | None = None,
        position: int | None = None,
        active: bool | None = None,
    ) -> Category | None:
        """Change what is given; None when the category or the unit is missing or the name is
        another category's. A changed deadline applies to cases filed from then on."""
        try:
            async with self._tx() as s:
                row = await s.get(CategoryRow, category_id)
                if row is None:
                    return None
                if name is not None:
                    cleaned = _clean(name)
                    for other in (await s.execute(select(CategoryRow))).scalars():
                        if other.id != row.id and other.name.casefold() == cleaned.casefold():
                            return None
                    row.name = cleaned
                if unit_id != "keep":
                    if unit_id is not None and await s.get(UnitRow, unit_id) is None:
                        return None
                    row.unit_id = unit_id
                if deadline_days is not None:
                    row.deadline_days = _check_days(deadline_days)
                if position is not None:
                    row.position = position
                if active is not None:
                    row.active = active
                await s.flush()
                return _category(row)
        except IntegrityError:
            return None

    async def deactivate_category(self, category_id: int) -> bool:
        """Citizens no longer see it; its cases keep it."""
        async with self._tx() as s:
            res = await s.execute(
                update(CategoryRow).where(CategoryRow.id == category_id).values(active=False)
            )
            return bool(res.rowcount)  # type: ignore[attr-defined]

    async def remove_category(self, category_id: int) -> RemoveCategory:
        """Delete a category no case uses; deactivate one that cases use."""
        async with self._tx() as s:
            row = await s.get(CategoryRow, category_id, with_for_update=True)
            if row is None:
                return "missing"
            used = select(FeedbackRow.id).where(FeedbackRow.category_id == category_id).limit(1)
            if (await s.execute(used)).first() is not None:
                row.active = False
                return "deactivated"
            await s.delete(row)
            return "removed"

    # -- canned answers ------------------------------------------------------------------------

    async def canned(self, unit_id: int | None, *, shared: bool = True) -> list[CannedAnswer]:
        """A unit's canned answers and, with `shared`, those for every unit (unit NULL);
        `unit_id` None lists only the shared ones."""
        q = select(CannedAnswerRow).order_by(CannedAnswerRow.title, CannedAnswerRow.id)
        if unit_id is None:
            q = q.where(CannedAnswerRow.unit_id.is_(None))
        elif shared:
            q = q.where((CannedAnswerRow.unit_id == unit_id) | CannedAnswerRow.unit_id.is_(None))
        else:
            q = q.where(CannedAnswerRow.unit_id == unit_id)
        async with self._tx() as s:
            return [_canned(r) for r in (await s.execute(q)).scalars()]

    async def canned_answer(self, answer_id: int) -> CannedAnswer | None:
        async with self._tx() as s:
            row = await s.get(CannedAnswerRow, answer_id)
            return _canned(row) if row else None

    async def add_canned(
        self,
        unit_id: int | None,
        title: str,
        text: str,
        *,
        created_by: str | None,
        now: datetime | None = None,
    ) -> CannedAnswer | None:
        """None when the unit is missing or it already has an answer of that title (the
        check is here because NULL units never clash in a UNIQUE constraint)."""
        cleaned = _clean(title, TITLE_MAX)
        if not text.strip():
            raise ValueError("a canned answer needs a text")
        try:
            async with self._tx() as s:
                if unit_id is not None and await s.get(UnitRow, unit_id) is None:
                    return None
                same = select(CannedAnswerRow.id).where(
                    CannedAnswerRow.title == cleaned,
                    CannedAnswerRow.unit_id.is_(None)
                    if unit_id is None
                    else CannedAnswerRow.unit_id == unit_id,
                )
                if (await s.execute(same)).first() is not None:
                    return None
                row = CannedAnswerRow(
                    unit_id=unit_id,
                    title=cleaned,
                    text=text.strip(),
                    created_by=created_by,
                    created_at=now or utcnow(),
                )
                s.add(row)
                await s.flush()
                return _canned(row)
        except IntegrityError:
            return None

    async def remove_canned(self, answer_id: int) -> bool:
        async with self._tx() as s:
            res = await s.execute(delete(CannedAnswerRow).where(CannedAnswerRow.id == answer_id))
            return bool(res.rowcount)  # type: ignore[attr-defined]
