"""The composition root: settings in, every part built and wired once, nothing at import.

`bantin run` calls `run_app`; the CLI's one-shot commands use `open_store` and the same
builders, so they act on the same database with the same rules whether the bot runs or not.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import TextIO

import httpx

from bot import console
from bot.channel import Channel, Fatal
from bot.dialog import Dialog
from bot.events import Event
from bot.i18n import t
from bot.respond import carry_out
from bot.settings import Settings
from jobs.decide import PollBounds
from jobs.deliver import Deliverer
from jobs.fanout import fan_out_articles
from jobs.fetch import make_client
from jobs.forward import forward_feedback
from jobs.health import send_health_notices
from jobs.poll import Poller
from jobs.progress import ProgressReporter
from jobs.scheduler import build_scheduler
from storage.db import safe_url
from storage.staff import ADMIN
from storage.store import Store

log = logging.getLogger(__name__)

STOP_GRACE_SECONDS = 15.0


def utcnow() -> datetime:
    return datetime.now(UTC)


def sample_feed_url() -> str:
    """The bundled demo feed as a file:// URL."""
    path = Path(str(resources.files("bot").joinpath("data/sample_feed.xml")))
    return path.resolve().as_uri()


async def open_store(settings: Settings) -> Store:
    """Open and migrate the database; any failure becomes a Fatal with a one-line reason."""
    store = Store.open(settings.database_url, pool_size=settings.send_concurrency + 4)
    try:
        await store.migrate()
    except Exception as exc:  # the operator needs the reason, not a traceback
        await store.aclose()
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise Fatal(t("cli_db_error", url=safe_url(settings.database_url), error=reason)) from None
    return store


@dataclass
class App:
    settings: Settings
    store: Store
    channels: dict[str, Channel]
    dialog: Dialog
    deliverer: Deliverer
    poller: Poller
    client: httpx.AsyncClient
    staff_target: tuple[Channel, str] | None
    clock: Callable[[], datetime] = utcnow
    bot: object | None = None
    progress: ProgressReporter = field(init=False)
    _forward_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def __post_init__(self) -> None:
        self.progress = ProgressReporter(self.store, self.channels, self.clock)

    async def handle(self, event: Event) -> None:
        outcome = await self.dialog.handle(event)
        await carry_out(self.channels[event.who.platform], event, outcome, self.deliverer.pacer)
        if outcome.wake_outbox:
            self.deliverer.wake()
        if outcome.wake_feedback:
            await self.forward()

    async def poll_cycle(self, *, force: bool = False) -> None:
        """Poll due feeds (every enabled feed with force), fan out, wake the deliverer."""
        if force:
            report = await self.poller.poll([f for f in await self.store.feeds.all() if f.enabled])
        else:
            report = await self.poller.poll_due()
        queued = await fan_out_articles(self.store, now=self.clock())
        if queued:
            self.deliverer.wake()
        await self.feed_health()
        if report.feeds:
            log.info(
                "poll cycle",
                extra={
                    "feeds": len(report.feeds),
                    "new": report.new,
                    "errors": len(report.errors),
                    "queued": queued,
                },
            )

    async def feed_health(self) -> None:
        """Tell staff about feeds that started failing or recovered (jobs/health.py)."""
        if self.staff_target is None:
            return
        channel, chat = self.staff_target
        await send_health_notices(
            self.store,
            channel,
            chat,
            threshold=self.settings.feed_alert_after,
            clock=self.clock,
        )

    async def forward(self) -> None:
        if self.staff_target is None:
            return
        async with self._forward_lock:
            channel, chat = self.staff_target
            await forward_feedback(self.store, channel, chat, clock=self.clock)

    async def report_progress(self) -> None:
        """Keep each running broadcast's staff message current (jobs/progress.py)."""
        await self.progress.run_once()

    async def housekeeping(self) -> None:
        released = await self.store.deliveries.release_expired(self.clock())
        if released:
            log.warning("expired leases released", extra={"rows": released})

    async def aclose(self) -> None:
        await self.poller.aclose()
        await self.client.aclose()
        bot = self.bot
        if bot is not None:
            with suppress(Exception):
                await bot.shutdown()  # type: ignore[attr-defined]
        await self.store.aclose()


def build_channels(
    settings: Settings, out: TextIO | None = None
) -> tuple[dict[str, Channel], object | None]:
    """Telegram when a token is set, else the console channel."""
    if settings.telegram_token is None:
        return {console.PLATFORM: console.ConsoleChannel(out)}, None
    from bot.telegram import TelegramChannel, make_bot

    bot = make_bot(
        settings.telegram_token.get_secret_value(),
        settings.telegram_api_url,
        pool_size=settings.send_concurrency + 4,
    )
    channel = TelegramChannel(bot, paid_broadcast=settings.paid_broadcast)
    return {"telegram": channel}, bot


