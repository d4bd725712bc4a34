"""Feed bytes -> plain dataclasses (jobs.ingest.feedmodel): RSS 0.9x/1.0/2.0 and Atom via
feedparser, plain UTF-8 RSS 2.0 and Atom via its faster double jobs.ingest.fastfeed, JSON Feed via
jobs.ingest.jsonfeed.

No I/O happens here (docs/ARCHITECTURE.md): the fetcher hands over bytes, headers and the URL,
and this module answers with a ``ParsedFeed`` or a ``FeedParseError`` whose message a staff member
can act on ("this address is a web page, not a feed; it announces a feed at ...").

Feeds come from strangers, so parsing is defensive:
- the body is handed to feedparser as a stream, never as ``bytes``: feedparser treats a bytes
  argument as a *file name* first, so a body like ``/etc/passwd`` would read a local file;
- documents declaring XML entities are refused before parsing: expat stops "billion laughs"
  only after expanding megabytes, and feedparser's fallback (loose) parser expands "safe"
  entities itself with no limit, so a 100 KB feed can cost hundreds of MB; the check runs on
  the bytes as the fast reader reads them (UTF-8) and again on the text as feedparser decodes
  it, whatever charset is declared (UTF-7, UTF-16/32 and EBCDIC spell "<!ENTITY" differently);
- a body that is valid UTF-8 is read as UTF-8 whatever charset the server or the XML declaration
  claims (Vietnamese portals often declare iso-8859-1 and send UTF-8, which would turn every
  diacritic into mojibake).

- the fast reader (lxml) never resolves entities, loads a DTD or touches the network, and
  leaves anything it does not mirror exactly to feedparser.

Parsing a big feed costs milliseconds of CPU; callers with many feeds run it off the event loop.
"""

from __future__ import annotations

import io
import logging
import re
import xml.sax
from collections.abc import Mapping
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser
from feedparser import encodings as feedparser_encodings

from jobs.enrich.text import normalize, plain_title
from jobs.ingest.fastfeed import Unusual, read_feed
from jobs.ingest.feedmodel import (
    FeedParseError,
    ParsedEntry,
    ParsedFeed,
    _absolute_http,
    _as_html,
    _categories,
    _first_img_src,
    _guid,
    _has_image_extension,
    _positive_int,
    _str,
    _strip_userinfo,
    _struct_to_utc,
    _unique,
)
from jobs.ingest.jsonfeed import looks_like_json, parse_json_feed

log = logging.getLogger(__name__)

__all__ = [
    "FeedParseError",
    "ParsedEntry",
    "ParsedFeed",
    "discover_feed_links",
    "parse_feed",
]


FEED_LINK_TYPES = frozenset(
    {
        "application/rss+xml",
        "application/atom+xml",
        "application/feed+json",
        "application/rdf+xml",
    }
)

