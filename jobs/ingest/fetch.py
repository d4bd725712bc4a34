"""Fetching one feed: conditional GET, size cap, total deadline, redirect bookkeeping.

This is the I/O edge of the poll (docs/ARCHITECTURE.md): it returns what happened as a
``FetchResult`` (status, body, cache validators, where the feed moved to, a readable error) and
decides nothing. It never raises for network or HTTP trouble, because one broken feed among
hundreds must not stop a poll; the scheduler reads ``error`` and backs off.

Why the details:
- Feeds are fetched with aiohttp, not httpx: a poll is hundreds of requests at once, and httpx
  spent about ten times aiohttp's CPU per feed request (bench/README.md); the poll's speed
  target outranks the choice of library. ``make_client`` still returns an
  ``httpx.AsyncClient`` (a ``FeedClient``) because article pages (jobs/enrich/page.py) and
  ``bantin summarize`` use httpx; the aiohttp session lives inside it and closes with it.
- ETag / Last-Modified are sent back so unchanged feeds cost a 304 and no parsing.
- Redirects are followed by hand so we can tell a permanent move (301/308: store the new URL)
  from a temporary one (302/303/307: keep asking the old URL).
- The body is streamed and capped after decompression, and the whole fetch runs under one
  deadline, so a huge or dripping response cannot hold memory or a worker slot (the library's
  own timeouts are per read).
- URLs may carry user:password for protected portals; they never appear in results or logs.
- Addresses follow jobs.ingest.address_guard, for the first request and every redirect hop: the feed
  session resolves names through ``GuardedResolver`` (the address checked is the one connected
  to), literal IP hosts are judged before each request, so neither a feed address nor a
  redirect reaches loopback, private or link-local addresses unless the operator allowed that
  host (BANTIN_ALLOW_PRIVATE_HOSTS). A refused hop fails the fetch, so a permanent redirect to
  an internal address is never stored as the feed's new URL.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import ssl
import time
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path
from types import TracebackType
from typing import TypeVar
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

# In the stdlib since Python 2, missing from typeshed.
from urllib.request import proxy_bypass_environment as _proxy_bypass  # type: ignore[attr-defined]

import aiohttp
import httpx
from aiohttp.abc import AbstractResolver

from jobs.ingest.address_guard import (
    AddressPolicy,
    AddressRefused,
    GuardedResolver,
    check_url,
    check_url_resolved,
)
from storage.urls import shown_url

__all__ = [
    "FeedClient",
    "FetchError",
    "FetchResult",
    "fetch_feed",
    "make_client",
    "redact_url",
]

log = logging.getLogger(__name__)
_E = TypeVar("_E", bound=BaseException)

MAX_REDIRECTS = 10
PERMANENT_REDIRECTS = frozenset({301, 308})
REDIRECTS = frozenset({301, 302, 303, 307, 308})
USER_AGENT = "bantin/0.1 (+https://github.com/bantin)"
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/rdf+xml;q=0.9, "
    "application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, */*;q=0.5"
)
# aiohttp refuses header lines over 8 KB by default; h11 (httpx) allowed 16 KB in all, and
# portals behind load balancers send long Set-Cookie and CSP headers.
MAX_HEADER_LINE = 16_384


@dataclass(frozen=True)
class FetchResult:
    """What one fetch produced. ``error`` set means: no usable body, tell a person why."""

    status: int  # HTTP status (200, 304, ...); 0 when no HTTP answer
    url: str  # final URL after redirects (without userinfo)
    body: bytes | None  # None on 304 or error
    headers: Mapping[str, str]  # response headers, lower-cased keys
    etag: str | None
    last_modified: str | None
    permanent_redirect: str | None  # new URL when a 301/308 was followed (without userinfo)
    error: str | None  # a clear one-line message when the fetch failed, else None
    elapsed: float


class FetchError(Exception):
    """Internal: a failure with its user-facing message and the HTTP status, if any."""

    def __init__(
        self, message: str, status: int = 0, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.headers: Mapping[str, str] = headers or {}


class FeedClient(httpx.AsyncClient):
    """The process's shared HTTP client: httpx for pages, an aiohttp session for feeds.

    It *is* an ``httpx.AsyncClient`` so that jobs/enrich/page.py and ``bantin summarize`` keep their
    httpx code; ``fetch_feed`` asks it for ``feed_session()``, an aiohttp session created on
    first use inside the running event loop (aiohttp sessions are bound to one loop) and closed
    by ``aclose()`` or ``async with``. Both pools keep connections alive between polls.
    """

    def __init__(
        self,
        *,
        user_agent: str,
        max_connections: int,
        private_hosts: Iterable[str] = (),
        dns: AbstractResolver | None = None,
    ) -> None:
        super().__init__(
            headers={"User-Agent": user_agent, "Accept": ACCEPT},
            follow_redirects=False,
            timeout=httpx.Timeout(30.0, connect=10.0),
            limits=httpx.Limits(
                max_connections=max_connections,
                max_keepalive_connections=max_connections,
            ),
        )
        self._user_agent = user_agent
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None
        self._session_loop: asyncio.AbstractEventLoop | None = None
        self._proxies: dict[str, str] = {}
        self._proxy_hosts: frozenset[str] = frozenset()
        # The process's address rules (jobs.ingest.address_guard), for feeds and article pages
        # alike.
        self.address_policy = AddressPolicy.allowing(private_hosts)
        self._dns = dns  # None: aiohttp's default resolver (tests pass a stand-in DNS)
        self._resolver: GuardedResolver | None = None

    def feed_session(self) -> aiohttp.ClientSession:
        """The aiohttp session for feed fetches, created in (and for) the running loop."""
        loop = asyncio.get_running_loop()
        session = self._session
        if session is None or session.closed or self._session_loop is not loop:
            self._proxies = {
                scheme: address
                for scheme, address in urllib.request.getproxies().items()
                if scheme in ("http", "https", "no")
            }
            proxy_hosts = {
                urlsplit(address).hostname or ""
                for scheme, address in self._proxies.items()
                if scheme != "no"
            }
            self._proxy_hosts = frozenset(proxy_hosts - {""})
            # The connector does not close a resolver it was given: _close_session does.
            self._resolver = GuardedResolver(
                self.address_policy, exempt=self._proxy_hosts, inner=self._dns
            )
            connector = aiohttp.TCPConnector(
                limit=self._max_connections,  # the Poller's semaphores do the real limiting
                limit_per_host=0,
                ttl_dns_cache=300,  # caches only answers the resolver let through
                resolver=self._resolver,
            )
            session = aiohttp.ClientSession(
                connector=connector,
                headers={"User-Agent": self._user_agent, "Accept": ACCEPT},
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=10.0, sock_read=30.0),
                auto_decompress=True,
                # Not trust_env: it costs two thread hops per request (a .netrc lookup and a
                # proxy lookup), and a .netrc on the server must not hand credentials to
                # feeds. Proxies from the environment are read once instead (_proxy_for).
                trust_env=False,
                max_line_size=MAX_HEADER_LINE,
                max_field_size=MAX_HEADER_LINE,
            )
            self._session, self._session_loop = session, loop
        return session

    def proxy_for(self, url: str) -> str | None:
        """The HTTP(S)_PROXY for ``url`` unless NO_PROXY exempts its host (httpx honoured
        these too); read from the environment when the session was created."""
        proxies = self._proxies
        scheme = _scheme(url)
        if scheme not in proxies:
            return None
        host = urlsplit(url).hostname or ""
        if "no" in proxies and _proxy_bypass(host, proxies):
            return None
        return proxies[scheme]

    def is_proxy_host(self, url: str) -> bool:
        """Whether ``url`` addresses one of the environment's proxies (see ``_check_address``)."""
        try:
            host = (urlsplit(url).hostname or "").rstrip(".").lower()
        except ValueError:
            return False
        return host in self._proxy_hosts

    async def _close_session(self) -> None:
        session, self._session = self._session, None
        resolver, self._resolver = self._resolver, None
        if session is not None and not session.closed:
            await session.close()
        if resolver is not None:
            await resolver.close()

    async def aclose(self) -> None:
        await self._close_session()
        await super().aclose()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        await self._close_session()
        await super().__aexit__(exc_type, exc_value, traceback)


