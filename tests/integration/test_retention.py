"""Retention on a real database (SQLite file, and PostgreSQL when configured): what goes, what
stays, and that a feed still listing a pruned-around article does not push it again."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from jobs.ingest.fetch import make_client
from jobs.ingest.poll import Poller
from jobs.ops.retention import Protection, cutoff, keep_article, prune, record_listings
from jobs.route.fanout import fan_out_articles
from storage.records import NewArticle
from storage.retention import ArticleCandidate, Listing
from storage.store import Store
from tests.fakes.clock import FakeClock
from tests.fakes.feed_server import FeedServer

START = datetime(2026, 1, 10, 8, 0, tzinfo=UTC)
LATER = START + timedelta(days=400)
RSS_TYPE = {"Content-Type": "application/rss+xml; charset=utf-8"}
PORTAL = "https://chiemhoa.tuyenquang.gov.vn"


def item(n: int) -> NewArticle:
    return NewArticle(
        guid=f"tin-{n}",
        link=f"{PORTAL}/tin-tuc/bai-{n}",
        title=f"Bài số {n}",
        summary=None,
        body=None,
        image_url=None,
        categories=(),
        published_at=None,
    )


async def add_articles(
    store: Store, feed_id: int, numbers: range | list[int], *, at: datetime, seen: bool = True
) -> dict[int, int]:
    """Articles `tin-<n>` created at `at` (fanned out already when `seen`); n → id."""
    stored = await store.articles.add(
        feed_id, [item(n) for n in numbers], now=at, seen=[seen] * len(numbers)
    )
    return {int(a.guid.removeprefix("tin-")): a.id for a in stored}


async def article_ids(store: Store) -> set[int]:
    return {a.id for a in await store.articles.latest(limit=10_000)}


# -- the pure rule -------------------------------------------------------------------------


def test_cutoff_zero_keeps_forever() -> None:
    assert cutoff(LATER, 0) is None
    assert cutoff(LATER, 30) == LATER - timedelta(days=30)


@pytest.mark.parametrize(
    ("candidate", "kept"),
    [
        (ArticleCandidate(5, 1, "a", None), True),  # among feed 1's newest (floor id 5)
        (ArticleCandidate(4, 1, "a", None), False),
        (ArticleCandidate(4, 1, "listed", None), True),  # feed 1 still lists its GUID
        (ArticleCandidate(4, 2, "listed", None), True),  # feed 2 has fewer than keep: all kept
        (ArticleCandidate(4, 3, "listed", None), False),  # the GUID is feed 1's, not feed 3's
        (ArticleCandidate(4, 3, "x", "https://p.vn/1"), True),  # another feed lists its link
    ],
)
def test_keep_article(candidate: ArticleCandidate, kept: bool) -> None:
    protection = Protection.build(
        {1: 5, 3: 9},
        [Listing(1, frozenset({"listed"}), frozenset({"https://p.vn/1"}))],
        keep=10,
    )
    assert keep_article(candidate, protection) is kept


# -- the outbox ----------------------------------------------------------------------------


async def test_old_final_rows_go_while_pending_leased_and_recent_rows_stay(
    any_store: Store,
) -> None:
    store = any_store
    old = LATER - timedelta(days=45)
    recent = LATER - timedelta(days=3)
    subs = [(await store.subscribers.subscribe("telegram", str(n)))[0].id for n in range(12)]
    d = store.deliveries
    for sub in subs:
        await d.enqueue_one(sub, "announcement", 1, now=old)
    rows = {r.subscriber_id: r.id for r in await d.all(limit=100)}
    for sub in subs[:5]:  # five sent long ago: they go (batch of 2: three statements)
        await d.mark_sent(rows[sub], message_id="m", now=old)
    await d.mark_sent(rows[subs[5]], message_id="m", now=recent)  # sent lately: stays
    await d.cancel(rows[subs[6]], reason="unsubscribed")  # old, final: goes
    await d.mark_blocked(rows[subs[7]], reason="blocked")  # old, final: goes
    await d.mark_dead(rows[subs[8]], error="HTTP 500")  # old dead letter: goes
    leased = await d.claim_due(now=LATER, limit=1, lease_seconds=60)  # in flight: stays
    assert leased[0].subscriber_id == subs[9]
    await d.reschedule(rows[subs[10]], at=old, error="timeout", count_attempt=True)  # retry
    # subs[11]: pending since long ago: stays

    report = await prune(store, now=LATER, delivered_days=30, article_days=0, batch=2)

    assert report.deliveries == 8
    left = {r.subscriber_id: r.status for r in await d.all(limit=100)}
    assert left == {
        subs[5]: "sent",
        subs[9]: "sending",
        subs[10]: "pending",
        subs[11]: "pending",
    }
    # Run again: nothing more to do.
    assert (await prune(store, now=LATER, delivered_days=30, article_days=0)).deliveries == 0


async def test_zero_days_keeps_everything(any_store: Store) -> None:
    store = any_store
    sub, _ = await store.subscribers.subscribe("telegram", "1")
    await store.deliveries.enqueue_one(sub.id, "article", 1, now=START)
    row = (await store.deliveries.all())[0]
    await store.deliveries.mark_sent(row.id, message_id="1", now=START)
    feed, _ = await store.feeds.add("https://p.vn/rss")
    await add_articles(store, feed.id, [1], at=START)

    report = await prune(store, now=LATER, delivered_days=0, article_days=0, keep_per_feed=0)
    assert (report.deliveries, report.articles) == (0, 0)
    assert len(await store.deliveries.all()) == 1 and len(await article_ids(store)) == 1


# -- articles ------------------------------------------------------------------------------


async def test_old_articles_go_unless_something_still_needs_them(any_store: Store) -> None:
    store = any_store
    old = LATER - timedelta(days=200)
    feed, _ = await store.feeds.add("https://p.vn/rss")
    other, _ = await store.feeds.add("https://p.vn/thong-bao.rss")
    ids = await add_articles(store, feed.id, range(1, 9), at=old)
    ids |= await add_articles(store, feed.id, [9], at=old, seen=False)  # not fanned out yet
    ids |= await add_articles(store, feed.id, [10], at=LATER - timedelta(days=10))  # recent
    sub, _ = await store.subscribers.subscribe("telegram", "1")
    await store.deliveries.enqueue_one(sub.id, "article", ids[2], now=old)  # still pending
    await store.deliveries.enqueue_one(sub.id, "article", ids[3], now=old)
    sent = (await store.deliveries.all(limit=10))[-1]
    await store.deliveries.mark_sent(sent.id, message_id="5", now=old)  # old push of #3: goes
    await store.feedback.add(sub.id, ids[4], "Xin hỏi về bài này", now=old)  # a ticket's article
    await record_listings(
        store,
        [
            Listing(feed.id, frozenset({"tin-5"}), frozenset()),  # the feed still lists #5
            Listing(other.id, frozenset(), frozenset({f"{PORTAL}/tin-tuc/bai-6"})),  # and #6
        ],
    )

    report = await prune(
        store, now=LATER, delivered_days=30, article_days=180, batch=2, keep_per_feed=1
    )

    left = {n for n, i in ids.items() if i in await article_ids(store)}
    # 1, 3, 7 and 8 go; 2 (pending push), 4 (feedback), 5 and 6 (listed), 9 (not fanned out),
    # 10 (recent, and the feed's newest) stay.
    assert left == {2, 4, 5, 6, 9, 10}
    assert report.articles == 4 and report.articles_kept == 2  # 5 and 6
    assert report.deliveries == 1


async def test_a_feeds_newest_articles_stay_however_old(any_store: Store) -> None:
    store = any_store
    feed, _ = await store.feeds.add("https://p.vn/rss")
    ids = await add_articles(store, feed.id, range(1, 6), at=START)
    report = await prune(store, now=LATER, delivered_days=30, article_days=180, keep_per_feed=3)
    assert report.articles == 2
    assert await article_ids(store) == {ids[3], ids[4], ids[5]}


# -- the poller after a prune --------------------------------------------------------------


def rss(numbers: list[int]) -> bytes:
    items = "".join(
        f"<item><title>Bài số {n}</title><link>{PORTAL}/tin-tuc/bai-{n}</link>"
        f'<guid isPermaLink="false">tin-{n}</guid>'
        f"<pubDate>{n:02d} Jan 2026 08:00:00 +0700</pubDate>"
        f"<description>Nội dung bài số {n} của cổng thông tin.</description></item>"
        for n in numbers
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>Cổng TTĐT</title><link>{PORTAL}</link>{items}</channel></rss>"
    ).encode()


@pytest.fixture
def fs() -> Iterator[FeedServer]:
    with FeedServer() as server:
        yield server


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(private_hosts=["127.0.0.1"]) as c:  # FeedServer: loopback
        yield c


async def test_a_repoll_after_prune_does_not_push_a_listed_article_again(
    any_store: Store, fs: FeedServer, client: httpx.AsyncClient
) -> None:
    store = any_store
    clock = FakeClock(START)
    subs = [(await store.subscribers.subscribe("telegram", str(n)))[0].id for n in (1, 2)]
    url = fs.add("/rss", body=rss([1, 2, 3]), headers=RSS_TYPE)
    feed, _ = await store.feeds.add(url)
    poller = Poller(store, client, clock=clock, interval=300, workers=0)
    try:
        assert (await poller.poll_due()).new == 3  # 1 and 2 are backlog, 3 is pushed
        assert await fan_out_articles(store, now=clock()) == len(subs)
        for row in await store.deliveries.claim_due(now=clock(), limit=10, lease_seconds=60):
            await store.deliveries.mark_sent(row.id, message_id="m", now=clock())

        # Months later the portal lists 4 and 5, and still 3 (pinned); 1 and 2 dropped out.
        clock.now = START + timedelta(days=150)
        fs.add("/rss", body=rss([3, 4, 5]), headers=RSS_TYPE)
        assert (await poller.poll_due()).new == 2
        await fan_out_articles(store, now=clock())
        for row in await store.deliveries.claim_due(now=clock(), limit=10, lease_seconds=60):
            await store.deliveries.mark_sent(row.id, message_id="m", now=clock())
        # What the poller records with its bookkeeping (jobs/ingest/poll.py wiring, see retention).
        guids = frozenset({"tin-3", "tin-4", "tin-5"})
        links = frozenset(f"{PORTAL}/tin-tuc/bai-{n}" for n in (3, 4, 5))
        await record_listings(store, [Listing(feed.id, guids, links)])

        # A year on: 1, 2 and 3 are over 180 days old; only 1 and 2 left the feed.
        clock.now = START + timedelta(days=260)
        report = await prune(
            store, now=clock(), delivered_days=30, article_days=180, keep_per_feed=1
        )
        assert report.articles == 2 and report.articles_kept == 1
        assert report.deliveries == 3 * len(subs)  # every push is over 30 days old
        left = {a.guid for a in await store.articles.latest(limit=100)}
        assert left == {"tin-3", "tin-4", "tin-5"}

        clock.now += timedelta(hours=1)
        assert (await poller.poll_due()).new == 0  # 3 is still known: no second push
        assert await fan_out_articles(store, now=clock()) == 0
        assert await store.deliveries.all(limit=100) == []  # nothing queued again
    finally:
        await poller.aclose()


async def test_listings_round_trip_and_compare_guids_as_stored(store: Store) -> None:
    long_guid = "g" * 1200  # the poller stores the first 1000 characters
    await record_listings(store, [Listing(7, frozenset({long_guid}), frozenset({"https://a/1"}))])
    await record_listings(store, [Listing(8, frozenset({"x"}), frozenset())])
    await record_listings(store, [Listing(8, frozenset({"y"}), frozenset())])  # replaced
    got = {li.feed_id: li for li in await store.retention.listings()}
    assert got[7].guids == {"g" * 1000} and got[7].links == {"https://a/1"}
    assert got[8].guids == {"y"}
