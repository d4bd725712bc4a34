"""Fan-out: turn a stored article or announcement into outbox rows, once per recipient.

The outbox's unique key makes every step here idempotent: running a fan-out twice (after a
crash between queueing and marking) creates no second row for anyone.
"""

from __future__ import annotations

import logging
from datetime import datetime

from storage.store import Store

log = logging.getLogger(__name__)

ARTICLE = "article"
ANNOUNCEMENT = "announcement"


async def queue_announcement(store: Store, announcement_id: int, *, now: datetime) -> int:
    """Queue an announcement to every active subscriber; returns the recipient count."""
    count = await store.deliveries.enqueue_fanout(
        ANNOUNCEMENT, announcement_id, now=now, only_all_news=False
    )
    total = await store.deliveries.counts(kind=ANNOUNCEMENT, item_id=announcement_id)
    recipients = sum(total.values())
    await store.announcements.set_recipients(announcement_id, recipients)
    return count


async def fan_out_articles(store: Store, *, now: datetime) -> int:
    """Queue every article not yet fanned out to its subscribers; returns rows queued."""
    queued = 0
    while True:
        pending = await store.articles.pending_fanout(limit=200)
        if not pending:
            return queued
        for article in pending:
            n = await store.deliveries.enqueue_fanout(ARTICLE, article.id, now=now)
            await store.articles.mark_fanned_out(article.id, now)
            log.info("article fanned out", extra={"article": article.id, "recipients": n})
            queued += n