async def build_app(settings: Settings, store: Store, *, out: TextIO | None = None) -> App:
    channels, bot = build_channels(settings, out)
    caps = {name: ch.capabilities for name, ch in channels.items()}
    clock = utcnow
    client = make_client(max_connections=settings.poll_concurrency)
    staff_target: tuple[Channel, str] | None = None
    if settings.console_mode:
        staff_target = (channels[console.PLATFORM], console.STAFF_CHAT)
    elif settings.staff_chat_id is not None:
        staff_target = (channels["telegram"], str(settings.staff_chat_id))
    backlog = 100 if settings.console_mode else settings.backlog_limit
    return App(
        settings=settings,
        store=store,
        channels=channels,
        dialog=Dialog(store, capabilities=lambda p: caps[p], clock=clock),
        deliverer=Deliverer(
            store,
            channels,
            rate=settings.send_rate,
            concurrency=settings.send_concurrency,
            lease_seconds=settings.lease_seconds,
            clock=clock,
        ),
        poller=Poller(
            store,
            client,
            clock=clock,
            interval=settings.poll_interval,
            backlog_limit=backlog,
            summary_chars=settings.summary_chars,
            max_bytes=settings.feed_max_bytes,
            concurrency=settings.poll_concurrency,
            per_host=settings.poll_per_host,
            bounds=PollBounds(settings.poll_min_interval, settings.poll_max_interval),
            parse_timeout=settings.feed_parse_timeout,
        ),
        client=client,
        staff_target=staff_target,
        clock=clock,
        bot=bot,
    )


async def bootstrap(settings: Settings, store: Store) -> None:
    """Admins from settings, feeds from settings, and the console demo's subscriber."""
    for admin in settings.admin_ids:
        await store.staff.ensure("telegram", str(admin), role=ADMIN, added_by="settings")
    for url in settings.feeds:
        await store.feeds.add(url)
    if settings.console_mode:
        if not settings.feeds and not await store.feeds.all():
            await store.feeds.add(sample_feed_url(), name="Cổng TTĐT huyện Chiêm Hóa (mẫu)")
        await store.subscribers.subscribe(
            console.PLATFORM, console.DEMO_CHAT, display_name="Người dùng thử"
        )
        await store.staff.ensure(
            console.PLATFORM, console.DEMO_CHAT, role=ADMIN, added_by="console"
        )


def stop_on_signals(stop: asyncio.Event) -> None:
    """SIGINT and SIGTERM set `stop`: claiming ends, in-flight sends finish, exit 0."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)


async def _supervised(run: Callable[[asyncio.Event], Awaitable[None]], stop: asyncio.Event) -> None:
    """Keep a long-running loop alive: a crash is logged and the loop restarts shortly after."""
    while not stop.is_set():
        try:
            await run(stop)
        except Exception:
            log.exception("background loop crashed; restarting", extra={"loop": run.__name__})
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=1.0)


async def run_app(
    settings: Settings,
    *,
    stop: asyncio.Event | None = None,
    out: TextIO | None = None,
    on_start: Callable[[App], object] | None = None,
) -> int:
    """Run bot, scheduler and deliverer until `stop` is set or SIGINT/SIGTERM arrives.

    `on_start` receives the wired App once everything runs (tests use it to trigger a poll).
    """
    stop = stop or asyncio.Event()
    stop_on_signals(stop)

    store = await open_store(settings)
    await bootstrap(settings, store)
    app = await build_app(settings, store, out=out)
    if settings.console_mode:
        channel = app.channels[console.PLATFORM]
        assert isinstance(channel, console.ConsoleChannel)
        print(t("console_banner"), file=channel.out, flush=True)

    tasks: list[asyncio.Task[None]] = []
    if app.bot is not None:
        from bot.telegram import UpdatePoller

        poller = UpdatePoller(app.bot, app.handle)  # type: ignore[arg-type]
        try:
            await app.bot.initialize()  # type: ignore[attr-defined]
            await poller.prepare()
        except Exception as err:
            await app.aclose()
            raise Fatal(f"cannot reach Telegram: {err}") from None
        tasks.append(asyncio.create_task(poller.run(stop), name="updates"))

    every = float(min(30, settings.poll_interval))
    scheduler = build_scheduler(
        {
            "poll": (app.poll_cycle, every),
            "forward-feedback": (app.forward, 30.0),
            "feed-health": (app.feed_health, 60.0),
            "broadcast-progress": (app.report_progress, 3.0),
            "housekeeping": (app.housekeeping, 60.0),
        }
    )
    scheduler.start()
    sender = asyncio.create_task(_supervised(app.deliverer.run_forever, stop), name="deliverer")
    log.info("bantin running", extra={"mode": "console" if settings.console_mode else "telegram"})
    if on_start is not None:
        on_start(app)
    try:
        await stop.wait()
    finally:
        log.info("stopping")
        scheduler.shutdown(wait=False)
        for task in tasks:
            task.cancel()
        with suppress(TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(sender, timeout=STOP_GRACE_SECONDS)
        for task in tasks:
            with suppress(asyncio.CancelledError, Exception):
                await task
        await app.aclose()
    return 0
