"""Citizens' feedback ("Gửi phản hồi"): the ticket number is the row id."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update

from storage.base import Repo
from storage.models import ArticleRow, FeedbackRow, SubscriberRow, utcnow
from storage.records import Feedback


@dataclass(frozen=True)
class FeedbackExportRow:
    ticket: int
    created_at: datetime
    platform: str
    chat_id: str
    display_name: str | None
    article_id: int | None
    article_title: str | None
    article_link: str | None
    status: str
    text: str


def _feedback(row: FeedbackRow) -> Feedback:
    return Feedback(
        id=row.id,
        subscriber_id=row.subscriber_id,
        article_id=row.article_id,
        text=row.text,
        status=row.status,
        created_at=row.created_at,
        forwarded_at=row.forwarded_at,
        forwarded_message_id=row.forwarded_message_id,
    )


class FeedbackRepo(Repo):
    async def add(self, subscriber_id: int, article_id: int | None, text: str) -> Feedback:
        async with self._tx() as s:
            row = FeedbackRow(
                subscriber_id=subscriber_id,
                article_id=article_id,
                text=text,
                status="open",
                created_at=utcnow(),
            )
            s.add(row)
            await s.flush()
            return _feedback(row)

    async def get(self, feedback_id: int) -> Feedback | None:
        async with self._tx() as s:
            row = await s.get(FeedbackRow, feedback_id)
            return _feedback(row) if row else None

    async def unforwarded(self, limit: int = 100) -> list[Feedback]:
        q = (
            select(FeedbackRow)
            .where(FeedbackRow.forwarded_at.is_(None))
            .order_by(FeedbackRow.id)
            .limit(limit)
        )
        async with self._tx() as s:
            return [_feedback(r) for r in (await s.execute(q)).scalars()]

    async def mark_forwarded(
        self, feedback_id: int, *, message_id: str | None, now: datetime
    ) -> None:
        async with self._tx() as s:
            await s.execute(
                update(FeedbackRow)
                .where(FeedbackRow.id == feedback_id)
                .values(forwarded_at=now, forwarded_message_id=message_id)
            )

    async def export_rows(self, since: datetime | None = None) -> list[FeedbackExportRow]:
        q = (
            select(FeedbackRow, SubscriberRow, ArticleRow)
            .join(SubscriberRow, SubscriberRow.id == FeedbackRow.subscriber_id)
            .outerjoin(ArticleRow, ArticleRow.id == FeedbackRow.article_id)
            .order_by(FeedbackRow.id)
        )
        if since is not None:
            q = q.where(FeedbackRow.created_at >= since)
        async with self._tx() as s:
            return [
                FeedbackExportRow(
                    ticket=f.id,
                    created_at=f.created_at,
                    platform=sub.platform,
                    chat_id=sub.chat_id,
                    display_name=sub.display_name,
                    article_id=f.article_id,
                    article_title=art.title if art else None,
                    article_link=art.link if art else None,
                    status=f.status,
                    text=f.text,
                )
                for f, sub, art in (await s.execute(q)).all()
            ]

    async def count(self) -> int:
        async with self._tx() as s:
            q = select(func.count()).select_from(FeedbackRow)
            return int((await s.execute(q)).scalar_one())
