"""The digest waiting list: articles held for a subscriber until their next digest time, and
the digests they are gathered into (each queued as one outbox row)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update

from storage.base import Repo
from storage.kinds import DeliveryStatus, OutboxKind
from storage.models import DeliveryRow, DigestItemRow, DigestRow


@dataclass(frozen=True)
class WaitingDigest:
    subscriber_id: int
    oldest: datetime


class DigestRepo(Repo):
    async def add_items(self, pairs: Iterable[tuple[int, int]], *, now: datetime) -> int:
        """Put (subscriber, article) on the digest waiting list; repeats are no-ops."""
        rows = [
            {"subscriber_id": s, "article_id": a, "created_at": now, "digest_id": None}
            for s, a in pairs
        ]
        if not rows:
            return 0
        stmt = self._insert(DigestItemRow).on_conflict_do_nothing(
            index_elements=["subscriber_id", "article_id"]
        )
        async with self._tx() as s:
            await s.execute(stmt, rows)
        return len(rows)

    async def waiting(self) -> list[WaitingDigest]:
        """Subscribers with items waiting, and when the oldest arrived."""
        q = (
            select(DigestItemRow.subscriber_id, func.min(DigestItemRow.created_at))
            .where(DigestItemRow.digest_id.is_(None))
            .group_by(DigestItemRow.subscriber_id)
        )
        async with self._tx() as s:
            rows = (await s.execute(q)).all()
        return [WaitingDigest(int(sid), oldest) for sid, oldest in rows]

    async def make(self, subscriber_id: int, *, now: datetime) -> int | None:
        """Gather a subscriber's waiting items into one digest and queue it, atomically.

        One transaction creates the digest, claims the items and inserts the outbox row, so a
        crash can neither lose the items nor queue the same digest twice.
        """
        async with self._tx() as s:
            digest = DigestRow(subscriber_id=subscriber_id, created_at=now)
            s.add(digest)
            await s.flush()
            res = await s.execute(
                update(DigestItemRow)
                .where(
                    DigestItemRow.subscriber_id == subscriber_id,
                    DigestItemRow.digest_id.is_(None),
                )
                .values(digest_id=digest.id)
            )
            if not res.rowcount:  # type: ignore[attr-defined]
                await s.delete(digest)
                return None
            s.add(
                DeliveryRow(
                    subscriber_id=subscriber_id,
                    kind=OutboxKind.DIGEST,
                    item_id=digest.id,
                    status=DeliveryStatus.PENDING,
                    attempts=0,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
            return int(digest.id)

    async def articles_of(self, digest_id: int) -> list[int]:
        q = (
            select(DigestItemRow.article_id)
            .where(DigestItemRow.digest_id == digest_id)
            .order_by(DigestItemRow.article_id)
        )
        async with self._tx() as s:
            return [int(a) for a in (await s.execute(q)).scalars()]
