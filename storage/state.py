"""A tiny key-value table for the running app's cursors and markers."""

from __future__ import annotations

from sqlalchemy import select

from storage.base import Repo
from storage.models import KeyValueRow, utcnow


class StateRepo(Repo):
    async def get(self, key: str) -> str | None:
        async with self._tx() as s:
            q = select(KeyValueRow.value).where(KeyValueRow.key == key)
            return (await s.execute(q)).scalar_one_or_none()

    async def set(self, key: str, value: str) -> None:
        stmt = self._insert(KeyValueRow).values(key=key, value=value, updated_at=utcnow())
        stmt = stmt.on_conflict_do_update(
            index_elements=["key"], set_={"value": value, "updated_at": utcnow()}
        )
        async with self._tx() as s:
            await s.execute(stmt)
