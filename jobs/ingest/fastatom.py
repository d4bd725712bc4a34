"""The fast reader's Atom 1.0 half: plain Atom read into exactly what feedparser would answer.

Same contract as jobs.ingest.fastfeed (which parses the document and calls ``read_atom`` for a root
``<feed>`` in the Atom namespace): mirror feedparser's handling of the elements feeds commonly
use, raise ``Unusual`` for anything else (xhtml or base64 content, out-of-line content, a
repeated title, an author with odd children, an unknown element or namespace...).

feedparser rules mirrored here, beyond those shared with RSS (strip, repair, cp1252):
- an Atom ``<id>`` is a permalink to feedparser: resolved against the base, and the link when
  no alternate HTML ``<link>`` is given (for the feed as for entries);
- the link is the last ``<link>`` whose rel is alternate (the default) and type HTML (the
  default), its href resolved; ``rel="enclosure"`` links are the enclosures;
- titles, summaries and contents are text unless ``type="html"``; no guessing as in RSS;
- the author is "name (email)", the name, or the email, taken raw (feedparser does not repair
  those two);
- a summary absent means the content's value, as feedparser copies it.
"""

from __future__ import annotations

from typing import Any

from jobs.ingest.fastfeed_common import (
    MEDIA,
    Unusual,
    attributes,
    date,
    fix,
    name_of,
    no_attributes,
    text_of,
    urljoin,
)

__all__ = ["read_atom"]

_TYPES = {
    "text": "text/plain",
    "text/plain": "text/plain",
    "html": "text/html",
    "text/html": "text/html",
}
_FEED_OTHER = frozenset({"updated", "subtitle", "rights", "generator", "icon", "logo", "category"})


def read_atom(root: Any, base: str) -> dict[str, Any]:
    """feedparser's result for an Atom document whose root is ``root``, or ``Unusual``."""
    if set(root.attrib) - {"{http://www.w3.org/XML/1998/namespace}lang"}:
        raise Unusual("feed attributes")
    feed: dict[str, Any] = {}
    entries: list[dict[str, Any]] = []
    seen: set[str] = set()
    links: list[str] = []
    for el in root:
        ns, name = name_of(el)
        if ns != _ATOM:
            raise Unusual(f"feed element {{{ns}}}{name}")
        if name == "entry":
            entries.append(_entry(el, base))
        elif name == "title":
            _once(seen, name)
            feed["title"] = fix(text_of(el))
            _content_type(el)
        elif name == "id":
            _once(seen, name)
            no_attributes(el)
            value = text_of(el)
            feed["id"] = fix(urljoin(base, value) if value else "")
        elif name == "link":
            href = _link(el, base, [])
            if href is not None:
                links.append(href)
        elif name == "author":
            _author(el)  # the feed's author: checked for shape, not needed
        elif name in _FEED_OTHER:
            if len(el):
                raise Unusual(f"feed <{name}> holds elements")
        else:
            raise Unusual(f"feed element <{name}>")
    if links:
        feed["link"] = links[-1]
    elif "id" in feed:
        feed["link"] = feed["id"]
    return {"feed": feed, "entries": entries, "version": "atom10", "bozo": 0}


_ATOM = "http://www.w3.org/2005/Atom"


def _once(seen: set[str], name: str) -> None:
    if name in seen:
        raise Unusual(f"<{name}> repeated")
    seen.add(name)


def _content_type(el: Any) -> str:
    """The element's content type as feedparser maps it; Unusual for xhtml, base64 and src."""
    attrs = attributes(el)
    if set(attrs) - {"type", "{http://www.w3.org/XML/1998/namespace}lang"}:
        raise Unusual(f"<{el.tag}> attributes")
    kind = _TYPES.get(attrs.get("type", "text"))
    if kind is None:
        raise Unusual(f"<{el.tag}> of type {attrs.get('type')}")
    return kind


