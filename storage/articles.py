"""Articles: stored once per feed entry, summarized once, fanned out once.

The poller's hot path is here: two reads and one insert per polled feed, hundreds of feeds a
minute. Those statements are built once at import and run with bound parameters (an IN list
is an "expanding" parameter), so SQLAlchemy's compiled cache serves them; a statement built
with ``.values(rows)`` is a new statement for every call, compiled again each time
(bench/README.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import bindparam, func, literal, select, union_all

from storage.base import Repo
from storage.models import ArticleRow, FeedRow
from storage.records import Article, NewArticle

T = TypeVar("T")


def _split(categories: str | None) -> tuple[str, ...]:
    return tuple(c for c in (categories or "").split("\n") if c)


def _article(row: ArticleRow, feed_name: str | None = None) -> Article:
    return Article(
        id=row.id,
        feed_id=row.feed_id,
        guid=row.guid,
        link=row.link,
        title=row.title,
        summary=row.summary,
        image_url=row.image_url,
        categories=_split(row.categories),
        published_at=row.published_at,
        created_at=row.created_at,
        fanned_out_at=row.fanned_out_at,
        feed_name=feed_name,
    )


_ARTICLES = ArticleRow.__table__
# One round trip for both de-duplication checks; UNION ALL rather than OR so each half uses its
# own index ((feed_id, guid) and the unique link index) on SQLite and PostgreSQL alike.
_KNOWN = union_all(
    select(literal("g").label("kind"), _ARTICLES.c.guid.label("value")).where(
        _ARTICLES.c.feed_id == bindparam("feed_id"),
        _ARTICLES.c.guid.in_(bindparam("guids", expanding=True)),
    ),
    select(literal("l").label("kind"), _ARTICLES.c.link.label("value")).where(
        _ARTICLES.c.link.in_(bindparam("links", expanding=True))
    ),
)

# The same for several feeds at once (ArticleRepo.known_many), with at most about KNOWN_PARAMS
# values in one statement (SQLite allows 32,766 parameters; a feed may list thousands of items).
KNOWN_PARAMS = 5_000
_KNOWN_MANY = union_all(
    select(literal("g").label("kind"), _ARTICLES.c.feed_id, _ARTICLES.c.guid.label("value")).where(
        _ARTICLES.c.feed_id.in_(bindparam("feed_ids", expanding=True)),
        _ARTICLES.c.guid.in_(bindparam("guids", expanding=True)),
    ),
    select(literal("l").label("kind"), _ARTICLES.c.feed_id, _ARTICLES.c.link.label("value")).where(
        _ARTICLES.c.link.in_(bindparam("links", expanding=True))
    ),
)


# Rows per INSERT statement of ``add_many``. Fixed and small so that the statements prepared
# and kept by the driver (128 per SQLite connection, by SQL text) stay few and small: with the
# default 1,000-row pages every group of feeds made a new multi-kilobyte statement to cache,
# and the poller's memory grew with the number of feeds.
INSERT_PAGE_ROWS = 32


def _padded(values: list[T], filler: T) -> list[T]:
    """``values`` repeated up to the next power of two (at least 8): an IN list of that length.

    Why: each distinct IN-list length is a distinct SQL text, prepared and cached by the driver;
    a few lengths keep that cache small whatever the feeds' sizes (repeats match nothing new).
    """
    if not values:
        values = [filler]
    size = 8
    while size < len(values):
        size *= 2
    return values + [values[0]] * (size - len(values))


def _utc(value: datetime | None) -> datetime | None:
    """What the database gives back for ``value`` (UTCDateTime stores aware UTC)."""
    return value.astimezone(UTC) if value is not None else None


@dataclass(frozen=True)
class NewBatch:
    """One feed's new articles for ``ArticleRepo.add_many``; ``seen[i]`` marks backlog."""

    feed_id: int
    items: Sequence[NewArticle]
    now: datetime
    seen: Sequence[bool]


