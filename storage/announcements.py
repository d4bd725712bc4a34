"""Staff announcements: a draft is previewed, then queued once through the outbox."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from storage.base import Repo
from storage.models import AnnouncementRow, utcnow
from storage.records import Announcement

DRAFT, QUEUED, CANCELLED = "draft", "queued", "cancelled"


def _announcement(row: AnnouncementRow) -> Announcement:
    return Announcement(
        id=row.id,
        text=row.text,
        status=row.status,
        created_by=row.created_by,
        origin_platform=row.origin_platform,
        origin_chat_id=row.origin_chat_id,
        recipients=row.recipients,
        created_at=row.created_at,
        queued_at=row.queued_at,
        progress_message_id=row.progress_message_id,
        finished_at=row.finished_at,
    )


class AnnouncementRepo(Repo):
    async def create(
        self,
        text: str,
        *,
        created_by: str | None,
        origin_platform: str | None = None,
        origin_chat_id: str | None = None,
        status: str = DRAFT,
    ) -> Announcement:
        async with self._tx() as s:
            row = AnnouncementRow(
                text=text,
                status=status,
                created_by=created_by,
                origin_platform=origin_platform,
                origin_chat_id=origin_chat_id,
                recipients=0,
                created_at=utcnow(),
            )
            s.add(row)
            await s.flush()
            return _announcement(row)

    async def get(self, announcement_id: int) -> Announcement | None:
        async with self._tx() as s:
            row = await s.get(AnnouncementRow, announcement_id)
            return _announcement(row) if row else None

    async def transition(self, announcement_id: int, *, frm: str, to: str, now: datetime) -> bool:
        """Move draft→queued or draft→cancelled exactly once (a double tap does nothing)."""
        values: dict[str, object] = {"status": to}
        if to == QUEUED:
            values["queued_at"] = now
        async with self._tx() as s:
            res = await s.execute(
                update(AnnouncementRow)
                .where(AnnouncementRow.id == announcement_id, AnnouncementRow.status == frm)
                .values(**values)
            )
            return bool(res.rowcount)  # type: ignore[attr-defined]

    async def set_recipients(self, announcement_id: int, recipients: int) -> None:
        async with self._tx() as s:
            await s.execute(
                update(AnnouncementRow)
                .where(AnnouncementRow.id == announcement_id)
                .values(recipients=recipients)
            )

    async def set_progress_message(self, announcement_id: int, message_id: str | None) -> None:
        async with self._tx() as s:
            await s.execute(
                update(AnnouncementRow)
                .where(AnnouncementRow.id == announcement_id)
                .values(progress_message_id=message_id)
            )

    async def running(self) -> list[Announcement]:
        """Queued broadcasts not yet finished: the ones whose progress is still moving."""
        q = (
            select(AnnouncementRow)
            .where(AnnouncementRow.status == QUEUED, AnnouncementRow.finished_at.is_(None))
            .order_by(AnnouncementRow.id)
        )
        async with self._tx() as s:
            return [_announcement(r) for r in (await s.execute(q)).scalars()]

    async def mark_finished(self, announcement_id: int, now: datetime) -> None:
        async with self._tx() as s:
            await s.execute(
                update(AnnouncementRow)
                .where(AnnouncementRow.id == announcement_id)
                .values(finished_at=now)
            )

    async def recent(self, limit: int = 10) -> list[Announcement]:
        q = select(AnnouncementRow).order_by(AnnouncementRow.id.desc()).limit(limit)
        async with self._tx() as s:
            return [_announcement(r) for r in (await s.execute(q)).scalars()]
