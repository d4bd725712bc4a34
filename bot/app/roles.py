"""The long-running roles: `bantin run` (everything in one process) and the split processes
for scale, `bantin serve`, `bantin scheduler`, `bantin worker`.

For a province or a newsroom the parts of `bantin run` run apart, all sharing one PostgreSQL
database:
- serve: receives Telegram and Zalo webhooks, does the dialog's work, answers fast; also
  /healthz and /metrics. Any number behind a load balancer (update ids are de-duplicated in
  the database).
- scheduler: feeds, digests, scheduled broadcasts, staff notices, retention. Exactly one is
  active (jobs/ops/leader.py); the others stand by and take over within seconds of its death.
- worker: delivers the outbox. Any number; rows are claimed with FOR UPDATE SKIP LOCKED and
  leased, so none is sent twice and a dead worker's rows come back after the lease.

Each role is only what it starts; the app it starts from (bot/app/compose.py) and the start,
signals and stop around it (bot/app/runner.py) are the same for all of them.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, TextIO

from bot.adapters import console
from bot.app.compose import App
from bot.app.runner import (
    STOP_GRACE_SECONDS,
    OnStart,
    Running,
    reaching_telegram,
    run_role,
    start_metrics,
)
from bot.app.schedule import scheduler_jobs
from bot.app.settings import Settings
from bot.app.startup import prepare_dialog, telegram_poller
from bot.app.zalo import serve_zalo_routes, start_zalo
from bot.web import serve as web_console
from jobs.i18n import t
from jobs.ops.leader import LEADER_STATE_KEY, Leadership, describe, identity
from jobs.ops.scheduler import build_scheduler, stop_scheduler
from jobs.sleep import sleep_or_stop

log = logging.getLogger(__name__)

__all__ = ["run_app", "run_scheduler", "run_serve", "run_worker"]


async def run_app(
    settings: Settings,
    *,
    stop: asyncio.Event | None = None,
    out: TextIO | None = None,
    on_start: OnStart = None,
) -> int:
    """Bot, scheduler and deliverer in one process (console mode without a token)."""
    return await run_role(settings, _everything, stop=stop, out=out, on_start=on_start)


async def run_worker(
    settings: Settings,
    *,
    stop: asyncio.Event | None = None,
    out: TextIO | None = None,
    on_start: OnStart = None,
) -> int:
    """Deliver the outbox until stopped; expired leases (a dead worker's rows) are released."""
    return await run_role(settings, _worker, stop=stop, out=out, on_start=on_start)


async def run_scheduler(
    settings: Settings,
    *,
    stop: asyncio.Event | None = None,
    out: TextIO | None = None,
    on_start: OnStart = None,
) -> int:
    """Stand by until this process holds the scheduler lock, then run every periodic job
    while it does. Losing the lock (its connection broke) returns to standby."""
    return await run_role(settings, _scheduler, stop=stop, out=out, on_start=on_start)


async def run_serve(
    settings: Settings,
    *,
    stop: asyncio.Event | None = None,
    out: TextIO | None = None,
    on_start: OnStart = None,
) -> int:
    """Webhooks (Telegram with BANTIN_TELEGRAM_WEBHOOK_URL, else long polling; Zalo as
    configured), /healthz and /metrics on BANTIN_LISTEN."""
    return await run_role(settings, _serve, stop=stop, out=out, on_start=on_start)


async def _everything(app: App, stop: asyncio.Event, running: Running) -> None:
    settings = app.settings
    if settings.console_mode:
        channel = app.channels[console.PLATFORM]
        assert isinstance(channel, console.ConsoleChannel)
        print(t("console_banner"), file=channel.out, flush=True)
    if app.bot is not None:
        poller = telegram_poller(app)
        async with reaching_telegram(settings):
            await poller.prepare()
        running.intake.append(app.start_loop("telegram-updates", poller.run, stop))
        running.drains.append(poller.replies.drain)  # replies promised before the stop
    zalo_server = await serve_zalo_routes(settings, await start_zalo(app, stop, running.intake))
    running.servers.append(zalo_server)
    await prepare_dialog(app)
    await app.poller.start()
    running.scheduler = build_scheduler(scheduler_jobs(app), loops=app.loops)
    running.scheduler.start()
    running.sender = app.start_loop("deliverer", app.deliverer.run_forever, stop)
    out = app.channels[console.PLATFORM].out if settings.console_mode else None  # type: ignore[attr-defined]
    running.servers.append(await web_console.start(app, fatal=False, out=out))
    mode = "console" if settings.console_mode else "+".join(sorted(app.channels))
    log.info("bantin running", extra={"mode": mode})


async def _worker(app: App, stop: asyncio.Event, running: Running) -> None:
    running.scheduler = build_scheduler({"housekeeping": (app.housekeeping, 60.0)}, loops=app.loops)
    running.servers.append(await start_metrics(app, judge_scheduler=False))
    running.scheduler.start()
    running.sender = app.start_loop("deliverer", app.deliverer.run_forever, stop)
    log.info(
        "worker running",
        extra={"who": identity(), "concurrency": app.settings.send_concurrency},
    )


async def _scheduler(app: App, stop: asyncio.Event, running: Running) -> None:
    settings = app.settings
    leader = Leadership(app.store.engine, retry_seconds=settings.leader_retry)
    running.then.append(leader.release)
    running.servers.append(await start_metrics(app))
    await prepare_dialog(app)
    await app.poller.start()  # a standby is ready to poll the moment it takes over

    async def lead(stop: asyncio.Event) -> None:
        """Stand by, lead while the lock is held, stand by again; a database error while
        asking for the lock is a crash the supervisor restarts, not the end of the role."""
        while not stop.is_set():
            if not await leader.acquire(stop):
                return
            since = app.clock()
            await app.store.state.set(LEADER_STATE_KEY, describe(identity(), since))
            log.info("scheduler active", extra={"who": identity()})

            scheduler = build_scheduler(scheduler_jobs(app), loops=app.loops)
            scheduler.start()
            try:
                while not stop.is_set():
                    await sleep_or_stop(stop, settings.leader_retry)
                    if not stop.is_set() and not await leader.held():
                        log.error("scheduler lock lost; standing by", extra={"who": identity()})
                        break
            finally:
                await stop_scheduler(scheduler, STOP_GRACE_SECONDS)

    running.loops.append(app.start_loop("scheduler-leader", lead, stop))


async def _serve(app: App, stop: asyncio.Event, running: Running) -> None:
    from bot.adapters.telegram.adapter import ALLOWED_UPDATES
    from bot.adapters.telegram.webhook import PATH, ChatQueues, TelegramWebhook
    from bot.adapters.zalo.bot_platform import drain_webhooks

    settings = app.settings
    routes: dict[str, Any] = {}
    replies = ChatQueues(loops=app.loops)
    running.drains.append(replies.drain)  # Telegram's replies promised before the stop

    async def drain_zalo(grace: float) -> None:  # Zalo's queued replies
        await drain_webhooks(routes.values(), grace)

    running.drains.append(drain_zalo)
    await prepare_dialog(app)
    bot = app.bot
    if bot is not None and settings.telegram_webhook_url:
        secret = settings.telegram_webhook_secret
        assert secret is not None  # settings insist on it
        seen = app.store.zalo

        async def was_seen(key: str) -> bool:
            return await seen.was_seen("telegram-update", key)

        async def remember(key: str) -> None:
            await seen.mark_seen("telegram-update", key, app.clock())

        routes[PATH] = TelegramWebhook(
            bot,  # type: ignore[arg-type]
            secret.get_secret_value(),
            app.take,
            seen=was_seen,
            remember=remember,
            replies=replies,
            dead=app.store.dead_updates,
            clock=app.clock,
            seen_log=seen,  # handled ids recorded in batches
        )
    elif bot is not None:
        log.warning("no BANTIN_TELEGRAM_WEBHOOK_URL: long polling (run one serve only)")
        poller = telegram_poller(app)
        async with reaching_telegram(settings):
            await poller.prepare()
        running.intake.append(app.start_loop("telegram-updates", poller.run, stop))
        running.drains.append(poller.replies.drain)  # replies promised before the stop
    routes.update(await start_zalo(app, stop, running.intake))
    running.servers.append(await web_console.start(app, routes, judge_scheduler=False))
    if bot is not None and settings.telegram_webhook_url:
        secret = settings.telegram_webhook_secret
        assert secret is not None
        async with reaching_telegram(settings):
            await bot.set_webhook(  # type: ignore[attr-defined]
                url=settings.telegram_webhook_url,
                secret_token=secret.get_secret_value(),
                allowed_updates=ALLOWED_UPDATES,
                max_connections=100,
            )
    log.info("serve running", extra={"listen": settings.listen, "routes": sorted(routes)})
