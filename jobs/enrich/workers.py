"""CPU work of the poll, run in worker processes: parsing feeds, plain text, summaries.

Why processes: feed parsing is milliseconds of CPU per feed (hundreds of feeds are seconds:
both cores, not one thread holding the GIL), and a hostile or broken feed can cost seconds,
so each job runs under a deadline in a pool that is replaced when a job overruns or crashes.

Why parse jobs travel in groups (``ParseQueue``): a round trip to a worker costs the event loop
more than the parse itself costs the worker (a pickled job through the executor's threads and
pipes, each a chance to wait for the GIL), so feeds that arrive while every worker is busy go
together in the next job. A group that overruns its deadline is run again one feed per job, so
only the feed that is really slow gets the error.

This module is what the workers import (the forkserver preloads it): it stays free of the
poller's I/O imports (HTTP clients, storage).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import signal
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import suppress
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from jobs.enrich.summarize import summarize
from jobs.enrich.teaser import is_teaser
from jobs.enrich.text import html_to_text
from jobs.ingest.decide import backlog_flags, normalize_link
from jobs.ingest.parse import FeedParseError, ParsedEntry, ParsedFeed, parse_feed

__all__ = [
    "CpuDeadline",
    "CpuPool",
    "ParseQueue",
    "PreparedFeed",
    "parse_job",
    "summarize_job",
    "summary_source",
]

log = logging.getLogger(__name__)
T = TypeVar("T")
START_TIMEOUT = 60.0  # seconds for a worker process to come up at start-up
STOP_TIMEOUT = 10.0  # seconds the workers get to finish their jobs at a stop, then killed
PARSE_GROUP = 8  # feeds per parse job at most (~30 ms of CPU for ordinary feeds)
_Job = tuple[bytes, str, Mapping[str, str], int | None, int | None]  # parse_job's arguments


# -- CPU work, run in worker processes (module-level functions: they are pickled by name) ------


@dataclass(frozen=True)
class PreparedFeed:
    """A parsed feed whose entries carry plain text instead of HTML (what a worker returns).

    ``texts[guid]`` is (content, teaser): the plain text of the entry's full content and of
    its description, '' when absent (no key at all for first-poll backlog, see ``parse_job``).
    The ``*_html`` fields of entries with texts are emptied, so the HTML does not travel back
    to the poller beside its text, and their links are already
    ``normalize_link``-ed (the form stored and compared), so the poller need not do it again
    for every entry of every feed.
    """

    feed: ParsedFeed
    texts: Mapping[str, tuple[str, str]]
    # First poll only: summaries of the entries expected to be pushed, made here rather than on
    # the poller's event loop (valid while no article page replaces the feed's text).
    summaries: Mapping[str, str] = field(default_factory=dict)
    # Guids (among those with texts) whose feed text is only a teaser of a linked page
    # (jobs.enrich.teaser): decided here, beside the text, rather than on the poller's loop.
    teasers: frozenset[str] = frozenset()


def entry_texts(entry: ParsedEntry) -> tuple[str, str]:
    """(content, teaser) as plain text; script and style never reach either (jobs.enrich.text)."""
    content = html_to_text(entry.content_html) if entry.content_html else ""
    teaser = html_to_text(entry.summary_html) if entry.summary_html else ""
    return content, teaser


def teaser_of(entry: ParsedEntry, texts: tuple[str, str]) -> bool:
    """Whether the feed carries only a teaser of this entry (and a link to its page)."""
    if not entry.link:
        return False
    content, teaser = texts
    return is_teaser(content or teaser, entry.title)


def parse_job(
    body: bytes,
    url: str,
    headers: Mapping[str, str],
    backlog_keep: int | None = None,
    summary_chars: int | None = None,
) -> PreparedFeed | str:
    """parse_feed and the entries' plain text, in a worker; a FeedParseError comes back as its
    message (exceptions with keyword-only arguments do not survive pickling intact).

    ``backlog_keep`` is set on a feed's first poll: then only the ``backlog_keep`` newest
    entries (those jobs.ingest.decide.backlog_flags would push) get their text; the backlog keeps
    its HTML and gets none, since it is stored as seen and never summarized or pushed (the poller
    makes the text itself in the rare case an older entry is pushed instead of a newer one
    already stored from another feed). With ``summary_chars`` too, those entries come back
    summarized from the feed's own text. Entries with texts are also judged teasers or not
    (``PreparedFeed.teasers``).
    """
    try:
        parsed = parse_feed(body, url=url, headers=headers)
    except FeedParseError as err:
        return str(err)
    backlog = (
        backlog_flags(parsed.entries, first_poll=True, keep=backlog_keep)
        if backlog_keep is not None
        else [False] * len(parsed.entries)
    )
    pairs = list(zip(parsed.entries, backlog, strict=True))
    texts = {e.guid: entry_texts(e) for e, old in pairs if not old}
    entries = tuple(  # the constructor, not dataclasses.replace: 20 entries a feed, 4x faster
        ParsedEntry(
            guid=e.guid,
            link=normalize_link(e.link),
            title=e.title,
            summary_html=e.summary_html if old else "",
            content_html=e.content_html if old else "",
            published=e.published,
            categories=e.categories,
            image_url=e.image_url,
            author=e.author,
        )
        for e, old in pairs
    )
    teasers = frozenset(e.guid for e in entries if e.guid in texts and teaser_of(e, texts[e.guid]))
    summaries = {}
    if backlog_keep is not None and summary_chars is not None:
        titles = {e.guid: e.title for e in parsed.entries}
        for guid, (content, teaser) in texts.items():
            source, sapo = summary_source(content, teaser)
            summaries[guid] = summarize(titles[guid], source, sapo=sapo, max_chars=summary_chars)
    return PreparedFeed(replace(parsed, entries=entries), texts, summaries, teasers)


def parse_many(
    jobs: Sequence[_Job],
) -> list[PreparedFeed | str]:
    """``parse_job`` for several feeds in one trip to a worker."""
    return [parse_job(*job) for job in jobs]


def summary_source(content: str, teaser: str, page: str | None = None) -> tuple[str, str | None]:
    """(body, sapo) to summarize: the fullest text wins, and the feed's description counts as
    a sapo only beside a fuller text (a summary of a sapo by itself is the sapo again)."""
    body = page or content or teaser
    sapo = teaser if (page or content) and teaser else None
    return body, sapo


def summarize_job(texts: Sequence[tuple[str, str, str | None]], summary_chars: int) -> list[str]:
    """Summaries of (title, body, sapo) triples, in order."""
    return [
        summarize(title, body, sapo=sapo, max_chars=summary_chars) for title, body, sapo in texts
    ]


def _ready() -> None:
    """A no-op job: its answer means the worker is up."""


def _ignore_sigint() -> None:
    """Every worker's first act: Ctrl+C in a terminal reaches the whole process group, and a
    worker that took it would die mid-job with its own KeyboardInterrupt traceback. The parent
    owns the stop (it sets its stop event, then shuts the pool down), so workers ignore it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


