"""Fan-out a batch at a time (issue #17): few statements per batch, backlog never read again,
and a crash between statements or batches loses nothing and queues nothing twice.

Counts, not times: statements are counted with SQLAlchemy's ``before_cursor_execute`` event on
the real engine (a SQLite file; PostgreSQL too when BANTIN_TEST_DATABASE_URL is set).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, select

import jobs.route.fanout as fanout
from jobs.ingest.fetch import make_client
from jobs.ingest.poll import Poller
from jobs.route.fanout import fan_out_articles
from jobs.route.match import fold
from storage.kinds import OutboxKind
from storage.models import ArticleRow, DeliveryRow, DigestItemRow
from storage.records import NewArticle
from storage.store import Store
from tests.fakes.clock import FakeClock
from tests.fakes.feed_server import FeedServer

NOW = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)  # 10:00 in Vietnam: outside quiet hours


@contextmanager
def statements(store: Store) -> Iterator[list[tuple[str, Any]]]:
    """Every statement the engine sends while inside, with its parameters."""
    seen: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, sql: str, params: Any, context: Any, many: bool) -> None:
        seen.append((sql, params))

    target = store.engine.sync_engine
    event.listen(target, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(target, "before_cursor_execute", record)


def article(n: int) -> NewArticle:
    return NewArticle(
        guid=f"g{n}",
        link=f"https://portal.example/tin/{n}",
        title=f"Tin số {n} về an ninh" if n % 2 else f"Tin số {n} về giao thông",
        summary="Nội dung ngắn.",
        body=None,
        image_url=None,
        categories=("An ninh",) if n % 3 == 0 else (),
        published_at=NOW - timedelta(minutes=n),
    )


async def seed(store: Store, n_articles: int, *, seen_every: int = 0) -> tuple[list[int], int]:
    """Three subscribers (all news instant, a keyword, digest) and `n_articles` to push over two
    feeds; every `seen_every`-th article is backlog. Returns (subscriber ids, pushed count)."""
    feeds = [(await store.feeds.add(f"https://p{i}.example/rss"))[0].id for i in range(2)]
    topic = await store.topics.add("An ninh")
    await store.topics.map(fold("An ninh"), topic.id)
    everyone, _ = await store.subscribers.subscribe("telegram", "1")
    keyword, _ = await store.subscribers.subscribe("telegram", "2")
    await store.preferences.add_keyword(keyword.id, "an ninh", exclude=False)
    digest, _ = await store.subscribers.subscribe("telegram", "3")
    await store.preferences.update(digest.id, mode="digest")
    await store.preferences.choose(digest.id, topic=topic.id, on=True)
    items = [article(n) for n in range(n_articles)]
    seen = [bool(seen_every) and n % seen_every == 0 for n in range(n_articles)]
    half = n_articles // 2
    await store.articles.add(feeds[0], items[:half], now=NOW, seen=seen[:half])
    await store.articles.add(feeds[1], items[half:], now=NOW, seen=seen[half:])
    return [everyone.id, keyword.id, digest.id], n_articles - sum(seen)


def expected(subs: list[int], n_articles: int, ids: dict[str, int]) -> tuple[set[Any], set[Any]]:
    everyone, keyword, digest = subs
    instant, waiting = set(), set()
    for n in range(n_articles):
        aid = ids[f"g{n}"]
        instant.add((everyone, aid))
        if n % 2:
            instant.add((keyword, aid))
        if n % 3 == 0:
            waiting.add((digest, aid))
    return instant, waiting


async def outcome(store: Store) -> tuple[list[tuple[int, int]], list[tuple[int, int]], int]:
    """(outbox (subscriber, article) rows, waiting list rows, articles still pending)."""
    async with store.engine.connect() as conn:
        rows = (
            await conn.execute(
                select(DeliveryRow.subscriber_id, DeliveryRow.item_id).where(
                    DeliveryRow.kind == OutboxKind.ARTICLE
                )
            )
        ).all()
        items = (
            await conn.execute(select(DigestItemRow.subscriber_id, DigestItemRow.article_id))
        ).all()
        left = (
            await conn.execute(
                select(func.count())
                .select_from(ArticleRow)
                .where(ArticleRow.fanned_out_at.is_(None))
            )
        ).scalar_one()
    return [(int(s), int(a)) for s, a in rows], [(int(s), int(a)) for s, a in items], int(left)


async def guid_ids(store: Store) -> dict[str, int]:
    async with store.engine.connect() as conn:
        return {
            g: int(i) for i, g in (await conn.execute(select(ArticleRow.id, ArticleRow.guid))).all()
        }


async def test_a_batch_of_articles_costs_a_few_statements_not_a_few_per_article(
    any_store: Store,
) -> None:
    store = any_store
    n = 400
    subs, _ = await seed(store, n)
    with statements(store) as seen:
        queued = await fan_out_articles(store, now=NOW)
    ids = await guid_ids(store)
    instant, waiting = expected(subs, n, ids)
    assert queued == len(instant) + len(waiting)
    rows, items, left = await outcome(store)
    assert sorted(rows) == sorted(instant) and sorted(items) == sorted(waiting) and left == 0
    # One pass of the search index, the recipients' reads, then one read and one transaction
    # of three statements for the batch. The per-article fan-out sent three per article (1,200).
    writes = [sql for sql, _ in seen if not sql.lstrip().upper().startswith("SELECT")]
    assert len(seen) <= 20, [sql.split("\n")[0] for sql, _ in seen]
    marks = [sql for sql in writes if sql.lstrip().upper().startswith("UPDATE ARTICLES")]
    assert len(marks) == 1


async def test_statements_grow_with_batches_not_with_articles(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nine times the articles (nine batches of 100 instead of one) adds a handful of
    statements per extra batch; the per-article fan-out added three per article (2,400)."""
    monkeypatch.setattr(fanout, "BATCH_ARTICLES", 100)
    await seed(store, 100)
    with statements(store) as small:
        await fan_out_articles(store, now=NOW)
    await store.articles.add(
        (await store.feeds.add("https://p9.example/rss"))[0].id,
        [
            NewArticle(f"h{k}", f"https://p.example/h/{k}", f"Tin {k}", None, None, None, (), None)
            for k in range(900)
        ],
        now=NOW,
        seen=[False] * 900,
    )
    with statements(store) as large:
        assert await fan_out_articles(store, now=NOW) == 900  # the all-news subscriber
    per_batch = 5  # read, an INSERT … SELECT per audience wanting something, search, mark
    assert len(large) <= len(small) + 8 * per_batch


