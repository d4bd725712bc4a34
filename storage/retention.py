"""Retention queries: which old outbox rows and articles may go, deleted in short batches.

Why batches: one DELETE of a year of outbox rows would hold SQLite's single writer lock (and
on PostgreSQL, a long transaction and its locks) for as long as it runs, stalling the sender
and the poller. Every statement here removes at most `batch` rows in its own transaction, and
the caller yields between them.

Why the conditions are repeated in each DELETE: the rows were chosen a moment earlier; in the
meantime an operator may have re-queued a dead letter, or a digest may have picked an article
up. The DELETE re-checks, so such a row simply stays.

Feed listings (the last GUIDs and links each feed listed) are kept in the app_state table under
``retention.listing.<feed id>``: an article a feed still lists must stay, or the next poll would
see it as new and push it again (see jobs/ops/retention.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, exists, func, or_, select

from storage.base import Repo
from storage.kinds import DeliveryStatus, OutboxKind
from storage.models import (
    ArticleRow,
    DeliveryRow,
    DigestItemRow,
    FeedbackRow,
    KeyValueRow,
    utcnow,
)

# Outbox rows nobody will touch again: delivered, given up on, or dead letters (see
# jobs/ops/retention.py for why dead letters go too). Never pending or sending (leased) rows.
FINAL_STATUSES = (
    DeliveryStatus.SENT,
    DeliveryStatus.CANCELLED,
    DeliveryStatus.BLOCKED,
    DeliveryStatus.DEAD,
)
OPEN_STATUSES = (DeliveryStatus.PENDING, DeliveryStatus.SENDING)
LISTING_PREFIX = "retention.listing."
GUID_MAX = 1000  # the length of ArticleRow.guid


@dataclass(frozen=True)
class ArticleCandidate:
    """An article old enough to go and referenced by nothing that still needs it."""

    id: int
    feed_id: int
    guid: str
    link: str | None


@dataclass(frozen=True)
class Listing:
    """What one feed listed when its body last changed."""

    feed_id: int
    guids: frozenset[str]
    links: frozenset[str]


def _delivery_age() -> Any:
    """When a final row last changed: its send time, else its last scheduled attempt."""
    return func.coalesce(DeliveryRow.sent_at, DeliveryRow.next_attempt_at)


def _article_unreferenced(cutoff: datetime) -> list[Any]:
    """Conditions for an article that may go: older than `cutoff`, fanned out, and needed by
    no open delivery, no unsent digest and no citizen's feedback."""
    a = ArticleRow
    open_push = exists().where(
        DeliveryRow.kind == OutboxKind.ARTICLE,
        DeliveryRow.item_id == a.id,
        DeliveryRow.status.in_(OPEN_STATUSES),
    )
    open_digest = exists().where(
        DeliveryRow.kind == OutboxKind.DIGEST,
        DeliveryRow.item_id == DigestItemRow.digest_id,
        DeliveryRow.status.in_(OPEN_STATUSES),
    )
    in_digest = exists().where(
        DigestItemRow.article_id == a.id,
        or_(DigestItemRow.digest_id.is_(None), open_digest),
    )
    in_feedback = exists().where(FeedbackRow.article_id == a.id)
    return [
        a.created_at < cutoff,
        a.fanned_out_at.is_not(None),
        ~open_push,
        ~in_digest,
        ~in_feedback,
    ]


