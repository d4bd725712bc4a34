"""OPML import and export of the feed list. Pure functions: bytes in, records out, and back.

Why: staff move feed lists between bantin, desktop readers and other portals' bots as OPML, the
one format every feed reader speaks. The folders of a reader's OPML (outlines without xmlUrl
holding feed outlines) become bantin's feed categories, nested folders joined with " / ", and
export writes them back as folders, so export → import keeps names and categories.

An OPML file comes from outside, so it is hostile input: a DOCTYPE or ENTITY declaration (the
billion-laughs and external-entity tricks) is refused outright rather than expanded, the file is
parsed by expat with no entity or DTD handling, and only http(s) feed URLs are taken (a file://
URL in someone else's OPML must not make the poller read this server's files).

A feed behind HTTP basic auth is stored with `user:password@` in its URL; export leaves the
credentials out (the file goes to other readers, other portals, chat attachments) unless the
operator asks for a backup that keeps them (`keep_credentials`).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlsplit
from xml.parsers import expat

from jobs.enrich.text import normalize
from storage.urls import shown_url

__all__ = ["CATEGORY_SEPARATOR", "OpmlError", "OpmlFeed", "OpmlImport", "parse_opml", "to_opml"]

CATEGORY_SEPARATOR = " / "
MAX_URL = 2000  # storage column sizes
MAX_NAME = 300
MAX_CATEGORY = 200


class OpmlError(ValueError):
    """The file is not OPML we can read; the message says why, for the person importing it."""


@dataclass(frozen=True)
class OpmlFeed:
    url: str
    name: str | None
    category: str | None


@dataclass(frozen=True)
class OpmlImport:
    """Feeds found (unique URLs, document order) and outlines skipped for a bad xmlUrl."""

    feeds: tuple[OpmlFeed, ...]
    invalid: tuple[str, ...]


def _refuse(*_args: Any) -> None:
    raise OpmlError("the file declares a DOCTYPE or entities, which OPML never needs; refused")


def parse_opml(data: bytes) -> OpmlImport:
    """Every outline with an xmlUrl, with its name (title, else text) and folder path as category.

    Raises OpmlError for XML that is malformed, declares a DOCTYPE/entities, or is not OPML.
    """
    parser = expat.ParserCreate()
    parser.StartDoctypeDeclHandler = _refuse
    parser.EntityDeclHandler = _refuse
    parser.UnparsedEntityDeclHandler = _refuse
    parser.ExternalEntityRefHandler = _refuse  # type: ignore[assignment]
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)

    feeds: dict[str, OpmlFeed] = {}
    invalid: list[str] = []
    folders: list[str | None] = []  # one per open <outline>: its folder name, None for a feed
    root: list[str] = []

    def start(tag: str, attrs: dict[str, str]) -> None:
        if not root:
            root.append(tag)
            if tag.lower() != "opml":
                raise OpmlError(f"not an OPML file (the root element is <{tag}>, not <opml>)")
        if tag.lower() != "outline":
            return
        lowered = {k.lower(): v for k, v in attrs.items()}
        url = (lowered.get("xmlurl") or "").strip()
        label = _clean(lowered.get("title") or "") or _clean(lowered.get("text") or "")
        if not url:
            folders.append(label or None)
            return
        folders.append(None)
        if not _usable_url(url):
            invalid.append(url[:200])
            return
        if url in feeds:
            return
        path = [f for f in folders[:-1] if f]
        category = CATEGORY_SEPARATOR.join(path) or _clean(
            (lowered.get("category") or "").split(",")[0].strip().strip("/").replace("/", " / ")
        )
        name = label if label and label not in (url, shown_url(url)) else None
        feeds[url] = OpmlFeed(url, _cap(name, MAX_NAME), _cap(category or None, MAX_CATEGORY))

    def end(tag: str) -> None:
        if tag.lower() == "outline" and folders:
            folders.pop()

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise OpmlError(
            f"not valid XML: {expat.ErrorString(exc.code)} at line {exc.lineno}"
        ) from None
    if not root:
        raise OpmlError("the file is empty")
    return OpmlImport(tuple(feeds.values()), tuple(invalid))


def _clean(text: str) -> str:
    return normalize(text)


def _cap(text: str | None, limit: int) -> str | None:
    return text[:limit] if text else None


def _usable_url(url: str) -> bool:
    if len(url) > MAX_URL:
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)


def to_opml(
    feeds: Iterable[OpmlFeed],
    *,
    title: str = "bantin",
    now: datetime | None = None,
    keep_credentials: bool = False,
) -> bytes:
    """OPML 2.0 (UTF-8) with categories as folder outlines ("A / B" nests B inside A).

    A feed without a name gets its URL as text (OPML requires text); import reads that back as
    no name. Feeds keep their order within a folder; folders appear in first-seen order.
    Addresses lose their `user:password@` unless `keep_credentials` (then only xmlUrl keeps
    them: the text a reader shows never does).
    """
    opml = ET.Element("opml", version="2.0")
    head = ET.SubElement(opml, "head")
    ET.SubElement(head, "title").text = title
    if now is not None:
        ET.SubElement(head, "dateCreated").text = format_datetime(now)
    body = ET.SubElement(opml, "body")
    folders: dict[tuple[str, ...], ET.Element] = {(): body}

    def folder(path: tuple[str, ...]) -> ET.Element:
        if path not in folders:
            parent = folder(path[:-1])
            folders[path] = ET.SubElement(parent, "outline", text=path[-1], title=path[-1])
        return folders[path]

    for feed in feeds:
        parts = (feed.category or "").split(CATEGORY_SEPARATOR)
        path = tuple(p.strip() for p in parts if p.strip())
        shown = shown_url(feed.url)
        label = feed.name or shown
        address = feed.url if keep_credentials else shown
        ET.SubElement(folder(path), "outline", type="rss", text=label, title=label, xmlUrl=address)
    ET.indent(opml, space="  ")
    return ET.tostring(opml, encoding="utf-8", xml_declaration=True) + b"\n"