def make_client(
    *,
    user_agent: str = USER_AGENT,
    max_connections: int = 100,
    private_hosts: Iterable[str] = (),
) -> FeedClient:
    """One shared client per process: connection pooling across feeds of the same portal.

    Size ``max_connections`` to the poll concurrency (BANTIN_POLL_CONCURRENCY): the Poller's
    own semaphores decide how many fetches run, overall and per host, so the pool should never
    be the bottleneck; every connection may be kept alive, since the next poll asks the same
    portals again. Redirects are off because ``fetch_feed`` and jobs/enrich/page.py follow them
    themselves; timeouts here are the per-phase ceilings, callers add the total deadline.
    ``private_hosts`` (BANTIN_ALLOW_PRIVATE_HOSTS) are the hosts and addresses on loopback or
    private networks the operator allows feeds and article pages to be fetched from; every
    other non-public address is refused (jobs.ingest.address_guard).
    """
    return FeedClient(
        user_agent=user_agent, max_connections=max_connections, private_hosts=private_hosts
    )


async def fetch_feed(
    client: httpx.AsyncClient,
    url: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    max_bytes: int = 10_000_000,
    timeout: float = 30.0,
) -> FetchResult:
    """GET a feed (http, https or file URL), conditionally, within ``timeout`` seconds overall.

    ``client`` comes from ``make_client``, whose address rules apply; a plain
    ``httpx.AsyncClient`` also works (its settings are not used: the feed is fetched with a
    one-off aiohttp session, slower, under the strict address rules: no private hosts).
    Never raises for network, HTTP or file problems: they come back as ``error`` with a message
    a person can act on ("HTTP 404 Not Found", "connection refused", "timed out after 30 s").
    On 304 ``body`` is None and the validators sent are returned if the server omits them, so
    the caller can store the result's validators unconditionally.
    """
    started = time.monotonic()
    safe_url = redact_url(url)
    scheme = _scheme(url)
    try:
        async with asyncio.timeout(timeout):
            if scheme == "file":
                return await _fetch_file(url, last_modified, max_bytes, started)
            if scheme not in ("http", "https"):
                raise FetchError(
                    f"unsupported address scheme {scheme + ':' if scheme else '(none)'}; "
                    "use an http://, https:// or file:// address"
                )
            if isinstance(client, FeedClient):
                return await _fetch_http(
                    client, url, etag, last_modified, max_bytes, timeout, started
                )
            async with make_client() as own:
                return await _fetch_http(own, url, etag, last_modified, max_bytes, timeout, started)
    except FetchError as exc:
        return _failure(safe_url, exc.message, started, exc.status, exc.headers)
    except AddressRefused as exc:
        log.info("feed address refused", extra={"url": safe_url, "reason": str(exc)})
        return _failure(safe_url, _scrub(f"refused: {exc}", url), started)
    except aiohttp.ConnectionTimeoutError:  # before TimeoutError: it is one
        message = f"timed out after {_connect_timeout(timeout):g} s while connecting"
        return _failure(safe_url, message, started)
    except TimeoutError:
        return _failure(safe_url, f"timed out after {timeout:g} s", started)
    except aiohttp.ClientError as exc:
        return _failure(safe_url, _describe_client_error(exc, url), started)
    except OSError as exc:
        return _failure(safe_url, _describe_os_error(exc, url), started)
    except ValueError as exc:  # yarl refuses some malformed addresses before any request
        log.info("invalid feed address %s: %s", safe_url, type(exc).__name__)
        return _failure(
            safe_url, "invalid address; use an http://, https:// or file:// address", started
        )
    except Exception as exc:  # one odd feed must not kill the poll; keep the type for debugging
        log.warning("unexpected error fetching %s: %s", safe_url, type(exc).__name__)
        message = _scrub(f"unexpected error: {type(exc).__name__}: {exc}", url)
        return _failure(safe_url, message[:300], started)


