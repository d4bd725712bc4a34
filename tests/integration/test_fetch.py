"""fetch_feed against a real HTTP server on 127.0.0.1 (tests/fakes/feed_server.py)."""

from __future__ import annotations

import gzip
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from jobs.ingest.fetch import fetch_feed, make_client, redact_url
from tests.fakes.feed_server import FeedServer, unused_port

RSS = b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title></channel></rss>'


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as fs:
        yield fs


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(private_hosts=["127.0.0.1"]) as c:  # FeedServer: loopback
        yield c


async def test_200_captures_body_validators_and_sends_user_agent(
    server: FeedServer, client: httpx.AsyncClient
) -> None:
    url = server.add(
        "/feed.xml",
        body=RSS,
        headers={
            "Content-Type": "application/rss+xml",
            "ETag": '"v1"',
            "Last-Modified": "Mon, 01 Jan 2024 00:00:00 GMT",
        },
    )
    result = await fetch_feed(client, url)
    assert result.error is None
    assert (result.status, result.body, result.url) == (200, RSS, url)
    assert result.etag == '"v1"'
    assert result.last_modified == "Mon, 01 Jan 2024 00:00:00 GMT"
    assert result.headers["content-type"] == "application/rss+xml"
    assert result.permanent_redirect is None
    assert result.elapsed >= 0
    sent = server.requests[-1].headers
    assert "bantin" in sent["user-agent"]
    assert "if-none-match" not in sent and "if-modified-since" not in sent


async def test_conditional_get_sends_validators_and_gets_304(
    server: FeedServer, client: httpx.AsyncClient
) -> None:
    url = server.add(
        "/feed.xml",
        body=RSS,
        headers={"ETag": '"v1"', "Last-Modified": "Mon, 01 Jan 2024 00:00:00 GMT"},
    )
    first = await fetch_feed(client, url)
    second = await fetch_feed(client, url, etag=first.etag, last_modified=first.last_modified)
    assert second.error is None
    assert second.status == 304
    assert second.body is None
    assert second.etag == '"v1"'
    assert second.last_modified == "Mon, 01 Jan 2024 00:00:00 GMT"
    sent = server.requests[-1].headers
    assert sent["if-none-match"] == '"v1"'
    assert sent["if-modified-since"] == "Mon, 01 Jan 2024 00:00:00 GMT"


async def test_304_without_validators_keeps_the_ones_sent(
    server: FeedServer, client: httpx.AsyncClient
) -> None:
    url = server.add("/feed.xml", status=304)
    result = await fetch_feed(client, url, etag='"old"', last_modified="Sun, 31 Dec 2023 GMT")
    assert (result.status, result.body, result.error) == (304, None, None)
    assert result.etag == '"old"'
    assert result.last_modified == "Sun, 31 Dec 2023 GMT"


async def test_permanent_redirect_chain_reports_the_new_url(
    server: FeedServer, client: httpx.AsyncClient
) -> None:
    final = server.add("/new.xml", body=RSS)
    server.redirect("/mid.xml", to="/new.xml", status=308)
    start = server.redirect("/old.xml", to=server.url("/mid.xml"), status=301)
    result = await fetch_feed(client, start)
    assert result.error is None
    assert result.body == RSS
    assert result.url == final
    assert result.permanent_redirect == final


async def test_temporary_redirect_is_followed_but_not_permanent(
    server: FeedServer, client: httpx.AsyncClient
) -> None:
    final = server.add("/new.xml", body=RSS)
    start = server.redirect("/old.xml", to="/new.xml", status=302)
    result = await fetch_feed(client, start)
    assert (result.status, result.body, result.url) == (200, RSS, final)
    assert result.permanent_redirect is None


async def test_permanent_after_temporary_does_not_move_the_stored_url(
    server: FeedServer, client: httpx.AsyncClient
) -> None:
    server.add("/c.xml", body=RSS)
    server.redirect("/b.xml", to="/c.xml", status=301)
    start = server.redirect("/a.xml", to="/b.xml", status=302)
    result = await fetch_feed(client, start)
    assert result.body == RSS
    assert result.permanent_redirect is None


async def test_temporary_after_permanent_moves_to_the_last_permanent_target(
    server: FeedServer, client: httpx.AsyncClient
) -> None:
    server.add("/c.xml", body=RSS)
    b = server.redirect("/b.xml", to="/c.xml", status=307)
    start = server.redirect("/a.xml", to="/b.xml", status=301)
    result = await fetch_feed(client, start)
    assert result.body == RSS
    assert result.permanent_redirect == b


async def test_redirect_loop_errors(server: FeedServer, client: httpx.AsyncClient) -> None:
    start = server.redirect("/a.xml", to="/b.xml", status=302)
    server.redirect("/b.xml", to="/a.xml", status=302)
    result = await fetch_feed(client, start)
    assert result.body is None
    assert result.error is not None and "too many redirects" in result.error


async def test_body_over_cap_errors(server: FeedServer, client: httpx.AsyncClient) -> None:
    url = server.add("/big.xml", body=b"x" * 5000)
    result = await fetch_feed(client, url, max_bytes=1000)
    assert result.body is None
    assert result.error == "response larger than 1000 bytes"


async def test_cap_applies_to_the_decompressed_body(
    server: FeedServer, client: httpx.AsyncClient
) -> None:
    bomb = gzip.compress(b"<" * 200_000)  # a few hundred bytes on the wire
    url = server.add("/bomb.xml", body=bomb, headers={"Content-Encoding": "gzip"})
    result = await fetch_feed(client, url, max_bytes=50_000)
    assert result.body is None
    assert result.error == "response larger than 50000 bytes"


