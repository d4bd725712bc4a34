"""Fan-out: turn a stored article or announcement into outbox rows, once per recipient.

The outbox's unique key makes every step here idempotent: running a fan-out twice (after a
crash between queueing and marking) creates no second row for anyone.

Who gets an article, and when, follows each subscriber's choices — topics, sources
and keywords (jobs/route/match.py), instant or digest, quiet hours (jobs/route/digest.py). The
decision is pure (`audiences`, `route_batch`); storage/fanout.py writes a batch at a time.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from jobs.channel import Capabilities, OutMessage
from jobs.render.messages import render_article_for, render_digest
from jobs.route.announce import hold_for_quiet_hours
from jobs.route.digest import digest_due, effective_quiet, release_time
from jobs.route.match import Candidate, Choice, fold, search_text
from storage.fanout import PendingArticle
from storage.kinds import DigestMode, OutboxKind
from storage.preferences import QUIET_DEFAULT_KEY
from storage.records import Article, Delivery, Recipient, Subscriber
from storage.store import Store

log = logging.getLogger(__name__)

__all__ = ["fan_out_articles", "queue_announcement"]


def topics_of(categories: tuple[str, ...], category_map: dict[str, int]) -> frozenset[int]:
    """The operator's topics an article's feed categories map onto."""
    return frozenset(category_map[c] for c in map(fold, categories) if c in category_map)


async def index_articles(store: Store, *, limit: int = 500) -> int:
    """Write the folded search text of articles not yet indexed (storage/search.py)."""
    search = store.search
    done = 0
    while True:
        batch = await search.unindexed(limit)
        if not batch:
            return done
        await search.put([(i, fold(search_text(title, summary))) for i, title, summary in batch])
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


# Articles per fan-out batch: one read and one transaction each (storage/fanout.py). Each read
# sorts what is still pending, so fewer, larger batches cost less; 1,000 articles without their
# bodies are well under a megabyte.
BATCH_ARTICLES = 1000


@dataclass(frozen=True, eq=False)  # a dictionary key by identity: built once per fan-out
class Audience:
    """Recipients with equal choices and one release time: asked once per article.

    Why: most subscribers keep the defaults (all news, instant, the operator's quiet hours),
    so a batch asks a handful of audiences rather than every subscriber about every article.
    """

    choice: Choice
    digest: bool
    at: datetime  # when an instant push made now may go out (quiet hours)
    members: tuple[int, ...]


def audiences(
    recipients: Iterable[Recipient], *, now: datetime, quiet_default: str | None
) -> list[Audience]:
    """Group active recipients by what `route` decides for them (the same decision)."""
    groups: dict[tuple[Choice, bool, datetime], list[int]] = {}
    for r in recipients:
        if not r.subscriber.active:
            continue
        prefs = r.preferences
        digest = prefs.mode == DigestMode.DIGEST
        at = now if digest else release_time(now, effective_quiet(prefs.quiet_hours, quiet_default))
        groups.setdefault((Choice.of(prefs), digest, at), []).append(r.subscriber.id)
    return [Audience(c, d, at, tuple(m)) for (c, d, at), m in groups.items()]


def route_batch(
    articles: Sequence[PendingArticle],
    folded: Sequence[str],
    groups: Sequence[Audience],
    category_map: dict[str, int],
) -> dict[Audience, list[int]]:
    """The ids of the articles each audience wants, in the batch's order; ``folded[i]`` is
    ``fold(search_text(...))`` of ``articles[i]``."""
    wanted: dict[Audience, list[int]] = {}
    if not groups:
        return wanted
    for article, text in zip(articles, folded, strict=True):
        item = Candidate.of_folded(
            article.feed_id, topics_of(article.categories, category_map), text
        )
        for group in groups:
            if group.choice.wants(item):
                wanted.setdefault(group, []).append(article.id)
    return wanted


async def fan_out_articles(store: Store, *, now: datetime) -> int:
    """Queue every article not yet fanned out to the subscribers who want it; returns the
    outbox rows plus digest entries queued.

    A batch of articles at a time: decided here (audiences, `Choice.wants`), written by
    storage/fanout.py in one transaction (rows queued, search text stored and the batch marked
    done together), so memory stays flat in the number of articles and a crash between batches
    repeats nothing. Backlog marked seen at insert (jobs/ingest/poll.py) is never read here;
    `index_articles` indexes it after the batches (each article is folded once).
    """
    queued = 0
    groups: list[Audience] | None = None  # read once there is something to fan out
    category_map: dict[str, int] = {}
    while True:
        pending = await store.fanout.pending(limit=BATCH_ARTICLES)
        if not pending:
            break
        if groups is None:
            default = await store.state.get(QUIET_DEFAULT_KEY)
            category_map = await store.topics.category_map()
            recipients = await store.preferences.recipients()
            groups = audiences(recipients, now=now, quiet_default=default)
            del recipients
        folded = [fold(search_text(a.title, a.summary)) for a in pending]
        wanted = route_batch(pending, folded, groups, category_map)
        done = await store.fanout.commit_batch(
            [a.id for a in pending],
            [(g.members, g.at, ids) for g, ids in wanted.items() if not g.digest],
            [(g.members, ids) for g, ids in wanted.items() if g.digest],
            search=zip((a.id for a in pending), folded, strict=True),
            now=now,
        )
        log.info(
            "articles fanned out",
            extra={
                "articles": len(pending),
                "marked": done.marked,
                "queued": done.queued,
                "waiting": done.waiting,
            },
        )
        queued += done.queued + done.waiting
    await index_articles(store)  # what no batch indexed: backlog, articles added meanwhile
    return queued


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