async def test_first_poll_backlog_is_marked_at_insert_and_never_read_by_fan_out(
    store: Store,
) -> None:
    items = "".join(
        f"<item><title>Tin {k}</title><link>https://portal.example/b/{k}</link>"
        f'<guid isPermaLink="false">b{k}</guid>'
        f"<pubDate>{1 + k:02d} Nov 2026 08:00:00 +0700</pubDate>"
        f"<description>Bài {k}.</description></item>"
        for k in range(20)
    )
    body = (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>C</title>{items}</channel></rss>'
    )
    await store.subscribers.subscribe("telegram", "1")
    clock = FakeClock(NOW)
    with FeedServer() as fs:
        url = fs.add("/rss", body=body.encode(), headers={"Content-Type": "application/rss+xml"})
        await store.feeds.add(url)
        async with make_client(private_hosts=["127.0.0.1"]) as client:
            poller = Poller(store, client, clock=clock, backlog_limit=1, workers=1)
            try:
                await poller.poll_due()
            finally:
                await poller.aclose()
    ids = await guid_ids(store)
    async with store.engine.connect() as conn:
        marked = dict((await conn.execute(select(ArticleRow.guid, ArticleRow.fanned_out_at))).all())
    assert marked["b19"] is None  # the newest is pushed
    assert all(marked[f"b{k}"] == NOW for k in range(19))  # the backlog, marked at insert
    clock.advance(hours=1)
    with statements(store) as seen:
        assert await fan_out_articles(store, now=clock()) == 1
    # The batch mark names the one pushed article; the backlog is not read or written again.
    [(_, params)] = [(s, p) for s, p in seen if s.lstrip().upper().startswith("UPDATE ARTICLES")]
    assert ids["b19"] in params and not any(ids[f"b{k}"] in params for k in range(19))
    async with store.engine.connect() as conn:
        after = dict((await conn.execute(select(ArticleRow.guid, ArticleRow.fanned_out_at))).all())
    assert all(after[f"b{k}"] == NOW for k in range(19)) and after["b19"] == clock()
    rows, _, left = await outcome(store)
    assert [a for _, a in rows] == [ids["b19"]] and left == 0


