"""The one way a staff broadcast reaches the outbox.

Chat (the one-line `/broadcast <text>` and the guided composer), the CLI and the scheduler all
queue through `submit` / `queue`, so every broadcast gets the same rules: only its author's
draft is confirmed (checked in the same statement that changes its status), it goes to its own
audience, at its own time, and a non-urgent one waits for each recipient's quiet hours.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from jobs.route.digest import effective_quiet, release_time
from storage.kinds import AnnouncementStatus, OutboxKind
from storage.preferences import QUIET_DEFAULT_KEY
from storage.store import Store

log = logging.getLogger(__name__)

REFUSED = "refused"


@dataclass(frozen=True)
class Submitted:
    """What confirming a draft did: `outcome` is QUEUED (with `count` recipients), SCHEDULED
    (for `when`) or REFUSED (not a draft any more, or not the confirmer's own)."""

    outcome: str
    count: int = 0
    when: datetime | None = None


async def submit(store: Store, announcement_id: int, *, by: str, now: datetime) -> Submitted:
    """Confirm `by`'s own draft: scheduled when its time is still ahead, else queued now."""
    ann = await store.announcements.get(announcement_id)
    if ann is None or ann.status != AnnouncementStatus.DRAFT or ann.created_by != by:
        return Submitted(REFUSED)
    if ann.scheduled_at is not None and ann.scheduled_at > now:
        if not await store.announcements.schedule(announcement_id, by=by):
            return Submitted(REFUSED)
        return Submitted(AnnouncementStatus.SCHEDULED, when=ann.scheduled_at)
    count = await queue(store, announcement_id, now=now, by=by)
    if count is None:
        return Submitted(REFUSED)
    return Submitted(AnnouncementStatus.QUEUED, count=count)


async def queue(
    store: Store,
    announcement_id: int,
    *,
    now: datetime,
    frm: str = AnnouncementStatus.DRAFT,
    by: str | None = None,
) -> int | None:
    """`frm` → queued with outbox rows for the announcement's audience (one transaction), then
    the quiet-hours hold; the recipients queued, or None when it was not in `frm` (a double
    tap, a race) or `by` is given and did not write it."""
    count = await store.announcements.queue_now(announcement_id, now=now, frm=frm, by=by)
    if count is None:
        return None
    await hold_for_quiet_hours(store, announcement_id, now=now)
    return count


async def hold_for_quiet_hours(store: Store, announcement_id: int, *, now: datetime) -> None:
    """A non-urgent broadcast waits for the end of each recipient's quiet hours; urgent ones
    (staff marked them) go out at once."""
    if await store.announcements.is_urgent(announcement_id):
        return
    default = await store.state.get(QUIET_DEFAULT_KEY)
    held: dict[datetime, list[int]] = defaultdict(list)
    for r in await store.preferences.recipients():
        at = release_time(now, effective_quiet(r.preferences.quiet_hours, default))
        if at > now:
            held[at].append(r.subscriber.id)
    for at, ids in held.items():  # one UPDATE per distinct window end, not per person
        await store.deliveries.defer(OutboxKind.ANNOUNCEMENT, announcement_id, ids, until=at)


async def release_due_broadcasts(store: Store, now: datetime) -> int:
    """Queue every scheduled broadcast whose time has come (run by the scheduler); returns how
    many. Status and outbox rows change in one transaction, so running this twice, or in two
    processes, queues each broadcast once."""
    released = 0
    for ann in await store.announcements.due_scheduled(now):
        count = await queue(store, ann.id, now=now, frm=AnnouncementStatus.SCHEDULED)
        if count is not None:
            released += 1
            log.info("scheduled broadcast queued", extra={"announcement": ann.id, "count": count})
    return released


__all__ = [
    "REFUSED",
    "Submitted",
    "hold_for_quiet_hours",
    "queue",
    "release_due_broadcasts",
    "submit",
]