async def _fetch_http(
    client: FeedClient,
    url: str,
    etag: str | None,
    last_modified: str | None,
    max_bytes: int,
    timeout: float,
    started: float,
) -> FetchResult:
    """Follow up to MAX_REDIRECTS hops by hand, then read the final answer."""
    headers: dict[str, str] = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    request_timeout = aiohttp.ClientTimeout(
        total=None, sock_connect=_connect_timeout(timeout), sock_read=timeout
    )
    session = client.feed_session()
    current = url
    # The stored URL should change only if every hop so far was permanent: after a 302 the
    # original address is still the one to ask next time.
    permanent: str | None = None
    all_permanent = True
    for hop in range(MAX_REDIRECTS + 1):
        proxy = client.proxy_for(current)
        try:
            await _check_address(client, current, proxy)
            async with session.get(
                current,
                headers=headers,
                allow_redirects=False,
                timeout=request_timeout,
                proxy=proxy,
            ) as response:
                if response.status in REDIRECTS:
                    target = _redirect_target(response, current, url)
                    if response.status in PERMANENT_REDIRECTS and all_permanent:
                        permanent = redact_url(target)
                    else:
                        all_permanent = False
                    current = target
                    continue
                return await _read_final(
                    response, current, etag, last_modified, max_bytes, permanent, started
                )
        except AddressRefused as exc:
            if hop:  # name the hop: the feed's own address is fine, its redirect is not
                raise AddressRefused(f"redirected to {redact_url(current)}: {exc}") from exc
            raise
    raise FetchError(f"too many redirects (more than {MAX_REDIRECTS})")


