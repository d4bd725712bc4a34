"""Feeds obey the same address rules as article pages, for the first request and every hop.

A feed's redirect used to be followed to loopback, private and IPv4-mapped IPv6 addresses, and a
301 stored that internal URL as the feed's new address (which the article fetcher then trusted
as the feed's own host). Now every connection is judged by jobs/ingest/address_guard.py: non-public
addresses only for hosts the operator allows (BANTIN_ALLOW_PRIVATE_HOSTS).

The fake feed server listens on 127.0.0.1. "localhost" reaches the same server by name, so a
client that allows only the name "localhost" can show a redirect to the bare address being
refused; a stand-in DNS (an aiohttp resolver) gives made-up names loopback answers.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from bot.app.settings import Settings
from jobs.ingest.address_guard import AddressPolicy, is_public, parse_entry
from jobs.ingest.fetch import FeedClient, FetchResult, fetch_feed, make_client
from jobs.ingest.poll import Poller
from storage.store import Store
from tests.fakes.feed_server import FeedServer

RSS = (
    b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Cong</title>'
    b"<item><guid>1</guid><title>Tin</title><link>https://a.vn/1</link></item>"
    b"</channel></rss>"
)
RSS_TYPE = {"Content-Type": "application/rss+xml; charset=utf-8"}
NOW = datetime(2026, 12, 4, 1, 0, tzinfo=UTC)
REFUSED = "non-public address"


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as fs:
        yield fs


def _port(server: FeedServer) -> int:
    return int(server.base_url.rsplit(":", 1)[1])


def _by_name(server: FeedServer, path: str) -> str:
    return f"http://localhost:{_port(server)}{path}"


@pytest.fixture
async def by_name_client() -> AsyncIterator[FeedClient]:
    """Allows the host name "localhost" only, not the loopback addresses themselves."""
    async with make_client(private_hosts=["localhost"]) as c:
        yield c


def _internal_targets(port: int) -> list[str]:
    return [
        f"http://[::ffff:127.0.0.1]:{port}/feed.xml",
        f"http://127.0.0.1:{port}/feed.xml",
        f"http://[::1]:{port}/feed.xml",
        f"http://[::ffff:7f00:1]:{port}/feed.xml",
        "http://10.0.0.1/feed.xml",
        "http://169.254.169.254/latest/meta-data/",
        "http://[64:ff9b::a9fe:a9fe]/latest/meta-data/",
    ]


@pytest.mark.parametrize("status", [301, 302, 307, 308])
@pytest.mark.parametrize("index", range(len(_internal_targets(0))))
async def test_a_redirect_to_an_internal_address_is_refused(
    server: FeedServer, by_name_client: FeedClient, status: int, index: int
) -> None:
    target = _internal_targets(_port(server))[index]
    server.add("/feed.xml", body=RSS, headers=RSS_TYPE)
    server.redirect("/old.xml", to=target, status=status)

    result = await fetch_feed(by_name_client, _by_name(server, "/old.xml"))

    assert result.error is not None
    assert result.error.startswith(f"refused: redirected to {target}: ")
    assert REFUSED in result.error and "BANTIN_ALLOW_PRIVATE_HOSTS" in result.error
    assert result.permanent_redirect is None and result.body is None
    assert [r.path for r in server.requests] == ["/old.xml"]  # the target was never asked


async def test_a_redirect_through_a_host_name_that_resolves_inside_is_refused(
    server: FeedServer,
) -> None:
    """A redirect to a name (not a literal address) is judged on what the name resolves to."""
    port = _port(server)
    server.add("/feed.xml", body=RSS, headers=RSS_TYPE)
    server.redirect("/old.xml", to=f"http://intranet.attacker.example:{port}/feed.xml", status=301)
    async with _client_with_dns(["localhost"]) as client:
        result = await fetch_feed(client, _by_name(server, "/old.xml"))
    assert result.error is not None
    assert "intranet.attacker.example resolves to 127.0.0.1" in result.error
    assert [r.path for r in server.requests] == ["/old.xml"]


async def test_a_permanent_redirect_inside_is_not_stored_as_the_feed_url(
    store: Store, server: FeedServer, by_name_client: FeedClient
) -> None:
    server.add("/feed.xml", body=RSS, headers=RSS_TYPE)
    old_url = server.redirect(
        "/old.xml", to=f"http://[::ffff:127.0.0.1]:{_port(server)}/feed.xml", status=301
    )
    feed_url = _by_name(server, "/old.xml")
    assert old_url.endswith("/old.xml")
    feed, _ = await store.feeds.add(feed_url)
    poller = Poller(store, by_name_client, clock=lambda: NOW, workers=0)
    try:
        report = await poller.poll_due()
    finally:
        await poller.aclose()

    (outcome,) = report.feeds
    assert outcome.error is not None and REFUSED in outcome.error
    stored = await store.feeds.get(feed.id)
    assert stored is not None
    assert stored.url == feed_url  # not the internal target
    assert stored.last_error is not None and REFUSED in stored.last_error


async def test_a_first_request_to_a_private_host_not_allowed_is_refused(
    server: FeedServer,
) -> None:
    url = server.add("/feed.xml", body=RSS, headers=RSS_TYPE)
    async with make_client() as strict:
        by_address = await fetch_feed(strict, url)
        by_name = await fetch_feed(strict, _by_name(server, "/feed.xml"))
        # IDNA folds these into the literal 127.0.0.1, which no resolver ever sees
        folded = [
            await fetch_feed(strict, f"http://{host}:{_port(server)}/feed.xml")
            for host in ("①②⑦.0.0.1", "127。0。0。1")
        ]
    async with make_client(private_hosts=["intranet.example.gov.vn", "10.0.0.5"]) as other:
        other_hosts = await fetch_feed(other, url)
    for result in (by_address, by_name, other_hosts, *folded):
        assert result.error is not None and result.error.startswith("refused: ")
        assert REFUSED in result.error
    assert "localhost resolves to" in (by_name.error or "")
    assert server.requests == []


@pytest.mark.parametrize("allowed", ["127.0.0.1", "127.0.0.0/8", "localhost", "localhost:{port}"])
async def test_an_allowed_private_host_works(server: FeedServer, allowed: str) -> None:
    port = _port(server)
    server.add("/feed.xml", body=RSS, headers=RSS_TYPE)
    server.redirect("/old.xml", to="/feed.xml", status=301)
    url = (
        _by_name(server, "/old.xml") if allowed.startswith("localhost") else server.url("/old.xml")
    )
    async with make_client(private_hosts=[allowed.format(port=port)]) as client:
        result = await fetch_feed(client, url)
    assert (result.error, result.body) == (None, RSS)
    assert result.permanent_redirect == url.replace("/old.xml", "/feed.xml")


async def test_an_allowed_port_does_not_allow_the_other_ports(server: FeedServer) -> None:
    async with make_client(private_hosts=[f"localhost:{_port(server) + 1}"]) as client:
        result = await fetch_feed(client, _by_name(server, "/feed.xml"))
    assert result.error is not None and REFUSED in result.error


async def test_an_intranet_name_allowed_by_the_operator_is_fetched(server: FeedServer) -> None:
    """The operator allows a name; the name's private address is connected to."""
    server.add("/feed.xml", body=RSS, headers=RSS_TYPE)
    url = f"http://cong.noi-bo.vn:{_port(server)}/feed.xml"
    async with _client_with_dns(["*.noi-bo.vn"]) as client:
        ok = await fetch_feed(client, url)
    async with _client_with_dns(["intranet.example.gov.vn"]) as client:
        refused = await fetch_feed(client, url)
    assert (ok.error, ok.body) == (None, RSS)
    assert refused.error is not None
    assert "cong.noi-bo.vn resolves to 127.0.0.1" in refused.error
    assert [r.path for r in server.requests] == ["/feed.xml"]


