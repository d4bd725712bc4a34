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
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import httpx

from bot.adapters import console
from bot.app.logs import redact
from bot.app.settings import Settings
from bot.dialog.events import Event
from bot.dialog.flows.broadcast import release_due_broadcasts
from bot.dialog.flows.feedback import RateLimit
from bot.dialog.flows.groups import install_admin_check
from bot.dialog.respond import carry_out
from bot.dialog.router import Dialog
from jobs.channel import Channel, ChannelError, Fatal
from jobs.i18n import t
from jobs.ingest.decide import PollBounds
from jobs.ingest.fetch import make_client
from jobs.ingest.poll import Poller
from jobs.ops.scheduler import Job, build_scheduler
from jobs.ops.supervise import Loops, Run, supervised
from jobs.route.fanout import fan_out_articles, queue_due_digests
from jobs.send.deliverer import Deliverer
from jobs.staff.feed_alerts import send_health_notices
from jobs.staff.forward import current_staff_chat, forward_feedback
from jobs.staff.progress import ProgressReporter
from storage.budget import SendBudget
from storage.db import safe_url
from storage.preferences import QUIET_DEFAULT_KEY
from storage.staff import ADMIN
from storage.store import Store

if TYPE_CHECKING:
    from bot.adapters.telegram.adapter import UpdatePoller

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
    loops: Loops = field(default_factory=Loops)  # every loop's crash record, read by /healthz
    _forward_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def __post_init__(self) -> None:
        self.progress = ProgressReporter(self.store, self.channels, self.clock)

    async def handle(self, event: Event) -> None:
        respond = await self.take(event)
        await respond()

    async def take(self, event: Event) -> Callable[[], Awaitable[None]]:
        """The dialog's work for `event` now (all of it stored); its replies as a step to run
        next. The webhook server answers Telegram between the two
        (bot/adapters/telegram/webhook.py)."""
        outcome = await self.dialog.handle(event)
        if event.who.chat_type == "channel":
            # A channel is an audience: whatever the dialog says goes nowhere public. A press
            # under a channel post still gets its toast (only the presser sees it).
            outcome = replace(outcome, replies=[], edit=None)

        async def respond() -> None:
            channel = self.channels[event.who.platform]
            await carry_out(channel, event, outcome, self.deliverer.pacer)
            if outcome.wake_outbox:
                self.deliverer.wake()
            if outcome.wake_feedback:
                await self.forward()

        return respond

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
        """Tell staff about feeds that started failing or recovered (jobs/staff/feed_alerts.py)."""
        if self.staff_target is None:
            return
        channel, chat = self.staff_target
        chat = await current_staff_chat(self.store, channel.platform, chat)  # a moved group
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
        """Keep each running broadcast's staff message current (jobs/staff/progress.py)."""
        await self.progress.run_once()

    async def housekeeping(self) -> None:
        released = await self.store.deliveries.release_expired(self.clock())
        if released:
            log.warning("expired leases released", extra={"rows": released})

    def start_loop(self, name: str, run: Run, stop: asyncio.Event) -> asyncio.Task[None]:
        """Run `run(stop)` as a task under supervision (jobs/ops/supervise.py): restarted with
        backoff after a crash, and counted in `loops` for /healthz."""
        return asyncio.create_task(supervised(name, run, stop, loops=self.loops), name=name)

    async def aclose(self) -> None:
        await self.poller.aclose()
        await self.client.aclose()
        bot = self.bot
        if bot is not None:
            with suppress(Exception):
                await bot.shutdown()  # type: ignore[attr-defined]
        await self.store.aclose()


