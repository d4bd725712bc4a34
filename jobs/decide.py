"""Pure decisions of the poller: what is new, what is backlog, when a feed is next due.

No I/O here: everything takes `now` and plain values, and is tested table-driven.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from jobs.parse import ParsedEntry

MAX_BACKOFF = timedelta(days=1)
_TRACKING = ("utm_", "fbclid", "gclid", "zarsrc")


def normalize_link(link: str | None) -> str | None:
    """A comparable form of an article URL: scheme and host lower-cased, no fragment,
    no tracking parameters. Two feeds of one portal pointing at one article agree on it."""
    if not link:
        return None
    parts = urlsplit(link.strip())
    if not parts.scheme or not parts.netloc:
        return link.strip()
    query = urlencode(
        [
            (k, v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
            if not k.lower().startswith(_TRACKING)
        ]
    )
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", query, ""))


def select_new(
    entries: Sequence[ParsedEntry], known_guids: set[str], known_links: set[str]
) -> list[ParsedEntry]:
    """Entries not stored yet: unknown GUID, and (when it has one) an unknown link.

    The link check stops a portal that regenerates GUIDs, or lists one article in two feeds,
    from producing a second push.
    """
    out: list[ParsedEntry] = []
    guids: set[str] = set()
    links: set[str] = set()
    for entry in entries:
        link = normalize_link(entry.link)
        if entry.guid in known_guids or entry.guid in guids:
            continue
        if link and (link in known_links or link in links):
            continue
        guids.add(entry.guid)
        if link:
            links.add(link)
        out.append(entry)
    return out


def backlog_flags(entries: Sequence[ParsedEntry], *, first_poll: bool, keep: int) -> list[bool]:
    """`seen` flag per entry: on a feed's first poll everything but the newest `keep` is
    backlog, marked seen and never pushed."""
    if not first_poll:
        return [False] * len(entries)
    order = sorted(
        range(len(entries)),
        key=lambda i: (entries[i].published is not None, entries[i].published or datetime.min, -i),
        reverse=True,
    )
    fresh = set(order[:keep])
    return [i not in fresh for i in range(len(entries))]


def next_poll_after_success(
    now: datetime,
    interval: int,
    *,
    ttl_minutes: int | None = None,
    rnd: random.Random | None = None,
) -> datetime:
    """Interval with ±10 % jitter so many feeds do not all fall due together; an RSS <ttl>
    longer than the interval is respected up to six times the interval."""
    seconds = float(interval)
    if ttl_minutes:
        seconds = min(max(seconds, ttl_minutes * 60.0), interval * 6.0)
    jitter = (rnd or random).uniform(0.9, 1.1)
    return now + timedelta(seconds=seconds * jitter)


def next_poll_after_failure(now: datetime, interval: int, consecutive_errors: int) -> datetime:
    """Exponential backoff from the normal interval, capped at one day; never switched off."""
    delay = timedelta(seconds=interval * 2 ** min(20, max(0, consecutive_errors - 1)))
    return now + min(delay, MAX_BACKOFF)


def fallback_guid(link: str | None, title: str) -> str:
    return hashlib.sha1(f"{link}|{title}".encode()).hexdigest()


def unique_links(entries: Iterable[ParsedEntry]) -> set[str]:
    return {link for e in entries if (link := normalize_link(e.link))}
