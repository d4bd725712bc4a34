"""storage/photos.py on both databases: record once, claim with a lease, fetched / retried /
given up, erased for one citizen, pruned once the case has been closed long enough."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from storage.feedback import RateLimit
from storage.records import Feedback
from storage.store import Store

NOW = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)


async def case_of(store: Store, chat: str) -> Feedback:
    sub, _ = await store.subscribers.subscribe("telegram", chat)
    case = await store.feedback.file(sub.id, None, "Rác", limit=RateLimit(100, 60), now=NOW)
    assert isinstance(case, Feedback)
    return case


async def test_photo_life_on_both_databases(any_store: Store) -> None:
    store = any_store
    case = await case_of(store, "1")
    a = await store.photos.record(case.id, "telegram", "A", now=NOW)
    assert (await store.photos.record(case.id, "telegram", "A", now=NOW)).id == a.id
    b = await store.photos.record(case.id, "telegram", "B", now=NOW)

    claimed = await store.photos.claim_unfetched(NOW, limit=10, lease=LEASE)
    assert [p.id for p in claimed] == [a.id, b.id] and {p.attempts for p in claimed} == {1}
    assert await store.photos.claim_unfetched(NOW, lease=LEASE) == []  # both are leased
    assert await store.photos.mark_fetched(
        a.id, media_key="k", content_type="image/jpeg", size=3, width=2, height=1, now=NOW
    )
    await store.photos.mark_failed(b.id, "HTTP 500", retry_at=NOW + timedelta(minutes=1))
    assert await store.photos.claim_unfetched(NOW, lease=LEASE) == []
    [again] = await store.photos.claim_unfetched(NOW + timedelta(minutes=1), lease=LEASE)
    assert again.id == b.id and again.attempts == 2 and again.error == "HTTP 500"
    await store.photos.mark_failed(b.id, "x" * 1000, retry_at=None)  # given up
    assert await store.photos.claim_unfetched(NOW + timedelta(days=9), lease=LEASE) == []
    [failed] = await store.photos.failed()
    assert failed.id == b.id and len(failed.error or "") == 300

    # A crashed fetcher's claim lapses and the photo is taken again.
    c = await store.photos.record(case.id, "telegram", "C", now=NOW)
    assert [p.id for p in await store.photos.claim_unfetched(NOW, lease=LEASE)] == [c.id]
    assert [p.id for p in await store.photos.claim_unfetched(NOW + LEASE, lease=LEASE)] == [c.id]

    other = await case_of(store, "2")
    await store.photos.record(other.id, "telegram", "D", now=NOW)
    pending = await store.photos.erase_of_subscriber(case.subscriber_id, NOW)
    assert [p.media_key for p in pending] == ["k"]  # the one stored copy to delete
    assert await store.photos.of_case(case.id) == []
    assert len(await store.photos.of_case(other.id)) == 1
    assert await store.photos.claim_unfetched(NOW + timedelta(days=1), limit=10) != []  # D
    assert await store.photos.forget_objects([a.id]) == 1
    assert await store.photos.erase_of_subscriber(case.subscriber_id, NOW) == []
    assert not await store.photos.mark_fetched(  # erased meanwhile: refused
        c.id, media_key="late", content_type="image/jpeg", size=1, width=1, height=1, now=NOW
    )


async def test_only_photos_of_cases_closed_before_the_cutoff_go(any_store: Store) -> None:
    store = any_store
    old, recent, still_open = [await case_of(store, chat) for chat in ("3", "4", "5")]
    for case in (old, recent, still_open):
        p = await store.photos.record(case.id, "telegram", f"F{case.id}", now=NOW)
        await store.photos.mark_fetched(
            p.id,
            media_key=f"k{case.id}",
            content_type="image/png",
            size=1,
            width=1,
            height=1,
            now=NOW,
        )
    assert await store.feedback.close(old.id, now=NOW - timedelta(days=40))
    assert await store.feedback.close(recent.id, now=NOW - timedelta(days=5))
    doomed = await store.photos.erase_closed_before(NOW - timedelta(days=30), NOW)
    assert [p.case_id for p in doomed] == [old.id]


async def test_a_photo_whose_claims_keep_lapsing_is_given_up(any_store: Store) -> None:
    """A download that kills the process (or is cut by every stop) is not tried forever."""
    store = any_store
    case = await case_of(store, "6")
    photo = await store.photos.record(case.id, "telegram", "Z", now=NOW)
    at = NOW
    for _ in range(3):
        assert await store.photos.give_up_interrupted(3, at) == 0
        assert [p.id for p in await store.photos.claim_unfetched(at, lease=LEASE)] == [photo.id]
        at += LEASE  # the claim lapses: no result was recorded
    assert await store.photos.give_up_interrupted(3, at) == 1
    assert await store.photos.claim_unfetched(at + timedelta(days=1)) == []
    [failed] = await store.photos.failed()
    assert failed.id == photo.id and "interrupted 3 times" in (failed.error or "")
