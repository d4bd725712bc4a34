"""Polling: fetch each due feed, parse, decide what is new, summarize once, store.

I/O (fetch, storage) stays here and on the event loop; decisions are the pure functions of
jobs.decide; parsing and summarizing are CPU work and run in a process pool, because feedparser
costs ~5.5 ms per ordinary feed (a 500-feed poll is seconds of CPU: both cores, not one thread
holding the GIL) and ~6 s/MB on broken XML (a hostile feed must not stall anything else).

Politeness: at most ``concurrency`` feeds in flight overall and ``per_host`` per host name, feeds
taken in an order that interleaves hosts (so one big portal does not hold every slot), and the
next poll honours what the server asked for within the operator's bounds (jobs.decide).

Storage: a feed's articles are written in one transaction as soon as it is parsed; the feeds'
own bookkeeping (last success, validators, next poll, error counts) is batched across feeds and
flushed before ``poll`` returns, since hundreds of 304s would otherwise cost a transaction each.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from jobs.decide import (
    DEFAULT_BOUNDS,
    PollBounds,
    backlog_flags,
    cache_max_age,
    host_of,
    interleave_by_host,
    next_poll_after_failure,
    next_poll_after_success,
    normalize_link,
    retry_after,
    select_new,
    server_asked_to_wait,
    unique_links,
)
from jobs.fetch import fetch_feed
from jobs.parse import FeedParseError, ParsedEntry, ParsedFeed, parse_feed
from jobs.summarize import summarize
from jobs.text import html_to_text
from storage.feeds import PollFailure, PollSuccess
from storage.records import Feed, NewArticle

if TYPE_CHECKING:
    import httpx

    from storage.store import Store

log = logging.getLogger(__name__)
T = TypeVar("T")
FLUSH_EVERY = 200  # feed records per bookkeeping transaction


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


# -- CPU work, run in worker processes (module-level functions: they are pickled by name) ------


def to_new_article(entry: ParsedEntry, summary_chars: int) -> NewArticle:
    """Extract plain text and summarize one entry (CPU only)."""
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


def parse_job(body: bytes, url: str, headers: Mapping[str, str]) -> ParsedFeed | str:
    """parse_feed in a worker; a FeedParseError comes back as its message (exceptions with
    keyword-only arguments do not survive pickling intact)."""
    try:
        return parse_feed(body, url=url, headers=headers)
    except FeedParseError as err:
        return str(err)


def summarize_job(entries: Sequence[ParsedEntry], summary_chars: int) -> list[NewArticle]:
    return [to_new_article(e, summary_chars) for e in entries]


# -- the pool ------------------------------------------------------------------------------------


class CpuDeadline(Exception):
    """A CPU job overran its deadline or killed its worker; the message is for the feed."""


class CpuPool:
    """A process pool with a per-job deadline, recycled when a job hangs or crashes a worker.

    A running job cannot be cancelled in a ProcessPoolExecutor, so a job past its deadline gets
    its whole pool replaced: the old workers are killed and jobs that were running there beside
    it are retried once on the new pool. Jobs are admitted only as workers are free, so the
    deadline measures running time, not time spent queueing behind other feeds.

    ``workers=0`` runs jobs in a thread instead (no deadline enforcement): for environments
    where processes cannot be started.
    """

    def __init__(self, workers: int, deadline: float) -> None:
        self._workers = workers
        self._deadline = deadline
        self._executor: ProcessPoolExecutor | None = None
        self._slots = asyncio.Semaphore(max(1, workers))

    def _current(self) -> ProcessPoolExecutor:
        if self._executor is None:
            # forkserver: workers fork from a clean, single-threaded server that has imported
            # this module once, so they start fast and never inherit the loop's threads/locks.
            methods = multiprocessing.get_all_start_methods()
            ctx = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
            if "forkserver" in methods:
                ctx.set_forkserver_preload([__name__])
            self._executor = ProcessPoolExecutor(max_workers=self._workers, mp_context=ctx)
        return self._executor

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        if self._workers <= 0:
            return await asyncio.to_thread(fn, *args)
        async with self._slots:
            for attempt in (1, 2):
                executor = self._current()
                future = asyncio.wrap_future(executor.submit(fn, *args))
                try:
                    return await asyncio.wait_for(future, self._deadline)
                except TimeoutError:
                    self._discard(executor)
                    raise CpuDeadline(
                        f"reading the feed took longer than {self._deadline:g} s and was stopped "
                        "(the feed is very large or badly broken)"
                    ) from None
                except BrokenProcessPool:
                    self._discard(executor)
                    if attempt == 2:
                        raise CpuDeadline(
                            "the feed reader crashed on this feed (out of memory or a fatal "
                            "parser error)"
                        ) from None
        raise AssertionError("unreachable")

    def _discard(self, executor: ProcessPoolExecutor) -> None:
        if self._executor is executor:
            self._executor = None
        processes: dict[int, Any] = getattr(executor, "_processes", None) or {}
        for process in list(processes.values()):
            process.kill()
        executor.shutdown(wait=False, cancel_futures=True)

    async def aclose(self) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.to_thread(executor.shutdown, wait=True, cancel_futures=True)


# -- the poller ----------------------------------------------------------------------------------


class Poller:
    """Polls feeds. Create once, ``await aclose()`` at the end (it owns worker processes)."""

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
        concurrency: int = 50,
        per_host: int = 4,
        bounds: PollBounds = DEFAULT_BOUNDS,
        workers: int | None = None,
        parse_timeout: float = 20.0,
        fetch_timeout: float = 30.0,
    ) -> None:
        self._store = store
        self._client = client
        self._clock = clock
        self._interval = interval
        self._backlog = backlog_limit
        self._summary_chars = summary_chars
        self._max_bytes = max_bytes
        self._concurrency = max(1, concurrency)
        self._gate = asyncio.Semaphore(self._concurrency)
        self._per_host = per_host
        self._hosts: dict[str, asyncio.Semaphore] = {}
        self._bounds = bounds
        self._fetch_timeout = fetch_timeout
        self._cpu = CpuPool((os.cpu_count() or 1) if workers is None else workers, parse_timeout)
        self._successes: list[PollSuccess] = []
        self._failures: list[PollFailure] = []
        # Links of articles chosen as new by a poll in progress but perhaps not stored yet: two
        # feeds of one portal listing one article in the same poll must not both store it.
        self._claimed: set[str] = set()
        self._active = 0

    async def aclose(self) -> None:
        await self._cpu.aclose()

    async def poll_due(self) -> PollReport:
        feeds = await self._store.feeds.due(self._clock())
        return await self.poll(feeds)

    async def poll(self, feeds: Sequence[Feed]) -> PollReport:
        """Poll ``feeds`` with bounded concurrency; every outcome is stored before returning."""
        outcomes: list[FeedOutcome | None] = [None] * len(feeds)
        order: Iterator[int] = iter(interleave_by_host([f.url for f in feeds]))

        async def lane() -> None:  # `concurrency` lanes, not one task per feed: flat memory
            for i in order:
                outcomes[i] = await self._guarded(feeds[i])

        self._active += 1
        try:
            await asyncio.gather(*(lane() for _ in range(min(self._concurrency, len(feeds)))))
            await self._flush()
        finally:
            self._active -= 1
            if not self._active:
                self._claimed.clear()
        return PollReport([o for o in outcomes if o is not None])

    async def poll_feed(self, feed: Feed) -> FeedOutcome:
        """Poll one feed and store everything about it now."""
        outcome = await self._poll_one(feed)
        await self._flush()
        return outcome

    async def _guarded(self, feed: Feed) -> FeedOutcome:
        async with self._gate:
            try:
                outcome = await self._poll_one(feed)
            except Exception as exc:  # one feed must never stop the others
                log.exception("poll crashed", extra={"feed": feed.id})
                outcome = self._failed(feed, f"internal error: {type(exc).__name__}")
        if len(self._successes) + len(self._failures) >= FLUSH_EVERY:
            await self._flush()
        return outcome

    def _host_gate(self, url: str) -> AbstractAsyncContextManager[object]:
        host = host_of(url)
        if not host:  # file:// feeds
            return nullcontext()
        gate = self._hosts.get(host)
        if gate is None:
            gate = self._hosts[host] = asyncio.Semaphore(self._per_host)
        return gate

    async def _poll_one(self, feed: Feed) -> FeedOutcome:
        async with self._host_gate(feed.url):
            result = await fetch_feed(
                self._client,
                feed.url,
                etag=feed.etag,
                last_modified=feed.last_modified,
                max_bytes=self._max_bytes,
                timeout=self._fetch_timeout,
            )
        now = self._clock()
        if result.error:
            wait = server_asked_to_wait(result.status, result.headers, now)
            return self._failed(feed, result.error, retry_after=wait)
        interval = feed.poll_interval or self._interval
        hints: dict[str, Any] = dict(
            max_age=cache_max_age(result.headers),
            retry_after=retry_after(result.headers, now),
            bounds=self._bounds,
        )
        if result.status == 304 or result.body is None:
            self._successes.append(
                PollSuccess(
                    feed.id,
                    now=now,
                    next_poll_at=next_poll_after_success(now, interval, **hints),
                    etag=result.etag or feed.etag,
                    last_modified=result.last_modified or feed.last_modified,
                )
            )
            return FeedOutcome(feed.id, not_modified=True)
        try:
            parsed = await self._cpu.run(parse_job, result.body, result.url, dict(result.headers))
        except CpuDeadline as err:
            return self._failed(feed, str(err))
        if isinstance(parsed, str):
            return self._failed(feed, parsed)
        stored = await self._store_new(feed, parsed.entries, now)
        next_poll = next_poll_after_success(now, interval, ttl_minutes=parsed.ttl_minutes, **hints)
        if result.permanent_redirect:  # rare, and may collide with another feed: alone
            await self._store.feeds.record_success(
                feed.id,
                now=now,
                next_poll_at=next_poll,
                etag=result.etag,
                last_modified=result.last_modified,
                new_url=result.permanent_redirect,
                name=parsed.title or None,
            )
        else:
            self._successes.append(
                PollSuccess(
                    feed.id,
                    now=now,
                    next_poll_at=next_poll,
                    etag=result.etag,
                    last_modified=result.last_modified,
                    name=parsed.title or None,
                )
            )
        if parsed.warning:
            log.warning("feed has problems", extra={"feed": feed.id, "warning": parsed.warning})
        log.info("feed polled", extra={"feed": feed.id, "new": stored})
        return FeedOutcome(feed.id, new=stored)

    async def _store_new(self, feed: Feed, entries: Sequence[ParsedEntry], now: datetime) -> int:
        """Decide what is new, summarize only that, store it; returns how many were stored."""
        articles = self._store.articles
        known_guids = await articles.known_guids(feed.id, (e.guid for e in entries))
        known_links = await articles.known_links(unique_links(entries))
        # No await between reading the claims and adding ours: another feed's check either
        # sees our claim or our stored rows.
        fresh = select_new(entries, known_guids, known_links | self._claimed)
        self._claimed.update(unique_links(fresh))
        if not fresh:
            return 0
        seen = backlog_flags(fresh, first_poll=feed.last_success_at is None, keep=self._backlog)
        try:
            items = await self._cpu.run(summarize_job, fresh, self._summary_chars)
        except CpuDeadline as err:  # a summary must never cost the articles themselves
            log.warning("summaries failed", extra={"feed": feed.id, "error": str(err)})
            items = [_without_summary(e) for e in fresh]
        stored = await articles.add(feed.id, items, now=now, seen=seen)
        return len(stored)

    def _failed(self, feed: Feed, error: str, *, retry_after: float | None = None) -> FeedOutcome:
        now = self._clock()
        errors = feed.consecutive_errors + 1
        self._failures.append(
            PollFailure(
                feed.id,
                now=now,
                error=error,
                next_poll_at=next_poll_after_failure(
                    now,
                    feed.poll_interval or self._interval,
                    errors,
                    retry_after=retry_after,
                    bounds=self._bounds,
                ),
            )
        )
        log.warning("feed failed", extra={"feed": feed.id, "error": error, "errors": errors})
        return FeedOutcome(feed.id, error=error)

    async def _flush(self) -> None:
        successes, self._successes = self._successes, []
        failures, self._failures = self._failures, []
        await self._store.feeds.record_polls(successes, failures)


def _without_summary(entry: ParsedEntry) -> NewArticle:
    return NewArticle(
        guid=entry.guid[:1000],
        link=normalize_link(entry.link),
        title=entry.title or "—",
        summary=None,
        body=None,
        image_url=entry.image_url,
        categories=entry.categories,
        published_at=entry.published,
    )