# -- the pool ------------------------------------------------------------------------------------


class CpuDeadline(Exception):
    """A CPU job overran its deadline or killed its worker; the message is for the feed."""


class CpuPool:
    """A process pool with a per-job deadline, recycled when a job hangs or crashes a worker.

    A running job cannot be cancelled in a ProcessPoolExecutor, so a job past its deadline gets
    its whole pool replaced: the old workers are killed and jobs that were running there beside
    it are retried once on the new pool. Jobs are admitted only as workers are free, so the
    deadline measures running time, not time spent queueing behind other feeds.

    Workers start on the first job, in a thread: the first start costs ~0.5 s (the forkserver
    imports this module) and would otherwise freeze the event loop, and with it every fetch in
    flight; a poll where every feed answers 304 starts none.

    ``workers=0`` runs jobs in a thread instead (no deadline enforcement): for environments
    where processes cannot be started.
    """

    def __init__(self, workers: int, deadline: float) -> None:
        self._workers = workers
        self._deadline = deadline
        self._executor: ProcessPoolExecutor | None = None
        self._slots = asyncio.Semaphore(max(1, workers))
        self._starting: asyncio.Future[None] | None = None
        self._starting_for: ProcessPoolExecutor | None = None

    async def start(self) -> None:
        """Start the workers now rather than on the first job: the app does this at start-up,
        so the first poll of new feeds does not wait for processes to boot."""
        if self._workers > 0:
            await self._started()

    async def _started(self) -> ProcessPoolExecutor:
        """The executor with its workers running (concurrent callers share one start)."""
        executor = self._current()
        if self._starting is None or self._starting_for is not executor:
            self._starting = asyncio.ensure_future(_off_loop(self._spawn, executor))
            self._starting_for = executor
        try:  # bounded: a job then meets its own deadline and the pool is replaced
            await asyncio.wait_for(asyncio.shield(self._starting), START_TIMEOUT)
        except TimeoutError:
            log.warning("worker processes are slow to start")
        return executor

    def _spawn(self, executor: ProcessPoolExecutor) -> None:
        """Start every worker (one no-op job each); a failure shows at the real job's submit.

        The wait is bounded: a worker that never comes up (a process that died while booting)
        must not hold the app's start-up, or its stop, forever; the first real job then meets
        the job deadline and the pool is replaced.

        SIGINT is blocked in this thread first: the forkserver and the workers are started from
        it and keep its signal mask. Ctrl+C in a terminal reaches the whole process group, and
        the forkserver ignores it only once it has imported its modules (~1 s): a Ctrl+C soon
        after start killed it there, with a KeyboardInterrupt traceback of its own."""
        if hasattr(signal, "pthread_sigmask"):
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            for future in [executor.submit(_ready) for _ in range(self._workers)]:
                future.result(timeout=START_TIMEOUT)
        except Exception as exc:
            log.warning("worker processes did not start", extra={"error": repr(exc)})

    def _current(self) -> ProcessPoolExecutor:
        if self._executor is None:
            # forkserver: workers fork from a clean, single-threaded server that has imported
            # this module once, so they start fast and never inherit the loop's threads/locks.
            methods = multiprocessing.get_all_start_methods()
            ctx = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
            if "forkserver" in methods:
                ctx.set_forkserver_preload([__name__])
            self._executor = ProcessPoolExecutor(
                max_workers=self._workers, mp_context=ctx, initializer=_ignore_sigint
            )
        return self._executor

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        if self._workers <= 0:
            return await asyncio.to_thread(fn, *args)
        async with self._slots:
            for attempt in (1, 2):
                executor = await self._started()
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
        """Stop the workers, waiting a bounded time for the jobs they are on: a stuck worker is
        killed rather than left to hold the process's stop."""
        executor, self._executor = self._executor, None
        if executor is None:
            return
        closing = asyncio.ensure_future(_off_loop(_shutdown, executor))
        try:
            await asyncio.wait_for(asyncio.shield(closing), STOP_TIMEOUT)
        except TimeoutError:
            log.warning("worker processes did not stop; killing them")
            processes: dict[int, Any] = getattr(executor, "_processes", None) or {}
            for process in list(processes.values()):
                process.kill()
            with suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(closing), STOP_TIMEOUT)


