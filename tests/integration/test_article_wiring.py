"""The Poller fetches an article page when a feed item carries only a teaser.

Served from loopback (tests/fakes/feed_server.py): a teaser-only item whose page lives on the
feed's own host gets its summary and body from the page; a page on any other host is never
asked for (the server records no request) unless the operator allowed that host
(BANTIN_ARTICLE_HOSTS), and the teaser is used instead.
"""

from __future__ import annotations

import html
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import httpx
import pytest

from jobs.ingest.fetch import make_client
from jobs.ingest.poll import Poller
from storage.records import Article
from storage.store import Store
from tests.fakes.feed_server import FeedServer

NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
RSS_TYPE = {"Content-Type": "application/rss+xml; charset=utf-8"}
HTML_TYPE = {"Content-Type": "text/html; charset=utf-8"}
TITLE = "Công an huyện Chiêm Hóa triển khai nhiệm vụ bảo đảm an ninh trật tự năm 2026"
TEASER = "Sáng 27/11, Công an huyện Chiêm Hóa tổ chức hội nghị triển khai nhiệm vụ..."
PAGE_FACT = "mười hai chuyên đề"  # only on the page, never in the feed
PAGE = f"""<!doctype html><html><head><title>{TITLE}</title></head><body>
<nav><a href="/">Trang chủ</a> <a href="/tin">Tin tức</a> <a href="/lh">Liên hệ</a></nav>
<div class="detail">
<h1>{TITLE}</h1>
<p>Sáng 27/11, Công an huyện Chiêm Hóa tổ chức hội nghị triển khai nhiệm vụ bảo đảm an ninh
trật tự năm 2026 với {PAGE_FACT} trọng tâm, có lãnh đạo Ủy ban nhân dân huyện tham dự.</p>
<p>Năm 2026, Công an huyện Chiêm Hóa tập trung phòng ngừa tội phạm ma túy, trộm cắp tài sản
và vi phạm trật tự an toàn giao thông tại các xã, thị trấn.</p>
<p>Hội nghị cũng khen thưởng các tập thể và cá nhân có thành tích xuất sắc trong phong trào
toàn dân bảo vệ an ninh Tổ quốc tại các thôn, bản của huyện.</p>
<script>var tracking = "không phải nội dung bài";</script>
</div>
<footer>Gửi phản hồi ./.</footer></body></html>"""


def rss(link: str) -> bytes:
    item = (
        f"<item><title>{html.escape(TITLE)}</title><link>{html.escape(link)}</link>"
        '<guid isPermaLink="false">tin-1</guid><pubDate>27 Nov 2026 08:00:00 +0700</pubDate>'
        f"<description>{html.escape(TEASER)}</description></item>"
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>Cổng TTĐT huyện Chiêm Hóa</title>{item}</channel></rss>"
    ).encode()


@pytest.fixture
def feeds() -> Iterator[FeedServer]:
    with FeedServer() as server:
        yield server


@pytest.fixture
def elsewhere() -> Iterator[FeedServer]:
    """Another site (another port of 127.0.0.1: another service, so another host for the rule)."""
    with FeedServer() as server:
        yield server


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(private_hosts=["127.0.0.1"]) as c:  # FeedServer: loopback
        yield c


async def poll_once(
    store: Store, client: httpx.AsyncClient, url: str, new: int = 1, **kw: object
) -> Article:
    feed, _ = await store.feeds.add(url)
    poller = Poller(store, client, clock=lambda: NOW, workers=0, **kw)  # type: ignore[arg-type]
    try:
        report = await poller.poll([feed])
    finally:
        await poller.aclose()
    assert [(o.new, o.error) for o in report.feeds] == [(new, None)]
    [article] = await store.articles.pending_fanout()  # the newest item is pushed, not backlog
    return article


async def test_teaser_item_gets_its_summary_and_body_from_the_page_on_the_feeds_host(
    store: Store, feeds: FeedServer, client: httpx.AsyncClient
) -> None:
    page = feeds.add("/tin/1.html", body=PAGE, headers=HTML_TYPE)
    article = await poll_once(store, client, feeds.add("/rss", body=rss(page), headers=RSS_TYPE))
    assert [r.path for r in feeds.requests] == ["/rss", "/tin/1.html"]
    assert article.summary and PAGE_FACT in article.summary
    body = await store.articles.body(article.id)
    assert body is not None and PAGE_FACT in body
    assert "tracking" not in body and "Trang chủ" not in body


async def test_a_page_on_another_host_is_never_fetched_and_the_teaser_is_used(
    store: Store, feeds: FeedServer, elsewhere: FeedServer, client: httpx.AsyncClient
) -> None:
    page = elsewhere.add("/tin/1.html", body=PAGE, headers=HTML_TYPE)
    article = await poll_once(store, client, feeds.add("/rss", body=rss(page), headers=RSS_TYPE))
    assert elsewhere.requests == []
    assert article.summary and PAGE_FACT not in article.summary
    assert article.summary.startswith("Sáng 27/11, Công an huyện Chiêm Hóa")
    assert await store.articles.body(article.id) == TEASER


async def test_an_operator_allowed_host_is_fetched(
    store: Store, feeds: FeedServer, elsewhere: FeedServer, client: httpx.AsyncClient
) -> None:
    page = elsewhere.add("/tin/1.html", body=PAGE, headers=HTML_TYPE)
    allowed = [elsewhere.base_url.removeprefix("http://")]  # "127.0.0.1:<port>"
    feed_url = feeds.add("/rss", body=rss(page), headers=RSS_TYPE)
    article = await poll_once(store, client, feed_url, article_hosts=allowed)
    assert [r.path for r in elsewhere.requests] == ["/tin/1.html"]
    assert article.summary and PAGE_FACT in article.summary


async def test_backlog_teasers_are_not_fetched(
    store: Store, feeds: FeedServer, client: httpx.AsyncClient
) -> None:
    """On a feed's first poll only the pushed item may cost a page fetch; backlog marked seen
    is never shown, so it gets neither a page nor a summary."""
    first = feeds.add("/tin/1.html", body=PAGE, headers=HTML_TYPE)
    older = feeds.add("/tin/0.html", body=PAGE, headers=HTML_TYPE)
    two = rss(first).replace(
        b"</channel>",
        (
            f"<item><title>Tin cũ</title><link>{older}</link><guid>tin-0</guid>"
            f"<pubDate>01 Nov 2026 08:00:00 +0700</pubDate>"
            f"<description>{html.escape(TEASER)}</description></item></channel>"
        ).encode(),
    )
    pushed = await poll_once(store, client, feeds.add("/rss", body=two, headers=RSS_TYPE), new=2)
    assert pushed.guid == "tin-1" and pushed.summary and PAGE_FACT in pushed.summary
    assert "/tin/0.html" not in [r.path for r in feeds.requests]
    [backlog] = [a for a in await store.articles.latest(limit=10) if a.fanned_out_at is not None]
    assert backlog.summary is None
