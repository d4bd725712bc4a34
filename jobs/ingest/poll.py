"""Polling: fetch each due feed, parse, decide what is new, summarize once, store.

I/O (fetch, storage) stays here and on the event loop; decisions are the pure functions of
jobs.ingest.decide; parsing is CPU work and runs in a process pool (jobs.enrich.workers), because
a large poll is seconds of parsing (both cores, not one thread holding the GIL) and feedparser is
slow on broken XML (a hostile feed must not stall anything else; bench/README.md has the
figures). The worker also turns every entry's HTML into plain text, so one round trip carries all
of a feed's CPU work except summaries: those are needed only for the few entries that turn out
to be new and pushed, are made after the database said which ones that is, and are made on the
event loop when the text is short (cheaper than a trip to a worker) or in the pool when it is
long. Backlog marked seen on a feed's first poll is never pushed, so it gets no
summary; nor, in console mode (``summarize_unheard=False``), does a first poll made while
nobody is subscribed (bench/README.md, "Poll figures").

Article pages: a new, pushed entry whose feed carries only a teaser (jobs.enrich.teaser, judged
in the parse worker beside the entry's text) has its page fetched (the feed's host or
BANTIN_ARTICLE_HOSTS only, under the same per-host limit as feeds) and the page's main text
becomes the article body and the summary's source.

Politeness: at most ``concurrency`` feeds in flight overall and ``per_host`` per host name, feeds
taken in an order that interleaves hosts (so one big portal does not hold every slot), and the
next poll honours what the server asked for within the operator's bounds (jobs.ingest.decide).

Storage: a feed's articles are written as soon as it is parsed, in one transaction shared with
the feeds parsed while the previous one was running (jobs.ingest.batch: one writer, few
transactions, no added wait when idle), and so are the reads that de-duplicate them; the feeds'
own bookkeeping (last success, validators, next poll, error counts) is batched across feeds and
flushed before ``poll`` returns, since hundreds of 304s would otherwise cost a transaction each.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from jobs import metrics
from jobs.enrich.page import fetch_article_text
from jobs.enrich.workers import (
    CpuDeadline,
    CpuPool,
    ParseQueue,
    PreparedFeed,
    entry_texts,
    summarize_job,
    summary_source,
    teaser_of,
)
from jobs.ingest.batch import GroupRunner
from jobs.ingest.decide import (
    DEFAULT_BOUNDS,
    PollBounds,
    backlog_flags,
    cache_max_age,
    host_of,
    interleave_by_host,
    next_poll_after_failure,
    next_poll_after_success,
    retry_after,
    select_new,
    server_asked_to_wait,
)
from jobs.ingest.fetch import fetch_feed
from jobs.ingest.parse import ParsedEntry
from jobs.ops.retention import record_listings
from storage.articles import NewBatch
from storage.feeds import PollFailure, PollSuccess
from storage.records import Feed, NewArticle
from storage.retention import Listing

if TYPE_CHECKING:
    import httpx

    from storage.store import Store

log = logging.getLogger(__name__)
T = TypeVar("T")
FLUSH_EVERY = 200  # feed records per bookkeeping transaction
GROUP_FEEDS = 50  # feeds per de-duplication read or article insert transaction
DUE_PAGE = 500  # due feeds read per query by poll_due
# Up to this many characters of text to summarize for one feed are summarized on the event loop:
# cheaper than a trip to a worker, and too short to stall the loop (bench/README.md). Longer
# texts (a fetched article page, a feed of full articles) go to the pool.
INLINE_SUMMARY_CHARS = 20_000
ARTICLE_MAX_BYTES = 2_000_000
ARTICLE_TIMEOUT = 20.0


@dataclass(slots=True)  # one per feed polled, kept for the report: 10,000 feeds, 10,000 of these
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
        article_hosts: Sequence[str] = (),
        summarize_unheard: bool = True,
    ) -> None:
        """``summarize_unheard=False`` (console mode, which pushes up to 100 entries of every
        new feed): a first poll made while no subscriber is active stores its entries without
        summaries, like backlog, since nobody can be pushed them; with ``bantin poll --once``
        over hundreds of new feeds that is most of the poll's CPU (bench/README.md). Later
        polls, and any poll once someone subscribed, summarize as usual."""
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
        self._article_hosts = tuple(article_hosts)
        self._summarize_unheard = summarize_unheard
        self._summarize_first = True  # first polls summarize what they push (see __init__)
        n_workers = (os.cpu_count() or 1) if workers is None else workers
        self._cpu = CpuPool(n_workers, parse_timeout)
        self._parser = ParseQueue(self._cpu, n_workers)
        self._successes: list[PollSuccess] = []
        self._failures: list[PollFailure] = []
        # What each changed feed listed, for retention (an article a feed still lists is never
        # pruned, or the next poll would push it again): written with the feeds' bookkeeping.
        self._listings: list[Listing] = []
        # Links of articles chosen as new but not stored yet: two feeds of one portal listing
        # one article in the same poll must not both store it. A feed's claims are released
        # once its insert has committed (from then on the database answers, and its unique
        # link index settles any race), so the set holds only what is in flight.
        self._claimed: set[str] = set()
        self._active = 0
        # Feeds parsed while a read or insert is in flight share the next one (jobs.ingest.batch).
        articles = store.articles
        self._known = GroupRunner(articles.known_many, GROUP_FEEDS)
        self._add = GroupRunner(articles.count_added, GROUP_FEEDS)

    async def start(self) -> None:
        """Boot the parse workers ahead of the first poll (~0.5 s, off the event loop)."""
        await self._cpu.start()

    async def aclose(self) -> None:
        await self._cpu.aclose()

    async def poll_due(self) -> PollReport:
        """Poll every feed due now, read from the database a page at a time as lanes free up,
        so a poll of thousands of feeds holds one page of feed records, not all of them."""
        now = self._clock()
        feeds = self._store.feeds

        async def pages() -> AsyncIterator[Sequence[Feed]]:
            after = 0
            while True:
                page = await feeds.due_page(now, after_id=after, limit=DUE_PAGE)
                if page:
                    yield page
                if len(page) < DUE_PAGE:
                    return
                after = page[-1].id

        return await self._poll_pages(pages())

    async def poll(self, feeds: Sequence[Feed]) -> PollReport:
        """Poll ``feeds`` with bounded concurrency; every outcome is stored before returning."""

        async def one_page() -> AsyncIterator[Sequence[Feed]]:
            if feeds:
                yield feeds

        return await self._poll_pages(one_page())

    async def _poll_pages(self, pages: AsyncIterator[Sequence[Feed]]) -> PollReport:
        """Feeds from ``pages`` go through ``concurrency`` lanes (not one task per feed: flat
        memory), each page in an order that interleaves hosts; outcomes come back page by page,
        each page in its own order."""
        lanes = self._concurrency
        queue: asyncio.Queue[tuple[list[FeedOutcome | None], int, Feed] | None]
        queue = asyncio.Queue(lanes)
        results: list[list[FeedOutcome | None]] = []

        async def produce() -> None:
            try:
                async for page in pages:
                    slots: list[FeedOutcome | None] = [None] * len(page)
                    results.append(slots)
                    for i in interleave_by_host([f.url for f in page]):
                        await queue.put((slots, i, page[i]))
            finally:
                for _ in range(lanes):  # one end mark per lane
                    await queue.put(None)

        async def lane() -> None:
            while (job := await queue.get()) is not None:
                slots, i, feed = job
                slots[i] = await self._guarded(feed)

        if not self._summarize_unheard and not self._active:
            counts = await self._store.subscribers.counts()
            self._summarize_first = counts["active"] > 0
        self._active += 1
        producer = asyncio.ensure_future(produce())
        try:
            await asyncio.gather(*(lane() for _ in range(lanes)))
            await self._flush()
            await producer  # a failed page read fails the poll, after what was polled is stored
        finally:
            producer.cancel()  # a no-op unless the lanes themselves failed
            self._active -= 1
            if not self._active:
                self._claimed.clear()
        return PollReport([o for slots in results for o in slots if o is not None])

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
            metrics.fetch_error("http" if result.status else "network")
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
            metrics.poll("not_modified")
            return FeedOutcome(feed.id, not_modified=True)
        try:
            first_poll = feed.last_success_at is None
            parsed = await self._parser.parse(
                result.body,
                result.url,
                dict(result.headers),
                self._backlog if first_poll else None,
                self._summary_chars if first_poll and self._summarize_first else None,
            )
        except CpuDeadline as err:
            metrics.fetch_error("parse")
            return self._failed(feed, str(err))
        if isinstance(parsed, str):
            metrics.fetch_error("parse")
            return self._failed(feed, parsed)
        stored = await self._store_new(feed, parsed, now)
        info = parsed.feed
        next_poll = next_poll_after_success(now, interval, ttl_minutes=info.ttl_minutes, **hints)
        if result.permanent_redirect:  # rare, and may collide with another feed: alone
            await self._store.feeds.record_success(
                feed.id,
                now=now,
                next_poll_at=next_poll,
                etag=result.etag,
                last_modified=result.last_modified,
                new_url=result.permanent_redirect,
                name=info.title or None,
            )
        else:
            self._successes.append(
                PollSuccess(
                    feed.id,
                    now=now,
                    next_poll_at=next_poll,
                    etag=result.etag,
                    last_modified=result.last_modified,
                    name=info.title or None,
                )
            )
        if info.warning:
            log.warning("feed has problems", extra={"feed": feed.id, "warning": info.warning})
        log.info("feed polled", extra={"feed": feed.id, "new": stored})
        metrics.poll("ok")
        metrics.articles(stored)
        return FeedOutcome(feed.id, new=stored)

    async def _store_new(self, feed: Feed, parsed: PreparedFeed, now: datetime) -> int:
        """Decide what is new, summarize only what will be pushed, store; returns how many
        were stored."""
        entries = parsed.feed.entries
        links = _links(entries)
        guids = frozenset(e.guid for e in entries)
        self._listings.append(Listing(feed.id, guids, frozenset(links)))
        known_guids, known_links = await self._known.submit(
            (feed.id, [e.guid for e in entries], links)
        )
        # No await between reading the claims and adding ours: another feed's check either
        # sees our claim or our stored rows.
        fresh = select_new(entries, known_guids, known_links | self._claimed, normalized=True)
        claims = _links(fresh)
        self._claimed.update(claims)
        if not fresh:
            return 0
        try:
            seen = backlog_flags(fresh, first_poll=feed.last_success_at is None, keep=self._backlog)
            summarize = self._summarize_first or feed.last_success_at is not None
            items = await self._new_articles(feed, fresh, parsed, seen, summarize=summarize)
            stored = await self._add.submit(NewBatch(feed.id, items, now, seen))
        finally:
            self._claimed.difference_update(claims)
        return stored

    async def _new_articles(
        self,
        feed: Feed,
        fresh: Sequence[ParsedEntry],
        parsed: PreparedFeed,
        seen: Sequence[bool],
        *,
        summarize: bool = True,
    ) -> list[NewArticle]:
        """NewArticles for ``fresh``: pushed entries get a summary (from their article page
        when the feed has only a teaser) unless ``summarize`` is off, backlog entries their text
        when the worker made it (not on a first poll: that backlog is never read, see
        jobs.enrich.workers.parse_job)."""
        texts = parsed.texts
        pushed = [i for i, is_seen in enumerate(seen) if not is_seen]
        missing = [fresh[i] for i in pushed if fresh[i].guid not in texts]
        if missing:  # pushed in place of a newer entry stored already: its HTML is still here
            texts = {**texts, **{e.guid: entry_texts(e) for e in missing}}
        # Only teasers fetch their page: decided here first, so a first poll of thousands of
        # pushed entries (console mode pushes 100 a feed) makes a task only for those few.
        judged = parsed.teasers  # by the worker, for the entries it made texts of
        teasers = [
            i
            for i in pushed
            if (
                fresh[i].guid in judged
                if fresh[i].guid in parsed.texts
                else teaser_of(fresh[i], texts[fresh[i].guid])
            )
        ]
        fetched = await asyncio.gather(*(self._article_page(feed, fresh[i]) for i in teasers))
        by_index = dict(zip(teasers, fetched, strict=True))
        pages = [by_index.get(i) for i in pushed]
        no_text = ("", "")
        bodies = [summary_source(*texts.get(e.guid, no_text))[0] for e in fresh]
        made: dict[int, str | None] = {}  # summaries the worker made from the same text
        to_make: list[int] = []
        sources: list[tuple[str, str, str | None]] = []
        for i, page in zip(pushed, pages, strict=True):
            body, sapo = summary_source(*texts.get(fresh[i].guid, no_text), page)
            bodies[i] = body
            if page is None and fresh[i].guid in parsed.summaries:
                made[i] = parsed.summaries[fresh[i].guid]
            elif summarize:
                to_make.append(i)
                sources.append((fresh[i].title, body, sapo))
        summaries = {
            **made,
            **dict(zip(to_make, await self._summaries(feed, sources), strict=True)),
        }
        return [
            NewArticle(
                guid=e.guid[:1000],
                link=e.link,
                title=e.title or "—",
                summary=summaries.get(i),
                body=bodies[i] or None,
                image_url=e.image_url,
                categories=e.categories,
                published_at=e.published,
            )
            for i, e in enumerate(fresh)
        ]

    async def _article_page(self, feed: Feed, entry: ParsedEntry) -> str | None:
        """The main text of a teaser entry's article page, or None."""
        assert entry.link
        async with self._host_gate(entry.link):
            return await fetch_article_text(
                self._client,
                entry.link,
                feed_url=feed.url,
                allowed_hosts=self._article_hosts,
                max_bytes=ARTICLE_MAX_BYTES,
                timeout=ARTICLE_TIMEOUT,
            )

    async def _summaries(
        self, feed: Feed, sources: Sequence[tuple[str, str, str | None]]
    ) -> list[str | None]:
        """One summary per (title, body, sapo); None for all when the worker fails."""
        if not sources:
            return []
        if sum(len(body) + len(sapo or "") for _, body, sapo in sources) <= INLINE_SUMMARY_CHARS:
            return list(summarize_job(sources, self._summary_chars))
        try:
            return list(await self._cpu.run(summarize_job, sources, self._summary_chars))
        except CpuDeadline as err:  # a summary must never cost the articles themselves
            log.warning("summaries failed", extra={"feed": feed.id, "error": str(err)})
            return [None] * len(sources)

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
        metrics.poll("error")
        return FeedOutcome(feed.id, error=error)

    async def _flush(self) -> None:
        successes, self._successes = self._successes, []
        failures, self._failures = self._failures, []
        listings, self._listings = self._listings, []
        await self._store.feeds.record_polls(successes, failures)
        if listings:
            await record_listings(self._store, listings)


def _links(entries: Iterable[ParsedEntry]) -> set[str]:
    """The entries' links, which parse_job has already normalized (``unique_links`` without
    normalizing each one again)."""
    return {e.link for e in entries if e.link}
