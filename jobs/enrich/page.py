"""Article pages: when a feed carries only a teaser, fetch the page and keep its main text.

Why this exists: many Vietnamese portals put a title and one cut-off line in their feeds, so a
summary made from the feed alone is the headline again. The article page has the text, wrapped in
menus, sidebars, "Tin liên quan" lists, "Gửi phản hồi" links and a footer.

Three parts, pure where possible (docs/ARCHITECTURE.md):

- ``is_teaser`` (pure) decides whether an item's own text is too thin to summarize.
- ``extract_main_text`` (pure, CPU) keeps the article's paragraphs: readability-lxml finds the
  block of the page that reads like prose, ``jobs.enrich.text.html_to_text`` turns it into
  "\\n"-separated paragraphs; when readability fails or picks almost nothing (a short article
  between long link lists fools it), the page's own article container or its largest block of <p>
  text is used.
- ``fetch_article_text`` (I/O) fetches the page under the security rule of docs/ARCHITECTURE.md: a
  feed's items come from outside, so the links they carry may point anywhere, including this
  server's admin ports or the district's private network. A page is fetched only from the feed's
  own host or hosts the operator allows, and never from a loopback, private or link-local address
  unless that address is the feed's own or the operator allowed the host
  (BANTIN_ALLOW_PRIVATE_HOSTS, the same address rules as feeds: jobs.ingest.address_guard). Every
  redirect hop is checked again, which is why this module follows redirects itself instead of
  reusing ``jobs.ingest.fetch.fetch_feed`` (that one also reads file:// URLs, which an article link
  must never do).

Known limit: the host name is resolved for the check and again by httpx for the connection, so a
DNS server that answers differently within milliseconds (DNS rebinding) could slip past the
address check; the host check still holds, and it is the one that matters for feeds' items.
(Feeds themselves are fetched through aiohttp, whose resolver applies the rules, so there the
address checked is the address connected to.)
"""

from __future__ import annotations

import asyncio
import codecs
import logging
import re
import time
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from jobs.enrich.pagemeta import page_published
from jobs.enrich.summarize import is_chrome, syllables
from jobs.enrich.teaser import is_teaser
from jobs.enrich.text import html_to_text, normalize
from jobs.ingest.address_guard import STRICT, AddressPolicy, AddressRefused, IPAddress, is_public
from jobs.ingest.address_guard import resolve as _resolve_addresses
from jobs.ingest.address_guard import unmapped as _unmapped
from jobs.ingest.fetch import MAX_REDIRECTS, REDIRECTS, redact_url

__all__ = [
    "ArticleRefused",
    "address_allowed",
    "decode_html",
    "extract_main_text",
    "fetch_article_text",
    "host_allowed",
    "is_teaser",
]

log = logging.getLogger(__name__)

ACCEPT_HTML = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"
DEFAULT_PORTS = {"http": 80, "https": 443}

# --- extraction -----------------------------------------------------------------------------

