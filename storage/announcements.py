"""Staff announcements: a draft is previewed, then queued once through the outbox.

A broadcast has an audience (everyone, a topic, a source), a time (queued then, status
'scheduled' until it comes) and cancelling: a scheduled or running broadcast stops, its pending
rows are cancelled and what was already sent stays counted. Queuing flips the status and creates the
outbox rows in one transaction, so a crash leaves either both or neither.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import exists, func, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.base import Repo
from storage.kinds import AnnouncementStatus, Audience, DeliveryStatus, OutboxKind
from storage.models import (
    AnnouncementRow,
    DeliveryRow,
    FeedRow,
    PreferenceRow,
    SubscriberFeedRow,
    SubscriberRow,
    SubscriberTopicRow,
    TopicRow,
    utcnow,
)
from storage.records import Announcement, BroadcastSummary
from storage.urls import shown_url

_CANCELLABLE = (AnnouncementStatus.DRAFT, AnnouncementStatus.SCHEDULED, AnnouncementStatus.QUEUED)
PLAN_FIELDS = frozenset({"audience", "scheduled_at", "urgent", "photo_file_id"})


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
        audience=row.audience or Audience.EVERYONE,
        scheduled_at=row.scheduled_at,
        text_format=row.text_format or "plain",
        photo_file_id=row.photo_file_id,
        cancelled_at=row.cancelled_at,
    )


def audience_filter(audience: str) -> Any:
    """The WHERE clause of one audience over SubscriberRow: 'all' is every active subscriber;
    'topic:ID' and 'feed:ID' are those who follow it or take all news (the same people an
    article of that topic or source reaches)."""
    kind, _, ident = audience.partition(":")
    if kind == Audience.EVERYONE or not ident.isdigit():
        return literal(True)
    all_news = ~exists().where(
        PreferenceRow.subscriber_id == SubscriberRow.id, PreferenceRow.all_news.is_(False)
    )
    if kind == Audience.TOPIC:
        follows = exists().where(
            SubscriberTopicRow.subscriber_id == SubscriberRow.id,
            SubscriberTopicRow.topic_id == int(ident),
        )
    elif kind == Audience.FEED:
        follows = exists().where(
            SubscriberFeedRow.subscriber_id == SubscriberRow.id,
            SubscriberFeedRow.feed_id == int(ident),
        )
    else:
        return literal(False)
    return all_news | follows


class AnnouncementRepo(Repo):
    async def create(
        self,
        text: str,
        *,
        created_by: str | None,
        origin_platform: str | None = None,
        origin_chat_id: str | None = None,
        status: str = AnnouncementStatus.DRAFT,
        text_format: str = "plain",
    ) -> Announcement:
        async with self._tx() as s:
            row = AnnouncementRow(
                text=text,
                text_format=text_format,
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
        if to == AnnouncementStatus.QUEUED:
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
            .where(
                AnnouncementRow.status == AnnouncementStatus.QUEUED,
                AnnouncementRow.finished_at.is_(None),
            )
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

    # -- plan, schedule, queue for an audience, cancel, list --------------------------------------

    async def set_plan(self, announcement_id: int, **values: Any) -> bool:
        """Change a draft's audience, time, urgency or photo; only drafts change."""
        unknown = set(values) - PLAN_FIELDS
        if unknown:
            raise ValueError(f"not plan fields: {sorted(unknown)}")
        async with self._tx() as s:
            res = await s.execute(
                update(AnnouncementRow)
                .where(
                    AnnouncementRow.id == announcement_id,
                    AnnouncementRow.status == AnnouncementStatus.DRAFT,
                )
                .values(**values)
            )
            return bool(res.rowcount)  # type: ignore[attr-defined]

    async def set_urgent(self, announcement_id: int, urgent: bool = True) -> None:
        async with self._tx() as s:
            await s.execute(
                update(AnnouncementRow)
                .where(AnnouncementRow.id == announcement_id)
                .values(urgent=urgent)
            )

    async def is_urgent(self, announcement_id: int) -> bool:
        q = select(AnnouncementRow.urgent).where(AnnouncementRow.id == announcement_id)
        async with self._tx() as s:
            return bool((await s.execute(q)).scalar_one_or_none())

    async def audience_size(self, audience: str) -> int:
        q = select(func.count()).where(SubscriberRow.active.is_(True), audience_filter(audience))
        async with self._tx() as s:
            return int((await s.execute(q)).scalar_one())

    async def audience_options(self) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
        """(topics, feeds) staff may pick as an audience: ids with their names."""
        async with self._tx() as s:
            topics = [
                (int(i), str(n))
                for i, n in (
                    await s.execute(select(TopicRow.id, TopicRow.name).order_by(TopicRow.name))
                ).all()
            ]
            q = select(FeedRow.id, FeedRow.name, FeedRow.url).where(FeedRow.enabled.is_(True))
            rows = (await s.execute(q.order_by(FeedRow.id))).all()
            feeds = [(int(i), str(n or shown_url(u))) for i, n, u in rows]  # no user:password
        return topics, feeds

    async def queue_now(
        self,
        announcement_id: int,
        *,
        now: datetime,
        frm: str = AnnouncementStatus.DRAFT,
        by: str | None = None,
    ) -> int | None:
        """`frm` → queued and the outbox rows for its audience, in one transaction. Returns the
        recipients queued, or None when the announcement was not in `frm` (double tap, race)
        or, with `by`, was not written by `by` (only its author confirms a draft)."""
        where = [AnnouncementRow.id == announcement_id, AnnouncementRow.status == frm]
        if by is not None:
            where.append(AnnouncementRow.created_by == by)
        async with self._tx() as s:
            res = await s.execute(
                update(AnnouncementRow)
                .where(*where)
                .values(status=AnnouncementStatus.QUEUED, queued_at=now)
            )
            if not res.rowcount:  # type: ignore[attr-defined]
                return None
            return await self._enqueue(s, announcement_id, now)

    async def _enqueue(self, s: AsyncSession, announcement_id: int, now: datetime) -> int:
        audience = (
            await s.execute(
                select(AnnouncementRow.audience).where(AnnouncementRow.id == announcement_id)
            )
        ).scalar_one()
        q = select(
            SubscriberRow.id,
            literal(OutboxKind.ANNOUNCEMENT),
            literal(announcement_id),
            literal(DeliveryStatus.PENDING),
            literal(0),
            literal(now, DeliveryRow.next_attempt_at.type),
            literal(now, DeliveryRow.created_at.type),
        ).where(SubscriberRow.active.is_(True), audience_filter(audience or Audience.EVERYONE))
        cols = ["subscriber_id", "kind", "item_id", "status", "attempts", "next_attempt_at"]
        stmt = (
            self._insert(DeliveryRow)
            .from_select([*cols, "created_at"], q)
            .on_conflict_do_nothing(index_elements=["subscriber_id", "kind", "item_id"])
        )
        await s.execute(stmt)
        total = (
            await s.execute(
                select(func.count()).where(
                    DeliveryRow.kind == OutboxKind.ANNOUNCEMENT,
                    DeliveryRow.item_id == announcement_id,
                )
            )
        ).scalar_one()
        await s.execute(
            update(AnnouncementRow)
            .where(AnnouncementRow.id == announcement_id)
            .values(recipients=int(total))
        )
        return int(total)

    async def schedule(self, announcement_id: int, *, by: str | None = None) -> bool:
        """Draft → scheduled (its time is already set); the scheduler queues it then. With
        `by`, only a draft `by` wrote."""
        where = [
            AnnouncementRow.id == announcement_id,
            AnnouncementRow.status == AnnouncementStatus.DRAFT,
            AnnouncementRow.scheduled_at.is_not(None),
        ]
        if by is not None:
            where.append(AnnouncementRow.created_by == by)
        async with self._tx() as s:
            res = await s.execute(
                update(AnnouncementRow).where(*where).values(status=AnnouncementStatus.SCHEDULED)
            )
            return bool(res.rowcount)  # type: ignore[attr-defined]

    async def due_scheduled(self, now: datetime) -> list[Announcement]:
        q = (
            select(AnnouncementRow)
            .where(
                AnnouncementRow.status == AnnouncementStatus.SCHEDULED,
                AnnouncementRow.scheduled_at <= now,
            )
            .order_by(AnnouncementRow.scheduled_at, AnnouncementRow.id)
        )
        async with self._tx() as s:
            return [_announcement(r) for r in (await s.execute(q)).scalars()]

    async def cancel(self, announcement_id: int, *, by: str, now: datetime) -> tuple[str, int, int]:
        """Stop a draft, scheduled or running broadcast: pending rows cancelled, sent ones kept
        and counted. Returns (outcome, rows cancelled, rows sent); outcome is 'cancelled',
        'missing', or 'refused' (already cancelled or finished sending)."""
        async with self._tx() as s:
            row = await s.get(AnnouncementRow, announcement_id, with_for_update=True)
            if row is None:
                return "missing", 0, 0
            if row.status not in _CANCELLABLE or row.finished_at is not None:
                return "refused", 0, 0
            row.status = AnnouncementStatus.CANCELLED
            row.cancelled_by = by[:100]
            row.cancelled_at = now
            row.finished_at = row.finished_at or now
            of_it = (DeliveryRow.kind == OutboxKind.ANNOUNCEMENT) & (
                DeliveryRow.item_id == announcement_id
            )
            res = await s.execute(
                update(DeliveryRow)
                .where(of_it, DeliveryRow.status == DeliveryStatus.PENDING)
                .values(status=DeliveryStatus.CANCELLED, last_error="broadcast cancelled")
            )
            sent = (
                await s.execute(
                    select(func.count()).where(of_it, DeliveryRow.status == DeliveryStatus.SENT)
                )
            ).scalar_one()
            return AnnouncementStatus.CANCELLED, int(res.rowcount), int(sent)  # type: ignore[attr-defined]

    async def summaries(self, limit: int = 10) -> list[BroadcastSummary]:
        """Recent broadcasts (drafts left out) with their outbox counts by status."""
        q = (
            select(AnnouncementRow)
            .where(AnnouncementRow.status != AnnouncementStatus.DRAFT)
            .order_by(AnnouncementRow.id.desc())
            .limit(limit)
        )
        async with self._tx() as s:
            rows = list((await s.execute(q)).scalars())
            ids = [r.id for r in rows]
            counts: dict[int, dict[str, int]] = {i: {} for i in ids}
            if ids:
                cq = (
                    select(DeliveryRow.item_id, DeliveryRow.status, func.count())
                    .where(
                        DeliveryRow.kind == OutboxKind.ANNOUNCEMENT, DeliveryRow.item_id.in_(ids)
                    )
                    .group_by(DeliveryRow.item_id, DeliveryRow.status)
                )
                for item_id, status, n in (await s.execute(cq)).all():
                    counts[int(item_id)][str(status)] = int(n)
            return [
                BroadcastSummary(
                    announcement=_announcement(r),
                    urgent=bool(r.urgent),
                    counts=tuple(sorted(counts[r.id].items())),
                )
                for r in rows
            ]
