"""Full-text search and the storage of subscribers' choices (topics, digests) on SQLite (FTS5)
and PostgreSQL (tsvector/GIN)."""

from __future__ import annotations

from datetime import UTC, datetime

from jobs.route.fanout import index_articles
from jobs.route.match import words
from storage.kinds import OutboxKind
from storage.records import NewArticle
from storage.store import Store

NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)


def new(guid: str, title: str, summary: str) -> NewArticle:
    return NewArticle(guid, f"https://p.example/{guid}", title, summary, None, None, (), NOW)


async def test_search_is_diacritic_insensitive_on_both_databases(any_store: Store) -> None:
    store = any_store
    feed, _ = await store.feeds.add("https://p.example/rss")
    rows = await store.articles.add(
        feed.id,
        [
            new("a", "Đường sắt đô thị khởi công", "Dự án giao thông lớn."),
            new("b", "Hội nghị An ninh trật tự", "ANTT quý IV."),
            new("c", "Tin khác", "Nói về đường bộ."),
        ],
        now=NOW,
        seen=[False, False, False],
    )
    ids = {a.title: a.id for a in rows}
    assert await index_articles(store) == 3
    assert await index_articles(store) == 0  # once per article
    search = store.search
    rail = ids["Đường sắt đô thị khởi công"]
    for query in ("duong sat", "ĐƯỜNG SẮT", "Đường Sắt"):
        assert await search.search(list(words(query))) == [rail]
    assert set(await search.search(list(words("đường")))) == {rail, ids["Tin khác"]}
    assert await search.search(list(words("antt"))) == [ids["Hội nghị An ninh trật tự"]]
    assert await search.search(list(words('" OR * NEAR('))) == []  # syntax stays plain text


async def test_digest_is_made_once_and_queued_atomically(any_store: Store) -> None:
    store = any_store
    feed, _ = await store.feeds.add("https://p.example/rss")
    sub, _ = await store.subscribers.subscribe("telegram", "1")
    arts = await store.articles.add(
        feed.id, [new("a", "A", "x"), new("b", "B", "y")], now=NOW, seen=[False, False]
    )
    await store.digests.add_items([(sub.id, a.id) for a in arts], now=NOW)
    await store.digests.add_items([(sub.id, arts[0].id)], now=NOW)  # a repeat is a no-op
    [waiting] = await store.digests.waiting()
    assert waiting.subscriber_id == sub.id and waiting.oldest == NOW
    digest = await store.digests.make(sub.id, now=NOW)
    assert digest is not None and await store.digests.make(sub.id, now=NOW) is None
    assert await store.digests.articles_of(digest) == sorted(a.id for a in arts)
    [row] = await store.deliveries.all()
    assert (row.kind, row.item_id, row.subscriber_id) == (OutboxKind.DIGEST, digest, sub.id)
    assert await store.digests.waiting() == []
