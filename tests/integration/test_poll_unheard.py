"""First polls nobody can be pushed (issue #17), and teasers judged in the parse worker.

Console mode pushes up to 100 entries of every new feed, so ``bantin poll --once`` over
hundreds of new feeds used to summarize every one of them although no subscriber existed to
receive them; with ``summarize_unheard=False`` (what compose.py sets in console mode) such a
first poll stores the articles, bodies included, without summaries. Once someone subscribed,
the same first poll summarizes as before, and later polls always do.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from jobs.enrich.workers import parse_job
from jobs.ingest.fetch import make_client
from jobs.ingest.poll import Poller
from storage.store import Store
from tests.fakes.clock import FakeClock
from tests.fakes.feed_server import FeedServer
from tests.integration.test_poll import (
    INTERVAL,
    PORTAL,
    RSS_TYPE,
    START,
    Item,
    add_feed,
    art,
    articles_of,
    rss,
)


@pytest.fixture
def fs() -> Iterator[FeedServer]:
    with FeedServer() as server:
        yield server


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(private_hosts=["127.0.0.1"]) as c:  # FeedServer: loopback
        yield c


@pytest.fixture
async def poller(store: Store, client: httpx.AsyncClient) -> AsyncIterator[Poller]:
    """Console mode's poller: up to 100 entries of a new feed pushed, none summarized unheard."""
    made = Poller(
        store,
        client,
        clock=FakeClock(START),
        interval=INTERVAL,
        backlog_limit=100,
        summarize_unheard=False,
    )
    yield made
    await made.aclose()


LONG = "<p>" + "Ủy ban nhân dân huyện Chiêm Hóa họp bàn kế hoạch năm mới. " * 20 + "</p>"


def _items(*numbers: int) -> list[Item]:
    return [
        Item(
            guid=f"tin-{n}", link=f"{PORTAL}/tin-tuc/bai-{n}", title=f"Bài số {n}", day=n, body=LONG
        )
        for n in numbers
    ]


async def test_first_poll_with_no_subscriber_stores_articles_without_summaries(
    store: Store,
    fs: FeedServer,
    poller: Poller,
) -> None:
    f = await add_feed(store, fs.add("/feed.xml", body=rss(_items(1, 2, 3)), headers=RSS_TYPE))

    report = await poller.poll_due()

    assert report.new == 3 and not report.errors
    stored = await articles_of(store, f.id)
    assert [a.summary for a in stored] == [None, None, None]
    bodies = [await store.articles.body(a.id) for a in stored]
    assert all(b and "Chiêm Hóa" in b for b in bodies)

    # A later poll of the same feed summarizes its new entry, subscriber or not.
    fs.add("/feed.xml", body=rss(_items(1, 2, 3, 4)), headers=RSS_TYPE)
    again = await store.feeds.get(f.id)
    assert again is not None and again.last_success_at is not None
    assert (await poller.poll([again])).new == 1
    newest = (await articles_of(store, f.id))[-1]
    assert newest.title == "Bài số 4" and newest.summary and "Chiêm Hóa" in newest.summary


async def test_first_poll_with_a_subscriber_summarizes_what_it_pushes(
    store: Store,
    fs: FeedServer,
    poller: Poller,
) -> None:
    await store.subscribers.subscribe("console", "demo", display_name="Người dùng thử")
    f = await add_feed(store, fs.add("/feed.xml", body=rss(_items(1, 2)), headers=RSS_TYPE))

    assert (await poller.poll_due()).new == 2
    stored = await articles_of(store, f.id)
    assert all(a.summary and "Chiêm Hóa" in a.summary for a in stored)


def test_the_parse_worker_judges_teasers_beside_the_text() -> None:
    teaser = Item(guid="ngan", link=f"{PORTAL}/tin-tuc/ngan", title="Tin ngắn", body="Xem tiếp…")
    full = Item(guid="dai", link=f"{PORTAL}/tin-tuc/dai", title="Tin dài", body=LONG)
    no_link = Item(guid="khong", link=None, title="Không liên kết", body="Một dòng.")
    prepared = parse_job(rss([teaser, full, no_link, art(9)]), f"{PORTAL}/rss", {})

    assert not isinstance(prepared, str)
    assert prepared.teasers == frozenset({"ngan", "tin-9"})
