"""The periodic jobs of the active scheduler, with their periods.

`bantin run` runs them beside the bot and the deliverer; `bantin scheduler` runs them only
while it holds the scheduler lock (jobs/ops/leader.py).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from bot.app.compose import App
from bot.app.settings import Settings
from jobs.ops.scheduler import Job
from jobs.route.announce import release_due_broadcasts
from jobs.route.fanout import queue_due_digests

log = logging.getLogger(__name__)


def scheduler_jobs(app: App) -> dict[str, tuple[Job, float]]:
    """Every periodic job, name → (job, period in seconds)."""
    settings = app.settings

    async def queue_digests() -> None:
        if await queue_due_digests(app.store, now=app.clock()):
            app.deliverer.wake()

    async def release_scheduled() -> None:
        """Queue scheduled broadcasts whose time has come."""
        if await release_due_broadcasts(app.store, app.clock()):
            app.deliverer.wake()

    async def heartbeat() -> None:
        """The active scheduler's sign of life, read by every process's /healthz."""
        from bot.app.health import beat

        await beat(app.store, app.clock())

    async def retention() -> None:
        """Prune delivered outbox rows and old articles (BANTIN_RETENTION_*_DAYS)."""
        from jobs.ops.retention import prune

        report = await prune(
            app.store,
            now=app.clock(),
            delivered_days=settings.retention_delivered_days,
            article_days=settings.retention_article_days,
        )
        log.info("retention", extra={"deliveries": report.deliveries, "articles": report.articles})

    calendar = settings.work_calendar()

    async def case_deadlines() -> None:
        """Remind units of cases due soon, escalate late ones (jobs/cases/deadlines.py)."""
        from jobs.cases.deadlines import run_deadlines

        run = await run_deadlines(
            app.store,
            calendar,
            now=app.clock(),
            remind_before=timedelta(hours=settings.case_remind_before),
            configured=configured_staff_chats(settings),
        )
        if run.queued:
            app.deliverer.wake()

    return {
        "case-deadlines": (case_deadlines, settings.case_check_interval),
        "heartbeat": (heartbeat, min(10.0, settings.leader_retry)),
        "retention": (retention, 6 * 3600.0),
        "scheduled-broadcasts": (release_scheduled, 15.0),
        "poll": (app.poll_cycle, float(min(30, settings.poll_interval))),
        "forward-feedback": (app.forward, 30.0),
        "feed-health": (app.feed_health, 60.0),
        "broadcast-progress": (app.report_progress, 3.0),
        "housekeeping": (app.housekeeping, 60.0),
        "digests": (queue_digests, settings.digest_check_interval),
        "media-fetch": (app.fetch_photos, 30.0),  # jobs/media/fetcher.py
        "media-retention": (app.prune_photos, 6 * 3600.0),  # BANTIN_RETENTION_PHOTO_DAYS
    }


def configured_staff_chats(settings: Settings) -> list[tuple[str, str]]:
    """The configured staff chats as (platform, chat): where a unit without its own chat, and
    the default unit, read (the console's staff pane in the demo)."""
    from bot.adapters import console

    if settings.console_mode:
        return [(console.PLATFORM, console.STAFF_CHAT)]
    chats = []
    if settings.staff_chat_id is not None and settings.telegram_token is not None:
        chats.append(("telegram", str(settings.staff_chat_id)))
    if settings.zalo_staff_chat_id is not None:
        chats.append(("zalo", settings.zalo_staff_chat_id))
    return chats
