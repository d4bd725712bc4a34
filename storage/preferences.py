"""What each subscriber chose: scope (all news, topics, sources), keywords, mode and timing."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, insert, select, update

from storage.base import Repo
from storage.kinds import DigestMode
from storage.models import (
    FeedRow,
    KeywordRow,
    PreferenceRow,
    SubscriberFeedRow,
    SubscriberRow,
    SubscriberTopicRow,
    TopicRow,
)
from storage.records import Preferences, Recipient
from storage.subscribers import _subscriber

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
            .values(
                subscriber_id=subscriber_id,
                all_news=True,
                mode=DigestMode.INSTANT,
                link_preview=False,
            )
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
