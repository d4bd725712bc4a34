"""Feed health lifecycle on a real database: one message when a feed fails, one on recovery.

Failures are produced by the real Poller against a loopback feed server, and the notices go
to a recording fake channel; the stored alert state makes the job idempotent and crash-safe.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from jobs.channel import HTML, Capabilities, Transient
from jobs.ingest.fetch import make_client
from jobs.ingest.poll import Poller
from jobs.staff.feed_alerts import FAILING, OK, send_health_notices
from storage.store import Store
from tests.fakes.channel import FakeChannel
from tests.fakes.clock import FakeClock
from tests.fakes.feed_server import FeedServer

START = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
RSS = (
    b'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Tin</title>'
    b"<item><title>B\xc3\xa0i 1</title><guid>1</guid><link>https://p.vn/1</link></item>"
    b"</channel></rss>"
)


@pytest.fixture
def fs() -> Iterator[FeedServer]:
    with FeedServer() as server:
        yield server


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(private_hosts=["127.0.0.1"]) as c:  # FeedServer: loopback
        yield c


async def test_one_message_when_failing_one_on_recovery_and_nothing_twice(
    any_store: Store, fs: FeedServer, client: httpx.AsyncClient
) -> None:
    store, clock, chat = any_store, FakeClock(START), FakeChannel("fake", Capabilities(markup=HTML))
    url = fs.add("/rss", body=b"oops", status=500)
    feed, _ = await store.feeds.add(url, name="Cổng TTĐT huyện Chiêm Hóa")
    poller = Poller(store, client, clock=clock, interval=300, workers=0)

    async def notify() -> int:
        return await send_health_notices(store, chat, "-100", threshold=3, clock=clock)

    for n in range(1, 6):
        await poller.poll([f for f in await store.feeds.all() if f.id == feed.id])
        clock.now += timedelta(hours=1)
        await notify()
        assert len(chat.sent) == (0 if n < 3 else 1), n  # at the 3rd failure, once
    [alert] = chat.texts()
    assert "Cổng TTĐT huyện Chiêm Hóa" in alert and "HTTP 500" in alert
    stored = await store.feeds.get(feed.id)
    assert stored is not None and stored.alert_state == FAILING
    assert stored.consecutive_errors == 5  # never switched off: still polled, still counted

    # The staff chat is down when the feed recovers: the notice stays due, sent next time.
    fs.add("/rss", body=RSS, headers={"Content-Type": "application/rss+xml"})
    await poller.poll([f for f in await store.feeds.all() if f.id == feed.id])
    chat.fail_chat("-100", Transient("staff chat unreachable"))
    assert await notify() == 0
    chat.heal("-100")
    assert await notify() == 1
    assert await notify() == 0
    assert len(chat.sent) == 2 and "hoạt động lại" in chat.texts()[1]
    stored = await store.feeds.get(feed.id)
    assert stored is not None and stored.alert_state == OK
    assert stored.alert_changed_at == clock.now


async def test_alert_state_is_compare_and_set(any_store: Store) -> None:
    feed, _ = await any_store.feeds.add("https://p.vn/rss")
    feeds = any_store.feeds
    assert await feeds.set_alert_state(feed.id, FAILING, now=START, expected=OK)
    assert not await feeds.set_alert_state(feed.id, FAILING, now=START, expected=OK)
    assert (await feeds.all())[0].alert_state == FAILING  # `feeds list` sees it too
