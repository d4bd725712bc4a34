"""The one runner of every long-running role: start, signals, the ordered stop.

A role (bot/app/roles.py) only starts its parts and says what it started in a `Running`;
everything around that is here, the same for `bantin run`, `serve`, `scheduler` and `worker`:
the app composed and bootstrapped, the Telegram bot initialized (one error line for a Telegram
that cannot be reached, whatever the role), SIGINT/SIGTERM setting the stop event, and the stop
in one order: no new periodic work, update intake cancelled, in-flight sends given a grace
period, loops ended, listeners closed, promised replies drained, the app closed.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import TextIO

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.app.compose import App, compose
from bot.app.logs import redact
from bot.app.settings import Settings
from bot.app.startup import bootstrap
from jobs.channel import Fatal
from jobs.ops.scheduler import stop_scheduler

log = logging.getLogger(__name__)

STOP_GRACE_SECONDS = 15.0

OnStart = Callable[[App], object] | None


@dataclass
class Running:
    """What a role started, filled in as it starts; the runner stops it field by field, in
    the order of the fields (a role that fails half-way is stopped the same way)."""

    scheduler: AsyncIOScheduler | None = None  # periodic jobs: shut down first, no new work
    intake: list[asyncio.Task[None]] = field(default_factory=list)  # update polling: cancelled
    sender: asyncio.Task[None] | None = None  # the deliverer: in-flight sends finish (grace)
    loops: list[asyncio.Task[None]] = field(default_factory=list)  # loops that end on `stop`
    then: list[Callable[[], Awaitable[object]]] = field(default_factory=list)  # e.g. unlock
    servers: list[object] = field(default_factory=list)  # HTTP listeners (webhooks, /metrics)
    drains: list[Callable[[float], Awaitable[object]]] = field(default_factory=list)  # replies

    async def stop(self) -> None:
        if self.scheduler is not None:
            await stop_scheduler(self.scheduler, STOP_GRACE_SECONDS)
        for task in self.intake:
            task.cancel()
        if self.sender is not None:
            with suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self.sender, timeout=STOP_GRACE_SECONDS)
        for task in [*self.intake, *self.loops]:
            with suppress(asyncio.CancelledError, Exception):
                await task
        for step in self.then:
            with suppress(Exception):
                await step()
        for server in self.servers:  # no new requests; then the replies already promised
            await stop_runner(server)
        for drain in self.drains:
            await drain(STOP_GRACE_SECONDS)


Start = Callable[[App, asyncio.Event, Running], Awaitable[None]]


def stop_on_signals(stop: asyncio.Event) -> None:
    """SIGINT and SIGTERM set `stop`: claiming ends, in-flight sends finish, exit 0."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)


@asynccontextmanager
async def reaching_telegram(settings: Settings) -> AsyncIterator[None]:
    """Any failure to reach Telegram while starting becomes the same one line for every role
    and command, with the token (which Bot API URLs carry) scrubbed out."""
    try:
        yield
    except Fatal:
        raise
    except Exception as err:
        raise Fatal(f"cannot reach Telegram: {redact(str(err), settings.secrets())}") from None


_frozen = False


def freeze_startup_objects() -> None:
    """Move everything built so far (modules, the app, its settings) out of the garbage
    collector's sight, once per process: a full collection otherwise walks them all again and
    again, 50-100 ms of a stopped event loop each time, which a paced broadcast pays as a gap at
    the server (bench/README.md). Refcounting still frees them."""
    global _frozen
    if not _frozen:
        _frozen = True
        gc.collect()
        gc.freeze()


async def run_role(
    settings: Settings,
    start: Start,
    *,
    stop: asyncio.Event | None = None,
    out: TextIO | None = None,
    on_start: OnStart = None,
) -> int:
    """Run one role until `stop` is set or SIGINT/SIGTERM arrives; 0 after a clean stop.

    `on_start` receives the wired App once everything runs (tests use it to drive the app)."""
    stop = stop or asyncio.Event()
    stop_on_signals(stop)
    app = await compose(settings, out=out)
    running = Running()
    try:
        await bootstrap(settings, app.store)
        if app.bot is not None:
            async with reaching_telegram(settings):
                await app.bot.initialize()  # type: ignore[attr-defined]
        freeze_startup_objects()
        await start(app, stop, running)
        if on_start is not None:
            on_start(app)
        await stop.wait()
        log.info("stopping")
    finally:
        stop.set()  # a role that failed half-way: its loops end too
        try:
            await running.stop()
        finally:
            await app.aclose()
    return 0


async def start_metrics(
    app: App,
    extra_routes: dict[str, object] | None = None,
    *,
    judge_scheduler: bool = True,
    console: bool = False,
) -> object | None:
    """/healthz and /metrics on BANTIN_METRICS_PORT if set (on BANTIN_LISTEN with routes):
    every role and `bantin run` can be scraped and health-checked. Workers and webhook servers
    show the scheduler's heartbeat without being judged by it: restarting them would not help.

    With webhook routes (public: BANTIN_LISTEN faces the platforms) and BANTIN_METRICS_PORT
    both set, /metrics leaves the public listener and is served only on the metrics port,
    which the operator keeps private (README, "Keeping /metrics private")."""
    port = app.settings.metrics_port
    if port is None and not extra_routes and not console:
        return None
    from aiohttp import web

    from bot.app.ops_http import ops_app, start_ops_server

    def build(routes: dict[str, object] | None, *, with_metrics: bool = True) -> web.Application:
        built = ops_app(
            app.store,
            clock=app.clock,
            extra_routes=routes,  # type: ignore[arg-type]
            max_heartbeat_age=app.settings.heartbeat_max_age if judge_scheduler else None,
            max_outbox_lag=app.settings.outbox_max_lag,
            loops=app.loops,
            with_metrics=with_metrics,
        )
        if console and routes is not None:  # the staff web console under /admin (bot/web)
            from bot.web.serve import mount

            mount(built, app)
        return built

    listen = app.settings.listen
    if console:
        from bot.web.serve import listen_address

        listen, extra_routes = listen_address(app), extra_routes or {}
    if not extra_routes and not console:
        return await start_ops_server(f"0.0.0.0:{port}", build(None))
    if port is None:
        return await start_ops_server(listen, build(extra_routes))
    public = await start_ops_server(listen, build(extra_routes, with_metrics=False))
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


async def stop_runner(runner: object | None) -> None:
    """Stop an aiohttp server started here (None: nothing to do)."""
    if runner is not None:
        with suppress(Exception):
            await runner.cleanup()  # type: ignore[attr-defined]
