"""What a parsed feed is (the dataclasses every reader returns) and the small rules every
reader applies to its values: GUID fallback, de-duplication, categories, safe absolute links.

Shared by jobs.ingest.parse (RSS/Atom through feedparser or jobs.ingest.fastfeed) and
jobs.ingest.jsonfeed, so the readers agree on every field; jobs.ingest.parse re-exports the public
names.
"""

from __future__ import annotations

import hashlib
import html
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit, urlunsplit

from jobs.enrich.text import normalize, plain_title

__all__ = ["FeedParseError", "ParsedEntry", "ParsedFeed"]

_IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".avif")


@dataclass(frozen=True)
class ParsedEntry:
    """One item of a feed, with text already normalized and URLs already absolute."""

    guid: str  # entry id, else link, else a hash of title+published
    link: str | None  # absolute http(s) URL, or None
    title: str  # plain text, NFC, whitespace collapsed
    summary_html: str  # the feed's own description/summary (a real "sapo"), '' if none
    content_html: str  # the longest full-content value, '' if none
    published: datetime | None  # timezone-aware UTC
    categories: tuple[str, ...]
    image_url: str | None
    author: str | None


@dataclass(frozen=True)
class ParsedFeed:
    """A whole feed: its own title/link, its entries (unique GUIDs, document order), hints."""

    title: str
    link: str | None
    entries: tuple[ParsedEntry, ...]
    ttl_minutes: int | None  # RSS <ttl>
    warning: str | None  # non-fatal problem worth showing to whoever manages the feed


class FeedParseError(Exception):
    """Carries a message a person can act on; `alternate` is an autodiscovered feed URL if the
    body was an HTML page."""

    def __init__(self, message: str, *, alternate: str | None = None) -> None:
        super().__init__(message)
        self.alternate = alternate


def _str(value: object) -> str | None:
    """feedparser and JSON give untyped values; keep strings, drop everything else."""
    return value if isinstance(value, str) else None


def _as_html(value: str, media_type: str | None) -> str:
    """feedparser returns plain-text constructs unescaped; escape them so "<" stays text."""
    if media_type == "text/plain":
        return html.escape(value, quote=False)
    return value


def _struct_to_utc(value: object) -> datetime | None:
    if not isinstance(value, time.struct_time):
        return None
    try:
        return datetime(*value[:6], tzinfo=UTC)
    except (ValueError, OverflowError):
        return None


def _guid(
    entry_id: str | None,
    link: str | None,
    title: str,
    published: datetime | None,
    fallback_text: str,
) -> str:
    """Entry id, else link, else a hash of title+published (stable across polls).

    The hash takes the summary too only when title and date are both missing, otherwise every
    such entry of a feed would collapse into one.
    """
    if entry_id and entry_id.strip():
        return entry_id.strip()
    if link:
        return link
    stamp = published.isoformat() if published else ""
    material = f"{title}\n{stamp}" if (title or stamp) else f"\n\n{normalize(fallback_text)}"
    return "sha1:" + hashlib.sha1(material.encode("utf-8")).hexdigest()


def _unique(entries: Iterable[ParsedEntry]) -> tuple[ParsedEntry, ...]:
    """Keep the first entry of each GUID: feeds repeat items, and a GUID must mean one item."""
    seen: set[str] = set()
    kept: list[ParsedEntry] = []
    for entry in entries:
        if entry.guid not in seen:
            seen.add(entry.guid)
            kept.append(entry)
    return tuple(kept)


def _categories(values: Iterable[str | None]) -> tuple[str, ...]:
    found: list[str] = []
    for v in values:
        text = plain_title(v or "")
        if text and text not in found:
            found.append(text)
    return tuple(found)


def _positive_int(value: object) -> int | None:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def _absolute_http(base: str, href: str | None) -> str | None:
    """``href`` resolved against ``base``, kept only if http(s): links are shown to readers and
    later fetched, so javascript:, data:, file: and friends are dropped here."""
    if not href or not href.strip():
        return None
    try:
        absolute = urljoin(base, href.strip())
        parts = urlsplit(absolute)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return absolute


def _strip_userinfo(url: str) -> str:
    """The URL without user:password@, so credentials never leak into resolved links."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


_IMG_SRC = re.compile(r"""<img\b[^<>]*?\bsrc\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.I)


def _first_img_src(html_doc: str) -> str | None:
    m = _IMG_SRC.search(html_doc) if html_doc else None
    if not m:
        return None
    return html.unescape(m.group(1) or m.group(2) or m.group(3) or "") or None


def _has_image_extension(href: str | None) -> bool:
    return bool(href) and urlsplit(href or "").path.lower().endswith(_IMAGE_EXTENSIONS)
