"""Fan-out's writes, a batch of articles at a time: the outbox rows, the digest waiting list,
the search text and the articles' "done" mark in one transaction.

Why: fan-out used to open three transactions per article (queue, waiting list, mark), so a
first poll of 10,000 articles was 30,000 transactions, ~23 s on SQLite (issue #17). Here a batch
of articles costs one read and one transaction of a few statements, and the rows are made by
the database: one INSERT … SELECT per audience (subscribers with equal choices, decided in
jobs/route/fanout.py) crosses its members with the articles it wants, so no row passes through
Python (binding 180,000 outbox rows one by one cost ~3 s of CPU; the SELECT costs a fraction).
The search text is one executemany, the mark one UPDATE over the batch's ids. The statements are
built once; IN lists are padded to a few lengths (storage/articles.py ``_padded``) so the
drivers' statement caches stay small.

Idempotency and crashes: everything of a batch commits together, so a crash leaves a batch
either wholly queued and marked, or wholly untouched (then the next fan-out does it again); and
the outbox's unique (subscriber, kind, item) and the waiting list's primary key (subscriber,
article) make a repeat (two fan-outs racing) insert nothing twice (ON CONFLICT DO NOTHING).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import Any, TypeVar, cast

from sqlalchemy import Integer, String, Table, bindparam, literal, select, true, update

from storage.articles import _padded
from storage.base import Repo
from storage.kinds import DeliveryStatus, OutboxKind
from storage.models import (
    ArticleRow,
    ArticleSearchRow,
    DeliveryRow,
    DigestItemRow,
    SubscriberRow,
    UTCDateTime,
)

T = TypeVar("T")

_ARTICLES = cast(Table, ArticleRow.__table__)
_DELIVERIES = cast(Table, DeliveryRow.__table__)
_DIGEST_ITEMS = cast(Table, DigestItemRow.__table__)
_SEARCH = cast(Table, ArticleSearchRow.__table__)
_SUBSCRIBERS = cast(Table, SubscriberRow.__table__)

# Members of one audience per INSERT … SELECT (padded to a power of two): with a batch's
# article ids, well under the 32,766 parameters SQLite and asyncpg allow.
MEMBERS_PER_STATEMENT = 4096
# Search rows per executemany.
ROWS_PER_CHUNK = 5_000

_ORDER = (_ARTICLES.c.published_at.is_(None), _ARTICLES.c.published_at, _ARTICLES.c.id)
# What routing needs of an article, oldest first (undated last), without its body.
_PENDING = (
    select(
        _ARTICLES.c.id,
        _ARTICLES.c.feed_id,
        _ARTICLES.c.title,
        _ARTICLES.c.summary,
        _ARTICLES.c.categories,
    )
    .where(_ARTICLES.c.fanned_out_at.is_(None))
    .order_by(*_ORDER)
    .limit(bindparam("limit"))
)
# Marks only what is still unmarked: a racing fan-out's mark (same batch) is left as it was.
_MARK = (
    update(_ARTICLES)
    .where(
        _ARTICLES.c.id.in_(bindparam("ids", expanding=True)),
        _ARTICLES.c.fanned_out_at.is_(None),
    )
    .values(fanned_out_at=bindparam("now"))
)


def _crossed(*columns: Any) -> Any:
    """SELECT ``columns`` FROM the members (still active) crossed with the articles, in the
    articles' order: outbox ids follow it, and the deliverer sends in id order."""
    return (
        select(*columns)
        .select_from(_SUBSCRIBERS.join(_ARTICLES, true()))
        .where(
            _SUBSCRIBERS.c.id.in_(bindparam("members", expanding=True)),
            _SUBSCRIBERS.c.active.is_(True),
            _ARTICLES.c.id.in_(bindparam("articles", expanding=True)),
        )
        .order_by(*_ORDER, _SUBSCRIBERS.c.id)
    )


_INSTANT_ROWS = _crossed(
    _SUBSCRIBERS.c.id,
    literal(OutboxKind.ARTICLE, String()),
    _ARTICLES.c.id,
    literal(DeliveryStatus.PENDING, String()),
    literal(0, Integer()),
    bindparam("at", type_=UTCDateTime()),
    bindparam("now", type_=UTCDateTime()),
)
_INSTANT_COLUMNS = [
    "subscriber_id",
    "kind",
    "item_id",
    "status",
    "attempts",
    "next_attempt_at",
    "created_at",
]
_DIGEST_ROWS = _crossed(_SUBSCRIBERS.c.id, _ARTICLES.c.id, bindparam("now", type_=UTCDateTime()))


