"""Broadcast progress: counts, rate and ETA from the outbox, and the staff message kept current.

One message per broadcast, edited as it goes (never a flood of messages): the edit happens
only when the shown text changes, and a last time when nothing is left to send.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from jobs.channel import Channel, ChannelError
from jobs.i18n import DEFAULT_LANGUAGE
from jobs.render.cards import render_broadcast_progress
from storage.kinds import DeliveryStatus, OutboxKind
from storage.records import Announcement
from storage.store import Store

log = logging.getLogger(__name__)

RATE_WINDOW = timedelta(seconds=30)


@dataclass(frozen=True)
class Progress:
    queued: int
    sent: int
    failed: int
    blocked: int
    cancelled: int
    remaining: int
    rate: float  # messages per second over the last RATE_WINDOW
    eta_seconds: float | None

    @property
    def done(self) -> bool:
        return self.remaining == 0


def progress_of(counts: Mapping[str, int], sent_recently: int, window: timedelta) -> Progress:
    """Pure: outbox counts by status for one broadcast → what staff see."""
    remaining = counts.get(DeliveryStatus.PENDING, 0) + counts.get(DeliveryStatus.SENDING, 0)
    rate = sent_recently / window.total_seconds()
    eta = remaining / rate if rate > 0 and remaining else (0.0 if not remaining else None)
    return Progress(
        queued=sum(counts.values()),
        sent=counts.get(DeliveryStatus.SENT, 0),
        failed=counts.get(DeliveryStatus.DEAD, 0),
        blocked=counts.get(DeliveryStatus.BLOCKED, 0),
        cancelled=counts.get(DeliveryStatus.CANCELLED, 0),
        remaining=remaining,
        rate=rate,
        eta_seconds=eta,
    )


async def broadcast_progress(store: Store, announcement_id: int, now: datetime) -> Progress:
    counts = await store.deliveries.counts(kind=OutboxKind.ANNOUNCEMENT, item_id=announcement_id)
    recent = await store.deliveries.sent_since(
        OutboxKind.ANNOUNCEMENT, announcement_id, now - RATE_WINDOW
    )
    return progress_of(counts, recent, RATE_WINDOW)


class ProgressReporter:
    """Edits each running broadcast's staff message when its progress text changes."""

    def __init__(
        self, store: Store, channels: Mapping[str, Channel], clock: Callable[[], datetime]
    ) -> None:
        self._store = store
        self._channels = channels
        self._clock = clock
        self._shown: dict[int, str] = {}

    async def run_once(self) -> None:
        for ann in await self._store.announcements.running():
            now = self._clock()
            progress = await broadcast_progress(self._store, ann.id, now)
            await self._show(ann, progress)
            if progress.done:
                await self._store.announcements.mark_finished(ann.id, now)
                self._shown.pop(ann.id, None)
                log.info(
                    "broadcast finished",
                    extra={
                        "announcement": ann.id,
                        "sent": progress.sent,
                        "failed": progress.failed,
                        "blocked": progress.blocked,
                    },
                )

    async def _show(self, ann: Announcement, progress: Progress) -> None:
        channel = self._channels.get(ann.origin_platform or "")
        if channel is None or not ann.origin_chat_id or not ann.progress_message_id:
            return
        message = render_broadcast_progress(ann, progress, DEFAULT_LANGUAGE, channel.capabilities)
        if self._shown.get(ann.id) == message.text:
            return
        try:
            await channel.edit(ann.origin_chat_id, ann.progress_message_id, message)
        except ChannelError as err:
            log.warning(
                "progress edit failed", extra={"announcement": ann.id, "error": err.description}
            )
            return
        self._shown[ann.id] = message.text
