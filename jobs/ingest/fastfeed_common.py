"""What jobs.ingest.fastfeed (RSS) and jobs.ingest.fastatom (Atom) share: feedparser's treatment of
values.

Every helper here mirrors one step feedparser applies, with feedparser's own functions where it
has them (its URL join, its date readers, its cp1252 table), so the fast readers' values are
feedparser's values. ``Unusual`` is how a reader says "ask feedparser instead".
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from lxml import etree

try:  # feedparser's own helpers: the values must come out as feedparser makes them
    from feedparser.datetimes import _parse_date
    from feedparser.html import _cp1252
    from feedparser.mixin import _FeedParserMixin
    from feedparser.urls import _urljoin

    looks_like_html: Callable[[str], bool] | None = _FeedParserMixin.looks_like_html
except ImportError:  # another feedparser release: always use feedparser itself
    looks_like_html = None

__all__ = [
    "MEDIA",
    "Unusual",
    "attributes",
    "date",
    "fix",
    "looks_like_html",
    "name_of",
    "no_attributes",
    "parser",
    "text_of",
    "urljoin",
]

MEDIA = ("http://search.yahoo.com/mrss/", "http://search.yahoo.com/mrss")
_C1 = re.compile("[\x80-\x9f]")


class Unusual(Exception):
    """The document is outside what this reader mirrors exactly; use feedparser."""


def urljoin(base: str, href: str) -> str:
    """feedparser's URL join (it also folds extra slashes after the scheme)."""
    joined: str = _urljoin(base, href)
    return joined


def parser() -> etree.XMLParser:
    """A new parser per document (lxml parsers must not be shared between threads, and the
    CPU pool may run parse jobs in threads)."""
    return etree.XMLParser(
        encoding="utf-8",  # the caller checked the body is UTF-8, whatever it declares
        resolve_entities=False,
        load_dtd=False,
        no_network=True,
        huge_tree=False,
        recover=False,
        remove_comments=True,
        remove_pis=True,
        collect_ids=False,
    )


def name_of(el: Any) -> tuple[str | None, str]:
    """(namespace, lower-cased local name): feedparser lower-cases element names."""
    tag = el.tag
    found = _NAMES.get(tag)
    if found is None:
        qname = etree.QName(el)
        found = (qname.namespace, qname.localname.lower())
        if len(_NAMES) < 1000:  # the handful of names feeds use; never unbounded
            _NAMES[tag] = found
    return found


_NAMES: dict[str, tuple[str | None, str]] = {}


def text_of(el: Any) -> str:
    """The element's text, stripped like feedparser's; markup inside means Unusual (feedparser
    would serialize it as XHTML)."""
    if len(el):
        raise Unusual(f"<{el.tag}> holds elements")
    return (el.text or "").strip()


def fix(value: str) -> str:
    """What feedparser does to every value of a UTF-8 document: text that is UTF-8 read as
    Latin-1 is repaired, and C1 controls become the cp1252 characters they were meant as."""
    if value.isascii():
        return value  # both steps leave ASCII as it is
    try:
        value = value.encode("iso-8859-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        pass
    return value.translate(_cp1252) if _C1.search(value) else value


def no_attributes(el: Any) -> None:
    if el.attrib:
        raise Unusual(f"<{el.tag}> with attributes")


def attributes(el: Any) -> dict[str, str]:
    """Attributes as feedparser passes them on: names lower-cased, rel and type values too."""
    out: dict[str, str] = {}
    for key, value in el.attrib.items():
        name = key.lower()
        if name.startswith("{"):
            raise Unusual("namespaced attribute")
        out[name] = value.lower() if name in ("rel", "type") else value
    return out


_RFC822 = re.compile(
    r"(?:(?:mon|tue|wed|thu|fri|sat|sun), )?(\d{1,2}) "
    r"(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec) (\d{4}) "
    r"(\d{2}):(\d{2}):(\d{2}) (?:([+-])(\d{2})(\d{2})|gmt|ut|utc|z)",
    re.IGNORECASE,
)
_MONTHS = {m: i for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split(), 1)}


def date(value: str) -> time.struct_time | None:
    """feedparser's date for ``value``: an ordinary RFC 822 date ("Tue, 05 Mar 2024 08:30:00
    +0700", what RSS asks for) is computed here as feedparser's RFC 822 reader computes it;
    anything else goes to feedparser's own chain of date readers."""
    m = _RFC822.fullmatch(value)
    if m:
        day, month, year, hour, minute, second, sign, tz_h, tz_m = m.groups()
        try:
            stamp = datetime(
                int(year), _MONTHS[month.lower()], int(day), int(hour), int(minute), int(second)
            )
            offset = timedelta(hours=int(tz_h), minutes=int(tz_m)) if sign else timedelta(0)
            return (stamp + offset if sign == "-" else stamp - offset).utctimetuple()
        except (ValueError, OverflowError):
            pass
    parsed: time.struct_time | None = _parse_date(value)
    return parsed
