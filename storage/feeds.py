"""Feeds: what to poll, and each feed's health (errors, backoff, last success, alerts)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Table, bindparam, delete, func, select, update

from storage.base import Repo
from storage.models import ArticleRow, FeedRow
from storage.records import Feed


def _feed(row: FeedRow, article_count: int = 0) -> Feed:
    return Feed(
        id=row.id,
        url=row.url,
        name=row.name,
        category=row.category,
        enabled=row.enabled,
        etag=row.etag,
        last_modified=row.last_modified,
        poll_interval=row.poll_interval,
        next_poll_at=row.next_poll_at,
        last_polled_at=row.last_polled_at,
        last_success_at=row.last_success_at,
        last_error=row.last_error,
        consecutive_errors=row.consecutive_errors,
        polls=row.polls,
        created_at=row.created_at,
        article_count=article_count,
        alert_state=row.alert_state or "ok",
        alert_changed_at=row.alert_changed_at,
    )


@dataclass(frozen=True)
class PollSuccess:
    """One feed answered 200 or 304: what to store (a batch of these is one transaction)."""

    feed_id: int
    now: datetime
    next_poll_at: datetime
    etag: str | None
    last_modified: str | None
    name: str | None = None  # the feed's own title, kept only if the feed has no name yet


@dataclass(frozen=True)
class PollFailure:
    feed_id: int
    now: datetime
    next_poll_at: datetime
    error: str


class FeedRepo(Repo):
    async def add(
        self, url: str, *, name: str | None = None, category: str | None = None
    ) -> tuple[Feed, bool]:
        """Add a feed; returns (feed, created). Adding a known URL is a no-op."""
        async with self._tx() as s:
            row = (await s.execute(select(FeedRow).where(FeedRow.url == url))).scalar_one_or_none()
            if row is not None:
                return _feed(row), False
            row = FeedRow(
                url=url, name=name, category=category, enabled=True, consecutive_errors=0, polls=0
            )
            s.add(row)
            await s.flush()
            return _feed(row), True

    async def get(self, feed_id: int) -> Feed | None:
        async with self._tx() as s:
            row = await s.get(FeedRow, feed_id)
            return _feed(row) if row else None

    async def all(self) -> list[Feed]:
        counts = (
            select(ArticleRow.feed_id, func.count().label("n"))
            .group_by(ArticleRow.feed_id)
            .subquery()
        )
        q = (
            select(FeedRow, func.coalesce(counts.c.n, 0))
            .outerjoin(counts, counts.c.feed_id == FeedRow.id)
            .order_by(FeedRow.id)
        )
        async with self._tx() as s:
            return [_feed(row, n) for row, n in (await s.execute(q)).all()]

    async def remove(self, feed_id: int) -> bool:
        async with self._tx() as s:
            res = await s.execute(delete(FeedRow).where(FeedRow.id == feed_id))
            return bool(res.rowcount)  # type: ignore[attr-defined]

    async def due(self, now: datetime) -> list[Feed]:
        """Enabled feeds never polled or whose next poll time has come."""
        q = (
            select(FeedRow)
            .where(
                FeedRow.enabled.is_(True),
                (FeedRow.next_poll_at.is_(None)) | (FeedRow.next_poll_at <= now),
            )
            .order_by(FeedRow.next_poll_at.is_not(None), FeedRow.next_poll_at, FeedRow.id)
        )
        async with self._tx() as s:
            return [_feed(r) for r in (await s.execute(q)).scalars()]

    async def due_page(self, now: datetime, *, after_id: int = 0, limit: int = 500) -> list[Feed]:
        """Up to ``limit`` of the feeds ``due`` would return, those with an id above
        ``after_id``, by id: the poller reads thousands of due feeds a page at a time. Paging by
        id stays exact while the poll moves the polled feeds' next poll time."""
        q = (
            select(FeedRow)
            .where(
                FeedRow.enabled.is_(True),
                (FeedRow.next_poll_at.is_(None)) | (FeedRow.next_poll_at <= now),
                FeedRow.id > after_id,
            )
            .order_by(FeedRow.id)
            .limit(limit)
        )
        async with self._tx() as s:
            return [_feed(r) for r in (await s.execute(q)).scalars()]

    async def record_success(
        self,
        feed_id: int,
        *,
        now: datetime,
        next_poll_at: datetime,
        etag: str | None,
        last_modified: str | None,
        new_url: str | None = None,
        name: str | None = None,
    ) -> None:
        values: dict[str, object] = dict(
            last_polled_at=now,
            last_success_at=now,
            next_poll_at=next_poll_at,
            etag=etag,
            last_modified=last_modified,
            last_error=None,
            consecutive_errors=0,
            polls=FeedRow.polls + 1,
        )
        if new_url:
            values["url"] = new_url
        async with self._tx() as s:
            await s.execute(update(FeedRow).where(FeedRow.id == feed_id).values(**values))
            if name:
                await s.execute(
                    update(FeedRow)
                    .where(FeedRow.id == feed_id, FeedRow.name.is_(None))
                    .values(name=name)
                )

    async def record_failure(
        self, feed_id: int, *, now: datetime, error: str, next_poll_at: datetime
    ) -> int:
        """Count one more consecutive error; returns the new count."""
        async with self._tx() as s:
            await s.execute(
                update(FeedRow)
                .where(FeedRow.id == feed_id)
                .values(
                    last_polled_at=now,
                    last_error=error[:2000],
                    next_poll_at=next_poll_at,
                    consecutive_errors=FeedRow.consecutive_errors + 1,
                )
            )
            row = await s.get(FeedRow, feed_id)
            return row.consecutive_errors if row else 0

    async def count(self) -> int:
        async with self._tx() as s:
            return int((await s.execute(select(func.count()).select_from(FeedRow))).scalar_one())

    async def record_polls(
        self, successes: Sequence[PollSuccess], failures: Sequence[PollFailure]
    ) -> None:
        """Record many polls in one transaction (two executemany UPDATEs).

        Why: a poll of 500 unchanged feeds is 500 tiny updates; one transaction each costs more
        than the fetches. Counters are incremented in SQL, so the result is the same as calling
        record_success/record_failure once per feed. URL changes (permanent redirects) are not
        batched: a new URL may collide with another feed's, and that must fail alone.
        """
        if not successes and not failures:
            return
        table: Table = FeedRow.__table__  # type: ignore[assignment]
        c = table.c
        async with self._tx() as s:
            if successes:
                ok = (
                    update(table)
                    .where(c.id == bindparam("b_id"))
                    .values(
                        last_polled_at=bindparam("b_now"),
                        last_success_at=bindparam("b_now"),
                        next_poll_at=bindparam("b_next"),
                        etag=bindparam("b_etag"),
                        last_modified=bindparam("b_modified"),
                        last_error=None,
                        consecutive_errors=0,
                        polls=c.polls + 1,
                        name=func.coalesce(c.name, bindparam("b_name", type_=c.name.type)),
                    )
                )
                await s.execute(
                    ok,
                    [
                        dict(
                            b_id=x.feed_id,
                            b_now=x.now,
                            b_next=x.next_poll_at,
                            b_etag=x.etag,
                            b_modified=x.last_modified,
                            b_name=x.name,
                        )
                        for x in successes
                    ],
                )
            if failures:
                failed = (
                    update(table)
                    .where(c.id == bindparam("b_id"))
                    .values(
                        last_polled_at=bindparam("b_now"),
                        next_poll_at=bindparam("b_next"),
                        last_error=bindparam("b_error"),
                        consecutive_errors=c.consecutive_errors + 1,
                    )
                )
                await s.execute(
                    failed,
                    [
                        dict(
                            b_id=x.feed_id,
                            b_now=x.now,
                            b_next=x.next_poll_at,
                            b_error=x.error[:2000],
                        )
                        for x in failures
                    ],
                )

    async def set_alert_state(
        self, feed_id: int, state: str, *, now: datetime, expected: str
    ) -> bool:
        """Record what staff were told, only if nobody changed it meanwhile (compare-and-set);
        returns whether this call made the change."""
        async with self._tx() as s:
            res = await s.execute(
                update(FeedRow)
                .where(FeedRow.id == feed_id, FeedRow.alert_state == expected)
                .values(alert_state=state, alert_changed_at=now)
            )
            return bool(res.rowcount)  # type: ignore[attr-defined]
