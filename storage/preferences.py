"""What each subscriber chose: scope (all news, topics, sources), keywords, mode and timing.

Also the digest waiting list, and `extra(store)`: the issue-5 repositories over a Store's
engine (kept beside the Store rather than inside it, so the Store's file stays unchanged).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import async_sessionmaker

from storage.base import Repo
from storage.deliveries import PENDING
from storage.models import (
    AnnouncementRow,
    DeliveryRow,
    DigestItemRow,
    DigestRow,
    FeedRow,
    KeywordRow,
    PreferenceRow,
    SubscriberFeedRow,
    SubscriberRow,
    SubscriberTopicRow,
    TopicRow,
)
from storage.records import Preferences, Recipient
from storage.search import SearchRepo
from storage.store import Store
from storage.subscribers import _subscriber
from storage.topics import TopicRepo

DIGEST = "digest"  # the outbox kind of a digest message
QUIET_DEFAULT_KEY = "quiet_hours_default"  # app_state: the operator's default quiet hours
MAX_KEYWORDS = 30  # per subscriber: enough for real use, bounded for fan-out
_PREF_FIELDS = ("all_news", "mode", "link_preview", "digest_times", "quiet_hours")


def _times(value: str | None) -> tuple[str, ...]:
    return tuple(t for t in (value or "").split(",") if t) or ("07:00", "19:00")


class PreferenceRepo(Repo):
    async def get(self, subscriber_id: int) -> Preferences:
        got = await self._load([subscriber_id])
        return got.get(subscriber_id) or Preferences(subscriber_id)

    async def get_many(self, ids: list[int]) -> dict[int, Preferences]:
        """Preferences of many subscribers in one read (the deliverer's batch)."""
        return await self._load(ids) if ids else {}

    async def _load(self, ids: list[int] | None) -> dict[int, Preferences]:
        """Preferences of the given subscribers (None: every subscriber) in four queries."""

        def only(q: Any, col: Any) -> Any:
            return q if ids is None else q.where(col.in_(ids))

        async with self._tx() as s:
            prefs = (
                await s.execute(only(select(PreferenceRow), PreferenceRow.subscriber_id))
            ).scalars()
            base = {
                p.subscriber_id: dict(
                    all_news=p.all_news,
                    mode=p.mode,
                    link_preview=p.link_preview,
                    digest_times=_times(p.digest_times),
                    quiet_hours=p.quiet_hours,
                )
                for p in prefs
            }
            topics: dict[int, set[int]] = {}
            q = only(select(SubscriberTopicRow), SubscriberTopicRow.subscriber_id)
            for r in (await s.execute(q)).scalars():
                topics.setdefault(r.subscriber_id, set()).add(r.topic_id)
            feeds: dict[int, set[int]] = {}
            q = only(select(SubscriberFeedRow), SubscriberFeedRow.subscriber_id)
            for r in (await s.execute(q)).scalars():
                feeds.setdefault(r.subscriber_id, set()).add(r.feed_id)
            words: dict[int, tuple[list[str], list[str]]] = {}
            q = only(select(KeywordRow).order_by(KeywordRow.id), KeywordRow.subscriber_id)
            for r in (await s.execute(q)).scalars():
                inc, exc = words.setdefault(r.subscriber_id, ([], []))
                (exc if r.exclude else inc).append(r.word)
        out = {}
        for sid in set(base) | set(topics) | set(feeds) | set(words):
            inc, exc = words.get(sid, ([], []))
            out[sid] = Preferences(
                sid,
                **base.get(sid, {}),
                topics=frozenset(topics.get(sid, ())),
                feeds=frozenset(feeds.get(sid, ())),
                include=tuple(inc),
                exclude=tuple(exc),
            )
        return out

    async def recipients(self) -> list[Recipient]:
        """Every active subscriber with their preferences (what fan-out decides over)."""
        async with self._tx() as s:
            q = select(SubscriberRow).where(SubscriberRow.active.is_(True))
            subs = [_subscriber(r) for r in (await s.execute(q)).scalars()]
        prefs = await self._load(None)
        return [Recipient(sub, prefs.get(sub.id) or Preferences(sub.id)) for sub in subs]

    async def update(self, subscriber_id: int, **values: object) -> Preferences:
        """Change some of all_news / mode / link_preview / digest_times / quiet_hours."""
        unknown = set(values) - set(_PREF_FIELDS)
        if unknown:
            raise ValueError(f"unknown preference fields: {sorted(unknown)}")
        if isinstance(values.get("digest_times"), tuple):
            values["digest_times"] = ",".join(values["digest_times"])  # type: ignore[arg-type]
        async with self._tx() as s:
            await self._ensure(s, subscriber_id)
            if values:
                await s.execute(
                    update(PreferenceRow)
                    .where(PreferenceRow.subscriber_id == subscriber_id)
                    .values(**values)
                )
        return await self.get(subscriber_id)

    async def _ensure(self, s: Any, subscriber_id: int) -> None:
        stmt = (
            self._insert(PreferenceRow)
            .values(subscriber_id=subscriber_id, all_news=True, mode="instant", link_preview=False)
            .on_conflict_do_nothing(index_elements=["subscriber_id"])
        )
        await s.execute(stmt)

    async def everything(self, subscriber_id: int) -> None:
        """Back to all news: chosen topics and sources are forgotten."""
        async with self._tx() as s:
            await self._ensure(s, subscriber_id)
            await s.execute(
                delete(SubscriberTopicRow).where(SubscriberTopicRow.subscriber_id == subscriber_id)
            )
            await s.execute(
                delete(SubscriberFeedRow).where(SubscriberFeedRow.subscriber_id == subscriber_id)
            )
            await s.execute(
                update(PreferenceRow)
                .where(PreferenceRow.subscriber_id == subscriber_id)
                .values(all_news=True)
            )

    async def choose(
        self,
        subscriber_id: int,
        *,
        topic: int | None = None,
        feed: int | None = None,
        on: bool | None = None,
    ) -> Preferences | None:
        """Add (on=True), remove (False) or toggle (None) one topic or source.

        Choosing anything narrows the subscriber from all news to their mix; removing the last
        choice widens them back to all news, so nobody ends up silently receiving nothing.
        Returns None, changing nothing, when adding a topic or source that does not exist (a
        stale or forged button).
        """
        row_cls: Any = SubscriberTopicRow if topic is not None else SubscriberFeedRow
        col = "topic_id" if topic is not None else "feed_id"
        ident = topic if topic is not None else feed
        target: Any = TopicRow if topic is not None else FeedRow
        async with self._tx() as s:
            await self._ensure(s, subscriber_id)
            key = (row_cls.subscriber_id == subscriber_id, getattr(row_cls, col) == ident)
            present = await s.execute(select(func.count()).select_from(row_cls).where(*key))
            has = bool(present.scalar_one())
            want = (not has) if on is None else on
            if want and not has and await s.get(target, ident) is None:
                return None
            if want and not has:
                await s.execute(insert(row_cls).values(subscriber_id=subscriber_id, **{col: ident}))
            elif not want and has:
                await s.execute(delete(row_cls).where(*key))
            left = 0
            for cls in (SubscriberTopicRow, SubscriberFeedRow):
                q = select(func.count()).select_from(cls).where(cls.subscriber_id == subscriber_id)
                left += int((await s.execute(q)).scalar_one())
            await s.execute(
                update(PreferenceRow)
                .where(PreferenceRow.subscriber_id == subscriber_id)
                .values(all_news=left == 0)
            )
        return await self.get(subscriber_id)

    async def set_language(self, subscriber_id: int, language: str) -> None:
        async with self._tx() as s:
            await s.execute(
                update(SubscriberRow)
                .where(SubscriberRow.id == subscriber_id)
                .values(language=language)
            )

    async def add_keyword(self, subscriber_id: int, word: str, *, exclude: bool) -> bool:
        """Add or re-mark one keyword; False when the subscriber has too many already."""
        async with self._tx() as s:
            q = select(func.count()).where(KeywordRow.subscriber_id == subscriber_id)
            if int((await s.execute(q)).scalar_one()) >= MAX_KEYWORDS:
                return False
            stmt = (
                self._insert(KeywordRow)
                .values(subscriber_id=subscriber_id, word=word, exclude=exclude)
                .on_conflict_do_update(
                    index_elements=["subscriber_id", "word"], set_={"exclude": exclude}
                )
            )
            await s.execute(stmt)
            return True

    async def remove_keyword(self, subscriber_id: int, word: str | None) -> int:
        """Remove one keyword (case-insensitive), or all of them with None."""
        async with self._tx() as s:
            stmt = delete(KeywordRow).where(KeywordRow.subscriber_id == subscriber_id)
            if word is not None:
                stmt = stmt.where(func.lower(KeywordRow.word) == word.lower())
            return int((await s.execute(stmt)).rowcount)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class WaitingDigest:
    subscriber_id: int
    oldest: datetime


class DigestRepo(Repo):
    async def add_items(self, pairs: Iterable[tuple[int, int]], *, now: datetime) -> int:
        """Put (subscriber, article) on the digest waiting list; repeats are no-ops."""
        rows = [
            {"subscriber_id": s, "article_id": a, "created_at": now, "digest_id": None}
            for s, a in pairs
        ]
        if not rows:
            return 0
        stmt = self._insert(DigestItemRow).on_conflict_do_nothing(
            index_elements=["subscriber_id", "article_id"]
        )
        async with self._tx() as s:
            await s.execute(stmt, rows)
        return len(rows)

    async def waiting(self) -> list[WaitingDigest]:
        """Subscribers with items waiting, and when the oldest arrived."""
        q = (
            select(DigestItemRow.subscriber_id, func.min(DigestItemRow.created_at))
            .where(DigestItemRow.digest_id.is_(None))
            .group_by(DigestItemRow.subscriber_id)
        )
        async with self._tx() as s:
            rows = (await s.execute(q)).all()
        return [WaitingDigest(int(sid), oldest) for sid, oldest in rows]

    async def make(self, subscriber_id: int, *, now: datetime) -> int | None:
        """Gather a subscriber's waiting items into one digest and queue it, atomically.

        One transaction creates the digest, claims the items and inserts the outbox row, so a
        crash can neither lose the items nor queue the same digest twice.
        """
        async with self._tx() as s:
            digest = DigestRow(subscriber_id=subscriber_id, created_at=now)
            s.add(digest)
            await s.flush()
            res = await s.execute(
                update(DigestItemRow)
                .where(
                    DigestItemRow.subscriber_id == subscriber_id,
                    DigestItemRow.digest_id.is_(None),
                )
                .values(digest_id=digest.id)
            )
            if not res.rowcount:  # type: ignore[attr-defined]
                await s.delete(digest)
                return None
            s.add(
                DeliveryRow(
                    subscriber_id=subscriber_id,
                    kind=DIGEST,
                    item_id=digest.id,
                    status=PENDING,
                    attempts=0,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
            return int(digest.id)

    async def articles_of(self, digest_id: int) -> list[int]:
        q = (
            select(DigestItemRow.article_id)
            .where(DigestItemRow.digest_id == digest_id)
            .order_by(DigestItemRow.article_id)
        )
        async with self._tx() as s:
            return [int(a) for a in (await s.execute(q)).scalars()]

    async def subscriber_of(self, digest_id: int) -> int | None:
        async with self._tx() as s:
            row = await s.get(DigestRow, digest_id)
            return row.subscriber_id if row else None


class AnnouncementFlags(Repo):
    """The urgent flag of announcements (the column is new in 0005; the record is shared)."""

    async def set_urgent(self, announcement_id: int, urgent: bool = True) -> None:
        async with self._tx() as s:
            await s.execute(
                update(AnnouncementRow)
                .where(AnnouncementRow.id == announcement_id)
                .values(urgent=urgent)
            )

    async def is_urgent(self, announcement_id: int) -> bool:
        q = select(AnnouncementRow.urgent).where(AnnouncementRow.id == announcement_id)
        async with self._tx() as s:
            return bool((await s.execute(q)).scalar_one_or_none())


@dataclass(frozen=True)
class Extra:
    preferences: PreferenceRepo
    topics: TopicRepo
    digests: DigestRepo
    search: SearchRepo
    announcements: AnnouncementFlags


_EXTRA: WeakKeyDictionary[Store, Extra] = WeakKeyDictionary()


def extra(store: Store) -> Extra:
    """The issue-5 repositories over `store`'s engine, built once per Store."""
    got = _EXTRA.get(store)
    if got is None:
        sessions = async_sessionmaker(store.engine, expire_on_commit=False)
        dialect = store.engine.dialect.name
        got = Extra(
            PreferenceRepo(sessions, dialect),
            TopicRepo(sessions, dialect),
            DigestRepo(sessions, dialect),
            SearchRepo(sessions, dialect),
            AnnouncementFlags(sessions, dialect),
        )
        _EXTRA[store] = got
    return got