async def test_file_feeds_still_work(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "feed.xml"
    path.write_bytes(RSS)
    async with make_client() as strict:
        result: FetchResult = await fetch_feed(strict, path.as_uri())
    assert (result.error, result.body) == (None, RSS)


# -- the rules themselves ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2606:4700::1", True),
        ("::ffff:8.8.8.8", True),
        ("127.0.0.1", False),
        ("::1", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:10.0.0.1", False),
        ("::127.0.0.1", False),  # IPv4-compatible
        ("64:ff9b::7f00:1", False),  # NAT64 of loopback
        ("64:ff9b:1::808:808", False),  # a site's own NAT64 prefix
        ("2002:a00:1::1", False),  # 6to4 of 10.0.0.1
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("100.64.0.1", False),  # CGNAT
        ("169.254.169.254", False),
        ("fe80::1", False),
        ("fd00::1", False),
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("ff0e::1", False),
    ],
)
def test_public_addresses(address: str, public: bool) -> None:
    import ipaddress

    assert is_public(ipaddress.ip_address(address)) is public


def test_policy_entries() -> None:
    import ipaddress

    policy = AddressPolicy.allowing(["intranet.example.gov.vn", "10.0.0.5", "*.noi-bo.vn"])
    private = ipaddress.ip_address("10.0.0.5")
    assert policy.allows("intranet.example.gov.vn", 443, ipaddress.ip_address("10.9.9.9"))
    assert policy.allows("anything.vn", 80, private)
    assert policy.allows("[::ffff:10.0.0.5]", 80, ipaddress.ip_address("::ffff:10.0.0.5"))
    assert policy.allows("a.noi-bo.vn", 80, ipaddress.ip_address("192.168.1.1"))
    assert not policy.allows("noi-bo.vn.evil.vn", 80, ipaddress.ip_address("192.168.1.1"))
    assert not policy.allows("x.vn", 80, ipaddress.ip_address("10.0.0.6"))
    for bad in ("", "a b", "http://host/path"):
        with pytest.raises(ValueError):
            parse_entry(bad)


def test_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BANTIN_ALLOW_PRIVATE_HOSTS", "intranet.example.gov.vn, 10.0.0.5")
    settings = Settings(database_url="sqlite:///:memory:")
    assert settings.allow_private_hosts == ["intranet.example.gov.vn", "10.0.0.5"]
    assert (
        Settings(database_url="sqlite:///:memory:", allow_private_hosts="").allow_private_hosts
        == []
    )
    with pytest.raises(ValueError, match="not a host name or address"):
        Settings(database_url="sqlite:///:memory:", allow_private_hosts="http://a/b")


# -- a stand-in DNS --------------------------------------------------------------------------------


class _LoopbackDns(AbstractResolver):
    """Every name resolves to 127.0.0.1, as an intranet name or a rebinding attacker's would."""

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            ResolveResult(
                hostname=host,
                host="127.0.0.1",
                port=port,
                family=socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
        ]

    async def close(self) -> None:
        return None


def _client_with_dns(private_hosts: list[str]) -> FeedClient:
    return FeedClient(
        user_agent="bantin-test",
        max_connections=4,
        private_hosts=private_hosts,
        dns=_LoopbackDns(),
    )