async def test_gzip_body_is_decoded(server: FeedServer, client: httpx.AsyncClient) -> None:
    url = server.add("/z.xml", body=gzip.compress(RSS), headers={"Content-Encoding": "gzip"})
    result = await fetch_feed(client, url)
    assert result.body == RSS


async def test_dripping_server_fails_at_the_deadline(
    server: FeedServer, client: httpx.AsyncClient
) -> None:
    # Each byte arrives well within httpx's read timeout: only a total deadline catches this.
    url = server.add("/slow.xml", body=RSS, drip=0.2)
    started = time.monotonic()
    result = await fetch_feed(client, url, timeout=1)
    took = time.monotonic() - started
    assert result.body is None
    assert result.error == "timed out after 1 s"
    assert took < 3


async def test_connection_refused_errors_clearly(client: httpx.AsyncClient) -> None:
    result = await fetch_feed(client, f"http://127.0.0.1:{unused_port()}/feed.xml")
    assert result.status == 0
    assert result.body is None
    assert result.error == "connection refused by 127.0.0.1"


async def test_404_errors(server: FeedServer, client: httpx.AsyncClient) -> None:
    result = await fetch_feed(client, server.url("/missing.xml"))
    assert result.status == 404
    assert result.body is None
    assert result.error == "HTTP 404 Not Found"


async def test_503_reports_retry_after(server: FeedServer, client: httpx.AsyncClient) -> None:
    url = server.add("/busy.xml", status=503, headers={"Retry-After": "120"})
    result = await fetch_feed(client, url)
    assert result.status == 503
    assert result.error == "HTTP 503 Service Unavailable (retry after 120 s)"
    assert result.headers["retry-after"] == "120"


async def test_userinfo_never_returned(server: FeedServer, client: httpx.AsyncClient) -> None:
    server.add("/private.xml", body=RSS)
    host = server.base_url.removeprefix("http://")
    server.redirect("/old.xml", to="/private.xml", status=301)
    result = await fetch_feed(client, f"http://staff:s3cret@{host}/old.xml")
    assert result.body == RSS
    assert "s3cret" not in repr(result)
    assert result.permanent_redirect == server.url("/private.xml")
    # the credentials were still used on the same-origin hop
    assert server.requests[-1].headers["authorization"].startswith("Basic ")
    refused = await fetch_feed(client, f"http://staff:s3cret@127.0.0.1:{unused_port()}/")
    assert refused.error is not None and "s3cret" not in repr(refused)


async def test_unsupported_scheme(client: httpx.AsyncClient) -> None:
    result = await fetch_feed(client, "ftp://example.org/feed.xml")
    assert result.body is None
    assert (
        result.error is not None and "use an http://, https:// or file:// address" in result.error
    )


async def test_file_url(tmp_path: Path, client: httpx.AsyncClient) -> None:
    path = tmp_path / "mẫu tin.xml"
    path.write_bytes(RSS)
    result = await fetch_feed(client, path.as_uri())
    assert result.error is None
    assert (result.status, result.body) == (200, RSS)
    again = await fetch_feed(client, path.as_uri(), last_modified=result.last_modified)
    assert (again.status, again.body, again.error) == (304, None, None)


async def test_file_url_honors_cap_and_reports_missing(
    tmp_path: Path, client: httpx.AsyncClient
) -> None:
    path = tmp_path / "big.xml"
    path.write_bytes(b"x" * 2000)
    big = await fetch_feed(client, path.as_uri(), max_bytes=1000)
    assert big.error == "response larger than 1000 bytes"
    missing = await fetch_feed(client, (tmp_path / "nope.xml").as_uri())
    assert missing.error is not None and missing.error.startswith("file not found")


def test_redact_url() -> None:
    assert redact_url("https://u:p@host.vn:8443/a?b=1") == "https://host.vn:8443/a?b=1"
    assert redact_url("https://host.vn/a") == "https://host.vn/a"


async def test_a_long_header_line_is_accepted(
    server: FeedServer, client: httpx.AsyncClient
) -> None:
    """Portals behind load balancers send long cookies; aiohttp's default limit is 8 KB."""
    cookie = "session=" + "x" * 12_000
    url = server.add("/feed.xml", body=RSS, headers={"Set-Cookie": cookie})
    result = await fetch_feed(client, url)
    assert (result.error, result.body) == (None, RSS)
    assert result.headers["set-cookie"] == cookie


async def test_a_plain_httpx_client_gets_the_strict_address_rules(server: FeedServer) -> None:
    """Callers holding an httpx.AsyncClient of their own keep working (more slowly, through a
    one-off session) under the default address rules: no private host is allowed, so the
    loopback server is refused before any request (jobs/ingest/address_guard.py)."""
    url = server.add("/feed.xml", body=RSS, headers={"ETag": '"v1"'})
    async with httpx.AsyncClient() as plain:
        result = await fetch_feed(plain, url)
    assert result.error is not None and "non-public address" in result.error
    assert server.requests == []


async def test_proxy_comes_from_the_environment_and_no_proxy_exempts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.huyen.local:3128")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,.noi-bo.vn")
    monkeypatch.delenv("HTTPS_PROXY", raising=False)
    monkeypatch.delenv("https_proxy", raising=False)
    monkeypatch.delenv("http_proxy", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    async with make_client() as c:
        c.feed_session()  # the environment is read when the session starts
        assert c.proxy_for("http://cong.tuyenquang.gov.vn/rss") == "http://proxy.huyen.local:3128"
        assert c.proxy_for("http://127.0.0.1:8080/rss") is None
        assert c.proxy_for("http://tin.noi-bo.vn/rss") is None
        assert c.proxy_for("https://cong.tuyenquang.gov.vn/rss") is None  # no HTTPS_PROXY