class RetentionRepo(Repo):
    """Short batched deletes (see the module docstring) and the feed listings they respect."""

    # -- outbox --------------------------------------------------------------------------------

    async def delete_final_deliveries(self, cutoff: datetime, *, batch: int) -> int:
        """Delete up to `batch` final outbox rows last changed before `cutoff`; returns how
        many went (fewer than `batch`: nothing more to do)."""
        final = (DeliveryRow.status.in_(FINAL_STATUSES), _delivery_age() < cutoff)
        chosen = select(DeliveryRow.id).where(*final).order_by(DeliveryRow.id).limit(batch)
        stmt = delete(DeliveryRow).where(DeliveryRow.id.in_(chosen.scalar_subquery()), *final)
        async with self._tx() as s:
            return int((await s.execute(stmt)).rowcount)  # type: ignore[attr-defined]

    # -- articles ------------------------------------------------------------------------------

    async def newest_floors(self, keep: int) -> dict[int, int]:
        """Per feed, the id of its `keep`-th newest article: that one and every newer one are
        kept. A feed with fewer articles has no entry (all of them are kept)."""
        rank = (
            func.row_number()
            .over(partition_by=ArticleRow.feed_id, order_by=ArticleRow.id.desc())
            .label("rank")
        )
        ranked = select(ArticleRow.feed_id, ArticleRow.id, rank).subquery()
        q = select(ranked.c.feed_id, ranked.c.id).where(ranked.c.rank == keep)
        async with self._tx() as s:
            return {int(feed): int(ident) for feed, ident in (await s.execute(q)).all()}

    async def article_candidates(
        self, cutoff: datetime, *, after_id: int, limit: int
    ) -> list[ArticleCandidate]:
        """Up to `limit` prunable articles with ids above `after_id`, oldest first."""
        q = (
            select(ArticleRow.id, ArticleRow.feed_id, ArticleRow.guid, ArticleRow.link)
            .where(ArticleRow.id > after_id, *_article_unreferenced(cutoff))
            .order_by(ArticleRow.id)
            .limit(limit)
        )
        async with self._tx() as s:
            return [ArticleCandidate(*row) for row in (await s.execute(q)).all()]

    async def last_article_id(self, cutoff: datetime) -> int | None:
        """The highest id of an article created before `cutoff` (where a scan may stop)."""
        q = select(func.max(ArticleRow.id)).where(ArticleRow.created_at < cutoff)
        async with self._tx() as s:
            return (await s.execute(q)).scalar_one_or_none()

    async def delete_articles(self, ids: Sequence[int], cutoff: datetime) -> int:
        """Delete these articles (their search rows and sent digest items cascade), each only
        if it is still unreferenced; returns how many went."""
        if not ids:
            return 0
        stmt = delete(ArticleRow).where(
            ArticleRow.id.in_(list(ids)), *_article_unreferenced(cutoff)
        )
        async with self._tx() as s:
            return int((await s.execute(stmt)).rowcount)  # type: ignore[attr-defined]

    # -- feed listings -------------------------------------------------------------------------

    async def record_listings(self, listings: Iterable[Listing]) -> None:
        """Remember what each feed listed (one transaction for many feeds: the poller calls
        this with its batch of changed feeds)."""
        now = utcnow()
        rows = [
            {
                "key": f"{LISTING_PREFIX}{listing.feed_id}",
                "value": json.dumps(
                    {
                        # Stored GUIDs are cut at 1000 characters (jobs/ingest/poll.py): compare
                        # alike.
                        "guids": sorted({g[:GUID_MAX] for g in listing.guids}),
                        "links": sorted(listing.links),
                    },
                    ensure_ascii=False,
                ),
                "updated_at": now,
            }
            for listing in listings
        ]
        if not rows:
            return
        stmt = self._insert(KeyValueRow)
        stmt = stmt.on_conflict_do_update(
            index_elements=["key"],
            set_={"value": stmt.excluded.value, "updated_at": stmt.excluded.updated_at},
        )
        async with self._tx() as s:
            await s.execute(stmt, rows)

    async def listings(self) -> list[Listing]:
        """Every feed's last recorded listing."""
        q = select(KeyValueRow.key, KeyValueRow.value).where(
            KeyValueRow.key.startswith(LISTING_PREFIX, autoescape=True)
        )
        out: list[Listing] = []
        async with self._tx() as s:
            rows = (await s.execute(q)).all()
        for key, value in rows:
            suffix = key.removeprefix(LISTING_PREFIX)
            try:
                data = json.loads(value)
                feed_id = int(suffix)
            except ValueError:
                continue  # not ours to interpret; keeping more is the safe side
            out.append(
                Listing(
                    feed_id,
                    frozenset(str(g) for g in data.get("guids", [])),
                    frozenset(str(link) for link in data.get("links", []) if link),
                )
            )
        return out