@dataclass(frozen=True, slots=True)
class PendingArticle:
    """An article waiting for fan-out: what deciding its recipients reads."""

    id: int
    feed_id: int
    title: str
    summary: str | None
    categories: tuple[str, ...]


@dataclass(frozen=True)
class BatchResult:
    queued: int  # outbox rows created
    waiting: int  # digest waiting-list entries created
    marked: int  # articles marked done by this batch


def _chunks(rows: Iterable[T], size: int) -> Iterator[list[T]]:
    """``rows`` in lists of at most ``size`` (the last shorter)."""
    it = iter(rows)
    while chunk := list(islice(it, size)):
        yield chunk


class FanoutRepo(Repo):
    async def pending(self, limit: int = 500) -> list[PendingArticle]:
        """Up to `limit` articles not fanned out yet, oldest first (as they should go out)."""
        async with self._tx() as s:
            rows = (await s.execute(_PENDING, {"limit": limit})).all()
        return [
            PendingArticle(
                int(i), int(f), str(t), su, tuple(c for c in (cats or "").split("\n") if c)
            )
            for i, f, t, su, cats in rows
        ]

    async def commit_batch(
        self,
        article_ids: Sequence[int],
        instant: Iterable[tuple[Sequence[int], datetime, Sequence[int]]],
        digest: Iterable[tuple[Sequence[int], Sequence[int]]],
        *,
        search: Iterable[tuple[int, str]] = (),
        now: datetime,
    ) -> BatchResult:
        """In one transaction: queue each of `instant` (members, when, article ids: every member
        gets every article, due at `when`), put each of `digest` (members, article ids) on the
        waiting list, store `search` (article, folded text; an article indexed already keeps its
        text, as storage/search.py does) and mark `article_ids` fanned out.

        Members no longer active are skipped; rows that exist already are skipped and not
        counted.
        """
        queued = waiting = 0
        async with self._tx() as s:
            for members, at, articles in instant:
                for part in _chunks(members, MEMBERS_PER_STATEMENT):
                    params = _cross_params(part, articles, now)
                    done = await s.execute(self._statement("deliveries"), {**params, "at": at})
                    queued += _count(done)
            for members, articles in digest:
                for part in _chunks(members, MEMBERS_PER_STATEMENT):
                    params = _cross_params(part, articles, now)
                    waiting += _count(await s.execute(self._statement("digest_items"), params))
            for texts in _chunks(search, ROWS_PER_CHUNK):
                await s.execute(
                    self._statement("article_search"),
                    [{"article_id": aid, "folded": folded} for aid, folded in texts],
                )
            marked = 0
            if article_ids:
                marked = _count(await s.execute(_MARK, {"ids": list(article_ids), "now": now}))
        return BatchResult(queued, waiting, marked)

    def _statement(self, name: str) -> Any:
        """The batch's INSERTs (ON CONFLICT DO NOTHING), built once per repository (the dialect
        is the repository's)."""
        cache: dict[str, Any] = self.__dict__.setdefault("_statements", {})
        stmt = cache.get(name)
        if stmt is None:
            if name == "deliveries":
                stmt = (
                    self._insert(_DELIVERIES)
                    .from_select(_INSTANT_COLUMNS, _INSTANT_ROWS)
                    .on_conflict_do_nothing(index_elements=["subscriber_id", "kind", "item_id"])
                )
            elif name == "digest_items":
                stmt = (
                    self._insert(_DIGEST_ITEMS)
                    .from_select(["subscriber_id", "article_id", "created_at"], _DIGEST_ROWS)
                    .on_conflict_do_nothing(index_elements=["subscriber_id", "article_id"])
                )
            else:
                stmt = self._insert(_SEARCH).on_conflict_do_nothing(index_elements=["article_id"])
            cache[name] = stmt
        return stmt


def _cross_params(members: list[int], articles: Sequence[int], now: datetime) -> dict[str, Any]:
    return {
        "members": _padded(members, 0),
        "articles": _padded(list(articles), 0),
        "now": now,
    }


def _count(result: Any) -> int:
    """Rows an INSERT … SELECT (ON CONFLICT DO NOTHING) or UPDATE changed."""
    return max(0, int(result.rowcount))
