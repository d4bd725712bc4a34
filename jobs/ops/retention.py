"""Retention: old outbox rows and old articles are deleted, in short batches, once a day.

What goes (each limit in days; 0 keeps forever):
- Outbox rows in a final state (sent, cancelled, blocked, dead) last changed more than
  ``delivered_days`` ago (BANTIN_RETENTION_DELIVERED_DAYS, 30). Pending and sending (leased)
  rows never go: they are work still to do. Dead letters go too, once as old as the limit: they
  are shown to operators for a retry, and a push retried a month late is stale news, so the
  limit is also how long operators have to act on one.
- Articles created more than ``article_days`` ago (BANTIN_RETENTION_ARTICLE_DAYS, 180) that
  nothing still needs: fanned out, no pending or leased push of them, not waiting in a digest
  that has not been sent, not the subject of a citizen's feedback (the ticket keeps its
  article). Their search rows go with them.

What must never go: an article its feed still lists. The poller recognises an item as known
by its stored GUID (per feed) or link (across feeds); once the row is gone, the next poll of a
feed still listing the item would store it as new and push it to everyone again. Two rules
keep such articles:
1. A feed's newest ``keep_per_feed`` (100) articles are kept, however old. Feeds list their
   newest items, usually 10 to 50 of them, so this covers the ordinary feed on its own, with no
   help from the poller.
2. Listings: when the poller records what each feed listed (``record_listings``, one call per
   flush of its bookkeeping), an article whose GUID its feed last listed, or whose link any feed
   last listed, is kept. This covers the feed that keeps an old item pinned while newer ones
   pass, and one portal's article listed by a second, slower feed.
The first rule alone could still let a pinned item go; the second alone would not protect
feeds whose body has not changed since the listing was first recorded. Together they are the
cheapest safe choice: no schema change and no extra write in the poller's hot path beyond one
batched upsert per flush.

Outbox rows are deleted before articles, so an article whose only references were old rows
goes in the same run.

Handled update and event ids (the seen-ids table that recognises Zalo's and Telegram's
repeats) older than storage.zalo.SEEN_KEEP (30 days) go too: no platform sends an event again
that late, and the Zalo OA webhook refuses events older than its window (at most a day).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from storage.retention import ArticleCandidate, Listing, RetentionRepo
from storage.zalo import SEEN_KEEP

if TYPE_CHECKING:
    from storage.store import Store

log = logging.getLogger(__name__)

BATCH = 5_000  # rows per statement and transaction
KEEP_PER_FEED = 100  # each feed's newest articles, kept whatever their age


@dataclass(frozen=True)
class PruneReport:
    deliveries: int = 0  # outbox rows deleted
    articles: int = 0  # articles deleted
    articles_kept: int = 0  # old and unreferenced, but kept: listed or among their feed's newest
    seen_ids: int = 0  # handled update/event ids older than SEEN_KEEP, deleted

    def as_dict(self) -> dict[str, int]:
        return {
            "deliveries": self.deliveries,
            "articles": self.articles,
            "articles_kept": self.articles_kept,
            "seen_ids": self.seen_ids,
        }


def cutoff(now: datetime, days: int) -> datetime | None:
    """The moment before which rows may go; None for 0 (keep forever)."""
    return now - timedelta(days=days) if days > 0 else None


@dataclass(frozen=True)
class Protection:
    """What keeps an old article: its feed's newest-article floor and the feeds' listings."""

    floors: Mapping[int, int]  # feed id → id of its keep-th newest article (absent: keep all)
    guids: Mapping[int, Collection[str]]  # feed id → GUIDs that feed last listed
    links: Collection[str]  # links any feed last listed
    keep_per_feed: int

    @classmethod
    def build(cls, floors: Mapping[int, int], listings: list[Listing], keep: int) -> Protection:
        links: set[str] = set()
        for listing in listings:
            links |= listing.links
        return cls(floors, {li.feed_id: li.guids for li in listings}, links, keep)


def keep_article(article: ArticleCandidate, protection: Protection) -> bool:
    """Whether an old, unreferenced article must stay because a feed may still list it."""
    if protection.keep_per_feed > 0:
        floor = protection.floors.get(article.feed_id)
        if floor is None or article.id >= floor:
            return True
    if article.guid in protection.guids.get(article.feed_id, ()):
        return True
    return article.link is not None and article.link in protection.links


async def record_listings(store: Store, listings: list[Listing]) -> None:
    """Remember what feeds listed; the poller calls this when it flushes its bookkeeping."""
    await store.retention.record_listings(listings)


async def prune(
    store: Store,
    *,
    now: datetime,
    delivered_days: int,
    article_days: int,
    batch: int = BATCH,
    keep_per_feed: int = KEEP_PER_FEED,
) -> PruneReport:
    """Delete old final outbox rows, then old articles nothing needs, then seen ids older
    than SEEN_KEEP; see the module doc."""
    repo = store.retention
    deliveries = 0
    deliveries_cut = cutoff(now, delivered_days)
    if deliveries_cut is not None:
        while True:
            n = await repo.delete_final_deliveries(deliveries_cut, batch=batch)
            deliveries += n
            if n:
                log.info("retention: outbox rows deleted", extra={"rows": n, "total": deliveries})
            if n < batch:
                break
            await asyncio.sleep(0)  # let the sender and poller in between batches
    articles = kept = 0
    articles_cut = cutoff(now, article_days)
    if articles_cut is not None:
        articles, kept = await _prune_articles(repo, articles_cut, batch, keep_per_feed)
    seen = await store.zalo.prune_seen(now - SEEN_KEEP)
    report = PruneReport(deliveries, articles, kept, seen)
    log.info("retention done", extra=report.as_dict())
    return report


async def _prune_articles(
    repo: RetentionRepo, cut: datetime, batch: int, keep_per_feed: int
) -> tuple[int, int]:
    last = await repo.last_article_id(cut)
    if last is None:
        return 0, 0
    floors = await repo.newest_floors(keep_per_feed) if keep_per_feed > 0 else {}
    protection = Protection.build(floors, await repo.listings(), keep_per_feed)
    deleted = kept = 0
    after = 0
    while after < last:
        page = await repo.article_candidates(cut, after_id=after, limit=batch)
        if not page:
            break
        after = page[-1].id
        doomed = [a.id for a in page if not keep_article(a, protection)]
        kept += len(page) - len(doomed)
        n = await repo.delete_articles(doomed, cut)
        deleted += n
        if n:
            log.info("retention: articles deleted", extra={"rows": n, "total": deleted})
        await asyncio.sleep(0)
    return deleted, kept