_ENTITY_DECL = re.compile(rb"<!ENTITY", re.IGNORECASE)
_ENTITY_OR_SECTION = re.compile(rb"<!ENTITY|<!\[CDATA\[|<!--", re.IGNORECASE)
# One character reference per entity (<!ENTITY nbsp "&#160;">): the only declaration real feeds
# use, and harmless because it cannot nest or amplify.
_CHARREF = rb"(?:&\#x[0-9a-f]{1,6};|&\#[0-9]{1,7};)"
_CHARREF_ENTITY = re.compile(
    rb"<!ENTITY \s+ [\w.-]+ \s+ (?:\"" + _CHARREF + rb"\"|'" + _CHARREF + rb"') \s* >",
    re.IGNORECASE | re.VERBOSE,
)
_SUSPECT_CHARREF = re.compile(
    rb"&#([xX]0*(?:[dD][89a-fA-F][0-9a-fA-F]{2}|[0-9a-fA-F]{5,})|0*(?:5[5-7][0-9]{3}|[0-9]{6,}));"
)
_HTML_MARKERS = (b"<!doctype html", b"<html", b"<head", b"<body")
_FEED_MARKERS = (b"<rss", b"<feed", b"<rdf:rdf", b"<channel")
_XML_DECL_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9._:-]+)""")
_UTF8_NAMES = frozenset({"utf-8", "utf8", "us-ascii", "ascii"})


def parse_feed(
    body: bytes,
    *,
    url: str,
    headers: Mapping[str, str] | None = None,
    fast: bool = True,
) -> ParsedFeed:
    """Parse a fetched body; ``url`` is the final URL (the base for relative links).

    Raises FeedParseError when nothing usable came out (empty, garbage, a web page, a hostile
    DTD); returns a ParsedFeed with ``warning`` set when the XML was broken but entries survived.
    Plain UTF-8 RSS 2.0 is read by jobs.ingest.fastfeed (same result, a fraction of the CPU) unless
    ``fast`` is False (tests compare the two); everything else by feedparser.
    """
    base = _strip_userinfo(url)
    hdrs = {k.lower(): v for k, v in (headers or {}).items()}
    if not body or not body.strip():
        raise FeedParseError("the response is empty; check the address, it should be a feed")
    if looks_like_json(body, hdrs):
        return parse_json_feed(body, base)
    _refuse_entity_declarations(body)

    content_type, charset_warning = _content_type_for(body, hdrs)
    defused = _defuse_charrefs(body)
    result = _read_fast(defused, base, content_type) if fast else None
    if result is None:
        result = _read_with_feedparser(defused, base, content_type, hdrs)

    raw_entries = result.get("entries") or []
    version = result.get("version") or ""
    if not raw_entries and not version:
        raise _not_a_feed(body, base, hdrs, result)

    entries = _unique(_entry_from_feedparser(e, base) for e in raw_entries)
    warning = _join_warnings(charset_warning, _bozo_warning(result, len(entries), body))
    feed = result.get("feed") or {}
    return ParsedFeed(
        title=plain_title(_str(feed.get("title")) or ""),
        link=_absolute_http(base, _str(feed.get("link"))),
        entries=entries,
        ttl_minutes=_positive_int(feed.get("ttl")),
        warning=warning,
    )


def _read_fast(body: bytes, base: str, content_type: str) -> Mapping[str, Any] | None:
    """jobs.ingest.fastfeed's reading of a UTF-8 body, None when feedparser must read it.

    UTF-8 only: feedparser repairs values differently for other charsets, and an ASCII body
    counts only when nothing declares another charset (character references can still produce
    any character)."""
    declared = content_type.lower().partition("charset=")[2]
    if declared not in ("", "utf-8", "utf8"):
        return None
    if not declared:
        if not body.isascii() or b"\x00" in body[:4]:
            return None
        encoding = _xml_declared_encoding(body)
        if encoding and encoding.lower() not in ("utf-8", "utf8"):
            return None
    try:
        return read_feed(body, base)
    except Unusual:
        return None
    except Exception:  # a gap in the fast reader must cost speed, never the feed
        log.warning("fast feed reader failed; using feedparser", exc_info=True)
        return None


def _read_with_feedparser(
    body: bytes, base: str, content_type: str, hdrs: Mapping[str, str]
) -> Mapping[str, Any]:
    fp_headers = {"content-location": base, "content-type": content_type}
    if "content-language" in hdrs:
        fp_headers["content-language"] = hdrs["content-language"]
    _refuse_entity_declarations(_as_feedparser_decodes(body, fp_headers))
    try:
        # A stream, never bytes: feedparser.parse(bytes) tries the bytes as a file name first.
        # No sanitizing or URI rewriting inside feedparser (a third of its time): nothing of a
        # feed's HTML is ever shown as HTML — html_to_text and plain_title reduce it to text
        # (dropping script and style), and image links are resolved by _absolute_http.
        result: Mapping[str, Any] = feedparser.parse(
            io.BytesIO(body),
            response_headers=fp_headers,
            sanitize_html=False,
            resolve_relative_uris=False,
        )
    except Exception as exc:  # feedparser raises on some inputs; one feed must not stop a poll
        raise FeedParseError(
            f"the feed could not be read (parser failure: {type(exc).__name__}); "
            "check that the address points at a valid feed"
        ) from exc
    return result


def discover_feed_links(html_doc: bytes | str, base_url: str) -> list[str]:
    """Feed URLs a web page announces with <link rel="alternate" type="application/rss+xml">
    (or atom+xml, feed+json, rdf+xml), absolute, de-duplicated, in page order.

    Lets "add feed" accept the portal's home page: staff paste what they see in the browser.
    """
    text = html_doc.decode("utf-8", "replace") if isinstance(html_doc, bytes) else html_doc
    finder = _LinkFinder()
    try:
        finder.feed(text)
        finder.close()
    except Exception:  # a half-parsed page still yields the links seen so far
        pass
    base = _strip_userinfo(base_url)
    if finder.base_href:
        base = urljoin(base, finder.base_href)
    allowed = {"http", "https"} | ({"file"} if base.startswith("file:") else set())
    found: list[str] = []
    for href in finder.hrefs:
        absolute = urljoin(base, href.strip())
        if urlsplit(absolute).scheme in allowed and absolute not in found:
            found.append(absolute)
    return found


class _LinkFinder(HTMLParser):
    """Collects feed <link>s and <base href> from a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hrefs: list[str] = []
        self.base_href: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k.lower(): (v or "") for k, v in attrs}
        if tag == "base" and a.get("href") and self.base_href is None:
            self.base_href = a["href"]
        elif tag == "link" and a.get("href"):
            rels = a.get("rel", "").lower().split()
            media_type = a.get("type", "").split(";")[0].strip().lower()
            if "alternate" in rels and media_type in FEED_LINK_TYPES:
                self.hrefs.append(a["href"])

    handle_startendtag = handle_starttag


