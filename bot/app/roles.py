"""The split processes for scale: `bantin serve`, `bantin scheduler`, `bantin worker`.

`bantin run` keeps everything in one process (bot/app/compose.py). For a province or a newsroom the
same parts run apart, all sharing one PostgreSQL database:
- serve: receives Telegram and Zalo webhooks, does the dialog's work, answers fast; also
  /healthz and /metrics. Any number behind a load balancer (update ids are de-duplicated in
  the database).
- scheduler: feeds, digests, scheduled broadcasts, staff notices, retention. Exactly one is
  active (jobs/ops/leader.py); the others stand by and take over within seconds of its death.
- worker: delivers the outbox. Any number; rows are claimed with FOR UPDATE SKIP LOCKED and
  leased, so none is sent twice and a dead worker's rows come back after the lease.

Each is built from the same App as `bantin run` and only runs its own part of it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import suppress
from typing import Any, TextIO

from bot.app.compose import (
    STOP_GRACE_SECONDS,
    App,
    bootstrap,
    build_app,
    open_store,
    prepare_dialog,
    scheduler_jobs,
    start_metrics,
    start_zalo,
    stop_on_signals,
    stop_runner,
    stop_zalo,
    telegram_poller,
)
from bot.app.settings import Settings
from jobs.channel import Fatal
from jobs.ops.leader import LEADER_STATE_KEY, Leadership, describe, identity
from jobs.ops.scheduler import build_scheduler
from jobs.ops.supervise import supervised
from jobs.sleep import sleep_or_stop

log = logging.getLogger(__name__)

OnStart = Callable[[App], object] | None


async def _open(settings: Settings, out: TextIO | None) -> App:
    store = await open_store(settings)
    try:
        await bootstrap(settings, store)
        app = await build_app(settings, store, out=out)
    except BaseException:
        await store.aclose()
        raise
    if app.bot is not None:
        try:
            await app.bot.initialize()  # type: ignore[attr-defined]
        except Exception as err:
            await app.aclose()
            raise Fatal(f"cannot reach Telegram: {type(err).__name__}") from None
    return app


async def run_worker(
    settings: Settings,
    *,
    stop: asyncio.Event | None = None,
    out: TextIO | None = None,
    on_start: OnStart = None,
) -> int:
    """Deliver the outbox until stopped; expired leases (a dead worker's rows) are released."""
    stop = stop or asyncio.Event()
    stop_on_signals(stop)
    app = await _open(settings, out)
    runner = None
    scheduler = build_scheduler({"housekeeping": (app.housekeeping, 60.0)}, loops=app.loops)
    try:
        runner = await start_metrics(app, judge_scheduler=False)
        scheduler.start()
        sender = app.start_loop("deliverer", app.deliverer.run_forever, stop)
        log.info(
            "worker running",
            extra={"who": identity(), "concurrency": settings.send_concurrency},
        )
        if on_start is not None:
            on_start(app)
        await stop.wait()
        log.info("stopping")
        with suppress(TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(sender, timeout=STOP_GRACE_SECONDS)
    finally:
        if scheduler.running:
            scheduler.shutdown(wait=False)
        await stop_runner(runner)
        await app.aclose()
    return 0


async def run_scheduler(
    settings: Settings,
    *,
    stop: asyncio.Event | None = None,
    out: TextIO | None = None,
    on_start: OnStart = None,
) -> int:
    """Stand by until this process holds the scheduler lock, then run every periodic job
    while it does. Losing the lock (its connection broke) returns to standby."""
    stop = stop or asyncio.Event()
    stop_on_signals(stop)
    app = await _open(settings, out)
    leader = Leadership(app.store.engine, retry_seconds=settings.leader_retry)
    runner = None
    try:
        runner = await start_metrics(app)
        await prepare_dialog(app)
        await app.poller.start()  # a standby is ready to poll the moment it takes over
        if on_start is not None:
            on_start(app)

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
                    scheduler.shutdown(wait=False)

        await supervised("scheduler-leader", lead, stop, loops=app.loops)
        log.info("stopping")
    finally:
        await leader.release()
        await stop_runner(runner)
        await app.aclose()
    return 0


async def run_serve(
    settings: Settings,
    *,
    stop: asyncio.Event | None = None,
    out: TextIO | None = None,
    on_start: OnStart = None,
) -> int:
    """Webhooks (Telegram with BANTIN_TELEGRAM_WEBHOOK_URL, else long polling; Zalo as
    configured), /healthz and /metrics on BANTIN_LISTEN."""
    from bot.adapters.telegram.adapter import ALLOWED_UPDATES
    from bot.adapters.telegram.webhook import PATH, ChatQueues, TelegramWebhook
    from bot.adapters.zalo.bot_platform import drain_webhooks
    from storage.zalo import ZaloRepo

    stop = stop or asyncio.Event()
    stop_on_signals(stop)
    app = await _open(settings, out)
    tasks: list[asyncio.Task[None]] = []
    routes: dict[str, Any] = {}
    replies = ChatQueues(loops=app.loops)
    runner = None
    try:
        await prepare_dialog(app)
        bot = app.bot
        if bot is not None and settings.telegram_webhook_url:
            secret = settings.telegram_webhook_secret
            assert secret is not None  # settings insist on it
            seen = ZaloRepo.of(app.store)

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
            )
        elif bot is not None:
            log.warning("no BANTIN_TELEGRAM_WEBHOOK_URL: long polling (run one serve only)")
            poller = telegram_poller(app)
            await poller.prepare()
            tasks.append(app.start_loop("telegram-updates", poller.run, stop))
        routes.update(await start_zalo(app, settings, stop, tasks))
        runner = await start_metrics(app, routes, judge_scheduler=False)
        if bot is not None and settings.telegram_webhook_url:
            secret = settings.telegram_webhook_secret
            assert secret is not None
            await bot.set_webhook(  # type: ignore[attr-defined]
                url=settings.telegram_webhook_url,
                secret_token=secret.get_secret_value(),
                allowed_updates=ALLOWED_UPDATES,
                max_connections=100,
            )
        log.info("serve running", extra={"listen": settings.listen, "routes": sorted(routes)})
        if on_start is not None:
            on_start(app)
        await stop.wait()
        log.info("stopping")
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with suppress(asyncio.CancelledError, Exception):
                await task
        await stop_runner(runner)  # no new requests; then the replies already promised
        await replies.drain(STOP_GRACE_SECONDS)
        await drain_webhooks(routes.values(), STOP_GRACE_SECONDS)  # Zalo's queued replies
        await stop_zalo(app, None)
        await app.aclose()
    return 0
