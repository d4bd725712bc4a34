"""Photos of cases: the platform's reference when a citizen sends one, our own copy (in the
media store, jobs/media/) once the fetcher has downloaded and re-encoded it.

A photo's life, in its columns:
- recorded: `file_ref` (a Telegram file id or a Zalo photo URL), nothing fetched (`media_key`
  NULL, `error` NULL): due for the fetcher;
- claimed: `attempts` + 1 and `next_attempt_at` = the claim's end, so another scheduler (or a
  restart after a crash) takes it again only once the claim has lapsed;
- fetched: `media_key`, type, size and dimensions of the stored copy, `fetched_at`;
- failed, to be retried: `error` and a later `next_attempt_at`;
- given up: `error` and no `next_attempt_at` (staff still see the platform copy where the
  platform keeps it);
- erased (a citizen's `/xoadulieu`, or retention once the case has been closed long enough):
  `erased_at`, `file_ref` cleared at once; `media_key` cleared when the object is deleted, so
  an object whose deletion failed is found and deleted again by the next run.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, or_, select, update

from storage.base import Repo
from storage.kinds import FINAL_STATES
from storage.models import CasePhotoRow, FeedbackRow, utcnow
from storage.records import CasePhoto

ERROR_MAX = 300  # the length of case_photos.error


def _photo(row: CasePhotoRow) -> CasePhoto:
    return CasePhoto(
        id=row.id,
        case_id=row.case_id,
        message_id=row.message_id,
        platform=row.platform,
        file_ref=row.file_ref,
        media_key=row.media_key,
        content_type=row.content_type,
        size=row.size,
        width=row.width,
        height=row.height,
        attempts=row.attempts or 0,
        created_at=row.created_at,
        fetched_at=row.fetched_at,
        error=row.error,
        erased_at=row.erased_at,
    )


def _due(now: datetime) -> list[ColumnElement[bool]]:
    """Conditions of a photo the fetcher should (re)try now."""
    p = CasePhotoRow
    return [
        p.media_key.is_(None),
        p.erased_at.is_(None),
        p.file_ref.is_not(None),
        or_(p.error.is_(None), p.next_attempt_at.is_not(None)),  # not given up
        or_(p.next_attempt_at.is_(None), p.next_attempt_at <= now),
    ]


class PhotoRepo(Repo):
    async def record(
        self,
        case_id: int,
        platform: str,
        file_ref: str,
        *,
        message_id: int | None = None,
        now: datetime | None = None,
    ) -> CasePhoto:
        """Record a photo a citizen sent with a case (or a later message of its thread); the
        same reference on the same case is recorded once, so a repeated update adds nothing."""
        async with self._tx() as s:
            found = await s.scalar(
                select(CasePhotoRow).where(
                    CasePhotoRow.case_id == case_id, CasePhotoRow.file_ref == file_ref
                )
            )
            if found is not None:
                return _photo(found)
            row = CasePhotoRow(
                case_id=case_id,
                message_id=message_id,
                platform=platform,
                file_ref=file_ref[:1000],
                created_at=now or utcnow(),
            )
            s.add(row)
            await s.flush()
            return _photo(row)

    async def get(self, photo_id: int) -> CasePhoto | None:
        async with self._tx() as s:
            row = await s.get(CasePhotoRow, photo_id)
            return _photo(row) if row is not None else None

    async def of_case(self, case_id: int, *, with_erased: bool = False) -> list[CasePhoto]:
        """A case's photos in the order they came (erased ones only when asked)."""
        query = select(CasePhotoRow).where(CasePhotoRow.case_id == case_id)
        if not with_erased:
            query = query.where(CasePhotoRow.erased_at.is_(None))
        async with self._tx() as s:
            rows = await s.scalars(query.order_by(CasePhotoRow.id))
            return [_photo(r) for r in rows]

    async def claim_unfetched(
        self, now: datetime, *, limit: int = 10, lease: timedelta = timedelta(minutes=5)
    ) -> list[CasePhoto]:
        """Up to `limit` photos due for a download, each claimed until `now + lease` (one
        conditional UPDATE per photo: two fetchers never take the same one)."""
        async with self._tx() as s:
            ids = list(
                await s.scalars(
                    select(CasePhotoRow.id)
                    .where(*_due(now))
                    .order_by(CasePhotoRow.next_attempt_at.is_not(None), CasePhotoRow.id)
                    .limit(limit)
                )
            )
        claimed: list[CasePhoto] = []
        for photo_id in ids:
            async with self._tx() as s:
                done = await s.execute(
                    update(CasePhotoRow)
                    .where(CasePhotoRow.id == photo_id, *_due(now))
                    .values(attempts=CasePhotoRow.attempts + 1, next_attempt_at=now + lease)
                )
                if done.rowcount:  # type: ignore[attr-defined]
                    row = await s.get(CasePhotoRow, photo_id)
                    if row is not None:
                        await s.refresh(row)
                        claimed.append(_photo(row))
        return claimed

    async def give_up_interrupted(self, attempts: int, now: datetime) -> int:
        """Mark failed the photos whose last `attempts` claims all lapsed without a result
        (the process stopped or crashed mid-download, perhaps because of the photo itself):
        never claimed again."""
        p = CasePhotoRow
        async with self._tx() as s:
            done = await s.execute(
                update(p)
                .where(*_due(now), p.attempts >= attempts)
                .values(
                    error=f"interrupted {attempts} times (the process stopped mid-download)",
                    next_attempt_at=None,
                )
            )
            return int(done.rowcount)  # type: ignore[attr-defined]

    async def mark_fetched(
        self,
        photo_id: int,
        *,
        media_key: str,
        content_type: str,
        size: int,
        width: int,
        height: int,
        now: datetime,
    ) -> bool:
        """Record the stored copy; False when the photo was erased meanwhile (the caller then
        deletes the object it just stored)."""
        async with self._tx() as s:
            done = await s.execute(
                update(CasePhotoRow)
                .where(CasePhotoRow.id == photo_id, CasePhotoRow.erased_at.is_(None))
                .values(
                    media_key=media_key,
                    content_type=content_type,
                    size=size,
                    width=width,
                    height=height,
                    fetched_at=now,
                    error=None,
                    next_attempt_at=None,
                )
            )
            return bool(done.rowcount)  # type: ignore[attr-defined]

    async def mark_failed(self, photo_id: int, error: str, *, retry_at: datetime | None) -> None:
        """Record why the download failed: tried again at `retry_at`, or never (None)."""
        async with self._tx() as s:
            await s.execute(
                update(CasePhotoRow)
                .where(CasePhotoRow.id == photo_id, CasePhotoRow.media_key.is_(None))
                .values(error=(error or "failed")[:ERROR_MAX], next_attempt_at=retry_at)
            )

    async def failed(self, *, limit: int = 100) -> list[CasePhoto]:
        """Photos given up on (newest first), for staff and `bantin stats`."""
        p = CasePhotoRow
        async with self._tx() as s:
            rows = await s.scalars(
                select(p)
                .where(
                    p.media_key.is_(None),
                    p.erased_at.is_(None),
                    p.error.is_not(None),
                    p.next_attempt_at.is_(None),
                )
                .order_by(p.id.desc())
                .limit(limit)
            )
            return [_photo(r) for r in rows]

    # -- erasure and retention ---------------------------------------------------------------

    async def erase_of_subscriber(self, subscriber_id: int, now: datetime) -> list[CasePhoto]:
        """Mark every photo of the subscriber's cases erased (the platform reference goes at
        once) and return those whose stored object is still to be deleted."""
        cases = select(FeedbackRow.id).where(FeedbackRow.subscriber_id == subscriber_id)
        return await self._erase(CasePhotoRow.case_id.in_(cases), now)

    async def erase_closed_before(
        self, cutoff: datetime, now: datetime, *, limit: int = 500
    ) -> list[CasePhoto]:
        """Retention: the same for photos of cases closed (any final state) before `cutoff`,
        at most `limit` at a time."""
        cases = select(FeedbackRow.id).where(
            FeedbackRow.status.in_(FINAL_STATES),
            FeedbackRow.closed_at.is_not(None),
            FeedbackRow.closed_at < cutoff,
        )
        return await self._erase(CasePhotoRow.case_id.in_(cases), now, limit=limit)

    async def _erase(
        self, which: ColumnElement[bool], now: datetime, *, limit: int | None = None
    ) -> list[CasePhoto]:
        p = CasePhotoRow
        pending = or_(p.erased_at.is_(None), p.media_key.is_not(None))
        async with self._tx() as s:
            query = select(p.id).where(which, pending).order_by(p.id)  # type: ignore[arg-type]
            if limit is not None:
                query = query.limit(limit)
            ids = list(await s.scalars(query))
            if not ids:
                return []
            await s.execute(
                update(p)
                .where(p.id.in_(ids), p.erased_at.is_(None))
                .values(erased_at=now, file_ref=None, next_attempt_at=None)
            )
            rows = await s.scalars(
                select(p).where(p.id.in_(ids), p.media_key.is_not(None)).order_by(p.id)
            )
            return [_photo(r) for r in rows]

    async def forget_objects(self, photo_ids: Iterable[int]) -> int:
        """The stored objects of these erased photos are deleted: forget their keys."""
        ids = list(photo_ids)
        if not ids:
            return 0
        async with self._tx() as s:
            done = await s.execute(
                update(CasePhotoRow)
                .where(and_(CasePhotoRow.id.in_(ids), CasePhotoRow.erased_at.is_not(None)))
                .values(media_key=None)
            )
            return int(done.rowcount)  # type: ignore[attr-defined]
