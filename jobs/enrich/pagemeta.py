"""The publication date an article page declares about itself (pure).

Feeds without dates are common on small portals; the article page usually says when it was
published in its metadata (Open Graph `article:published_time`, `itemprop=datePublished`,
JSON-LD `datePublished`, Dublin Core, or a <time datetime>). The poller uses it when the feed
entry has no date, before falling back to first-seen time.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from html.parser import HTMLParser

VIETNAM = timezone(timedelta(hours=7))
_META_NAMES = {
    "article:published_time",
    "og:published_time",
    "datepublished",
    "dc.date",
    "dc.date.issued",
    "dcterms.created",
    "pubdate",
    "publishdate",
}
_JSONLD = re.compile(
    r'<script[^>]+type=["\']application/ld\+json["\'][^>]*>(.*?)</script>', re.S | re.I
)
_VN_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})(?:\s+(\d{1,2}):(\d{2}))?")


def parse_date(value: str) -> datetime | None:
    """ISO 8601 (with or without zone; no zone means Vietnam time) or dd/mm/yyyy [hh:mm]."""
    value = value.strip()
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        match = _VN_DATE.match(value)
        if not match:
            return None
        day, month, year, hour, minute = match.groups()
        try:
            when = datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0))
        except ValueError:
            return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=VIETNAM)
    return when.astimezone(UTC)


class _Finder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k.lower(): (v or "") for k, v in attrs}
        if tag == "meta":
            name = (a.get("property") or a.get("name") or a.get("itemprop") or "").lower()
            if name in _META_NAMES and a.get("content"):
                self.found.append(a["content"])
        elif tag == "time" and a.get("datetime"):
            if "pubdate" in a or a.get("itemprop", "").lower() == "datepublished":
                self.found.insert(0, a["datetime"])
            else:
                self.found.append(a["datetime"])


def _jsonld_dates(page: str) -> list[str]:
    out: list[str] = []
    for block in _JSONLD.findall(page):
        try:
            data = json.loads(block)
        except ValueError:
            continue
        for item in data if isinstance(data, list) else [data]:
            if isinstance(item, dict) and isinstance(item.get("datePublished"), str):
                out.append(item["datePublished"])
    return out


def page_published(page: str, *, now: datetime | None = None) -> datetime | None:
    """The first plausible publication date the page declares; None when there is none.

    A date in the future (beyond a day's clock skew) is ignored: portals sometimes put event
    dates in the same fields.
    """
    finder = _Finder()
    try:
        finder.feed(page[:500_000])
    except Exception:  # broken HTML: whatever was found so far still counts
        pass
    limit = (now or datetime.now(UTC)) + timedelta(days=1)
    for candidate in [*_jsonld_dates(page[:500_000]), *finder.found]:
        when = parse_date(candidate)
        if when is not None and when <= limit:
            return when
    return None