# --- safety and charset -----------------------------------------------------------------


def _refuse_entity_declarations(body: bytes) -> None:
    """Reject DTDs declaring entities other than single character references.

    Entity declarations are the classic attack on XML parsers (nested: "billion laughs"; one big
    value referenced many times: quadratic blow-up; SYSTEM: external entities) and feeds have no
    honest use for them beyond naming a character. A raw "<!ENTITY" can only appear in a DTD, a
    CDATA section or a comment (in text it would be escaped); CDATA sections and comments are
    skipped in one linear pass.
    """
    sample = body.replace(b"\x00", b"") if b"\x00" in body[:4] else body  # UTF-16/32 text
    if not _ENTITY_DECL.search(sample):
        return
    pos = 0
    while m := _ENTITY_OR_SECTION.search(sample, pos):
        token = m.group(0)
        if token.upper() == b"<!ENTITY":
            if _CHARREF_ENTITY.match(sample, m.start()):
                pos = m.end()
                continue
            raise FeedParseError(
                "the feed declares XML entities (<!ENTITY ...>), which bantin refuses to expand "
                "because they can exhaust memory; ask the publisher to remove them from the "
                "DOCTYPE"
            )
        end = sample.find(b"]]>" if token.upper() == b"<![CDATA[" else b"-->", m.end())
        if end < 0:
            return  # the rest is one unterminated section: no declaration outside it
        pos = end + 3


def _as_feedparser_decodes(body: bytes, fp_headers: Mapping[str, str]) -> bytes:
    """The body as UTF-8, decoded exactly the way feedparser is about to decode it.

    The byte-level check in ``_refuse_entity_declarations`` only sees what an ASCII-compatible
    reading shows. feedparser picks the charset itself (HTTP charset, XML declaration, BOM,
    EBCDIC and UTF-16/32 sniffing, chardet, fallbacks), and under UTF-7, UTF-16/32 without
    nulls up front or EBCDIC (cp037) the same bytes spell "<!ENTITY" only after decoding. So
    the declarations are looked for again in feedparser's own conversion (the same function
    on the same input gives the same text). A body feedparser cannot decode at all would go to
    its parser undecoded, where nothing checked it: refused.
    """
    result: dict[str, Any] = {}
    try:
        converted = feedparser_encodings.convert_to_utf8(dict(fp_headers), body, result)
    except Exception as exc:  # a codec raising on hostile bytes: unreadable, so refused
        raise _unknown_encoding() from exc
    if not result.get("encoding") or not isinstance(converted, bytes):
        raise _unknown_encoding()
    return converted


