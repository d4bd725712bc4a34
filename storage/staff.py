"""Staff roles, read from the database at the moment every staff action runs."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.base import Repo
from storage.models import StaffRow, utcnow
from storage.records import StaffMember

ADMIN, EDITOR = "admin", "editor"


def _member(row: StaffRow) -> StaffMember:
    return StaffMember(
        id=row.id,
        platform=row.platform,
        user_id=row.user_id,
        role=row.role,
        added_by=row.added_by,
        created_at=row.created_at,
    )


class StaffRepo(Repo):
    async def ensure(
        self, platform: str, user_id: str, *, role: str, added_by: str | None = None
    ) -> StaffMember:
        async with self._tx() as s:
            q = select(StaffRow).where(StaffRow.platform == platform, StaffRow.user_id == user_id)
            row = (await s.execute(q)).scalar_one_or_none()
            if row is None:
                row = StaffRow(
                    platform=platform,
                    user_id=user_id,
                    role=role,
                    added_by=added_by,
                    created_at=utcnow(),
                )
                s.add(row)
                await s.flush()
            elif row.role != role:
                if row.role == ADMIN and await self._admins(s, platform) <= 1:
                    raise ValueError("the platform's last admin cannot be demoted")
                row.role = role
            return _member(row)

    async def set_role_unless_last_admin(
        self, platform: str, user_id: str, *, role: str, added_by: str | None = None
    ) -> str:
        """Add a member or change their role in one transaction, unless that would demote the
        platform's last admin (nobody could manage staff after that, the same rule as for
        removal). Returns 'added', 'changed', 'unchanged' or 'last_admin'."""
        async with self._tx() as s:
            q = select(StaffRow).where(StaffRow.platform == platform, StaffRow.user_id == user_id)
            row = (await s.execute(q.with_for_update())).scalar_one_or_none()
            if row is None:
                s.add(
                    StaffRow(
                        platform=platform,
                        user_id=user_id,
                        role=role,
                        added_by=added_by,
                        created_at=utcnow(),
                    )
                )
                return "added"
            if row.role == role:
                return "unchanged"
            if row.role == ADMIN and await self._admins(s, platform) <= 1:
                return "last_admin"
            row.role = role
            return "changed"

    async def _admins(self, s: AsyncSession, platform: str) -> int:
        q = (
            select(StaffRow.id)
            .where(StaffRow.role == ADMIN, StaffRow.platform == platform)
            .with_for_update()
        )
        return len((await s.execute(q)).all())

    async def role_of(self, platform: str, user_id: str) -> str | None:
        q = select(StaffRow.role).where(StaffRow.platform == platform, StaffRow.user_id == user_id)
        async with self._tx() as s:
            return (await s.execute(q)).scalar_one_or_none()

    async def all(self) -> list[StaffMember]:
        async with self._tx() as s:
            return [
                _member(r)
                for r in (await s.execute(select(StaffRow).order_by(StaffRow.id))).scalars()
            ]

    async def remove(self, platform: str, user_id: str) -> bool:
        async with self._tx() as s:
            res = await s.execute(
                delete(StaffRow).where(StaffRow.platform == platform, StaffRow.user_id == user_id)
            )
            return bool(res.rowcount)  # type: ignore[attr-defined]

    # -- members one by one ----------------------------------------------------------------------

    async def get(self, platform: str, user_id: str) -> StaffMember | None:
        q = select(StaffRow).where(StaffRow.platform == platform, StaffRow.user_id == user_id)
        async with self._tx() as s:
            row = (await s.execute(q)).scalar_one_or_none()
            return _member(row) if row else None

    async def remove_unless_last_admin(self, platform: str, user_id: str) -> str:
        """Remove a member in one transaction unless they are the platform's last admin (nobody
        could manage staff after that). Returns 'removed', 'missing' or 'last_admin'."""
        async with self._tx() as s:
            q = select(StaffRow).where(StaffRow.platform == platform, StaffRow.user_id == user_id)
            row = (await s.execute(q)).scalar_one_or_none()
            if row is None:
                return "missing"
            if row.role == ADMIN and await self._admins(s, platform) <= 1:
                return "last_admin"
            await s.delete(row)
            return "removed"
