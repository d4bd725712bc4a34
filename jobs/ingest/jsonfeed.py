"""JSON Feed 1.0/1.1 (jsonfeed.org), which feedparser 6 does not read: bytes -> ParsedFeed."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from jobs.enrich.text import normalize, plain_title
from jobs.ingest.feedmodel import (
    FeedParseError,
    ParsedEntry,
    ParsedFeed,
    _absolute_http,
    _categories,
    _first_img_src,
    _guid,
    _str,
    _unique,
)

__all__ = ["looks_like_json", "parse_json_feed"]

_JSONFEED_VERSION = re.compile(r"^https?://jsonfeed\.org/version/1(\.\d+)?/?$")


def looks_like_json(body: bytes, hdrs: Mapping[str, str]) -> bool:
    """A body starting with "{", or declared JSON and not starting with "<" (servers mislabel)."""
    first = body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    media_type = hdrs.get("content-type", "").split(";")[0].strip().lower()
    declared_json = media_type in ("application/feed+json", "application/json")
    return first == b"{" or (declared_json and first != b"<")


def parse_json_feed(body: bytes, base: str) -> ParsedFeed:
    """JSON Feed 1.0/1.1 (jsonfeed.org), which feedparser 6 does not read."""
    try:
        doc = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise FeedParseError(
            f"the response looks like JSON but cannot be read as JSON ({str(exc)[:120]}); "
            "check that the address points at the feed itself"
        ) from None
    if not isinstance(doc, dict) or not _JSONFEED_VERSION.match(_str(doc.get("version")) or ""):
        raise FeedParseError(
            'the response is JSON but not a JSON Feed (no "version": '
            '"https://jsonfeed.org/version/1.1"); check that the address points at the feed'
        )
    items = doc.get("items")
    entries = _unique(
        _entry_from_json(item, base)
        for item in (items if isinstance(items, list) else [])
        if isinstance(item, dict)
    )
    return ParsedFeed(
        title=plain_title(_str(doc.get("title")) or ""),
        link=_absolute_http(base, _str(doc.get("home_page_url"))),
        entries=entries,
        ttl_minutes=None,
        warning=None,
    )


def _entry_from_json(item: Mapping[str, Any], base: str) -> ParsedEntry:
    link = _absolute_http(base, _str(item.get("url")) or _str(item.get("external_url")))
    title = plain_title(_str(item.get("title")) or "")
    content_html = _str(item.get("content_html")) or _text_to_html(
        _str(item.get("content_text")) or ""
    )
    summary_html = _text_to_html(_str(item.get("summary")) or "")
    published = _iso_to_utc(_str(item.get("date_published"))) or _iso_to_utc(
        _str(item.get("date_modified"))
    )
    raw_id = item.get("id")
    item_id = (
        str(raw_id) if isinstance(raw_id, str | int) and not isinstance(raw_id, bool) else None
    )
    tags = item.get("tags")
    images: list[str | None] = [_str(item.get("image")), _str(item.get("banner_image"))]
    for att in item.get("attachments") or []:
        if isinstance(att, dict) and (_str(att.get("mime_type")) or "").startswith("image/"):
            images.append(_str(att.get("url")))
    images.append(_first_img_src(content_html))
    return ParsedEntry(
        guid=_guid(item_id, link, title, published, summary_html or content_html),
        link=link,
        title=title,
        summary_html=summary_html,
        content_html=content_html,
        published=published,
        categories=_categories(_str(t) for t in (tags if isinstance(tags, list) else [])),
        image_url=next((u for u in (_absolute_http(base, i) for i in images) if u), None),
        author=_json_author(item),
    )


def _json_author(item: Mapping[str, Any]) -> str | None:
    authors = item.get("authors")
    candidates = [*(authors if isinstance(authors, list) else []), item.get("author")]
    for a in candidates:
        if isinstance(a, dict) and normalize(_str(a.get("name")) or ""):
            return normalize(_str(a.get("name")) or "")
    return None


def _text_to_html(text: str) -> str:
    """Plain text -> HTML paragraphs, so every *_html field has one meaning downstream."""
    paragraphs = [p.strip() for p in text.splitlines() if p.strip()]
    return "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)


def _iso_to_utc(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
