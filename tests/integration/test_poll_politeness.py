"""The Poller's politeness and robustness on loopback: server hints within the operator's
bounds, 429/503 with Retry-After, and a feed that would take too long to parse.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from jobs.ingest.decide import PollBounds
from jobs.ingest.fetch import make_client
from jobs.ingest.poll import Poller
from storage.records import Feed
from storage.store import Store
from tests.fakes.feed_server import FeedServer

START = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
RSS_TYPE = {"Content-Type": "application/rss+xml; charset=utf-8"}
RSS = (
    '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Tin</title>'
    "<ttl>{ttl}</ttl><item><title>Bài 1</title><guid>1</guid><link>https://p.vn/1</link></item>"
    "</channel></rss>"
)


def rss(ttl: int = 0) -> bytes:
    return RSS.format(ttl=ttl).encode()


@pytest.fixture
def fs() -> Iterator[FeedServer]:
    with FeedServer() as server:
        yield server


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(private_hosts=["127.0.0.1"]) as c:  # FeedServer: loopback
        yield c


async def stored(store: Store, feed_id: int) -> Feed:
    got = await store.feeds.get(feed_id)
    assert got is not None
    return got


def poller(store: Store, client: httpx.AsyncClient, **kw: object) -> Poller:
    return Poller(
        store,
        client,
        clock=lambda: START,
        interval=300,
        bounds=PollBounds(min_interval=60, max_interval=7200),
        workers=0,
        **kw,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("headers", "ttl", "low", "high"),
    [
        ({}, 0, 270, 330),  # the interval, jittered
        ({"Cache-Control": "max-age=1800"}, 0, 1620, 1980),
        ({}, 30, 1620, 1980),  # <ttl> in minutes
        ({"Cache-Control": "max-age=86400"}, 0, 7200, 7200),  # the operator's maximum wins
    ],
)
async def test_next_poll_honours_cache_hints_within_bounds(
    store: Store,
    fs: FeedServer,
    client: httpx.AsyncClient,
    headers: dict[str, str],
    ttl: int,
    low: int,
    high: int,
) -> None:
    url = fs.add("/rss", body=rss(ttl), headers={**RSS_TYPE, **headers})
    feed, _ = await store.feeds.add(url)
    await poller(store, client).poll([feed])
    due = (await stored(store, feed.id)).next_poll_at
    assert due is not None
    assert timedelta(seconds=low) <= due - START <= timedelta(seconds=high)


@pytest.mark.parametrize("status", [429, 503])
async def test_retry_after_sets_the_next_poll_and_counts_as_a_failure(
    store: Store, fs: FeedServer, client: httpx.AsyncClient, status: int
) -> None:
    url = fs.add("/rss", body=b"slow down", status=status, headers={"Retry-After": "1800"})
    feed, _ = await store.feeds.add(url)
    p = poller(store, client)
    for _ in range(3):  # no exponential growth on top of what the server asked
        await p.poll([await stored(store, feed.id)])
        got = await stored(store, feed.id)
        assert got.next_poll_at == START + timedelta(seconds=1800)
    assert got.consecutive_errors == 3  # visible, and alerted on like any failure
    assert got.last_error and f"HTTP {status}" in got.last_error and "1800" in got.last_error


async def test_a_feed_too_slow_to_parse_gets_a_clear_error_and_others_still_parse(
    store: Store, fs: FeedServer, client: httpx.AsyncClient
) -> None:
    """Broken XML sends feedparser into its slow loose parser (~1 s per 250 KB here): with a
    short deadline the worker is killed, the feed gets an error, the next feed parses fine."""
    broken = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>x</title>'
        + b"<item><title>a & b <i>c</title><description><p>x<br></description></item>" * 12000
    )
    slow, _ = await store.feeds.add(fs.add("/slow", body=broken, headers=RSS_TYPE))
    good, _ = await store.feeds.add(fs.add("/good", body=rss(), headers=RSS_TYPE))
    p = Poller(store, client, clock=lambda: START, workers=1, parse_timeout=0.5)
    try:
        report = await p.poll([slow])
        [outcome] = report.feeds
        assert outcome.error and "longer than 0.5 s" in outcome.error
        assert (await stored(store, slow.id)).consecutive_errors == 1
        report = await p.poll([good])
        assert [(o.new, o.error) for o in report.feeds] == [(1, None)]
    finally:
        await p.aclose()
