"""Feed health notices: staff hear once when a feed starts failing and once when it recovers.

Why: a feed that dies silently is the commonest failure of feed bots. The poller never switches a
feed off (it backs off, at least once a day); this job tells people. What staff were last told is
stored on the feed (``alert_state``), so the decision is a pure function of the feeds
(``health_notices``) and sending is crash-safe: a notice is sent first and recorded after, so a
crash in between repeats that one message at the next run rather than losing it; a notice that
cannot be sent now stays due and is retried by the next run (after each poll and every minute).
Runs on one Store never overlap (a lock per Store), so one process never sends a notice twice.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from jobs.channel import HTML, Capabilities, ChannelError, OutMessage, RateLimited
from jobs.i18n import DEFAULT_LANGUAGE, t
from jobs.ingest.fetch import redact_url
from jobs.render.markup import escape
from storage.records import Feed

if TYPE_CHECKING:
    from jobs.channel import Channel
    from storage.store import Store

log = logging.getLogger(__name__)

OK = "ok"
FAILING = "failing"
FAILING_NOTICE = "failing"
RECOVERED_NOTICE = "recovered"
MAX_ERROR_CHARS = 500  # the stored error may be 2000 characters; a chat message need not be

_locks: weakref.WeakKeyDictionary[object, asyncio.Lock] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class Notice:
    """One message due to staff about one feed."""

    kind: str  # FAILING_NOTICE | RECOVERED_NOTICE
    feed: Feed

    @property
    def new_state(self) -> str:
        return FAILING if self.kind == FAILING_NOTICE else OK

    @property
    def old_state(self) -> str:
        return OK if self.kind == FAILING_NOTICE else FAILING


def health_notices(feeds: Iterable[Feed], threshold: int) -> list[Notice]:
    """Notices due: failing (``threshold`` or more errors in a row, staff not told yet) and
    recovered (staff were told it failed, and it has succeeded since).

    A disabled feed gets no new failing notice (somebody switched it off on purpose), but its
    recovery is still announced if it somehow succeeds.
    """
    out: list[Notice] = []
    for feed in feeds:
        if feed.alert_state == FAILING:
            if feed.consecutive_errors == 0 and feed.last_success_at is not None:
                out.append(Notice(RECOVERED_NOTICE, feed))
        elif feed.enabled and feed.consecutive_errors >= threshold:
            out.append(Notice(FAILING_NOTICE, feed))
    return out


def _when(moment: datetime | None, lang: str) -> str:
    if moment is None:
        return t("feed_never", lang)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def render_notice(
    notice: Notice, capabilities: Capabilities, lang: str = DEFAULT_LANGUAGE
) -> OutMessage:
    """The staff message for one notice, in the channel's markup (HTML escaped, or plain)."""
    feed = notice.feed
    html = capabilities.markup == HTML
    esc: Callable[[str], str] = escape if html else (lambda s: s)
    name = feed.name or redact_url(feed.url)
    error = (feed.last_error or "?").replace("\n", " ")
    if len(error) > MAX_ERROR_CHARS:
        error = error[: MAX_ERROR_CHARS - 1] + "…"
    if notice.kind == FAILING_NOTICE:
        key = "feed_failing_html" if html else "feed_failing"
        text = t(
            key,
            lang,
            name=esc(name),
            url=esc(redact_url(feed.url)),
            errors=feed.consecutive_errors,
            last_success=esc(_when(feed.last_success_at, lang)),
            error=esc(error),
        )
    else:
        key = "feed_recovered_html" if html else "feed_recovered"
        text = t(
            key,
            lang,
            name=esc(name),
            url=esc(redact_url(feed.url)),
            since=esc(_when(feed.alert_changed_at, lang)),
        )
    return OutMessage(text=text[: capabilities.max_text], markup=capabilities.markup)


async def send_health_notices(
    store: Store,
    channel: Channel,
    chat_id: str,
    *,
    threshold: int,
    clock: Callable[[], datetime],
    lang: str = DEFAULT_LANGUAGE,
) -> int:
    """Send every due notice to the staff chat, recording each after it is sent.

    Returns how many were sent. Stops at the first channel error (the chat is unreachable or
    rate-limited: the rest stay due for the next run).
    """
    lock = _locks.setdefault(store, asyncio.Lock())
    async with lock:
        sent = 0
        for notice in health_notices(await store.feeds.all(), threshold):
            try:
                await channel.send(chat_id, render_notice(notice, channel.capabilities, lang))
            except RateLimited as err:
                log.warning("staff chat rate limited", extra={"retry_after": err.retry_after})
                break
            except ChannelError as err:
                log.error(
                    "feed health notice failed",
                    extra={"feed": notice.feed.id, "error": err.description},
                )
                break
            await store.feeds.set_alert_state(
                notice.feed.id, notice.new_state, now=clock(), expected=notice.old_state
            )
            log.info("feed health notice sent", extra={"feed": notice.feed.id, "kind": notice.kind})
            sent += 1
        return sent