async def _check_address(client: FeedClient, url: str, proxy: str | None) -> None:
    """The address rules for one request, besides the resolver's check of every connection.

    Literal IP hosts never reach a resolver, so they are judged here. Through a proxy the
    proxy resolves the feed's name, and a feed addressed to the proxy itself would pass as the
    proxy (which the resolver lets through): both are judged by resolving the name here, a
    best effort (the proxy may resolve it differently a moment later).
    """
    policy = client.address_policy
    check_url(url, policy)
    if proxy or client.is_proxy_host(url):
        await check_url_resolved(url, policy)


def _connect_timeout(timeout: float) -> float:
    """An unreachable host should fail fast even when the total deadline is generous."""
    return min(timeout, 10.0)


def _redirect_target(response: aiohttp.ClientResponse, current: str, original: str) -> str:
    location = response.headers.get("location", "").strip()
    if not location:
        raise FetchError(
            f"HTTP {response.status} redirect without a Location header", response.status
        )
    target = urljoin(current, location)
    if _scheme(target) not in ("http", "https"):
        raise FetchError(f"redirected to an unsupported address: {redact_url(target)}")
    return _carry_userinfo(original, target)


def _lower_headers(response: aiohttp.ClientResponse) -> dict[str, str]:
    """Response headers with lower-cased keys; a repeated header's values joined by ", " (as
    HTTP allows and as httpx did), so no value is silently dropped."""
    headers: dict[str, str] = {}
    for key, value in response.headers.items():
        name = key.lower()
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers


async def _read_final(
    response: aiohttp.ClientResponse,
    url: str,
    etag: str | None,
    last_modified: str | None,
    max_bytes: int,
    permanent: str | None,
    started: float,
) -> FetchResult:
    headers = _lower_headers(response)
    status = response.status
    if status == 304:
        return FetchResult(
            status=304,
            url=redact_url(url),
            body=None,
            headers=headers,
            etag=headers.get("etag") or etag,
            last_modified=headers.get("last-modified") or last_modified,
            permanent_redirect=permanent,
            error=None,
            elapsed=time.monotonic() - started,
        )
    if not 200 <= status < 300:
        raise FetchError(_describe_status(response), status, headers)
    declared = headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:  # compressed size: a lower bound
        raise FetchError(f"response larger than {max_bytes} bytes", status, headers)
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_any():  # decoded: the cap applies after gunzip too
        size += len(chunk)
        if size > max_bytes:
            raise FetchError(f"response larger than {max_bytes} bytes", status, headers)
        chunks.append(chunk)
    return FetchResult(
        status=status,
        url=redact_url(url),
        body=b"".join(chunks),
        headers=headers,
        etag=headers.get("etag"),
        last_modified=headers.get("last-modified"),
        permanent_redirect=permanent,
        error=None,
        elapsed=time.monotonic() - started,
    )


async def _fetch_file(
    url: str, last_modified: str | None, max_bytes: int, started: float
) -> FetchResult:
    """file:// for the bundled sample feed and the CLI; mtime doubles as Last-Modified."""
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise FetchError("file:// addresses must point at this machine (file:///path)")
    path = Path(urllib.request.url2pathname(unquote(parts.path)))

    def read() -> tuple[bytes | None, str]:
        stat = path.stat()
        stamp = formatdate(stat.st_mtime, usegmt=True)
        if last_modified == stamp:
            return None, stamp
        if stat.st_size > max_bytes:
            raise FetchError(f"response larger than {max_bytes} bytes")
        with path.open("rb") as f:
            data = f.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise FetchError(f"response larger than {max_bytes} bytes")
        return data, stamp

    try:
        body, stamp = await asyncio.to_thread(read)
    except FileNotFoundError:
        raise FetchError(f"file not found: {path}") from None
    except IsADirectoryError:
        raise FetchError(f"{path} is a directory, not a feed file") from None
    except PermissionError:
        raise FetchError(f"permission denied reading {path}") from None
    return FetchResult(
        status=200 if body is not None else 304,
        url=url,
        body=body,
        headers={"last-modified": stamp},
        etag=None,
        last_modified=stamp,
        permanent_redirect=None,
        error=None,
        elapsed=time.monotonic() - started,
    )


def _failure(
    url: str,
    message: str,
    started: float,
    status: int = 0,
    headers: Mapping[str, str] | None = None,
) -> FetchResult:
    return FetchResult(
        status=status,
        url=url,
        body=None,
        headers=dict(headers or {}),
        etag=None,
        last_modified=None,
        permanent_redirect=None,
        error=message,
        elapsed=time.monotonic() - started,
    )