MIN_MAIN_SYLLABLES = 30  # below this readability found a caption or a heading, not an article
MAX_LINK_DENSITY = 0.5  # a block whose text is mostly links is a menu or a "related" list
# Containers that Vietnamese portal CMSs (and most news sites) put the article text in.
_SEMANTIC_XPATH = "//*[@itemprop='articleBody'] | //article"
_CLASS_XPATH = "//*[contains(concat(' ', normalize-space(@class), ' '), ' {0} ')] | //*[@id='{0}']"
_CONTAINER_NAMES = (  # most specific first: "content" is often a wrapper of the whole page
    "article-body",
    "article-content",
    "detail-content",
    "content-detail",
    "news-content",
    "post-content",
    "entry-content",
    "noidung",
    "chitiet",
    "detail",
    "content",
)
# Extra hints for readability: class/id words of portal chrome and of portal article bodies.
_NEGATIVE = "related,lienquan,lien-quan,tinkhac,tin-khac,tools,share,social,print,binhluan,banner"
_POSITIVE = "detail,chitiet,noidung,article-body,news-content,content-detail"
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>", re.IGNORECASE)
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]+)""", re.I)


def decode_html(data: bytes, declared: str | None = None) -> str:
    """Bytes of a page as text: UTF-8 when the bytes are UTF-8, else the declared charset.

    UTF-8 wins over a declared charset because portals often declare iso-8859-1 (a server
    default) while sending UTF-8, and strict UTF-8 almost never decodes text in another encoding
    by accident. Then the HTTP charset, the <meta> charset, and finally UTF-8 with replacement.
    """
    for bom, encoding in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16")):
        if data.startswith(bom):
            return data.decode(encoding, "replace")
    if data.startswith(codecs.BOM_UTF16_BE):
        return data.decode("utf-16", "replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    match = _META_CHARSET.search(data[:4096])
    candidates = [declared, match.group(1).decode("ascii", "ignore") if match else None]
    for name in candidates:
        if not name:
            continue
        try:
            return data.decode(codecs.lookup(name.strip().strip("\"'")).name, "replace")
        except LookupError:
            continue
    return data.decode("utf-8", "replace")


def extract_main_text(html: str | bytes, url: str) -> str:
    """The article's main text as plain paragraphs ("\\n"-separated, NFC), '' if there is none.

    readability decides first. Its answer is replaced by the page's own article container
    (itemprop=articleBody, <article>, div.detail, .article-body, ...) when it found almost
    nothing or picked a block outside that container (a long sidebar text beats a short
    article in its scoring), and by the element with the most <p> text when there is no
    container either. Script, style and hidden elements never count. Leading and trailing page
    chrome lines ("Gửi phản hồi", "In bài", "Chia sẻ") are dropped; captions are kept, because
    they are part of the article and the summarizer already knows to skip them. Never raises:
    pages are written by strangers.
    """
    text = decode_html(html) if isinstance(html, bytes) else html
    text = _XML_DECLARATION.sub("", text, count=1)  # lxml refuses str with an encoding decl.
    if not text.strip():
        return ""
    main = _readability_text(text, url)
    root = _parse(text)
    if root is None:
        return _trim_chrome(main or html_to_text(text))
    container = _container_text(root)
    if container and (_too_thin(main) or not _overlaps(main, container)):
        main = container
    elif _too_thin(main):
        fallback = _largest_paragraph_block(root)
        if len(fallback) > len(main):
            main = fallback
    return _trim_chrome(main)


def _readability_text(page: str, url: str) -> str:
    root = _parse(page)  # readability changes the tree it is given: a parse of its own
    if root is None:
        return ""
    try:
        import lxml.html
        from readability import Document

        summary = Document(
            root, url=url or None, negative_keywords=_NEGATIVE, positive_keywords=_POSITIVE
        ).summary(html_partial=True)
        block = lxml.html.fragment_fromstring(summary, create_parent="div")
        if _link_density(block) > MAX_LINK_DENSITY:
            return ""
        return html_to_text(summary)
    except Exception:  # lxml and readability raise several types on odd pages
        return ""


def _parse(page: str) -> Any | None:
    """The page as an lxml tree without script/style/hidden elements, None if unparseable."""
    try:
        import lxml.html

        root = lxml.html.document_fromstring(page)
        for bad in root.xpath("//script | //style | //noscript | //template | //*[@hidden]"):
            bad.drop_tree()
    except Exception:
        return None
    return root


def _too_thin(text: str) -> bool:
    return len(syllables(text)) < MIN_MAIN_SYLLABLES


def _overlaps(main: str, container: str) -> bool:
    """Whether readability's text comes from inside the container (its longest paragraph does)."""
    longest = max(main.split("\n"), key=len, default="")
    return bool(longest) and longest in container


def _element_text(element: Any) -> str:
    import lxml.html

    return html_to_text(lxml.html.tostring(element, encoding="unicode"))


def _container_text(root: Any) -> str:
    """Text of the most specific article container on the page that holds an article."""
    queries = [_SEMANTIC_XPATH, *(_CLASS_XPATH.format(name) for name in _CONTAINER_NAMES)]
    for query in queries:
        best = ""
        for element in root.xpath(query):
            if _link_density(element) > MAX_LINK_DENSITY:
                continue
            candidate = _element_text(element)
            if len(candidate) > len(best):
                best = candidate
        if not _too_thin(best):
            return best
    return ""


def _largest_paragraph_block(root: Any) -> str:
    """Text of the element whose <p> children hold the most text."""
    by_parent: dict[Any, int] = {}
    for p in root.iter("p"):
        parent = p.getparent()
        if parent is not None:
            by_parent[parent] = by_parent.get(parent, 0) + len(p.text_content().strip())
    if not by_parent:
        return ""
    return _element_text(max(by_parent, key=lambda e: by_parent[e]))


def _link_density(element: Any) -> float:
    """Share of an lxml element's text that sits inside links."""
    total = len(normalize(element.text_content()))
    if not total:
        return 0.0
    linked = sum(len(normalize(a.text_content())) for a in element.xpath(".//a"))
    return linked / total


def _trim_chrome(text: str) -> str:
    lines = [line for line in text.split("\n") if line]
    while lines and is_chrome(lines[-1]):
        lines.pop()
    while lines and is_chrome(lines[0]):
        lines.pop(0)
    return "\n".join(lines)