def build_channels(
    settings: Settings,
    out: TextIO | None = None,
    *,
    store: Store | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> tuple[dict[str, Channel], object | None]:
    """Every configured platform at once (Telegram, Zalo Bot, Zalo OA); the console channel
    only when none is. The second value is the Telegram Bot (started and shut down by the app).

    Zalo channels keep state in storage (seen ids, menus, OA tokens), so they need `store`.
    """
    if settings.console_mode:
        return {console.PLATFORM: console.ConsoleChannel(out)}, None
    channels: dict[str, Channel] = {}
    bot = None
    if settings.telegram_token is not None:
        from bot.adapters.telegram.adapter import TelegramChannel, make_bot

        bot = make_bot(
            settings.telegram_token.get_secret_value(),
            settings.telegram_api_url,
            pool_size=settings.send_concurrency + 4,
        )
        channels["telegram"] = TelegramChannel(bot, paid_broadcast=settings.paid_broadcast)
    if settings.zalo_bot_token is not None or settings.zalo_oa_enabled:
        if store is None:
            raise Fatal("Zalo channels need the database (build_channels(store=...))")
        channels.update(_zalo_channels(settings, store, clock))
    return channels, bot


def _zalo_channels(
    settings: Settings, store: Store, clock: Callable[[], datetime]
) -> dict[str, Channel]:
    """Zalo Bot and/or OA, each behind numbered menus (bot/dialog/menus.py: Zalo has no buttons)."""
    from bot.adapters.zalo import bot_platform as zalo_bot
    from bot.adapters.zalo import official_account as zalo_oa
    from bot.dialog.menus import with_menus
    from storage.zalo import ZaloRepo

    repo = ZaloRepo.of(store)
    out: dict[str, Channel] = {}
    if settings.zalo_bot_token is not None:
        client = zalo_bot.ZaloBotClient(
            settings.zalo_bot_token.get_secret_value(), settings.zalo_api_url
        )
        out[zalo_bot.PLATFORM] = with_menus(zalo_bot.ZaloBotChannel(client), repo, clock=clock)
    if settings.zalo_oa_enabled:
        assert settings.zalo_oa_app_id is not None and settings.zalo_oa_secret_key is not None
        http = httpx.AsyncClient(timeout=httpx.Timeout(20.0, connect=10.0))
        keeper = zalo_oa.TokenKeeper(
            repo,
            http,
            app_id=settings.zalo_oa_app_id,
            secret_key=settings.zalo_oa_secret_key.get_secret_value(),
            oauth_url=settings.zalo_oa_oauth_url,
            clock=clock,
        )
        oa = zalo_oa.ZaloOAChannel(
            keeper, repo, http, api_url=settings.zalo_oa_api_url, clock=clock
        )
        out[zalo_oa.PLATFORM] = with_menus(oa, repo, clock=clock)
    return out


async def build_app(settings: Settings, store: Store, *, out: TextIO | None = None) -> App:
    clock = utcnow
    channels, bot = build_channels(settings, out, store=store, clock=clock)
    caps = {name: ch.capabilities for name, ch in channels.items()}
    client = make_client(
        max_connections=settings.poll_concurrency, private_hosts=settings.allow_private_hosts
    )
    staff_target: tuple[Channel, str] | None = None
    if settings.console_mode:
        staff_target = (channels[console.PLATFORM], console.STAFF_CHAT)
    elif settings.staff_chat_id is not None and "telegram" in channels:
        staff_target = (channels["telegram"], str(settings.staff_chat_id))
    elif settings.zalo_staff_chat_id is not None and "zalo" in channels:
        staff_target = (channels["zalo"], settings.zalo_staff_chat_id)
    backlog = 100 if settings.console_mode else settings.backlog_limit
    return App(
        settings=settings,
        store=store,
        channels=channels,
        dialog=Dialog(
            store,
            capabilities=lambda p: caps[p],
            clock=clock,
            feedback_limit=RateLimit(*settings.feedback_rate_limit),
        ),
        deliverer=Deliverer(
            store,
            channels,
            rate=settings.send_rate or None,
            concurrency=settings.send_concurrency,
            lease_seconds=settings.lease_seconds,
            clock=clock,
            budget=SendBudget(store.engine, settings.send_rate or None),
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
            article_hosts=settings.article_hosts,
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


def telegram_poller(app: App) -> UpdatePoller:
    """Telegram long polling for `app`: the dialog's work, retried then kept as dead when it
    keeps failing (bot/adapters/intake.py), its replies run after it under supervision."""
    from bot.adapters.telegram.adapter import UpdatePoller

    return UpdatePoller(
        app.bot,  # type: ignore[arg-type]
        app.take,
        dead=app.store.dead_updates,
        clock=app.clock,
        loops=app.loops,
    )


def stop_on_signals(stop: asyncio.Event) -> None:
    """SIGINT and SIGTERM set `stop`: claiming ends, in-flight sends finish, exit 0."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)


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
        poller = telegram_poller(app)
        try:
            await app.bot.initialize()  # type: ignore[attr-defined]
            await poller.prepare()
        except Exception as err:
            await app.aclose()
            raise Fatal(f"cannot reach Telegram: {redact(str(err), settings.secrets())}") from None
        tasks.append(app.start_loop("telegram-updates", poller.run, stop))
    try:
        zalo_runner = await _serve_zalo_routes(
            settings, await start_zalo(app, settings, stop, tasks)
        )
    except Exception:
        await stop_zalo(app, None)
        await app.aclose()
        raise

    await prepare_dialog(app)
    await app.poller.start()
    scheduler = build_scheduler(scheduler_jobs(app), loops=app.loops)
    scheduler.start()
    sender = app.start_loop("deliverer", app.deliverer.run_forever, stop)
    ops_runner = await start_metrics(app)
    mode = "console" if settings.console_mode else "+".join(sorted(app.channels))
    log.info("bantin running", extra={"mode": mode})
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
        await stop_zalo(app, zalo_runner)
        await stop_runner(ops_runner)
        await app.aclose()
    return 0


async def start_metrics(
    app: App, extra_routes: dict[str, object] | None = None, *, judge_scheduler: bool = True
) -> object | None:
    """/healthz and /metrics on BANTIN_METRICS_PORT if set (on BANTIN_LISTEN with routes):
    every role and `bantin run` can be scraped and health-checked. Workers and webhook servers
    show the scheduler's heartbeat without being judged by it: restarting them would not help.

    With webhook routes (public: BANTIN_LISTEN faces the platforms) and BANTIN_METRICS_PORT
    both set, /metrics leaves the public listener and is served only on the metrics port,
    which the operator keeps private (README, "Keeping /metrics private")."""
    port = app.settings.metrics_port
    if port is None and not extra_routes:
        return None
    from aiohttp import web

    from bot.app.ops_http import ops_app, start_ops_server

    def build(routes: dict[str, object] | None, *, with_metrics: bool = True) -> web.Application:
        return ops_app(
            app.store,
            clock=app.clock,
            extra_routes=routes,  # type: ignore[arg-type]
            max_heartbeat_age=app.settings.heartbeat_max_age if judge_scheduler else None,
            max_outbox_lag=app.settings.outbox_max_lag,
            loops=app.loops,
            with_metrics=with_metrics,
        )

    if not extra_routes:
        return await start_ops_server(f"0.0.0.0:{port}", build(None))
    if port is None:
        return await start_ops_server(app.settings.listen, build(extra_routes))
    public = await start_ops_server(app.settings.listen, build(extra_routes, with_metrics=False))
    try:
        private = await start_ops_server(f"0.0.0.0:{port}", build(None))
    except BaseException:
        await public.cleanup()
        raise
    return _Runners(public, private)


class _Runners:
    """Two listeners stopped as one (the public webhooks, the private metrics)."""

    def __init__(self, *runners: object) -> None:
        self.runners = runners

    async def cleanup(self) -> None:
        for runner in self.runners:
            await runner.cleanup()  # type: ignore[attr-defined]


async def prepare_dialog(app: App) -> None:
    """The operator's default quiet hours (console demo: none, it shows what is sent now) and
    the group-admin rule asked of Telegram (issue 5)."""
    quiet_default = "off" if app.settings.console_mode else app.settings.quiet_hours
    await app.store.state.set(QUIET_DEFAULT_KEY, quiet_default)
    is_admin = getattr(app.channels.get("telegram"), "is_admin", None)
    if is_admin is not None:
        install_admin_check(app.dialog, "telegram", is_admin)


def scheduler_jobs(app: App) -> dict[str, tuple[Job, float]]:
    """Every periodic job of the active scheduler, with its period in seconds.

    `bantin run` runs them beside the bot and the deliverer; `bantin scheduler` runs them only
    while it holds the scheduler lock (jobs/ops/leader.py).
    """
    settings = app.settings

    async def queue_digests() -> None:
        if await queue_due_digests(app.store, now=app.clock()):
            app.deliverer.wake()

    async def release_scheduled() -> None:
        """Queue scheduled broadcasts whose time has come (issue 6)."""
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

    return {
        "heartbeat": (heartbeat, min(10.0, settings.leader_retry)),
        "retention": (retention, 6 * 3600.0),
        "scheduled-broadcasts": (release_scheduled, 15.0),
        "poll": (app.poll_cycle, float(min(30, settings.poll_interval))),
        "forward-feedback": (app.forward, 30.0),
        "feed-health": (app.feed_health, 60.0),
        "broadcast-progress": (app.report_progress, 3.0),
        "housekeeping": (app.housekeeping, 60.0),
        "digests": (queue_digests, settings.digest_check_interval),
    }


async def start_zalo(
    app: App, settings: Settings, stop: asyncio.Event, tasks: list[asyncio.Task[None]]
) -> dict[str, object]:
    """Zalo admins from settings; the OA's tokens seeded and checked; the Bot's update polling,
    or the webhook server (Bot with BANTIN_ZALO_WEBHOOK_URL, OA events) when configured.
    Returns the webhook routes (path → handler) for the caller's web server."""
    from bot.adapters.zalo import bot_platform as zalo_bot
    from bot.adapters.zalo import official_account as zalo_oa
    from bot.dialog.menus import MenuChannel, menu_aware
    from storage.zalo import ZaloRepo

    bot_channel = app.channels.get(zalo_bot.PLATFORM)
    oa_channel = app.channels.get(zalo_oa.PLATFORM)
    if bot_channel is None and oa_channel is None:
        return {}
    repo = ZaloRepo.of(app.store)
    for admin in settings.zalo_admin_ids:
        await app.store.staff.ensure(zalo_bot.PLATFORM, admin, role=ADMIN, added_by="settings")
    routes: dict[str, object] = {}
    if isinstance(bot_channel, MenuChannel) and isinstance(
        bot_channel.inner, zalo_bot.ZaloBotChannel
    ):
        client = bot_channel.inner.client
        # A webhook stores the work before its 200 and sends the replies after (drained at
        # stop); polling does both at once.
        bot_replies = zalo_bot.reply_queues(app.loops, "zalo-bot-replies")
        webhook = bool(settings.zalo_webhook_url and settings.zalo_webhook_secret is not None)
        intake = zalo_bot.UpdateIntake(
            repo,
            menu_aware(
                bot_channel, zalo_bot.deferring(app.take, bot_replies) if webhook else app.handle
            ),
            clock=app.clock,
            dead=app.store.dead_updates,
        )
        try:
            await client.get_me()
            if settings.zalo_webhook_url and settings.zalo_webhook_secret is not None:
                secret = settings.zalo_webhook_secret.get_secret_value()
                routes["/zalo/bot"] = zalo_bot.webhook_handler(secret, intake, replies=bot_replies)
                await client.set_webhook(settings.zalo_webhook_url, secret)
            else:
                poller = zalo_bot.ZaloBotPoller(client, intake)
                await poller.prepare()
                tasks.append(app.start_loop("zalo-updates", poller.run, stop))
        except Fatal:
            raise
        except Exception as err:
            raise Fatal(f"cannot reach Zalo: {type(err).__name__}") from None
    if isinstance(oa_channel, MenuChannel) and isinstance(oa_channel.inner, zalo_oa.ZaloOAChannel):
        oa = oa_channel.inner
        assert settings.zalo_oa_refresh_token is not None and settings.zalo_oa_app_id is not None
        access = settings.zalo_oa_access_token
        await oa.keeper.seed(
            access.get_secret_value() if access else None,
            settings.zalo_oa_refresh_token.get_secret_value(),
        )
        try:
            await oa.verify()  # an expired stored token is refreshed here, at start
        except ChannelError as err:
            log.error("Zalo OA not usable yet", extra={"error": err.description})
        oa_secret = settings.zalo_oa_webhook_secret
        if oa_secret is not None:
            oa_replies = zalo_bot.reply_queues(app.loops, "zalo-oa-replies")  # drained at stop
            routes["/zalo/oa"] = zalo_oa.OAWebhook(
                app_id=settings.zalo_oa_app_id,
                secret=oa_secret.get_secret_value(),
                repo=repo,
                store=app.store,
                handle=menu_aware(oa_channel, zalo_bot.deferring(app.take, oa_replies)),
                clock=app.clock,
                max_age=settings.zalo_oa_event_max_age,
                replies=oa_replies,
            )
    return routes


async def _serve_zalo_routes(settings: Settings, routes: dict[str, object]) -> object | None:
    """`bantin run` serves Zalo's webhooks on BANTIN_ZALO_WEBHOOK_LISTEN (`bantin serve` mounts
    them beside Telegram's instead)."""
    from bot.adapters.zalo import bot_platform as zalo_bot

    if routes and settings.zalo_webhook_listen:
        return await zalo_bot.start_webhook_server(settings.zalo_webhook_listen, routes)  # type: ignore[arg-type]
    if routes:
        log.warning("Zalo webhooks configured but BANTIN_ZALO_WEBHOOK_LISTEN is not set")
    return None


async def stop_runner(runner: object | None) -> None:
    """Stop an aiohttp server started here (None: nothing to do)."""
    if runner is not None:
        with suppress(Exception):
            await runner.cleanup()  # type: ignore[attr-defined]


async def stop_zalo(app: App, runner: object | None) -> None:
    """Stop the webhook server; flush coalesced edits and close the Zalo HTTP clients."""
    if runner is not None:
        with suppress(Exception):
            await runner.cleanup()  # type: ignore[attr-defined]
    for channel in app.channels.values():
        close = getattr(channel, "aclose", None)
        if close is not None:
            with suppress(Exception):
                await close()