def _stored(batch: NewBatch, ids: dict[tuple[int, str], int]) -> list[Article]:
    """The Articles of ``batch`` that the INSERT stored (``ids`` by (feed, GUID)), by id."""
    created = _utc(batch.now)
    assert created is not None
    stored: list[Article] = []
    for item, is_seen in zip(batch.items, batch.seen, strict=True):
        article_id = ids.pop((batch.feed_id, item.guid), None)  # pop: a repeated GUID once
        if article_id is None:
            continue
        stored.append(
            Article(
                id=article_id,
                feed_id=batch.feed_id,
                guid=item.guid,
                link=item.link,
                title=item.title,
                summary=item.summary,
                image_url=item.image_url,
                categories=_split("\n".join(item.categories)),
                published_at=_utc(item.published_at),
                created_at=created,
                fanned_out_at=created if is_seen else None,
            )
        )
    return sorted(stored, key=lambda a: a.id)


class ArticleRepo(Repo):
    async def known(
        self, feed_id: int, guids: Iterable[str], links: Iterable[str]
    ) -> tuple[set[str], set[str]]:
        """(GUIDs stored for this feed, links stored under any feed) among those given.

        What the poller asks for every feed with a changed body: one query, not two.
        """
        return (await self.known_many([(feed_id, guids, links)]))[0]

    async def known_many(
        self, asks: Sequence[tuple[int, Iterable[str], Iterable[str]]]
    ) -> list[tuple[set[str], set[str]]]:
        """``known`` for several feeds (feed id, GUIDs, links) in one transaction and, unless
        they are very large, one query.

        Why: the poller groups the feeds parsed while the previous group was being read, and a
        transaction and a statement per feed cost more than the rows they find. GUIDs are
        matched as ``feed_id IN (...) AND guid IN (...)`` (both columns of the unique index,
        on SQLite and PostgreSQL alike) and the cross-feed surplus is dropped here.
        """
        wanted = [
            (feed_id, set(guids), {link for link in links if link})
            for feed_id, guids, links in asks
        ]
        chunks: list[list[tuple[int, set[str], set[str]]]] = [[]]
        size = 0
        for ask in wanted:
            if not ask[1] and not ask[2]:
                continue
            if size and size + len(ask[1]) + len(ask[2]) > KNOWN_PARAMS:
                chunks.append([])
                size = 0
            chunks[-1].append(ask)
            size += len(ask[1]) + len(ask[2])
        found_guids: set[tuple[int, str]] = set()
        found_links: set[str] = set()
        if chunks[0]:
            async with self._tx() as s:
                for chunk in chunks:
                    params = {
                        "feed_ids": _padded(sorted({feed_id for feed_id, g, _ in chunk if g}), -1),
                        "guids": _padded(list(set().union(*(g for _, g, _ in chunk))), ""),
                        "links": _padded(list(set().union(*(k for _, _, k in chunk))), ""),
                    }
                    for kind, feed_id, value in (await s.execute(_KNOWN_MANY, params)).all():
                        if kind == "g":
                            found_guids.add((feed_id, value))
                        elif value:
                            found_links.add(value)
        return [
            ({g for g in guids if (feed_id, g) in found_guids}, links & found_links)
            for feed_id, guids, links in wanted
        ]

    async def known_guids(self, feed_id: int, guids: Iterable[str]) -> set[str]:
        wanted = list(set(guids))
        if not wanted:
            return set()
        q = select(ArticleRow.guid).where(
            ArticleRow.feed_id == feed_id, ArticleRow.guid.in_(wanted)
        )
        async with self._tx() as s:
            return set((await s.execute(q)).scalars())

    async def known_links(self, links: Iterable[str]) -> set[str]:
        """Links already stored under any feed (one portal's article in two feeds)."""
        wanted = list({link for link in links if link})
        if not wanted:
            return set()
        q = select(ArticleRow.link).where(ArticleRow.link.in_(wanted))
        async with self._tx() as s:
            return {link for link in (await s.execute(q)).scalars() if link}

    async def add(
        self, feed_id: int, items: Sequence[NewArticle], *, now: datetime, seen: Sequence[bool]
    ) -> list[Article]:
        """Insert new articles; `seen[i]` marks backlog that must never be pushed.

        A GUID stored already for this feed, or a link stored under any feed, is skipped (ON
        CONFLICT DO NOTHING), so two pollers racing cannot create a duplicate push.
        """
        return (await self.add_many([NewBatch(feed_id, items, now, seen)]))[0]

    async def add_many(self, batches: Sequence[NewBatch]) -> list[list[Article]]:
        """``add`` for several feeds in one transaction and one executemany INSERT; returns the
        stored articles of each batch, in order.

        Why: on a first poll every feed inserts its whole backlog, and one transaction per feed
        (with SQLite's single writer, others waiting on its lock) cost more than the rows.
        """
        ids = await self._insert_rows(batches)
        return [_stored(b, ids) for b in batches]

    async def count_added(self, batches: Sequence[NewBatch]) -> list[int]:
        """``add_many`` answering only how many articles of each batch were stored: what the
        poller needs, without building a record per row."""
        ids = await self._insert_rows(batches)
        return [
            sum(ids.pop((b.feed_id, item.guid), None) is not None for item in b.items)
            for b in batches
        ]

    async def _insert_rows(self, batches: Sequence[NewBatch]) -> dict[tuple[int, str], int]:
        """Insert the batches' rows; the ids of those stored, by (feed id, GUID)."""
        rows = [
            dict(
                feed_id=b.feed_id,
                guid=item.guid,
                link=item.link,
                title=item.title,
                summary=item.summary,
                body=item.body,
                image_url=item.image_url,
                categories="\n".join(item.categories) or None,
                published_at=item.published_at,
                created_at=b.now,
                fanned_out_at=b.now if is_seen else None,
            )
            for b in batches
            for item, is_seen in zip(b.items, b.seen, strict=True)
        ]
        if not rows:
            return {}
        async with self._tx() as s:
            # A list of parameter sets: executemany, which SQLAlchemy sends as batched
            # multi-row INSERTs ("insertmanyvalues") from one cached statement. RETURNING only
            # (id, feed_id, guid): the records are built from what we inserted, not read back.
            result = await s.execute(
                self._add_statement(),
                rows,
                execution_options={"insertmanyvalues_page_size": INSERT_PAGE_ROWS},
            )
            return {(fid, guid): article_id for article_id, fid, guid in result.all()}

    def _add_statement(self) -> Any:
        """INSERT ... ON CONFLICT DO NOTHING RETURNING, built once per repository."""
        stmt = getattr(self, "_add_stmt", None)
        if stmt is None:
            stmt = (
                self._insert(_ARTICLES)
                .on_conflict_do_nothing()  # a known GUID in this feed, or a known link anywhere
                .returning(_ARTICLES.c.id, _ARTICLES.c.feed_id, _ARTICLES.c.guid)
            )
            self._add_stmt = stmt
        return stmt

    async def get(self, article_id: int) -> Article | None:
        q = (
            select(ArticleRow, FeedRow.name)
            .join(FeedRow, FeedRow.id == ArticleRow.feed_id)
            .where(ArticleRow.id == article_id)
        )
        async with self._tx() as s:
            got = (await s.execute(q)).first()
            return _article(got[0], got[1]) if got else None

    async def body(self, article_id: int) -> str | None:
        async with self._tx() as s:
            row = await s.get(ArticleRow, article_id)
            return row.body if row else None

    async def pending_fanout(self, limit: int = 500) -> list[Article]:
        q = (
            select(ArticleRow)
            .where(ArticleRow.fanned_out_at.is_(None))
            .order_by(ArticleRow.published_at.is_(None), ArticleRow.published_at, ArticleRow.id)
            .limit(limit)
        )
        async with self._tx() as s:
            return [_article(r) for r in (await s.execute(q)).scalars()]

    async def latest(self, limit: int = 5) -> list[Article]:
        q = (
            select(ArticleRow, FeedRow.name)
            .join(FeedRow, FeedRow.id == ArticleRow.feed_id)
            .order_by(ArticleRow.id.desc())
            .limit(limit)
        )
        async with self._tx() as s:
            return [_article(r, n) for r, n in (await s.execute(q)).all()]

    async def count(self) -> int:
        async with self._tx() as s:
            q = select(func.count()).select_from(ArticleRow)
            return int((await s.execute(q)).scalar_one())

    async def get_many(self, ids: list[int]) -> list[Article]:
        """Articles by id with their feed's name, in the order asked (missing ones skipped)."""
        if not ids:
            return []
        q = (
            select(ArticleRow, FeedRow.name)
            .join(FeedRow, FeedRow.id == ArticleRow.feed_id)
            .where(ArticleRow.id.in_(set(ids)))
        )
        async with self._tx() as s:
            found = {r.id: _article(r, n) for r, n in (await s.execute(q)).all()}
        return [found[i] for i in ids if i in found]
