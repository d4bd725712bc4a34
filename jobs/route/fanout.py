"""Fan-out: turn a stored article or announcement into outbox rows, once per recipient.

The outbox's unique key makes every step here idempotent: running a fan-out twice (after a
crash between queueing and marking) creates no second row for anyone.

Who gets an article, and when, follows each subscriber's choices — topics, sources
and keywords (jobs/route/match.py), instant or digest, quiet hours (jobs/route/digest.py). The
decision is the pure `route`; the rest loads, calls it and writes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from jobs.channel import Capabilities, OutMessage
from jobs.render.messages import render_article_for, render_digest
from jobs.route.announce import hold_for_quiet_hours
from jobs.route.digest import digest_due, effective_quiet, release_time
from jobs.route.match import Candidate, fold, wants
from storage.kinds import DigestMode, OutboxKind
from storage.preferences import QUIET_DEFAULT_KEY
from storage.records import Article, Delivery, Recipient, Subscriber
from storage.store import Store

log = logging.getLogger(__name__)

__all__ = ["fan_out_articles", "queue_announcement"]


@dataclass
class Route:
    """Where one article goes: outbox rows (subscriber, when) and digest waiting-list entries."""

    instant: list[tuple[int, datetime]] = field(default_factory=list)
    digest: list[int] = field(default_factory=list)


def topics_of(categories: tuple[str, ...], category_map: dict[str, int]) -> frozenset[int]:
    """The operator's topics an article's feed categories map onto."""
    return frozenset(category_map[c] for c in map(fold, categories) if c in category_map)


def route(
    item: Candidate, recipients: list[Recipient], *, now: datetime, quiet_default: str | None
) -> Route:
    """Decide, for every active recipient, whether and how an article reaches them."""
    out = Route()
    for r in recipients:
        prefs = r.preferences
        if not r.subscriber.active or not wants(prefs, item):
            continue
        if prefs.mode == DigestMode.DIGEST:
            out.digest.append(r.subscriber.id)
            continue
        window = effective_quiet(prefs.quiet_hours, quiet_default)
        out.instant.append((r.subscriber.id, release_time(now, window)))
    return out


async def index_articles(store: Store, *, limit: int = 500) -> int:
    """Write the folded search text of articles not yet indexed (storage/search.py)."""
    search = store.search
    done = 0
    while True:
        batch = await search.unindexed(limit)
        if not batch:
            return done
        await search.put([(i, fold(f"{title}\n{summary or ''}")) for i, title, summary in batch])
        done += len(batch)


async def queue_announcement(store: Store, announcement_id: int, *, now: datetime) -> int:
    """Queue an announcement to every active subscriber now, whatever its status; returns the
    recipient count. Tests and benchmarks seed broadcasts with it; staff broadcasts go through
    jobs/route/announce.py, which checks the draft's author and status first. Both hold non-urgent
    announcements for quiet hours the same way (`hold_for_quiet_hours`)."""
    count = await store.deliveries.enqueue_fanout(
        OutboxKind.ANNOUNCEMENT, announcement_id, now=now, only_all_news=False
    )
    await hold_for_quiet_hours(store, announcement_id, now=now)
    total = await store.deliveries.counts(kind=OutboxKind.ANNOUNCEMENT, item_id=announcement_id)
    recipients = sum(total.values())
    await store.announcements.set_recipients(announcement_id, recipients)
    return count


async def fan_out_articles(store: Store, *, now: datetime) -> int:
    """Queue every article not yet fanned out to the subscribers who want it; returns the
    outbox rows plus digest entries queued."""
    await index_articles(store)
    queued = 0
    while True:
        pending = await store.articles.pending_fanout(limit=200)
        if not pending:
            return queued
        recipients = await store.preferences.recipients()
        category_map = await store.topics.category_map()
        default = await store.state.get(QUIET_DEFAULT_KEY)
        for article in pending:
            item = Candidate.of(
                article.feed_id,
                topics_of(article.categories, category_map),
                article.title,
                article.summary,
            )
            plan = route(item, recipients, now=now, quiet_default=default)
            n = await store.deliveries.enqueue_each(
                OutboxKind.ARTICLE, article.id, plan.instant, now=now
            )
            n += await store.digests.add_items(((s, article.id) for s in plan.digest), now=now)
            await store.articles.mark_fanned_out(article.id, now)
            log.info("article fanned out", extra={"article": article.id, "recipients": n})
            queued += n


async def queue_due_digests(store: Store, *, now: datetime) -> int:
    """Queue a digest for every subscriber whose digest time has come; returns how many."""
    waiting = await store.digests.waiting()
    if not waiting:
        return 0
    made = 0
    for w in waiting:
        prefs = await store.preferences.get(w.subscriber_id)
        # Someone back on instant mode gets what was waiting at once rather than never.
        if prefs.mode != DigestMode.DIGEST or digest_due(now, prefs.digest_times, w.oldest):
            if await store.digests.make(w.subscriber_id, now=now) is not None:
                made += 1
    if made:
        log.info("digests queued", extra={"digests": made})
    return made


async def render_item(
    store: Store, row: Delivery, sub: Subscriber, caps: Capabilities
) -> OutMessage | None:
    """How the deliverer renders an article or a digest for one subscriber (None: the item
    is gone).

    An article: as a photo with a caption when it has an image, link preview per the
    subscriber's choice. A digest: one message listing the items (the deliverer splits it at
    paragraphs when long). jobs/send/deliverer.py calls this for those two outbox kinds.
    """
    prefs = await store.preferences.get(sub.id)
    if row.kind == OutboxKind.ARTICLE:
        article: Article | None = await store.articles.get(row.item_id)
        if article is None:
            return None
        return render_article_for(article, sub.language, caps, link_preview=prefs.link_preview)
    if row.kind == OutboxKind.DIGEST:
        articles = await store.articles.get_many(await store.digests.articles_of(row.item_id))
        if not articles:
            return None
        return render_digest(articles, sub.language, caps, link_preview=prefs.link_preview)
    return None
