"""fetch_article_text against real HTTP servers on 127.0.0.1: the security rule, caps, deadline.

Loopback is the feed's own host in these tests, which is why fetching from it is allowed; a second
server on another port stands for "another service on the same machine" and must stay untouched.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from jobs.enrich.page import fetch_article_text
from jobs.ingest.fetch import make_client
from tests.fakes.feed_server import FeedServer
from tests.unit.test_article import PORTAL_PAGE

HTML = {"Content-Type": "text/html; charset=utf-8"}


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as fs:
        yield fs


@pytest.fixture
def other() -> Iterator[FeedServer]:
    """Another service on this machine: a different port, not the feed's host."""
    with FeedServer() as fs:
        yield fs


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with make_client() as c:
        yield c


def _feed_url(server: FeedServer) -> str:
    return server.add("/rss.xml", body=b"<rss/>")


async def test_page_on_feed_host_is_fetched_and_extracted(
    server: FeedServer, client: httpx.AsyncClient
) -> None:
    url = server.add("/tin/123.html", body=PORTAL_PAGE, headers=HTML)
    text = await fetch_article_text(client, url, feed_url=_feed_url(server))
    assert text is not None
    assert text.startswith("Sáng 10/11, Bộ Công an")
    assert "Gửi phản hồi" not in text and "Cơ quan chủ quản" not in text
    sent = server.requests[-1].headers
    assert "bantin" in sent["user-agent"]
    assert "text/html" in sent["accept"]


async def test_redirect_within_feed_host_is_followed(
    server: FeedServer, client: httpx.AsyncClient
) -> None:
    server.add("/tin/123.html", body=PORTAL_PAGE, headers=HTML)
    url = server.redirect("/tin.aspx", to="/tin/123.html", status=301)
    text = await fetch_article_text(client, url, feed_url=_feed_url(server))
    assert text is not None and "Trung tướng Lê Quốc Hùng" in text


async def test_page_on_another_host_is_refused(
    server: FeedServer, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    server.add("/tin/1.html", body=PORTAL_PAGE, headers=HTML)
    port = server.base_url.rsplit(":", 1)[1]
    caplog.set_level(logging.INFO, logger="jobs.enrich.page")
    text = await fetch_article_text(
        client, f"http://localhost:{port}/tin/1.html", feed_url=_feed_url(server)
    )
    assert text is None
    assert not [r for r in server.requests if r.path.startswith("/tin/")]
    assert any(getattr(r, "reason", "").startswith("host is neither") for r in caplog.records)


async def test_other_port_on_same_machine_is_refused(
    server: FeedServer, other: FeedServer, client: httpx.AsyncClient
) -> None:
    target = other.add("/admin", body=PORTAL_PAGE, headers=HTML)
    assert await fetch_article_text(client, target, feed_url=_feed_url(server)) is None
    assert other.requests == []


async def test_redirect_to_another_port_is_refused(
    server: FeedServer, other: FeedServer, client: httpx.AsyncClient
) -> None:
    target = other.add("/admin", body=PORTAL_PAGE, headers=HTML)
    url = server.redirect("/tin/1.html", to=target)
    assert await fetch_article_text(client, url, feed_url=_feed_url(server)) is None
    assert other.requests == []
    assert [r.path for r in server.requests] == ["/tin/1.html"]


async def test_allowed_host_passes_also_after_redirect(
    server: FeedServer, other: FeedServer, client: httpx.AsyncClient
) -> None:
    target = other.add("/bai-viet", body=PORTAL_PAGE, headers=HTML)
    url = server.redirect("/tin/1.html", to=target)
    allowed = [other.base_url.removeprefix("http://")]  # "127.0.0.1:PORT"
    text = await fetch_article_text(client, url, feed_url=_feed_url(server), allowed_hosts=allowed)
    assert text is not None and text.startswith("Sáng 10/11")
    assert [r.path for r in other.requests] == ["/bai-viet"]


async def test_allowed_host_on_a_loopback_address_not_the_feeds_is_refused(
    server: FeedServer, client: httpx.AsyncClient
) -> None:
    """Allowing a host does not allow a private address: only the feed's own one is."""
    port = server.base_url.rsplit(":", 1)[1]
    url = f"http://127.0.0.2:{port}/tin/1.html"
    text = await fetch_article_text(
        client, url, feed_url=_feed_url(server), allowed_hosts=[f"127.0.0.2:{port}"]
    )
    assert text is None
    assert not [r for r in server.requests if r.path.startswith("/tin/")]


async def test_file_url_is_refused(server: FeedServer, client: httpx.AsyncClient) -> None:
    assert await fetch_article_text(client, "file:///etc/hostname", feed_url="file:///f") is None
    assert (
        await fetch_article_text(client, "file:///etc/hostname", feed_url=_feed_url(server)) is None
    )


async def test_size_cap_gives_none(server: FeedServer, client: httpx.AsyncClient) -> None:
    url = server.add("/big.html", body=PORTAL_PAGE.encode() * 20, headers=HTML)
    feed = _feed_url(server)
    assert await fetch_article_text(client, url, feed_url=feed, max_bytes=10_000) is None
    assert await fetch_article_text(client, url, feed_url=feed, max_bytes=1_000_000) is not None


async def test_dripping_server_gives_none_within_the_deadline(
    server: FeedServer, client: httpx.AsyncClient
) -> None:
    url = server.add("/slow.html", body=PORTAL_PAGE, headers=HTML, drip=0.05)
    started = time.monotonic()
    text = await fetch_article_text(client, url, feed_url=_feed_url(server), timeout=0.5)
    assert text is None
    assert time.monotonic() - started < 3


@pytest.mark.parametrize(
    ("status", "headers", "body"),
    [
        (404, HTML, "<p>Không tìm thấy</p>"),
        (500, HTML, "oops"),
        (200, {"Content-Type": "application/pdf"}, "%PDF-1.4"),
        (200, HTML, "<html><body><nav><a href='/'>Trang chủ</a></nav></body></html>"),
    ],
)
async def test_errors_and_pages_without_text_give_none(
    server: FeedServer,
    client: httpx.AsyncClient,
    status: int,
    headers: dict[str, str],
    body: str,
) -> None:
    url = server.add("/x.html", body=body, headers=headers, status=status)
    assert await fetch_article_text(client, url, feed_url=_feed_url(server)) is None


async def test_credentials_never_reach_the_log(
    server: FeedServer, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="jobs.enrich.page")
    port = server.base_url.rsplit(":", 1)[1]
    url = f"http://user:s3cretpw@localhost:{port}/tin/1.html"
    assert await fetch_article_text(client, url, feed_url=_feed_url(server)) is None
    logged = " ".join(f"{r.getMessage()} {vars(r)}" for r in caplog.records)
    assert "article not fetched" in logged
    assert "s3cretpw" not in logged
