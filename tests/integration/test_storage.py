"""Storage on real databases: migrations, the outbox's guarantees, feed health."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from storage.kinds import AnnouncementStatus
from storage.migrate import current_revision, head_revision
from storage.records import NewArticle
from storage.store import Store

NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)


def _item(guid: str, link: str | None = None, title: str = "Tiêu đề") -> NewArticle:
    return NewArticle(
        guid=guid,
        link=link,
        title=title,
        summary="Tóm tắt",
        body="Nội dung",
        image_url=None,
        categories=("Tin tức",),
        published_at=NOW,
    )


async def _subscribers(store: Store, n: int) -> list[int]:
    ids = []
    for i in range(n):
        sub, _ = await store.subscribers.subscribe("telegram", str(1000 + i))
        ids.append(sub.id)
    return ids


async def test_migrations_reach_head_and_rerun(any_store: Store) -> None:
    await any_store.migrate()  # second run is a no-op
    assert await current_revision(any_store.engine) == head_revision()


async def test_articles_unique_per_feed_guid(any_store: Store) -> None:
    feed, created = await any_store.feeds.add("https://a.example/rss")
    assert created
    again, created_again = await any_store.feeds.add("https://a.example/rss")
    assert not created_again and again.id == feed.id
    first = await any_store.articles.add(
        feed.id, [_item("g1", "https://a.example/1")], now=NOW, seen=[False]
    )
    dup = await any_store.articles.add(
        feed.id, [_item("g1", "https://a.example/1")], now=NOW, seen=[False]
    )
    assert len(first) == 1 and dup == []
    assert await any_store.articles.known_links(["https://a.example/1", "x"]) == {
        "https://a.example/1"
    }
    assert [a.id for a in await any_store.articles.pending_fanout()] == [first[0].id]


async def test_backlog_marked_seen_is_not_pending(any_store: Store) -> None:
    feed, _ = await any_store.feeds.add("https://a.example/rss")
    await any_store.articles.add(feed.id, [_item("old"), _item("new")], now=NOW, seen=[True, False])
    pending = await any_store.articles.pending_fanout()
    assert [a.guid for a in pending] == ["new"]


async def test_outbox_row_created_once_per_recipient(any_store: Store) -> None:
    await _subscribers(any_store, 5)
    assert await any_store.deliveries.enqueue_fanout("article", 1, now=NOW) == 5
    assert await any_store.deliveries.enqueue_fanout("article", 1, now=NOW) == 0
    assert await any_store.deliveries.counts() == {"pending": 5}


async def test_inactive_subscribers_get_nothing(any_store: Store) -> None:
    ids = await _subscribers(any_store, 3)
    assert await any_store.subscribers.deactivate(ids[0], "blocked")
    assert not await any_store.subscribers.deactivate(ids[0], "blocked")
    assert (
        await any_store.deliveries.enqueue_fanout("announcement", 7, now=NOW, only_all_news=False)
        == 2
    )


async def test_claim_respects_limit_and_leases(any_store: Store) -> None:
    await _subscribers(any_store, 10)
    await any_store.deliveries.enqueue_fanout("article", 1, now=NOW)
    first = await any_store.deliveries.claim_due(now=NOW, limit=4, lease_seconds=60)
    second = await any_store.deliveries.claim_due(now=NOW, limit=4, lease_seconds=60)
    assert len(first) == 4 and len(second) == 4
    assert not {d.id for d in first} & {d.id for d in second}
    assert all(d.status == "sending" for d in first)
    # Not due yet: a row scheduled in the future is not claimed.
    await any_store.deliveries.reschedule(
        first[0].id, at=NOW + timedelta(minutes=5), error=None, count_attempt=False
    )
    third = await any_store.deliveries.claim_due(now=NOW, limit=10, lease_seconds=60)
    assert len(third) == 2
    # A crashed sender's leases expire and the rows come back.
    assert await any_store.deliveries.release_expired(NOW + timedelta(seconds=30)) == 0
    assert await any_store.deliveries.release_expired(NOW + timedelta(seconds=61)) == 9
    assert (await any_store.deliveries.counts())["pending"] == 10


async def test_concurrent_claims_never_overlap(any_store: Store) -> None:
    await _subscribers(any_store, 60)
    await any_store.deliveries.enqueue_fanout("article", 1, now=NOW)
    batches = await asyncio.gather(
        *(any_store.deliveries.claim_due(now=NOW, limit=7, lease_seconds=60) for _ in range(12))
    )
    ids = [d.id for batch in batches for d in batch]
    assert len(ids) == len(set(ids)) == 60


async def test_sent_row_keeps_message_id_for_replies(any_store: Store) -> None:
    [sid] = await _subscribers(any_store, 1)
    await any_store.deliveries.enqueue_one(sid, "article", 42, now=NOW)
    [row] = await any_store.deliveries.claim_due(now=NOW, limit=5, lease_seconds=60)
    await any_store.deliveries.mark_sent(row.id, message_id="777", now=NOW)
    found = await any_store.deliveries.find_by_message(sid, "777")
    assert found is not None and found.item_id == 42 and found.status == "sent"


async def test_feed_health_counts_and_resets(any_store: Store) -> None:
    feed, _ = await any_store.feeds.add("https://down.example/rss")
    n1 = await any_store.feeds.record_failure(
        feed.id, now=NOW, error="connection refused", next_poll_at=NOW + timedelta(minutes=5)
    )
    n2 = await any_store.feeds.record_failure(
        feed.id, now=NOW, error="connection refused", next_poll_at=NOW + timedelta(minutes=10)
    )
    assert (n1, n2) == (1, 2)
    assert await any_store.feeds.due(NOW) == []
    [due] = await any_store.feeds.due(NOW + timedelta(minutes=11))
    assert due.last_error == "connection refused"
    await any_store.feeds.record_success(
        feed.id, now=NOW, next_poll_at=NOW, etag='"x"', last_modified=None, name="Cổng"
    )
    [listed] = await any_store.feeds.all()
    assert listed.consecutive_errors == 0 and listed.last_error is None
    assert listed.etag == '"x"' and listed.name == "Cổng"


async def test_announcement_confirm_happens_once(any_store: Store) -> None:
    ann = await any_store.announcements.create("Mất điện", created_by="telegram:1")
    assert ann.status == AnnouncementStatus.DRAFT
    assert await any_store.announcements.transition(
        ann.id, frm=AnnouncementStatus.DRAFT, to=AnnouncementStatus.QUEUED, now=NOW
    )
    assert not await any_store.announcements.transition(
        ann.id, frm=AnnouncementStatus.DRAFT, to=AnnouncementStatus.QUEUED, now=NOW
    )
    assert not await any_store.announcements.transition(
        ann.id, frm=AnnouncementStatus.DRAFT, to=AnnouncementStatus.CANCELLED, now=NOW
    )


async def test_feedback_and_staff_and_state(any_store: Store) -> None:
    [sid] = await _subscribers(any_store, 1)
    item = await any_store.feedback.add(sid, None, "Đường hỏng")
    assert [f.id for f in await any_store.feedback.unforwarded()] == [item.id]
    await any_store.feedback.mark_forwarded(item.id, message_id="5", now=NOW)
    assert await any_store.feedback.unforwarded() == []
    [row] = await any_store.feedback.export_rows()
    assert row.ticket == item.id and row.text == "Đường hỏng"
    await any_store.staff.ensure("telegram", "9", role="admin")
    assert await any_store.staff.role_of("telegram", "9") == "admin"
    assert await any_store.staff.role_of("telegram", "10") is None
    await any_store.state.set("offset", "1")
    await any_store.state.set("offset", "2")
    assert await any_store.state.get("offset") == "2"


async def test_migrations_match_the_models(any_store: Store) -> None:
    """Autogenerate finds nothing to do: models and migrations describe one schema."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from storage.models import Base

    def diff(conn: object) -> list[object]:
        def ours(name: str | None, kind: str, _parent: object) -> bool:
            # SQLite's FTS5 virtual table and its shadow tables live outside the models.
            return not (kind == "table" and (name or "").startswith("article_search_fts"))

        ctx = MigrationContext.configure(
            conn,  # type: ignore[arg-type]
            opts={"compare_type": True, "include_name": ours},
        )
        return list(compare_metadata(ctx, Base.metadata))

    async with any_store.engine.connect() as conn:
        assert await conn.run_sync(diff) == []


async def test_the_store_owns_every_repository_on_one_session_factory(store: Store) -> None:
    """One way to reach each table: every repository is an attribute built once, and all of
    them share the store's one session factory (no side registry, no factory per call)."""
    from storage.base import Repo

    repos = {name: r for name, r in vars(store).items() if isinstance(r, Repo)}
    assert {"preferences", "topics", "digests", "search", "zalo", "retention", "audit"} <= set(
        repos
    )
    assert len({id(r._sessions) for r in repos.values()}) == 1
    assert store.zalo is store.zalo and not hasattr(store.staff, "audit")


async def test_kinds_are_stored_and_read_back_as_their_strings(any_store: Store) -> None:
    """The enums are the columns' words: a member is written as its string and a row read back
    (a plain str) compares equal to the member, so no migration followed their introduction."""
    from storage.kinds import DeliveryStatus, OutboxKind

    [sub_id] = await _subscribers(any_store, 1)
    await any_store.deliveries.enqueue_one(sub_id, OutboxKind.ANSWER, 7, now=NOW)
    [row] = await any_store.deliveries.all()
    assert (row.kind, row.status) == ("answer", "pending")
    assert (row.kind, row.status) == (OutboxKind.ANSWER, DeliveryStatus.PENDING)
