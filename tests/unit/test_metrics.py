"""jobs/metrics.py: the counters the jobs bump, and the exposition text /metrics serves.

Each test builds its own Metrics (own registry) and makes it the process's current one, so the
module-level calls the jobs make are what is tested. The database side of `render` is a small
hand-written fake outbox (the real one is exercised in tests/integration/test_ops_http.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from jobs import metrics
from jobs.metrics import Metrics

NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)


@pytest.fixture
def m() -> Iterator[Metrics]:
    fresh = metrics.use(None)
    yield fresh
    metrics.use(None)


def samples(text: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """{(sample name, sorted labels): value} from exposition text."""
    out = {}
    for family in text_string_to_metric_families(text.decode()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(text: bytes, name: str, **labels: str) -> float:
    return samples(text)[(name, tuple(sorted(labels.items())))]


def test_each_call_counts_on_the_current_metrics(m: Metrics) -> None:
    metrics.poll("ok")
    metrics.poll("ok")
    metrics.poll("not_modified")
    metrics.fetch_error("timeout")
    metrics.articles(3)
    metrics.articles(0)  # nothing new: no change
    metrics.delivery("sent", "telegram", 0.2)
    metrics.delivery("retry", "zalo")
    metrics.deliveries("sent", "telegram", 4)
    metrics.rate_limited("global")
    metrics.rate_limited("chat")
    metrics.rate_limited("telegram:123")  # anything but "global" is one chat

    text = m.text()
    assert value(text, "bantin_polls_total", result="ok") == 2
    assert value(text, "bantin_polls_total", result="not_modified") == 1
    assert value(text, "bantin_polls_total", result="error") == 0  # shown before it happens
    assert value(text, "bantin_fetch_errors_total", kind="timeout") == 1
    assert value(text, "bantin_articles_stored_total") == 3
    assert value(text, "bantin_deliveries_total", status="sent", platform="telegram") == 5
    assert value(text, "bantin_deliveries_total", status="retry", platform="zalo") == 1
    assert value(text, "bantin_send_seconds_count", platform="telegram") == 1
    assert value(text, "bantin_send_seconds_sum", platform="telegram") == pytest.approx(0.2)
    assert value(text, "bantin_send_seconds_bucket", platform="telegram", le="0.25") == 1
    assert value(text, "bantin_send_seconds_bucket", platform="telegram", le="0.1") == 0
    assert value(text, "bantin_rate_limited_total", scope="global") == 1
    assert value(text, "bantin_rate_limited_total", scope="chat") == 2


def test_fresh_metrics_are_independent() -> None:
    a, b = Metrics(), Metrics()
    metrics.use(a)
    metrics.poll("error")
    metrics.use(b)
    assert value(a.text(), "bantin_polls_total", result="error") == 1
    assert value(b.text(), "bantin_polls_total", result="error") == 0
    metrics.use(None)


class FakeDeliveries:
    def __init__(self, counts: dict[str, int], oldest: datetime | None) -> None:
        self.by_status = counts
        self.oldest = oldest

    async def counts(self) -> dict[str, int]:
        return dict(self.by_status)

    async def next_due_at(self) -> datetime | None:
        return self.oldest

    async def outbox_rows(self) -> dict[str, int]:  # storage/figures.py's bounded counts
        return await self.counts()

    async def dead_updates(self) -> int:
        return 0


class FakeStore:
    def __init__(self, deliveries: FakeDeliveries) -> None:
        self.deliveries = deliveries
        self.figures = deliveries


class BrokenDeliveries(FakeDeliveries):
    async def counts(self) -> dict[str, int]:
        raise ConnectionError("database went away")


async def test_render_reads_outbox_depth_and_lag_at_scrape_time(m: Metrics) -> None:
    outbox = FakeDeliveries({"pending": 7, "sent": 40, "dead": 1}, NOW - timedelta(seconds=90))
    store = FakeStore(outbox)
    text = await metrics.render(store, now=NOW)  # type: ignore[arg-type]
    assert value(text, "bantin_outbox_depth") == 7
    assert value(text, "bantin_outbox_lag_seconds") == 90
    assert value(text, "bantin_outbox_rows", status="sent") == 40

    # The outbox drained and the dead letter was retried: old statuses read 0, not stale values.
    outbox.by_status, outbox.oldest = {"sent": 48}, None
    text = await metrics.render(store, now=NOW)  # type: ignore[arg-type]
    assert value(text, "bantin_outbox_depth") == 0
    assert value(text, "bantin_outbox_lag_seconds") == 0
    assert value(text, "bantin_outbox_rows", status="dead") == 0
    assert value(text, "bantin_outbox_rows", status="sent") == 48


async def test_a_future_row_is_no_lag(m: Metrics) -> None:
    store = FakeStore(FakeDeliveries({"pending": 1}, NOW + timedelta(hours=8)))  # quiet hours
    text = await metrics.render(store, now=NOW)  # type: ignore[arg-type]
    assert value(text, "bantin_outbox_lag_seconds") == 0


async def test_counters_are_served_when_the_database_is_down(m: Metrics) -> None:
    metrics.poll("ok")
    store = FakeStore(BrokenDeliveries({}, None))
    text = await metrics.render(store, now=NOW)  # type: ignore[arg-type]
    assert value(text, "bantin_polls_total", result="ok") == 1


def test_every_operational_metric_is_exposed(m: Metrics) -> None:
    assert set(metrics.names(m)) >= {
        "bantin_polls",
        "bantin_fetch_errors",
        "bantin_articles_stored",
        "bantin_deliveries",
        "bantin_send_seconds",
        "bantin_outbox_depth",
        "bantin_rate_limited",
    }
    assert metrics.CONTENT_TYPE.startswith("text/plain")
