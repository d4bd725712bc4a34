"""The Poller on a real database against feeds served on loopback (tests/fakes/feed_server.py).

What a poll must guarantee, end to end through fetch, parse, decide and storage:
- a new feed's backlog is stored but not pushed (only the newest ``backlog_limit`` items are);
- an article is stored, and reaches a subscriber, once: regenerated GUIDs, one article listed in
  two feeds of a portal, and GUIDs repeated inside one feed produce no second push;
- unchanged feeds cost a conditional GET and a 304, which counts as a success;
- a broken feed gets a readable ``last_error``, a growing backoff, and never stops other feeds;
- titles are stored as plain text and summaries are capped;
- a permanent redirect moves the stored feed URL.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from jobs.ingest.fetch import make_client
from jobs.ingest.poll import Poller
from jobs.route.fanout import fan_out_articles
from storage.models import FeedRow
from storage.records import Article, Feed
from storage.store import Store
from tests.fakes.clock import FakeClock
from tests.fakes.feed_server import FeedServer, unused_port

START = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
INTERVAL = 300
PORTAL = "https://chiemhoa.tuyenquang.gov.vn"
RSS_TYPE = {"Content-Type": "application/rss+xml; charset=utf-8"}


@dataclass(frozen=True)
class Item:
    guid: str
    link: str | None
    title: str
    day: int = 1  # published 2026-11-<day> 08:00 +0700
    body: str = ""  # escaped into <description>


def _item_xml(item: Item) -> str:
    parts = [f"<title>{html.escape(item.title, quote=False)}</title>"]
    if item.link:
        parts.append(f"<link>{html.escape(item.link)}</link>")
    parts.append(f'<guid isPermaLink="false">{html.escape(item.guid)}</guid>')
    parts.append(f"<pubDate>{item.day:02d} Nov 2026 08:00:00 +0700</pubDate>")
    body = item.body or f"<p>Nội dung bài {item.title}. Đây là đoạn tin ngắn của cổng.</p>"
    parts.append(f"<description>{html.escape(body, quote=False)}</description>")
    return "<item>" + "".join(parts) + "</item>"


def rss(items: Sequence[Item], title: str = "Cổng TTĐT huyện Chiêm Hóa") -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>{html.escape(title)}</title><link>{PORTAL}</link>"
        + "".join(_item_xml(i) for i in items)
        + "</channel></rss>"
    ).encode()


def art(n: int, *, day: int | None = None, guid: str | None = None) -> Item:
    return Item(
        guid=guid or f"tin-{n}",
        link=f"{PORTAL}/tin-tuc/bai-{n}",
        title=f"Bài số {n}",
        day=day if day is not None else n,
    )


@pytest.fixture
def fs() -> Iterator[FeedServer]:
    with FeedServer() as server:
        yield server


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(private_hosts=["127.0.0.1"]) as c:  # FeedServer: loopback
        yield c


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


MakePoller = Callable[..., Poller]


@pytest.fixture
async def make_poller() -> AsyncIterator[MakePoller]:
    """Builds Pollers (the default ones, as the app does) and closes them after the test."""
    made: list[Poller] = []

    def make(store: Store, client: httpx.AsyncClient, clock: FakeClock, **kw: Any) -> Poller:
        poller = Poller(store, client, clock=clock, interval=INTERVAL, **kw)
        made.append(poller)
        return poller

    yield make
    for poller in made:
        aclose = getattr(poller, "aclose", None)  # a Poller may own worker processes
        if aclose is not None:
            await aclose()


async def articles_of(store: Store, feed_id: int | None = None) -> list[Article]:
    found = sorted(await store.articles.latest(limit=1000), key=lambda a: a.id)
    return [a for a in found if feed_id is None or a.feed_id == feed_id]


async def feed(store: Store, feed_id: int) -> Feed:
    got = await store.feeds.get(feed_id)
    assert got is not None
    return got


async def add_feed(store: Store, url: str) -> Feed:
    created, _ = await store.feeds.add(url)
    return created


# -- first poll, backlog, fan-out -----------------------------------------------------------------


async def test_first_poll_marks_backlog_seen_and_second_poll_adds_only_the_new_item(
    any_store: Store,
    fs: FeedServer,
    client: httpx.AsyncClient,
    clock: FakeClock,
    make_poller: MakePoller,
) -> None:
    store = any_store
    active = [(await store.subscribers.subscribe("telegram", str(c)))[0].id for c in (11, 12)]
    await store.subscribers.ensure("telegram", "13")  # seen once, never subscribed
    gone, _ = await store.subscribers.subscribe("telegram", "14")
    await store.subscribers.deactivate(gone.id, "blocked")

    # Document order is not date order: the newest (day 20) sits in the middle.
    url = fs.add("/rss/tin-tuc.rss", body=rss([art(1), art(3, day=20), art(2)]), headers=RSS_TYPE)
    f = await add_feed(store, url)
    poller = make_poller(store, client, clock)

    report = await poller.poll_due()
    assert [(o.feed_id, o.new, o.error) for o in report.feeds] == [(f.id, 3, None)]
    stored = await articles_of(store)
    assert {a.guid for a in stored} == {"tin-1", "tin-2", "tin-3"}
    pending = await store.articles.pending_fanout()
    assert [a.guid for a in pending] == ["tin-3"]  # the newest; the rest is seen backlog
    assert all(a.fanned_out_at == START for a in stored if a.guid != "tin-3")
    assert (await feed(store, f.id)).name == "Cổng TTĐT huyện Chiêm Hóa"  # from the feed

    assert await fan_out_articles(store, now=clock()) == len(active)
    assert await fan_out_articles(store, now=clock()) == 0  # idempotent

    fs.add(
        "/rss/tin-tuc.rss",
        body=rss([art(4, day=21), art(1), art(3, day=20), art(2)]),
        headers=RSS_TYPE,
    )
    clock.advance(hours=1)
    report = await poller.poll_due()
    assert report.new == 1 and not report.errors
    new = [a for a in await articles_of(store) if a.guid == "tin-4"]
    assert len(new) == 1 and new[0].fanned_out_at is None  # not backlog: it is pushed
    assert len(await articles_of(store)) == 4

    assert await fan_out_articles(store, now=clock()) == len(active)
    rows = await store.deliveries.all(limit=1000)
    by_guid = {a.id: a.guid for a in await articles_of(store)}
    assert sorted((r.subscriber_id, by_guid[r.item_id]) for r in rows) == sorted(
        (s, g) for s in active for g in ("tin-3", "tin-4")
    )
    assert {r.kind for r in rows} == {"article"} and {r.status for r in rows} == {"pending"}


async def test_backlog_limit_is_respected(
    store: Store,
    fs: FeedServer,
    client: httpx.AsyncClient,
    clock: FakeClock,
    make_poller: MakePoller,
) -> None:
    url = fs.add("/feed.xml", body=rss([art(n) for n in range(1, 6)]), headers=RSS_TYPE)
    await add_feed(store, url)
    await make_poller(store, client, clock, backlog_limit=2).poll_due()
    assert sorted(a.guid for a in await store.articles.pending_fanout()) == ["tin-4", "tin-5"]


# -- de-duplication --------------------------------------------------------------------------


async def test_regenerated_guid_with_same_link_is_not_a_new_article(
    store: Store,
    fs: FeedServer,
    client: httpx.AsyncClient,
    clock: FakeClock,
    make_poller: MakePoller,
) -> None:
    url = fs.add("/feed.xml", body=rss([art(1), art(2)]), headers=RSS_TYPE)
    f = await add_feed(store, url)
    poller = make_poller(store, client, clock)
    await poller.poll_due()

    # The CMS regenerated every GUID and decorated the links with tracking and a fragment.
    regenerated = [
        Item(
            guid=f"urn:uuid:{n}-regenerated",
            link=f"{PORTAL.upper()}/tin-tuc/bai-{n}?utm_source=rss&zarsrc=1#top",
            title=f"Bài số {n}",
            day=n,
        )
        for n in (1, 2)
    ]
    fs.add("/feed.xml", body=rss(regenerated), headers=RSS_TYPE)
    clock.advance(hours=1)
    report = await poller.poll_due()
    assert report.new == 0 and not report.errors
    assert len(await articles_of(store, f.id)) == 2


async def test_one_article_in_two_feeds_of_a_portal_reaches_a_subscriber_once_across_polls(
    store: Store,
    fs: FeedServer,
    client: httpx.AsyncClient,
    clock: FakeClock,
    make_poller: MakePoller,
) -> None:
    sub, _ = await store.subscribers.subscribe("telegram", "21")
    news = await add_feed(store, fs.add("/tin-tuc.rss", body=rss([art(1)]), headers=RSS_TYPE))
    poller = make_poller(store, client, clock)
    await poller.poll([news])
    await fan_out_articles(store, now=clock())

    # Later the same article also shows up in the portal's "announcements" feed, new GUID.
    same = Item(guid="thong-bao-77", link=f"{PORTAL}/tin-tuc/bai-1", title="Bài số 1", day=1)
    notices = await add_feed(store, fs.add("/thong-bao.rss", body=rss([same]), headers=RSS_TYPE))
    clock.advance(minutes=1)
    report = await poller.poll([notices])
    assert report.new == 0 and not report.errors
    await fan_out_articles(store, now=clock())
    rows = await store.deliveries.all()
    assert [(r.subscriber_id, r.kind) for r in rows] == [(sub.id, "article")]


@pytest.mark.parametrize(
    "pollers",
    [
        pytest.param(1, id="one-poller"),
        pytest.param(2, id="two-pollers"),
    ],
)
async def test_one_article_in_two_feeds_polled_at_once_reaches_a_subscriber_once(
    any_store: Store,
    fs: FeedServer,
    client: httpx.AsyncClient,
    clock: FakeClock,
    make_poller: MakePoller,
    monkeypatch: pytest.MonkeyPatch,
    pollers: int,
) -> None:
    """Both feeds of one portal fall due together (the usual case: they were added together).

    Feeds are polled concurrently, so whether the second feed's link check runs before or after
    the first feed's insert is up to scheduling. A barrier on the de-duplication read
    (``ArticleRepo.known_many``) makes the unlucky order (both check, then both insert) happen
    every time instead of every other run. One poller runs its reads one group at a time
    (jobs.ingest.batch), so there the barrier gives up after a moment if the other feed's read is
    queued behind it; its claims on in-flight links are what must hold then.
    """
    store = any_store
    sub, _ = await store.subscribers.subscribe("telegram", "22")
    shared = Item(guid="a", link=f"{PORTAL}/tin-tuc/bai-9", title="Bài số 9", day=9)
    twin = Item(guid="b", link=f"{PORTAL}/tin-tuc/bai-9", title="Bài số 9", day=9)
    news = await add_feed(store, fs.add("/tin-tuc.rss", body=rss([shared]), headers=RSS_TYPE))
    notices = await add_feed(store, fs.add("/thong-bao.rss", body=rss([twin]), headers=RSS_TYPE))

    real_known = store.articles.known_many
    arrived: list[int] = []
    both = asyncio.Event()

    async def known_after_both_checked(
        asks: Sequence[tuple[int, Iterable[str], Iterable[str]]],
    ) -> list[tuple[set[str], set[str]]]:
        found = await real_known(asks)
        arrived.extend(feed_id for feed_id, _, _ in asks)
        if len(arrived) == 2:
            both.set()
        if pollers > 1:
            await asyncio.wait_for(both.wait(), timeout=5)
        else:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(both.wait(), timeout=0.5)
        return found

    monkeypatch.setattr(store.articles, "known_many", known_after_both_checked)
    if pollers == 1:
        reports = [await make_poller(store, client, clock).poll_due()]
    else:  # e.g. the running bot and `bantin poll --once` from cron
        first, second = make_poller(store, client, clock), make_poller(store, client, clock)
        reports = list(await asyncio.gather(first.poll([news]), second.poll([notices])))
    assert not any(r.errors for r in reports)
    assert len(arrived) == 2  # the barrier really stood between check and insert
    await fan_out_articles(store, now=clock())
    rows = await store.deliveries.all()
    assert [r.subscriber_id for r in rows] == [sub.id], (
        f"{len(rows)} pushes of one article: {len(await articles_of(store))} article rows"
    )


async def test_duplicate_guids_inside_one_feed_are_stored_once(
    store: Store,
    fs: FeedServer,
    client: httpx.AsyncClient,
    clock: FakeClock,
    make_poller: MakePoller,
) -> None:
    first = Item(guid="dup", link=f"{PORTAL}/tin-tuc/bai-1", title="Bài đầu", day=2)
    repeat = Item(guid="dup", link=f"{PORTAL}/tin-tuc/bai-1-sua", title="Bài sửa", day=3)
    url = fs.add("/feed.xml", body=rss([first, repeat, art(5)]), headers=RSS_TYPE)
    f = await add_feed(store, url)
    report = await make_poller(store, client, clock).poll_due()
    assert report.new == 2 and not report.errors
    stored = await articles_of(store, f.id)
    assert sorted(a.guid for a in stored) == ["dup", "tin-5"]
    assert [a.title for a in stored if a.guid == "dup"] == ["Bài đầu"]


# -- conditional GET ---------------------------------------------------------------------------


async def test_second_poll_is_conditional_and_304_counts_as_success(
    any_store: Store,
    fs: FeedServer,
    client: httpx.AsyncClient,
    clock: FakeClock,
    make_poller: MakePoller,
) -> None:
    store = any_store
    validators = {"ETag": '"v1"', "Last-Modified": "Fri, 27 Nov 2026 01:00:00 GMT"}
    url = fs.add("/feed.xml", body=rss([art(1), art(2)]), headers={**RSS_TYPE, **validators})
    f = await add_feed(store, url)
    poller = make_poller(store, client, clock)

    await poller.poll_due()
    first = fs.requests[-1].headers
    assert "if-none-match" not in first and "if-modified-since" not in first
    stored = await feed(store, f.id)
    assert (stored.etag, stored.last_modified) == ('"v1"', validators["Last-Modified"])

    later = clock.advance(hours=1)
    report = await poller.poll_due()
    sent = fs.requests[-1].headers
    assert sent["if-none-match"] == '"v1"'
    assert sent["if-modified-since"] == validators["Last-Modified"]
    [outcome] = report.feeds
    assert outcome.not_modified and outcome.error is None and outcome.new == 0
    after = await feed(store, f.id)
    assert after.last_success_at == later and after.last_error is None
    assert after.consecutive_errors == 0 and after.polls == 2
    assert after.etag == '"v1"'
    assert after.next_poll_at is not None and after.next_poll_at > later
    assert len(await articles_of(store)) == 2


# -- errors and backoff ------------------------------------------------------------------------

MALFORMED = b"<?xml version='1.0'?>\n<<<this is not xml at all &&& >>>"
HTML_PAGE = (
    "<!doctype html><html><head><title>Cổng TTĐT</title></head>"
    "<body><h1>Trang chủ</h1><p>Tin tức mới nhất</p></body></html>"
).encode()


async def test_broken_feeds_get_a_clear_error_and_backoff_without_stopping_the_others(
    store: Store,
    fs: FeedServer,
    client: httpx.AsyncClient,
    clock: FakeClock,
    make_poller: MakePoller,
) -> None:
    good = await add_feed(store, fs.add("/good.rss", body=rss([art(1), art(2)]), headers=RSS_TYPE))
    broken = {
        "refused": (f"http://127.0.0.1:{unused_port()}/feed.xml", "connection refused"),
        "404": (fs.url("/missing.rss"), "HTTP 404"),
        "500": (fs.add("/error.rss", body=b"oops", status=500), "HTTP 500"),
        "malformed": (fs.add("/bad.xml", body=MALFORMED, headers=RSS_TYPE), "not a feed"),
        "html": (
            fs.add("/page.html", body=HTML_PAGE, headers={"Content-Type": "text/html"}),
            "web page, not a feed",
        ),
    }
    ids = {name: (await add_feed(store, url)).id for name, (url, _) in broken.items()}
    poller = make_poller(store, client, clock)

    report = await poller.poll_due()
    outcomes = {o.feed_id: o for o in report.feeds}
    assert outcomes[good.id].error is None and outcomes[good.id].new == 2
    assert len(await articles_of(store, good.id)) == 2
    for name, (_, expected) in broken.items():
        got = await feed(store, ids[name])
        assert got.last_error and expected in got.last_error, (name, got.last_error)
        assert outcomes[ids[name]].error == got.last_error
        assert "Traceback" not in got.last_error and "\n" not in got.last_error
        assert got.consecutive_errors == 1, name
        assert got.next_poll_at == START + timedelta(seconds=INTERVAL), name
        assert got.last_success_at is None

    # Due again exactly when the backoff says; the second failure doubles the delay.
    second = clock.advance(seconds=INTERVAL)
    report = await poller.poll_due()
    assert set(ids.values()) <= {o.feed_id for o in report.feeds}
    for name in broken:
        got = await feed(store, ids[name])
        assert got.consecutive_errors == 2, name
        assert got.next_poll_at == second + timedelta(seconds=2 * INTERVAL), name

    # The 500 recovers: one success resets the count and clears the error.
    fs.add("/error.rss", body=rss([art(7)]), headers=RSS_TYPE)
    recovered = clock.advance(seconds=2 * INTERVAL)
    report = await poller.poll_due()
    healed = await feed(store, ids["500"])
    assert healed.consecutive_errors == 0 and healed.last_error is None
    assert healed.last_success_at == recovered
    assert len(await articles_of(store, healed.id)) == 1
    assert (await feed(store, ids["404"])).consecutive_errors == 3


async def test_backoff_is_capped_at_one_day(
    store: Store,
    fs: FeedServer,
    client: httpx.AsyncClient,
    clock: FakeClock,
    make_poller: MakePoller,
) -> None:
    f = await add_feed(store, fs.url("/missing.rss"))
    poller = make_poller(store, client, clock)
    for _ in range(12):
        await poller.poll([await feed(store, f.id)])
    got = await feed(store, f.id)
    assert got.consecutive_errors == 12
    assert got.next_poll_at == clock() + timedelta(days=1)


# -- content ----------------------------------------------------------------------------------


async def test_special_characters_in_title_and_long_body_are_stored_as_plain_text(
    store: Store,
    fs: FeedServer,
    client: httpx.AsyncClient,
    clock: FakeClock,
    make_poller: MakePoller,
) -> None:
    title = 'Giá xăng < 20.000 đồng & "ổn định" > dự kiến của Bộ Công Thương'
    sentence = "Ủy ban nhân dân huyện Chiêm Hóa thông báo giá xăng dầu mới áp dụng từ hôm nay. "
    body = "<p>" + (sentence * 200)[:10_000] + "</p>"
    assert len(body) > 10_000
    item = Item(guid="gia-xang", link=f"{PORTAL}/tin-tuc/gia-xang", title=title, body=body)
    f = await add_feed(store, fs.add("/feed.xml", body=rss([item]), headers=RSS_TYPE))

    report = await make_poller(store, client, clock).poll_due()
    assert report.new == 1 and not report.errors
    [stored] = await articles_of(store, f.id)
    assert stored.title == title
    assert stored.summary and 0 < len(stored.summary) <= 400
    assert "<" not in stored.summary and "&" not in stored.summary
    assert "Chiêm Hóa" in stored.summary
    assert await store.articles.body(stored.id) == (sentence * 200)[:10_000].strip()


async def test_markup_in_title_is_stripped_to_plain_text(
    store: Store,
    fs: FeedServer,
    client: httpx.AsyncClient,
    clock: FakeClock,
    make_poller: MakePoller,
) -> None:
    item = Item(guid="b", link=f"{PORTAL}/tin-tuc/b", title="<b>Khẩn</b> &amp; quan trọng")
    f = await add_feed(store, fs.add("/feed.xml", body=rss([item]), headers=RSS_TYPE))
    await make_poller(store, client, clock).poll_due()
    [stored] = await articles_of(store, f.id)
    assert stored.title == "Khẩn & quan trọng"


async def test_angle_bracketed_text_in_a_plain_title_is_kept(
    store: Store,
    fs: FeedServer,
    client: httpx.AsyncClient,
    clock: FakeClock,
    make_poller: MakePoller,
) -> None:
    title = "Hướng dẫn dùng Cổng Dịch vụ công <dichvucong.gov.vn>"
    item = Item(guid="dvc", link=f"{PORTAL}/tin-tuc/dvc", title=title)
    f = await add_feed(store, fs.add("/feed.xml", body=rss([item]), headers=RSS_TYPE))
    await make_poller(store, client, clock).poll_due()
    [stored] = await articles_of(store, f.id)
    assert stored.title == title


# -- redirects ---------------------------------------------------------------------------------


async def test_permanent_redirect_updates_the_stored_url(
    store: Store,
    fs: FeedServer,
    client: httpx.AsyncClient,
    clock: FakeClock,
    make_poller: MakePoller,
) -> None:
    new_url = fs.add("/rss/tin-moi.rss", body=rss([art(1)]), headers=RSS_TYPE)
    old_url = fs.redirect("/rss.aspx", to="/rss/tin-moi.rss", status=301)
    f = await add_feed(store, old_url)
    poller = make_poller(store, client, clock)

    report = await poller.poll_due()
    assert report.new == 1 and not report.errors
    assert (await feed(store, f.id)).url == new_url

    clock.advance(hours=1)
    before = len(fs.requests)
    await poller.poll_due()
    assert [r.path for r in fs.requests[before:]] == ["/rss/tin-moi.rss"]


async def test_temporary_redirect_keeps_the_stored_url(
    store: Store,
    fs: FeedServer,
    client: httpx.AsyncClient,
    clock: FakeClock,
    make_poller: MakePoller,
) -> None:
    fs.add("/rss/hom-nay.rss", body=rss([art(1)]), headers=RSS_TYPE)
    old_url = fs.redirect("/rss.aspx", to="/rss/hom-nay.rss", status=302)
    f = await add_feed(store, old_url)
    report = await make_poller(store, client, clock).poll_due()
    assert report.new == 1 and not report.errors
    assert (await feed(store, f.id)).url == old_url


# -- paging ------------------------------------------------------------------------------------


async def test_poll_due_reads_due_feeds_a_page_at_a_time_and_polls_each_once(
    any_store: Store,
    fs: FeedServer,
    client: httpx.AsyncClient,
    clock: FakeClock,
    make_poller: MakePoller,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = any_store
    monkeypatch.setattr("jobs.ingest.poll.DUE_PAGE", 2)
    feeds = [
        await add_feed(store, fs.add(f"/f{n}.rss", body=rss([art(n)]), headers=RSS_TYPE))
        for n in range(5)
    ]
    disabled = await add_feed(store, fs.add("/off.rss", body=rss([art(9)]), headers=RSS_TYPE))
    async with store.engine.begin() as conn:  # no repository call disables a feed yet
        await conn.execute(update(FeedRow).where(FeedRow.id == disabled.id).values(enabled=False))
    pages: list[list[int]] = []
    real_page = store.feeds.due_page

    async def recording_page(now: datetime, *, after_id: int = 0, limit: int = 500) -> list[Feed]:
        page = await real_page(now, after_id=after_id, limit=limit)
        pages.append([f.id for f in page])
        return page

    monkeypatch.setattr(store.feeds, "due_page", recording_page)
    report = await make_poller(store, client, clock).poll_due()
    ids = [f.id for f in feeds]
    assert pages == [ids[:2], ids[2:4], ids[4:]]
    assert [o.feed_id for o in report.feeds] == ids
    assert [o.new for o in report.feeds] == [1] * 5
    assert len(await articles_of(store)) == 5
    # Polled feeds are no longer due; the next poll finds nothing.
    assert (await make_poller(store, client, clock).poll_due()).feeds == []


async def test_first_poll_backlog_gets_no_body_and_a_pushed_older_entry_still_gets_its_text(
    any_store: Store,
    fs: FeedServer,
    client: httpx.AsyncClient,
    clock: FakeClock,
    make_poller: MakePoller,
) -> None:
    """On a first poll the worker makes text only for the entry it expects to be pushed (the
    newest); when that one is stored already (another feed of the portal), the next newest is
    pushed instead and the poller makes its text itself."""
    store = any_store
    shared = Item(guid="chung", link=f"{PORTAL}/tin-tuc/bai-9", title="Bài chung", day=9)
    news = await add_feed(store, fs.add("/tin-tuc.rss", body=rss([shared]), headers=RSS_TYPE))
    poller = make_poller(store, client, clock)
    await poller.poll([news])
    notices = await add_feed(
        store,
        fs.add("/thong-bao.rss", body=rss([shared, art(2), art(3)]), headers=RSS_TYPE),
    )
    report = await poller.poll([notices])
    assert [o.new for o in report.feeds] == [2]
    stored = {a.guid: a for a in await articles_of(store, notices.id)}
    pushed, backlog = stored["tin-3"], stored["tin-2"]
    assert pushed.fanned_out_at is None and backlog.fanned_out_at is not None
    assert pushed.summary and "Bài số 3" in pushed.summary
    assert "Bài số 3" in (await store.articles.body(pushed.id) or "")
    assert await store.articles.body(backlog.id) is None
