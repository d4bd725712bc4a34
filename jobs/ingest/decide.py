"""Pure decisions of the poller: what is new, what is backlog, when a feed is next due.

No I/O here: everything takes `now` and plain values, and is tested table-driven.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from jobs.ingest.parse import ParsedEntry

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
    entries: Sequence[ParsedEntry],
    known_guids: set[str],
    known_links: set[str],
    *,
    normalized: bool = False,
) -> list[ParsedEntry]:
    """Entries not stored yet: unknown GUID, and (when it has one) an unknown link.

    The link check stops a portal that regenerates GUIDs, or lists one article in two feeds,
    from producing a second push. `normalized`: the entries' links are already in
    `normalize_link` form (the poll's parse workers do it), which saves the poller's event loop
    that work for every entry.
    """
    out: list[ParsedEntry] = []
    guids: set[str] = set()
    links: set[str] = set()
    for entry in entries:
        link = (entry.link or None) if normalized else normalize_link(entry.link)
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


@dataclass(frozen=True)
class PollBounds:
    """The operator's limits on how often one feed is asked (BANTIN_POLL_MIN/MAX_INTERVAL)."""

    min_interval: int = 60
    max_interval: int = 86400

    def clamp(self, seconds: float) -> float:
        return min(max(seconds, float(self.min_interval)), float(self.max_interval))


DEFAULT_BOUNDS = PollBounds()
_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d+)\"?\s*(?:,|$)", re.IGNORECASE)


def cache_max_age(headers: Mapping[str, str]) -> int | None:
    """Seconds from ``Cache-Control: max-age``; None when absent, or when no-store/no-cache
    says the answer must not be reused (then it is no hint about the next poll either)."""
    value = headers.get("cache-control", "")
    if not value or re.search(r"no-store|no-cache", value, re.IGNORECASE):
        return None
    m = _MAX_AGE.search(value)
    return int(m.group(1)) if m else None


def retry_after(headers: Mapping[str, str], now: datetime) -> float | None:
    """Seconds from ``Retry-After``: delta-seconds or an HTTP date; None if absent or garbled."""
    value = headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def next_poll_after_success(
    now: datetime,
    interval: int,
    *,
    ttl_minutes: int | None = None,
    max_age: float | None = None,
    retry_after: float | None = None,
    bounds: PollBounds = DEFAULT_BOUNDS,
    rnd: random.Random | None = None,
) -> datetime:
    """When to ask again after a good answer (200 or 304).

    The feed's interval, lengthened (never shortened) by what the server asked for: an RSS
    <ttl>, a Cache-Control max-age, a Retry-After; ±10 % jitter so feeds added together do not
    stay in lock-step; a Retry-After is a floor the jitter cannot undercut. Everything ends up
    within the operator's [min, max] bounds, which win over any server.
    """
    seconds = float(interval)
    if ttl_minutes:
        seconds = max(seconds, ttl_minutes * 60.0)
    if max_age:
        seconds = max(seconds, float(max_age))
    seconds *= (rnd or random).uniform(0.9, 1.1)
    if retry_after:
        seconds = max(seconds, retry_after)
    return now + timedelta(seconds=bounds.clamp(seconds))


def next_poll_after_failure(
    now: datetime,
    interval: int,
    consecutive_errors: int,
    *,
    retry_after: float | None = None,
    bounds: PollBounds = DEFAULT_BOUNDS,
) -> datetime:
    """When to try a failing feed again.

    Exponential backoff from the normal interval, capped at one day (or the operator's maximum
    if lower); never switched off. A 429/503 carrying Retry-After is the server telling us when:
    that wait (at least the normal interval) replaces the exponential guess. No jitter, so an
    operator can predict the next attempt from the error count.
    """
    if retry_after is not None:
        seconds = max(float(interval), retry_after)
    else:
        seconds = interval * 2.0 ** min(20, max(0, consecutive_errors - 1))
        seconds = min(seconds, MAX_BACKOFF.total_seconds())
    return now + timedelta(seconds=bounds.clamp(seconds))


def host_of(url: str) -> str:
    """The lower-cased host name a politeness limit applies to ('' for file:// and junk)."""
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def interleave_by_host(urls: Sequence[str]) -> list[int]:
    """Indexes of ``urls`` in round-robin order over hosts, each host's own order kept.

    Feeds are taken in this order by a fixed number of lanes: when one portal has 40 feeds and
    a per-host limit of 4, its feeds spread through the poll instead of parking most lanes on
    that host's limit while other hosts wait.
    """
    queues: dict[str, list[int]] = {}
    for i, url in enumerate(urls):
        queues.setdefault(host_of(url), []).append(i)
    out: list[int] = []
    columns = [iter(q) for q in queues.values()]
    while columns:
        alive = []
        for column in columns:
            index = next(column, None)
            if index is not None:
                out.append(index)
                alive.append(column)
        columns = alive
    return out


def unique_links(entries: Iterable[ParsedEntry]) -> set[str]:
    return {link for e in entries if (link := normalize_link(e.link))}


def server_asked_to_wait(status: int, headers: Mapping[str, str], now: datetime) -> float | None:
    """Seconds a 429 (too many requests) or 503 (unavailable) answer asked us to wait.

    Such an answer still counts as a failed poll (so a portal that keeps refusing us is
    reported to staff like any other failing feed, never silently), but its next attempt
    follows the server's Retry-After instead of the exponential backoff.
    """
    if status not in (429, 503):
        return None
    return retry_after(headers, now)
