"""A fast reader for plain, well-formed RSS 2.0 and Atom, answering what feedparser would.

Why: feedparser is a SAX parser driving Python callbacks for every tag and text run, which made
parsing most of a poll's CPU (bench/README.md). lxml builds the same document's tree in C in a
fraction of that. This module reads that tree into the shape of
feedparser's result (``{"feed": ..., "entries": [...], "version": ...}`` with the same keys and
the same values), so jobs.ingest.parse keeps one code path from there on.

"The same values" is the contract, so the reader is deliberately narrow: it mirrors what
feedparser does to every value (strip, resolve link/guid against the base, repair UTF-8 read as
Latin-1, map C1 controls to cp1252, guess whether a plain title is really HTML, parse dates with
feedparser's own date parser) for the elements portals actually use, and raises ``Unusual`` for
anything else: a DOCTYPE, xml:base, an unknown element or namespace, markup inside a text
element, a repeated title or link, RSS 1.0, a legacy charset, XML that is not well-formed.
Atom documents are read by jobs.ingest.fastatom under the same contract.
The caller then asks feedparser, so an odd feed costs what it always did and is read as before.

Hostile input: entity declarations were refused before this point (jobs.ingest.parse), and the lxml
parser here never resolves entities, loads a DTD, touches the network or accepts huge trees.
"""

from __future__ import annotations

import re
from typing import Any

from lxml import etree

from jobs.ingest.fastatom import read_atom
from jobs.ingest.fastfeed_common import (
    MEDIA,
    Unusual,
    attributes,
    date,
    fix,
    looks_like_html,
    name_of,
    no_attributes,
    parser,
    text_of,
    urljoin,
)

__all__ = ["Unusual", "read_feed"]


_CONTENT = "http://purl.org/rss/1.0/modules/content/"
_DC = "http://purl.org/dc/elements/1.1/"
_ATOM = "http://www.w3.org/2005/Atom"
_SY = "http://purl.org/rss/1.0/modules/syndication/"
_WFW = "http://wellformedweb.org/CommentAPI/"
_SLASH = "http://purl.org/rss/1.0/modules/slash/"
_XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"
_LINK_ENTITY = re.compile("&([A-Za-z0-9_]+);")

# RSS elements of a channel that feedparser never turns into its title, link or ttl, as long as
# they hold text only (image and textInput hold a few known children, checked separately).
_CHANNEL_OTHER = frozenset(
    "description language copyright managingeditor webmaster pubdate lastbuilddate category "
    "generator docs cloud rating".split()
)
_CHANNEL_GROUPS = {
    # feedparser leaves its image/textinput context on any other plain child, after which a
    # <title> inside would become the feed's title: only these children keep it mirrored.
    "image": frozenset({"title", "url", "link", "width", "height", "description"}),
    "textinput": frozenset({"title", "description", "name", "link"}),
    "skiphours": frozenset({"hour"}),
    "skipdays": frozenset({"day"}),
}
_ITEM_IGNORED = frozenset({(None, "comments"), (_WFW, "commentrss"), (_SLASH, "comments")})
_ITEM_NAMESPACED = {
    (_CONTENT, "encoded"): "content:encoded",
    (_DC, "creator"): "author",  # feedparser reads dc:creator as author, one value for both
    (_DC, "date"): "dc:date",
}
_SINGLE = frozenset(
    {"title", "link", "guid", "description", "content:encoded", "pubdate", "dc:date", "author"}
)


def read_feed(body: bytes, base: str) -> dict[str, Any]:
    """feedparser's result for ``body`` (UTF-8 RSS 2.0 or Atom 1.0), or ``Unusual``.

    ``base`` is the document's URL as feedparser was given it (its Content-Location).
    """
    if looks_like_html is None:
        raise Unusual("feedparser helpers unavailable")
    try:
        root = etree.fromstring(body, parser())
    except (etree.LxmlError, ValueError) as exc:
        raise Unusual(str(exc)) from None
    tree = root.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise Unusual("DOCTYPE")
    for el in root.iter():
        if el.attrib and (_XML_BASE in el.attrib or "base" in el.attrib):
            raise Unusual("xml:base")
    if root.tag == _ATOM_FEED:
        return read_atom(root, base)
    if root.tag != "rss":
        raise Unusual(f"root element {root.tag!r}")
    channels = list(root)
    if len(channels) != 1 or channels[0].tag != "channel":
        raise Unusual("not one <channel>")
    return _channel(channels[0], base, _version(root.get("version")))


_ATOM_FEED = "{http://www.w3.org/2005/Atom}feed"


def _version(attr: str | None) -> str:
    known = {"0.91": "rss091u", "0.92": "rss092", "0.93": "rss093", "0.94": "rss094"}
    if attr in known:
        return known[attr]
    if attr and attr.startswith("2."):
        return "rss20"
    return "rss"