def _unknown_encoding() -> FeedParseError:
    return FeedParseError(
        "the feed's character encoding could not be determined, so it cannot be checked and "
        "read safely; ask the publisher to send UTF-8"
    )


def _defuse_charrefs(body: bytes) -> bytes:
    """Replace numeric character references to no character (> U+10FFFF, surrogates) by U+FFFD.

    feedparser 6's loose parser raises ValueError / UnicodeEncodeError on "&#99999999;" or
    "&#xD800;", so one bad reference would make the whole feed unreadable. The pattern only
    matches rare large or surrogate-range numbers, so ordinary Vietnamese "&#7879;" costs nothing.
    """
    return _SUSPECT_CHARREF.sub(_fix_charref, body)


def _fix_charref(m: re.Match[bytes]) -> bytes:
    digits = m.group(1)
    number = int(digits[1:], 16) if digits[:1] in (b"x", b"X") else int(digits)
    if number > 0x10FFFF or 0xD800 <= number <= 0xDFFF:
        return b"&#65533;"
    return m.group(0)


def _content_type_for(body: bytes, hdrs: Mapping[str, str]) -> tuple[str, str | None]:
    """The Content-Type to show feedparser, and a warning if a declared charset was overridden.

    Always an XML media type: servers label feeds text/html or text/plain, and feedparser would
    then assume us-ascii/iso-8859-1. Valid UTF-8 wins over any declaration, because single-byte
    text that happens to decode as multi-byte UTF-8 is vanishingly rare, while portals declaring
    iso-8859-1 and sending UTF-8 Vietnamese are common.
    """
    declared = _declared_charset(hdrs.get("content-type", ""))
    if b"\x00" not in body[:4] and not body.isascii() and _is_utf8(body):
        claimed = declared or _xml_declared_encoding(body)
        warning = None
        if claimed and claimed.lower() not in _UTF8_NAMES:
            warning = f"the feed declares charset {claimed} but is UTF-8; it was read as UTF-8"
        return "application/xml; charset=utf-8", warning
    if declared:
        return f"application/xml; charset={declared}", None
    return "application/xml", None


def _declared_charset(content_type: str) -> str | None:
    for param in content_type.split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset" and value.strip().strip("\"'"):
            return value.strip().strip("\"'")
    return None


def _xml_declared_encoding(body: bytes) -> str | None:
    m = _XML_DECL_ENCODING.match(body.removeprefix(b"\xef\xbb\xbf")[:200])
    return m.group(1).decode("ascii") if m else None


def _is_utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


# --- errors and warnings ----------------------------------------------------------------


def _not_a_feed(
    body: bytes, base: str, hdrs: Mapping[str, str], result: Mapping[str, Any]
) -> FeedParseError:
    """The most useful error for a body feedparser found no feed in."""
    head = body[:4096].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    is_html = any(m in head for m in _HTML_MARKERS) or (
        hdrs.get("content-type", "").lower().startswith("text/html")
        and not any(m in head for m in _FEED_MARKERS)
    )
    if is_html:
        links = discover_feed_links(body, base)
        if links:
            more = f" (and {len(links) - 1} more)" if len(links) > 1 else ""
            return FeedParseError(
                f"this address is a web page, not a feed; it announces a feed at {links[0]}{more}",
                alternate=links[0],
            )
        return FeedParseError(
            "this address is a web page, not a feed, and the page announces no feed; "
            "look on the site for an RSS link and use that address"
        )
    reason = _describe_bozo(result.get("bozo_exception"), _declaration_added(body))
    detail = f" ({reason})" if reason else ""
    return FeedParseError(
        f"the response is not a feed{detail}; check that the address points at the feed itself "
        "(RSS, Atom or JSON Feed)"
    )


def _declaration_added(body: bytes) -> bool:
    """feedparser prepends an XML declaration line when there is none, shifting line numbers."""
    return not body.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<?xml")


def _describe_bozo(exc: object, line_shift: bool = False) -> str | None:
    if exc is None:
        return None
    if isinstance(exc, xml.sax.SAXParseException):
        line = exc.getLineNumber()
        if line is None:
            return f"XML error: {exc.getMessage()}"
        return f"XML error at line {max(1, line - int(line_shift))}: {exc.getMessage()}"
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]