# --- where an article may be fetched from ------------------------------------------------------


class ArticleRefused(Exception):
    """An article URL that the security rules or the server refused; the message says why."""


def _site(url: str) -> tuple[str, int | None]:
    """(host, port) of a URL; the port is None for the scheme's default port."""
    parts = urlsplit(url)
    host = (parts.hostname or "").rstrip(".").lower()
    port = parts.port  # raises ValueError on a bad port
    if port is not None and port == DEFAULT_PORTS.get(parts.scheme.lower()):
        port = None
    return host, port


def _allowed_entry(entry: str) -> tuple[str, int | None] | None:
    """An operator's allowed-host entry: "host", "host:port", "*.domain" or a whole URL."""
    entry = entry.strip()
    if not entry:
        return None
    try:
        parts = urlsplit(entry if "://" in entry else f"//{entry}")
        host = (parts.hostname or "").rstrip(".").lower()
        port = parts.port
    except ValueError:
        return None
    if port is not None and port == DEFAULT_PORTS.get(parts.scheme.lower()):
        port = None
    return (host, port) if host else None


def host_allowed(url: str, feed_url: str, allowed_hosts: Iterable[str] = ()) -> bool:
    """Whether ``url`` is on the feed's own host (same port) or on an operator-allowed host.

    Ports count: another port on the same machine is another service. http and https on their
    default ports are the same site (portals move to https, feeds lag behind). An allowed entry
    "*.tuyenquang.gov.vn" allows every sub-domain of tuyenquang.gov.vn.
    """
    try:
        scheme = urlsplit(url).scheme.lower()
        site = _site(url)
    except ValueError:
        return False
    if scheme not in DEFAULT_PORTS or not site[0]:
        return False
    try:
        feed_scheme = urlsplit(feed_url).scheme.lower()
        if feed_scheme in DEFAULT_PORTS and site == _site(feed_url):
            return True
    except ValueError:
        pass
    for entry in allowed_hosts:
        allowed = _allowed_entry(entry)
        if allowed is None:
            continue
        host, port = allowed
        if port != site[1]:
            continue
        if host == site[0] or (host.startswith("*.") and site[0].endswith(host[1:])):
            return True
    return False


def address_allowed(
    address: IPAddress,
    own_addresses: Collection[IPAddress],
    policy: AddressPolicy = STRICT,
    host: str = "",
    port: int | None = None,
) -> bool:
    """Whether an article may be fetched from ``address`` (reached as ``host``:``port``).

    Public addresses are fine; loopback, private, link-local and every other non-global range
    (CGNAT, documentation, unspecified, multicast) only when the feed's own host resolves there,
    which is how a portal on the district's private network or on this server keeps working,
    or when the operator allowed the host (``policy``, see jobs.ingest.address_guard). IPv6 forms
    that carry an IPv4 address (::ffff:127.0.0.1) are judged as the IPv4 address they carry.
    """
    if _unmapped(address) in {_unmapped(a) for a in own_addresses}:
        return True
    return is_public(address) or policy.allows(host, port, address)


async def _resolve(host: str, port: int) -> set[IPAddress]:
    """Every address ``host`` resolves to (getaddrinfo runs in a worker thread)."""
    try:
        return await _resolve_addresses(host, port)
    except AddressRefused as exc:
        raise ArticleRefused(str(exc)) from exc


async def _feed_addresses(feed_url: str) -> set[IPAddress]:
    try:
        parts = urlsplit(feed_url)
        host, port = parts.hostname, parts.port
    except ValueError:
        return set()
    if parts.scheme.lower() not in DEFAULT_PORTS or not host:
        return set()
    try:
        return await _resolve(host, port or DEFAULT_PORTS[parts.scheme.lower()])
    except ArticleRefused:
        return set()


async def _check(
    url: str,
    feed_url: str,
    allowed_hosts: Collection[str],
    own: set[IPAddress],
    policy: AddressPolicy = STRICT,
) -> None:
    """Raise ArticleRefused unless ``url`` passes both the host and the address rule."""
    if not host_allowed(url, feed_url, allowed_hosts):
        raise ArticleRefused("host is neither the feed's own nor an allowed one")
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or DEFAULT_PORTS[parts.scheme.lower()]
    for address in await _resolve(host, port):
        if not address_allowed(address, own, policy, host, port):
            raise ArticleRefused(f"{host} resolves to a non-public address ({address})")


# --- fetching -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ArticlePage:
    text: str
    published: datetime | None  # what the page's metadata says, if anything