class Crash(Exception):
    pass


@pytest.mark.parametrize("where", ["mark", "digest", "between-batches"])
async def test_a_crash_loses_nothing_and_queues_nothing_twice(
    any_store: Store, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    """A crash inside a batch's transaction (before its mark, or between its inserts) rolls the
    batch back whole; a crash after some batches committed leaves those done. Either way, the
    next fan-out queues exactly what was missing."""
    store = any_store
    monkeypatch.setattr(fanout, "BATCH_ARTICLES", 25)
    n = 100
    subs, _ = await seed(store, n, seen_every=7)
    state = {"batches": 0}
    prefix = {"mark": "UPDATE ARTICLES", "digest": "INSERT INTO DIGEST_ITEMS"}.get(where)

    def crash(conn: Any, cursor: Any, sql: str, params: Any, context: Any, many: bool) -> None:
        head = sql.lstrip().upper()
        if where == "between-batches":
            if head.startswith("SELECT ARTICLES.ID") and state["batches"] == 2:
                raise Crash  # two batches committed, the third never read
        elif prefix and head.startswith(prefix) and state["batches"] >= 2:
            raise Crash  # third batch: its outbox rows are written, then the process dies
        if head.startswith("UPDATE ARTICLES"):
            state["batches"] += 1

    target = store.engine.sync_engine
    event.listen(target, "before_cursor_execute", crash)
    try:
        with pytest.raises(Crash):
            await fan_out_articles(store, now=NOW)
    finally:
        event.remove(target, "before_cursor_execute", crash)
    rows, items, left = await outcome(store)
    assert left == n - n // 7 - 1 - 50  # two batches of 25 done, the rest still pending
    assert len(rows) == len(set(rows)) and len(items) == len(set(items))

    await fan_out_articles(store, now=NOW)
    await fan_out_articles(store, now=NOW)  # and again: nothing more
    ids = await guid_ids(store)
    instant, waiting = expected(subs, n, ids)
    backlog = {ids[f"g{k}"] for k in range(0, n, 7)}
    instant = {(s, a) for s, a in instant if a not in backlog}
    waiting = {(s, a) for s, a in waiting if a not in backlog}
    rows, items, left = await outcome(store)
    assert sorted(rows) == sorted(instant) and sorted(items) == sorted(waiting) and left == 0


async def test_quiet_hours_hold_instant_rows_per_subscriber(any_store: Store) -> None:
    store = any_store
    night = datetime(2026, 11, 28, 16, 0, tzinfo=UTC)  # 23:00 in Vietnam
    await store.state.set("quiet_hours_default", "22:00-06:00")
    held, _ = await store.subscribers.subscribe("telegram", "1")
    awake, _ = await store.subscribers.subscribe("telegram", "2")
    await store.preferences.update(awake.id, quiet_hours="off")
    feed, _ = await store.feeds.add("https://p.example/rss")
    await store.articles.add(feed.id, [article(1), article(2)], now=night, seen=[False, False])
    assert await fan_out_articles(store, now=night) == 4
    rows = await store.deliveries.all(limit=100)
    when = {(r.subscriber_id, r.item_id): r.next_attempt_at for r in rows}
    morning = datetime(2026, 11, 28, 23, 0, tzinfo=UTC)  # 06:00 in Vietnam
    assert {at for (s, _), at in when.items() if s == held.id} == {morning}
    assert {at for (s, _), at in when.items() if s == awake.id} == {night}
