"""Polling: fetch each due feed, parse, decide what is new, summarize once, store.

I/O (fetch, storage) stays here; parsing and summarizing run in worker threads so a large
poll does not stall the bot's event loop; decisions are the pure functions of jobs.decide.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import httpx

from jobs.decide import (
    backlog_flags,
    next_poll_after_failure,
    next_poll_after_success,
    normalize_link,
    select_new,
    unique_links,
)
from jobs.fetch import fetch_feed
from jobs.parse import FeedParseError, ParsedEntry, parse_feed
from jobs.summarize import summarize
from jobs.text import html_to_text
from storage.records import Feed, NewArticle
from storage.store import Store

log = logging.getLogger(__name__)


@dataclass
class FeedOutcome:
    feed_id: int
    new: int = 0
    error: str | None = None
    not_modified: bool = False


@dataclass
class PollReport:
    feeds: list[FeedOutcome] = field(default_factory=list)

    @property
    def new(self) -> int:
        return sum(f.new for f in self.feeds)

    @property
    def errors(self) -> list[FeedOutcome]:
        return [f for f in self.feeds if f.error]


def to_new_article(entry: ParsedEntry, summary_chars: int) -> NewArticle:
    """Extract plain text and summarize one entry (CPU only; run in a worker thread)."""
    content = html_to_text(entry.content_html) if entry.content_html else ""
    teaser = html_to_text(entry.summary_html) if entry.summary_html else ""
    body = content or teaser
    sapo = teaser if content and teaser else None
    summary = summarize(entry.title, body, sapo=sapo, max_chars=summary_chars)
    return NewArticle(
        guid=entry.guid[:1000],
        link=normalize_link(entry.link),
        title=entry.title or "—",
        summary=summary,
        body=body or None,
        image_url=entry.image_url,
        categories=entry.categories,
        published_at=entry.published,
    )


class Poller:
    def __init__(
        self,
        store: Store,
        client: httpx.AsyncClient,
        *,
        clock: Callable[[], datetime],
        interval: int = 300,
        backlog_limit: int = 1,
        summary_chars: int = 400,
        max_bytes: int = 10_000_000,
        concurrency: int = 20,
    ) -> None:
        self._store = store
        self._client = client
        self._clock = clock
        self._interval = interval
        self._backlog = backlog_limit
        self._summary_chars = summary_chars
        self._max_bytes = max_bytes
        self._gate = asyncio.Semaphore(concurrency)

    async def poll_due(self) -> PollReport:
        feeds = await self._store.feeds.due(self._clock())
        return await self.poll(feeds)

    async def poll(self, feeds: list[Feed]) -> PollReport:
        outcomes = await asyncio.gather(*(self._guarded(feed) for feed in feeds))
        return PollReport(list(outcomes))

    async def _guarded(self, feed: Feed) -> FeedOutcome:
        async with self._gate:
            try:
                return await self.poll_feed(feed)
            except Exception as exc:  # one feed must never stop the others
                log.exception("poll crashed", extra={"feed": feed.id})
                return await self._failed(feed, f"internal error: {type(exc).__name__}")

    async def poll_feed(self, feed: Feed) -> FeedOutcome:
        result = await fetch_feed(
            self._client,
            feed.url,
            etag=feed.etag,
            last_modified=feed.last_modified,
            max_bytes=self._max_bytes,
        )
        interval = feed.poll_interval or self._interval
        if result.error:
            return await self._failed(feed, result.error)
        now = self._clock()
        if result.status == 304 or result.body is None:
            await self._store.feeds.record_success(
                feed.id,
                now=now,
                next_poll_at=next_poll_after_success(now, interval),
                etag=result.etag or feed.etag,
                last_modified=result.last_modified or feed.last_modified,
            )
            return FeedOutcome(feed.id, not_modified=True)
        try:
            parsed = await asyncio.to_thread(
                parse_feed, result.body, url=result.url, headers=result.headers
            )
        except FeedParseError as err:
            return await self._failed(feed, str(err))
        entries = list(parsed.entries)
        known_guids = await self._store.articles.known_guids(feed.id, (e.guid for e in entries))
        known_links = await self._store.articles.known_links(unique_links(entries))
        fresh = select_new(entries, known_guids, known_links)
        seen = backlog_flags(fresh, first_poll=feed.last_success_at is None, keep=self._backlog)
        items = await asyncio.to_thread(
            lambda: [to_new_article(e, self._summary_chars) for e in fresh]
        )
        stored = await self._store.articles.add(feed.id, items, now=now, seen=seen)
        await self._store.feeds.record_success(
            feed.id,
            now=now,
            next_poll_at=next_poll_after_success(now, interval, ttl_minutes=parsed.ttl_minutes),
            etag=result.etag,
            last_modified=result.last_modified,
            new_url=result.permanent_redirect,
            name=parsed.title or None,
        )
        if parsed.warning:
            log.warning("feed has problems", extra={"feed": feed.id, "warning": parsed.warning})
        log.info("feed polled", extra={"feed": feed.id, "new": len(stored), "backlog": sum(seen)})
        return FeedOutcome(feed.id, new=len(stored))

    async def _failed(self, feed: Feed, error: str) -> FeedOutcome:
        now = self._clock()
        interval = feed.poll_interval or self._interval
        errors = await self._store.feeds.record_failure(
            feed.id,
            now=now,
            error=error,
            next_poll_at=next_poll_after_failure(now, interval, feed.consecutive_errors + 1),
        )
        log.warning("feed failed", extra={"feed": feed.id, "error": error, "errors": errors})
        return FeedOutcome(feed.id, error=error)