def _shutdown(executor: ProcessPoolExecutor) -> None:
    executor.shutdown(wait=True, cancel_futures=True)


async def _off_loop(fn: Callable[..., None], *args: Any) -> None:
    """Run a blocking pool operation (starting or stopping worker processes) on a daemon
    thread of its own, not on the loop's default executor: if a process never answers, the
    wait is abandoned (callers bound it) without the thread holding up the loop's close, which
    joins every default-executor thread, or the interpreter's exit."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()

    def settle(exc: BaseException | None) -> None:
        if not done.done():
            if exc is None:
                done.set_result(None)
            else:
                done.set_exception(exc)

    def run() -> None:
        error: BaseException | None = None
        try:
            fn(*args)
        except BaseException as exc:  # handed to the awaiting coroutine
            error = exc
        with suppress(RuntimeError):  # the loop closed meanwhile: nobody waits any more
            loop.call_soon_threadsafe(settle, error)

    threading.Thread(target=run, name="bantin-worker-pool", daemon=True).start()
    await done


class ParseQueue:
    """Parses feeds on a CpuPool, several feeds per job when they queue up (see the module doc).

    At most ``workers`` jobs are in flight (the pool admits no more anyway); a feed that arrives
    while they are busy waits for the next job, together with the others that arrived meanwhile.
    """

    def __init__(self, cpu: CpuPool, workers: int, max_group: int = PARSE_GROUP) -> None:
        self._cpu = cpu
        self._lanes = max(1, workers)
        self._max = max(1, max_group)
        self._queue: list[tuple[_Job, asyncio.Future[Any]]] = []
        self._running = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def parse(
        self,
        body: bytes,
        url: str,
        headers: Mapping[str, str],
        backlog_keep: int | None = None,
        summary_chars: int | None = None,
    ) -> PreparedFeed | str:
        """``parse_job``'s answer for one feed; raises CpuDeadline for that feed alone."""
        future: asyncio.Future[PreparedFeed | str] = asyncio.get_running_loop().create_future()
        self._queue.append(((body, url, headers, backlog_keep, summary_chars), future))
        if self._running < self._lanes:
            self._running += 1
            task = asyncio.create_task(self._drain())
            self._tasks.add(task)  # the loop keeps only weak references to tasks
            task.add_done_callback(self._tasks.discard)
        return await future

    async def _drain(self) -> None:
        try:
            while self._queue:
                group, self._queue = self._queue[: self._max], self._queue[self._max :]
                live = [(job, f) for job, f in group if not f.done()]
                if live:
                    await self._run(live)
        except BaseException:
            for _, future in self._queue:
                if not future.done():
                    future.cancel()
            self._queue = []
            raise
        finally:
            self._running -= 1

    async def _run(self, live: list[tuple[_Job, Any]]) -> None:
        try:
            if len(live) == 1:
                results = [await self._cpu.run(parse_job, *live[0][0])]
            else:
                results = await self._cpu.run(parse_many, [job for job, _ in live])
        except CpuDeadline as err:
            if len(live) == 1:
                _settle(live[0][1], exc=err)
                return
            for job, future in live:  # find the slow one: each feed alone, its own deadline
                try:
                    _settle(future, result=await self._cpu.run(parse_job, *job))
                except CpuDeadline as one_err:
                    _settle(future, exc=one_err)
            return
        except BaseException:
            for _, future in live:
                if not future.done():
                    future.cancel()
            raise
        for (_, future), result in zip(live, results, strict=True):
            _settle(future, result=result)


def _settle(future: Any, *, result: Any = None, exc: BaseException | None = None) -> None:
    if future.done():
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)