def _channel(channel: Any, base: str, version: str) -> dict[str, Any]:
    feed: dict[str, Any] = {}
    entries: list[dict[str, Any]] = []
    seen: set[str] = set()
    for el in channel:
        ns, name = name_of(el)
        if ns is None and name == "item":
            entries.append(_item(el, base))
            continue
        if ns is None and name in ("title", "link", "ttl"):
            if name in seen or el.attrib:
                raise Unusual(f"channel <{name}> repeated or with attributes")
            seen.add(name)
            value = text_of(el)
            if name == "link":
                value = _LINK_ENTITY.sub(r"&\g<1>", fix(urljoin(base, value) if value else ""))
            else:
                value = fix(value)
            feed[name] = value
        elif ns is None and name in _CHANNEL_GROUPS:
            allowed = _CHANNEL_GROUPS[name]
            for child in el:
                child_ns, child_name = name_of(child)
                if child_ns is not None or child_name not in allowed or len(child):
                    raise Unusual(f"<{name}> holds <{child_name}>")
        elif ns is None and name in _CHANNEL_OTHER:
            if len(el):
                raise Unusual(f"channel <{name}> holds elements")
        elif ns == _ATOM and name == "link":
            # rel="self" / "hub" never become the feed's link; an alternate one would.
            if (el.get("rel") or "alternate").lower() == "alternate" or len(el):
                raise Unusual("atom:link alternate")
        elif ns == _SY and not len(el):
            continue
        else:
            raise Unusual(f"channel element {{{ns}}}{name}")
    return {"feed": feed, "entries": entries, "version": version, "bozo": 0}


def _item(item: Any, base: str) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    seen: set[str] = set()
    tags: list[dict[str, Any]] = []
    guid_is_link = False
    content: str | None = None
    for el in item:
        ns, name = name_of(el)
        key = name if ns is None else _ITEM_NAMESPACED.get((ns, name), "")
        if key in _SINGLE:
            if key in seen:
                raise Unusual(f"item <{name}> repeated")
            seen.add(key)
        if key == "title":
            no_attributes(el)
            raw = text_of(el)
            # An RSS title is text unless it looks like HTML (feedparser's guess, kept).
            kind = "text/html" if raw and looks_like_html(raw) else "text/plain"  # type: ignore[misc]
            entry["title"] = fix(raw)
            entry["title_detail"] = {"type": kind, "base": base}
        elif key == "link":
            no_attributes(el)
            value = text_of(el)
            value = fix(urljoin(base, value) if value else "")
            entry["link"] = _LINK_ENTITY.sub(r"&\g<1>", value.replace("&amp;", "&"))
        elif key == "guid":
            attrs = attributes(el)
            if set(attrs) - {"ispermalink"}:
                raise Unusual("guid attributes")
            guid_is_link = attrs.get("ispermalink", "true") == "true"
            value = text_of(el)
            if guid_is_link and value:
                value = urljoin(base, value)
            entry["id"] = fix(value)
        elif key == "description":
            no_attributes(el)
            entry["summary"] = fix(text_of(el))
            entry["summary_detail"] = {"type": "text/html", "base": base}
        elif key == "content:encoded":
            no_attributes(el)
            content = fix(text_of(el))
            entry["content"] = [{"type": "text/html", "value": content, "base": base}]
        elif key in ("pubdate", "dc:date"):
            no_attributes(el)
            field = "published_parsed" if key == "pubdate" else "updated_parsed"
            entry[field] = date(fix(text_of(el)))
        elif key == "author":
            no_attributes(el)
            entry["author"] = fix(text_of(el))
        elif key == "category":
            no_attributes(el)
            term = fix(text_of(el))
            tag = {"term": term, "scheme": None, "label": None}
            if term and tag not in tags:
                tags.append(tag)
        elif key == "enclosure":
            entry.setdefault("enclosures", []).append(_enclosure(el))
        elif ns in MEDIA and name in ("content", "thumbnail"):
            if len(el) or (el.text or "").strip():
                raise Unusual("media element with content")
            field = "media_content" if name == "content" else "media_thumbnail"
            entry.setdefault(field, []).append(attributes(el))
        elif (ns, name) in _ITEM_IGNORED:
            if len(el):
                raise Unusual(f"item <{name}> holds elements")
        else:
            raise Unusual(f"item element {{{ns}}}{name}")
    if guid_is_link and "link" not in entry:
        entry["link"] = entry["id"]  # feedparser: a permalink guid is the link if none is given
    if "summary" not in entry and content is not None:
        entry["summary"] = content  # feedparser copies content into an absent summary
    entry["tags"] = tags
    return entry


def _enclosure(el: Any) -> dict[str, str]:
    if len(el):
        raise Unusual("enclosure holds elements")
    attrs = attributes(el)
    href = attrs.pop("url", None) or attrs.pop("uri", None) or attrs.get("href")
    attrs.pop("url", None)
    attrs.pop("uri", None)
    if href:
        attrs["href"] = href
    attrs["rel"] = "enclosure"
    return attrs
