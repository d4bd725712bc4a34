"""Topics: a short list the operator keeps, onto which feed categories are mapped.

Portals label articles with many free-form categories ("An ninh - Quốc phòng", "AN NINH");
citizens choose from a few topics. Categories are stored folded (see jobs.route.match.fold, passed
in by the caller) so the operator's spelling and the feed's need not agree on case or marks.
"""

from __future__ import annotations

from sqlalchemy import delete, select

from storage.base import Repo
from storage.models import TopicCategoryRow, TopicRow, utcnow
from storage.records import Topic


class TopicRepo(Repo):
    async def add(self, name: str) -> Topic:
        """Create a topic (or return the one of that name)."""
        stmt = (
            self._insert(TopicRow)
            .values(name=name, created_at=utcnow())
            .on_conflict_do_nothing(index_elements=["name"])
        )
        async with self._tx() as s:
            await s.execute(stmt)
            row = (await s.execute(select(TopicRow).where(TopicRow.name == name))).scalar_one()
            return Topic(row.id, row.name)

    async def remove(self, topic_id: int) -> bool:
        async with self._tx() as s:
            res = await s.execute(delete(TopicRow).where(TopicRow.id == topic_id))
            return bool(res.rowcount)  # type: ignore[attr-defined]

    async def get(self, topic_id: int) -> Topic | None:
        return next((t for t in await self.all() if t.id == topic_id), None)

    async def find(self, name_or_id: str) -> Topic | None:
        for topic in await self.all():
            if str(topic.id) == name_or_id or topic.name.lower() == name_or_id.lower():
                return topic
        return None

    async def all(self) -> list[Topic]:
        async with self._tx() as s:
            topics = list((await s.execute(select(TopicRow).order_by(TopicRow.id))).scalars())
            maps = (await s.execute(select(TopicCategoryRow))).scalars().all()
        by_topic: dict[int, list[str]] = {}
        for m in maps:
            by_topic.setdefault(m.topic_id, []).append(m.category)
        return [Topic(t.id, t.name, tuple(sorted(by_topic.get(t.id, [])))) for t in topics]

    async def map(self, folded_category: str, topic_id: int) -> None:
        """Map a category onto a topic (a category belongs to one topic; remapping moves it)."""
        stmt = (
            self._insert(TopicCategoryRow)
            .values(category=folded_category, topic_id=topic_id)
            .on_conflict_do_update(index_elements=["category"], set_={"topic_id": topic_id})
        )
        async with self._tx() as s:
            await s.execute(stmt)

    async def unmap(self, folded_category: str) -> bool:
        async with self._tx() as s:
            res = await s.execute(
                delete(TopicCategoryRow).where(TopicCategoryRow.category == folded_category)
            )
            return bool(res.rowcount)  # type: ignore[attr-defined]

    async def category_map(self) -> dict[str, int]:
        """Folded category → topic id, for fan-out and /moinhat."""
        async with self._tx() as s:
            rows = (await s.execute(select(TopicCategoryRow))).scalars().all()
            return {r.category: r.topic_id for r in rows}