async def fetch_article_text(
    client: httpx.AsyncClient,
    url: str,
    *,
    feed_url: str,
    allowed_hosts: Collection[str] = (),
    max_bytes: int = 2_000_000,
    timeout: float = 20.0,
) -> str | None:
    """The main text of the article page at ``url``, or None (see fetch_article)."""
    page = await fetch_article(
        client,
        url,
        feed_url=feed_url,
        allowed_hosts=allowed_hosts,
        max_bytes=max_bytes,
        timeout=timeout,
    )
    return page.text if page else None


async def fetch_article(
    client: httpx.AsyncClient,
    url: str,
    *,
    feed_url: str,
    allowed_hosts: Collection[str] = (),
    max_bytes: int = 2_000_000,
    timeout: float = 20.0,
) -> ArticlePage | None:
    """The main text and declared publication date of the article page at ``url``, or None
    if refused or failed.

    ``feed_url`` is the feed the link came from: its host is trusted (see module docstring);
    ``allowed_hosts`` adds operator-approved hosts ("host", "host:port", "*.domain"). The whole
    fetch (DNS, redirects, body) runs under one ``timeout``; the body is capped at ``max_bytes``.
    Never raises; each refusal or failure is logged at INFO with the URL (without credentials).
    """
    started = time.monotonic()
    try:
        async with asyncio.timeout(timeout):
            body, final_url, charset = await _fetch_page(
                client, url, feed_url, allowed_hosts, max_bytes, timeout
            )
            text, published = await asyncio.to_thread(_extract_bytes, body, final_url, charset)
    except ArticleRefused as exc:
        _log_refusal(url, str(exc))
        return None
    except TimeoutError:
        _log_refusal(url, f"timed out after {timeout:g} s")
        return None
    except httpx.HTTPError as exc:
        _log_refusal(url, _describe(exc, url))
        return None
    except Exception as exc:  # one odd page must not stop a poll
        _log_refusal(url, f"unexpected error: {type(exc).__name__}")
        return None
    if not text:
        _log_refusal(url, "no article text found on the page")
        return None
    log.debug(
        "article fetched",
        extra={"url": redact_url(url), "chars": len(text), "s": time.monotonic() - started},
    )
    return ArticlePage(text, published)


def _extract_bytes(body: bytes, url: str, charset: str | None) -> tuple[str, datetime | None]:
    page = decode_html(body, charset)
    return extract_main_text(page, url), page_published(page)


def _describe(exc: httpx.HTTPError, url: str) -> str:
    """A one-line reason without the URL's credentials (httpx messages may quote the URL)."""
    message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    userinfo = urlsplit(url).netloc.rpartition("@")[0]
    return (message.replace(userinfo, "***") if userinfo else message)[:300]


def _log_refusal(url: str, reason: str) -> None:
    log.info("article not fetched", extra={"url": redact_url(url), "reason": reason})


async def _fetch_page(
    client: httpx.AsyncClient,
    url: str,
    feed_url: str,
    allowed_hosts: Collection[str],
    max_bytes: int,
    timeout: float,
) -> tuple[bytes, str, str | None]:
    """GET ``url``, checking it and every redirect hop; returns (body, final URL, charset)."""
    own = await _feed_addresses(feed_url)
    policy: AddressPolicy = getattr(client, "address_policy", STRICT)  # make_client's rules
    request_timeout = httpx.Timeout(timeout, connect=min(timeout, 10.0))
    current = url
    for _hop in range(MAX_REDIRECTS + 1):
        await _check(current, feed_url, allowed_hosts, own, policy)
        request = client.build_request(
            "GET", current, headers={"Accept": ACCEPT_HTML}, timeout=request_timeout
        )
        response = await client.send(request, stream=True, follow_redirects=False)
        try:
            if response.status_code in REDIRECTS:
                location = response.headers.get("location", "").strip()
                if not location:
                    raise ArticleRefused(f"HTTP {response.status_code} without a Location header")
                current = urljoin(current, location)
                continue
            if not 200 <= response.status_code < 300:
                raise ArticleRefused(f"HTTP {response.status_code}")
            content_type = response.headers.get("content-type", "").lower()
            if content_type and not (
                "html" in content_type or "xml" in content_type or content_type.startswith("text/")
            ):
                raise ArticleRefused(f"not a web page ({content_type.split(';')[0]})")
            return await _read_capped(response, max_bytes), current, response.charset_encoding
        finally:
            await response.aclose()
    raise ArticleRefused(f"too many redirects (more than {MAX_REDIRECTS})")


async def _read_capped(response: httpx.Response, max_bytes: int) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise ArticleRefused(f"page larger than {max_bytes} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():  # decoded: the cap holds after gunzip too
        size += len(chunk)
        if size > max_bytes:
            raise ArticleRefused(f"page larger than {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