def _bozo_warning(result: Mapping[str, Any], n_entries: int, body: bytes) -> str | None:
    if not result.get("bozo"):
        return None
    exc = result.get("bozo_exception")
    if isinstance(exc, feedparser.CharacterEncodingOverride | feedparser.NonXMLContentType):
        return None  # we chose the media type and charset ourselves; nothing for staff to fix
    reason = _describe_bozo(exc, _declaration_added(body)) or "unknown problem"
    read = "1 entry was" if n_entries == 1 else f"{n_entries} entries were"
    return f"the feed is not well-formed ({reason}); {read} read anyway"


def _join_warnings(*warnings: str | None) -> str | None:
    present = [w for w in warnings if w]
    return "; ".join(present) if present else None


# --- feedparser entries -----------------------------------------------------------------


def _entry_from_feedparser(e: Mapping[str, Any], base: str) -> ParsedEntry:
    link = _absolute_http(base, _str(e.get("link")))
    title_detail = e.get("title_detail")
    title_type = _str(title_detail.get("type")) if isinstance(title_detail, Mapping) else None
    # A text/plain title keeps "<dichvucong.gov.vn>" as text; only HTML titles lose their tags.
    title = plain_title(_as_html(_str(e.get("title")) or "", title_type))
    contents = [
        _as_html(_str(c.get("value")) or "", _str(c.get("type")))
        for c in (e.get("content") or [])
        if isinstance(c, Mapping)
    ]
    content_html = max(contents, key=len, default="")
    summary_detail = e.get("summary_detail")
    summary_type = _str(summary_detail.get("type")) if isinstance(summary_detail, Mapping) else None
    summary_html = _as_html(_str(e.get("summary")) or "", summary_type)
    # feedparser copies content:encoded into summary when there is no description; that copy
    # is not a sapo, and treating it as one would "summarize" with the whole article.
    if summary_html and summary_html in contents:
        summary_html = ""
    published = _struct_to_utc(e.get("published_parsed")) or _struct_to_utc(e.get("updated_parsed"))
    return ParsedEntry(
        guid=_guid(_str(e.get("id")), link, title, published, summary_html),
        link=link,
        title=title,
        summary_html=summary_html,
        content_html=content_html,
        published=published,
        categories=_categories(
            _str(t.get("label")) or _str(t.get("term"))
            for t in (e.get("tags") or [])
            if isinstance(t, Mapping)
        ),
        image_url=_feedparser_image(e, base, content_html or summary_html),
        author=normalize(_str(e.get("author")) or "") or None,
    )


def _feedparser_image(e: Mapping[str, Any], base: str, html_doc: str) -> str | None:
    """Enclosure image, media:content image, media:thumbnail, then the first <img>."""
    candidates: list[str | None] = []
    for enc in e.get("enclosures") or []:
        if isinstance(enc, Mapping):
            href, kind = _str(enc.get("href")), (_str(enc.get("type")) or "").lower()
            if kind.startswith("image/") or (not kind and _has_image_extension(href)):
                candidates.append(href)
    for media in e.get("media_content") or []:
        if isinstance(media, Mapping):
            kind = (_str(media.get("type")) or "").lower()
            medium = (_str(media.get("medium")) or "").lower()
            href = _str(media.get("url"))
            if kind.startswith("image/") or medium == "image" or _has_image_extension(href):
                candidates.append(href)
    for thumb in e.get("media_thumbnail") or []:
        if isinstance(thumb, Mapping):
            candidates.append(_str(thumb.get("url")))
    for c in candidates:
        absolute = _absolute_http(base, c)
        if absolute:
            return absolute
    src = _first_img_src(html_doc)
    if not src:
        return None
    # An <img> in the content is relative to the content's own xml:base when it has one
    # (feedparser no longer rewrites URIs inside content for us).
    content_base = base
    for detail in [*(e.get("content") or []), e.get("summary_detail")]:
        if isinstance(detail, Mapping) and _str(detail.get("base")):
            content_base = urljoin(base, _str(detail.get("base")) or "")
            break
    return _absolute_http(content_base, src)
