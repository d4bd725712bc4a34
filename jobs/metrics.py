"""Prometheus metrics of one bantin process, and the small calls the jobs make to count things.

Why this shape:
- Each process (serve, scheduler, worker) has its own counters and serves them on its own
  /metrics; Prometheus adds them up across processes. The counters live in a `Metrics` object
  with its own CollectorRegistry, not prometheus-client's global one, so a test (or a second
  app in one process) builds a fresh set and nothing is registered at import time.
- The jobs call module-level functions (`delivery`, `poll`, `fetch_error`, `articles`,
  `rate_limited`) that count on the process's current `Metrics` (created on first use, swapped
  with `use`). Counting never raises and never touches the database: it is a dict update.
- Figures that live in the database (outbox depth and lag) are read when /metrics is scraped
  (`render`), not kept up to date by every writer: several processes write the outbox, and a
  scrape every 15 s is a cheaper source of truth than a counter each of them would have to keep.
  They are read in bounded queries (storage/figures.py: each status counted up to a cap, the
  oldest due row from the index), and /metrics reads them at most once per `max_age` seconds
  however often it is scraped, several scrapes at once sharing one read: /metrics can never
  become a way to keep the database busy.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from storage.kinds import DeliveryStatus

if TYPE_CHECKING:
    from storage.store import Store

__all__ = [
    "CONTENT_TYPE",
    "DELIVERY_STATUSES",
    "POLL_RESULTS",
    "RATE_LIMIT_SCOPES",
    "Metrics",
    "articles",
    "current",
    "delivery",
    "fetch_error",
    "poll",
    "rate_limited",
    "render",
    "use",
]

log = logging.getLogger(__name__)
CONTENT_TYPE = CONTENT_TYPE_LATEST  # the text exposition format, with its version and charset
POLL_RESULTS = ("ok", "error", "not_modified")
DELIVERY_STATUSES = ("sent", "failed", "blocked", "retry", "dead")
RATE_LIMIT_SCOPES = ("chat", "global")
# Seconds one send takes (Bot API round trips are ~50-500 ms; a slow platform shows above 2 s).
LATENCY_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """Every metric of one process, in a registry of its own."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.polls = Counter(
            "bantin_polls",
            "Feed polls by result (ok, error, not_modified).",
            ["result"],
            registry=r,
        )
        self.fetch_errors = Counter(
            "bantin_fetch_errors", "Feed fetch or parse failures by kind.", ["kind"], registry=r
        )
        self.articles_stored = Counter(
            "bantin_articles_stored", "Articles stored (new items of feeds).", registry=r
        )
        self.deliveries = Counter(
            "bantin_deliveries",
            "Outbox send outcomes by status (sent, failed, blocked, retry, dead) and platform.",
            ["status", "platform"],
            registry=r,
        )
        self.send_seconds = Histogram(
            "bantin_send_seconds",
            "Time one message took to send, by platform.",
            ["platform"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        # Labelled children by label values: `labels()` costs a few µs a call, once per send.
        self.delivery_counters: dict[tuple[str, str], Any] = {}
        self.send_histograms: dict[str, Any] = {}
        self.rate_limits = Counter(
            "bantin_rate_limited",
            "429 answers from a platform, by scope (one chat or the whole bot).",
            ["scope"],
            registry=r,
        )
        self.outbox_depth = Gauge(
            "bantin_outbox_depth", "Outbox rows waiting to be sent (status pending).", registry=r
        )
        self.outbox_lag = Gauge(
            "bantin_outbox_lag_seconds",
            "Age of the oldest pending outbox row that is due (0 when none is).",
            registry=r,
        )
        self.outbox_rows = Gauge(
            "bantin_outbox_rows",
            "Outbox rows by status, read at scrape time.",
            ["status"],
            registry=r,
        )
        self.dead_updates = Gauge(
            "bantin_dead_updates",
            "Incoming updates kept as dead after failed retries (capped count), read at scrape.",
            registry=r,
        )
        self._refreshed_at: float | None = None  # time.monotonic() of the last database read
        self._locks: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}
        for result in POLL_RESULTS:  # known label values show as 0 before the first event
            self.polls.labels(result=result)
        for scope in RATE_LIMIT_SCOPES:
            self.rate_limits.labels(scope=scope)

    def text(self) -> bytes:
        """The exposition text as it stands (DB-derived gauges as last refreshed)."""
        return generate_latest(self.registry)

    async def refresh(
        self, store: Store, *, now: datetime | None = None, max_age: float = 0.0
    ) -> None:
        """Read the database-derived gauges: rows per status, pending depth, oldest due lag,
        dead updates. Skipped when they were read less than `max_age` seconds ago; concurrent
        callers wait for the read in progress instead of starting their own."""
        loop = asyncio.get_running_loop()
        lock = self._locks.get(loop)
        if lock is None:  # one per event loop (tests run a loop each; the app runs one)
            self._locks = {loop: (lock := asyncio.Lock())}
        async with lock:
            read_at = self._refreshed_at
            if read_at is not None and max_age > 0 and time.monotonic() - read_at < max_age:
                return
            await self._read(store, now or datetime.now(UTC))
            self._refreshed_at = time.monotonic()

    async def _read(self, store: Store, now: datetime) -> None:
        counts = await store.figures.outbox_rows()
        for status in set(counts) | _known_statuses(self.outbox_rows):
            self.outbox_rows.labels(status=status).set(counts.get(status, 0))
        self.outbox_depth.set(counts.get(DeliveryStatus.PENDING, 0))
        oldest = await store.deliveries.next_due_at()
        lag = (now - oldest).total_seconds() if oldest is not None else 0.0
        self.outbox_lag.set(max(0.0, lag))
        self.dead_updates.set(await store.figures.dead_updates())


def _known_statuses(gauge: Gauge) -> set[str]:
    """Status labels seen before: a status that emptied must read 0, not keep its old value."""
    return {
        sample.labels["status"]
        for family in gauge.collect()
        for sample in family.samples
        if "status" in sample.labels
    }


_current: Metrics | None = None


def current() -> Metrics:
    """This process's metrics, created on first use."""
    global _current
    if _current is None:
        _current = Metrics()
    return _current


def use(metrics: Metrics | None) -> Metrics:
    """Make `metrics` (or a fresh set, with None) the process's current one; returns it."""
    global _current
    _current = metrics or Metrics()
    return _current


# -- what the jobs call ------------------------------------------------------------------------


def poll(result: str) -> None:
    """One feed polled: "ok" (new body), "not_modified" (304) or "error"."""
    current().polls.labels(result=result).inc()


def fetch_error(kind: str) -> None:
    """A feed failed; `kind` is a short, bounded word (e.g. "http", "timeout", "parse")."""
    current().fetch_errors.labels(kind=kind).inc()


def articles(n: int) -> None:
    """`n` new articles stored."""
    if n > 0:
        current().articles_stored.inc(n)


def delivery(status: str, platform: str, seconds: float | None = None) -> None:
    """One outbox row's attempt ended in `status`: "sent"; "retry" (a transient failure or a
    429, rescheduled); "dead" (dead-lettered: retries exhausted or the platform refused it);
    "blocked" (the recipient is gone); "failed" (given up for another reason: the item no
    longer exists, outside the platform's messaging window). `seconds` is how long the platform
    call took, when one was made, for the latency histogram."""
    m = current()
    counter = m.delivery_counters.get((status, platform))
    if counter is None:
        counter = m.deliveries.labels(status=status, platform=platform)
        m.delivery_counters[(status, platform)] = counter
    counter.inc()
    if seconds is not None:
        histogram = m.send_histograms.get(platform)
        if histogram is None:
            histogram = m.send_histograms[platform] = m.send_seconds.labels(platform=platform)
        histogram.observe(max(0.0, seconds))


def deliveries(status: str, platform: str, n: int) -> None:
    """`n` rows at once in `status` (a batch of sent-marks)."""
    if n > 0:
        current().deliveries.labels(status=status, platform=platform).inc(n)


def rate_limited(scope: str) -> None:
    """A 429: scope "chat" (one recipient paused) or "global" (the whole bot paused)."""
    current().rate_limits.labels(scope="global" if scope == "global" else "chat").inc()


async def render(
    store: Store,
    *,
    now: datetime | None = None,
    metrics: Metrics | None = None,
    max_age: float = 0.0,
) -> bytes:
    """Refresh the database-derived gauges (unless read within `max_age` seconds), then return
    the exposition text.

    A database that cannot be read leaves those gauges at their last values and the counters
    are served anyway: /metrics should not go dark because /healthz is already red.
    """
    m = metrics or current()
    try:
        await m.refresh(store, now=now, max_age=max_age)
    except Exception:  # any driver error; /healthz reports the database itself
        log.warning("metrics: outbox figures not read", exc_info=True)
    return m.text()


def names(metrics: Metrics) -> Iterable[str]:
    """Every metric family name the registry exposes (for tests and docs)."""
    return [family.name for family in metrics.registry.collect()]