# --- messages a person can act on --------------------------------------------------------


def _describe_status(response: aiohttp.ClientResponse) -> str:
    status = response.status
    message = f"HTTP {status} {response.reason or ''}".rstrip()
    if status == 429 or status == 503:
        retry_after = response.headers.get("retry-after", "").strip()
        if retry_after:
            message += f" (retry after {retry_after}{' s' if retry_after.isdigit() else ''})"
    elif status in (401, 403):
        message += " (the server refuses access; the feed may need a login or block bots)"
    return message


def _describe_client_error(exc: aiohttp.ClientError, url: str) -> str:
    """aiohttp's errors as the messages staff already know (the httpx-era texts)."""
    if isinstance(exc, aiohttp.InvalidURL | aiohttp.NonHttpUrlClientError):
        return "invalid address; use an http://, https:// or file:// address"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        cert = exc.certificate_error
        host = urlsplit(redact_url(url)).hostname or "the server"
        reason = getattr(cert, "verify_message", None) or cert
        return _scrub(f"TLS certificate of {host} is not valid: {reason}", url)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return _describe_os_error(_find_cause(exc.os_error, OSError) or exc.os_error, url)
    if isinstance(exc, aiohttp.ClientPayloadError):
        if "decode" in str(exc).lower() or "decompress" in str(exc).lower():
            return "the server sent a compressed body that could not be decompressed"
        return "the server broke the connection or sent an invalid HTTP response"
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientResponseError):
        # ClientResponseError here means an unparseable answer (bad status line, headers
        # too long): we never call raise_for_status.
        return "the server broke the connection or sent an invalid HTTP response"
    if isinstance(exc, aiohttp.ClientOSError):
        return _describe_os_error(exc, url)
    return _scrub(f"{type(exc).__name__}: {exc}", url)[:300]


def _describe_os_error(exc: OSError, url: str) -> str:
    host = urlsplit(redact_url(url)).hostname or "the server"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate of {host} is not valid: {exc.verify_message}"
    if isinstance(exc, ssl.SSLError):
        return _scrub(f"TLS error talking to {host}: {exc.reason or exc}", url)
    code = exc.errno
    if isinstance(exc, ConnectionRefusedError) or code == errno.ECONNREFUSED:
        return f"connection refused by {host}"
    if code in (-2, -3, -5, 11001, 11004) or "name or service not known" in str(exc).lower():
        return f"could not resolve host {host} (DNS)"
    if isinstance(exc, ConnectionResetError) or code == errno.ECONNRESET:
        return f"connection reset by {host}"
    if code in (errno.ENETUNREACH, errno.EHOSTUNREACH):
        return f"{host} is unreachable from this server (network)"
    return _scrub(f"network error talking to {host}: {os.strerror(code) if code else exc}", url)


def _find_cause(exc: BaseException, kind: type[_E]) -> _E | None:
    """The innermost exception of ``kind`` in the cause/context chain.

    Libraries wrap the OS error once or twice (as a generic OSError "Multiple exceptions" or
    "All connection attempts failed"); the innermost one says what actually happened.
    """
    seen: set[int] = set()
    found: _E | None = None
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, kind):
            found = current
        current = current.__cause__ or current.__context__
    return found


# --- URLs ----------------------------------------------------------------------------------


redact_url = shown_url
"""The URL without user:password@, for results, logs and messages (storage/urls.py: the same
rule decides what of a feed's address a person may see)."""


def _scrub(message: str, url: str) -> str:
    """Remove any userinfo of ``url`` from a library's message."""
    try:
        userinfo = urlsplit(url).netloc.rpartition("@")[0]
    except ValueError:
        return message
    return message.replace(userinfo, "***") if userinfo else message


def _carry_userinfo(original: str, target: str) -> str:
    """Keep credentials on a same-origin redirect (as browsers do), drop them elsewhere."""
    src, dst = urlsplit(original), urlsplit(target)
    if "@" not in src.netloc or "@" in dst.netloc:
        return target
    same_origin = (src.scheme, src.hostname, src.port) == (dst.scheme, dst.hostname, dst.port)
    if not same_origin:
        return target
    userinfo = src.netloc.rpartition("@")[0]
    return urlunsplit(dst._replace(netloc=f"{userinfo}@{dst.netloc}"))


def _scheme(url: str) -> str:
    try:
        return urlsplit(url.strip()).scheme.lower()
    except ValueError:
        return ""