def _link(el: Any, base: str, enclosures: list[dict[str, str]]) -> str | None:
    """The href of an alternate HTML link (None for other links; enclosures are collected)."""
    if len(el) or (el.text or "").strip():
        raise Unusual("link with content")
    attrs = attributes(el)
    rel = attrs.setdefault("rel", "alternate")
    attrs.setdefault("type", "application/atom+xml" if rel == "self" else "text/html")
    href = attrs.pop("url", None) or attrs.pop("uri", None) or attrs.get("href")
    if not href:
        raise Unusual("link without href")
    attrs["href"] = urljoin(base, href)
    if rel == "enclosure":
        enclosures.append(attrs)
    if rel == "alternate" and attrs["type"] in ("text/html", "application/xhtml+xml"):
        return attrs["href"]
    return None


def _author(el: Any) -> str:
    """What feedparser makes the author string of an <author>: see the module doc."""
    if el.attrib or (el.text or "").strip():
        raise Unusual("author attributes or text")
    parts: dict[str, str] = {}
    for child in el:
        ns, name = name_of(child)
        if ns != _ATOM or name not in ("name", "email", "uri") or name in parts:
            raise Unusual(f"author holds <{name}>")
        no_attributes(child)
        parts[name] = text_of(child)
        if (child.tail or "").strip():
            raise Unusual("author text")
    person, email = parts.get("name"), parts.get("email")
    if person and email:
        return f"{person} ({email})"
    return person or email or ""


def _entry(item: Any, base: str) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    seen: set[str] = set()
    links: list[str] = []
    enclosures: list[dict[str, str]] = []
    tags: list[dict[str, Any]] = []
    content: str | None = None
    content_type = ""
    for el in item:
        ns, name = name_of(el)
        if ns in MEDIA and name in ("content", "thumbnail"):
            if len(el) or (el.text or "").strip():
                raise Unusual("media element with content")
            field = "media_content" if name == "content" else "media_thumbnail"
            entry.setdefault(field, []).append(attributes(el))
            continue
        if ns != _ATOM:
            raise Unusual(f"entry element {{{ns}}}{name}")
        if name in ("title", "id", "summary", "content", "published", "updated", "author"):
            _once(seen, name)
        if name == "title":
            kind = _content_type(el)
            entry["title"] = fix(text_of(el))
            entry["title_detail"] = {"type": kind, "base": base}
        elif name == "id":
            no_attributes(el)
            value = text_of(el)
            entry["id"] = fix(urljoin(base, value) if value else "")
        elif name == "link":
            href = _link(el, base, enclosures)
            if href is not None:
                links.append(href)
        elif name == "summary":
            kind = _content_type(el)
            entry["summary"] = fix(text_of(el))
            entry["summary_detail"] = {"type": kind, "base": base}
        elif name == "content":
            content_type = _content_type(el)
            content = fix(text_of(el))
            entry["content"] = [{"type": content_type, "value": content, "base": base}]
        elif name in ("published", "updated"):
            no_attributes(el)
            entry[f"{name}_parsed"] = date(fix(text_of(el)))
        elif name == "author":
            entry["author"] = _author(el)
        elif name == "category":
            if len(el) or (el.text or "").strip():
                raise Unusual("category with content")
            attrs = attributes(el)
            tag = {
                "term": attrs.get("term"),
                "scheme": attrs.get("scheme", attrs.get("domain")),
                "label": attrs.get("label"),
            }
            if (tag["term"] or tag["scheme"] or tag["label"]) and tag not in tags:
                tags.append(tag)
        elif name == "rights":
            _content_type(el)
            text_of(el)
        else:
            raise Unusual(f"entry element <{name}>")
    if links:
        entry["link"] = links[-1]
    elif "id" in entry:
        entry["link"] = entry["id"]  # feedparser: an Atom id is a permalink
    if enclosures:
        entry["enclosures"] = enclosures
    if "summary" not in entry and content is not None:
        entry["summary"] = content  # feedparser copies text or HTML content into the summary
    entry["tags"] = tags
    return entry
