"""The operations HTTP server: /healthz and /metrics, with room for webhook routes.

Why one aiohttp application for both: `bantin serve` already listens for webhooks, and a second
port per process would be one more thing to open and route. Other modules add their routes
through `extra_routes`; the scheduler and worker, which serve no webhooks, run the same app on
BANTIN_METRICS_PORT.

- GET /healthz: 200 and the checks as JSON when healthy, 503 and the same JSON (with the
  reasons) when not: what load balancers, Docker and `bantin healthcheck` read. It may be
  public, so reasons name what failed ("database: unreachable", "loop deliverer: crashing")
  and the details go to the log.
- GET /metrics: the Prometheus text of this process (jobs/metrics.py), with the outbox figures
  read from the database in bounded queries, at most once per few seconds however often it is
  scraped. Keep it off a public listener (README: "Keeping /metrics private").
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.app import health
from jobs import metrics as metrics_mod
from jobs.ops.supervise import Loops

if TYPE_CHECKING:
    from storage.store import Store

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
RouteAdder = Callable[[web.Application], None]
ExtraRoutes = Mapping[str, Handler] | Iterable[web.AbstractRouteDef] | RouteAdder
"""Routes mounted beside /healthz and /metrics, in one of three forms:

- a mapping path → handler: POST routes (what webhooks are); a handler may be any awaitable
  callable, e.g. an object with ``async __call__``;
- route definitions (``[web.post("/telegram", h), web.get("/x", g)]``), for other methods;
- a function that receives the application and adds whatever it needs (sub-apps, hooks).
"""

STORE: web.AppKey[Store] = web.AppKey("bantin_store")
CLOCK: web.AppKey[Callable[[], datetime]] = web.AppKey("bantin_clock")
LIMITS: web.AppKey[tuple[float | None, float | None]] = web.AppKey("bantin_health_limits")
METRICS: web.AppKey[metrics_mod.Metrics | None] = web.AppKey("bantin_metrics")
LOOPS: web.AppKey[Loops | None] = web.AppKey("bantin_loops")
METRICS_MAX_AGE = 5.0  # seconds: database figures are read at most this often per process
DEFAULT_MAX_BODY = 1_000_000  # webhook bodies are a few KB; aiohttp's default is 1 MiB anyway


def ops_app(
    store: Store,
    *,
    clock: Callable[[], datetime],
    extra_routes: ExtraRoutes | None = None,
    max_heartbeat_age: float | None = 120.0,
    max_outbox_lag: float | None = 900.0,
    metrics: metrics_mod.Metrics | None = None,
    client_max_size: int = DEFAULT_MAX_BODY,
    loops: Loops | None = None,
    with_metrics: bool = True,
) -> web.Application:
    """The application; pass the limits from settings (BANTIN_HEARTBEAT_MAX_AGE,
    BANTIN_OUTBOX_MAX_LAG), None to skip a check. `metrics` defaults to the process's own;
    `loops` is the process's loop record (jobs/ops/supervise.py), judged by /healthz. Without
    `with_metrics` there is no /metrics route (a public listener when a private one has it)."""
    app = web.Application(client_max_size=client_max_size)
    app[STORE] = store
    app[CLOCK] = clock
    app[LIMITS] = (max_heartbeat_age, max_outbox_lag)
    app[METRICS] = metrics
    app[LOOPS] = loops
    app.router.add_get("/healthz", healthz)
    if with_metrics:
        app.router.add_get("/metrics", metrics_view)
    if extra_routes is not None:
        mount_routes(app, extra_routes)
    return app


def mount_routes(app: web.Application, extra: ExtraRoutes) -> None:
    """Add `extra` (any of the ExtraRoutes forms) to `app`."""
    if isinstance(extra, Mapping):
        for path, handler in extra.items():
            app.router.add_post(path, _as_coroutine(handler))
    elif callable(extra):
        extra(app)
    else:
        app.router.add_routes(extra)


def _as_coroutine(handler: Handler) -> Handler:
    """aiohttp wants coroutine functions as handlers; a callable object is wrapped."""

    async def call(request: web.Request) -> web.StreamResponse:
        return await handler(request)

    return call


async def healthz(request: web.Request) -> web.Response:
    app = request.app
    max_age, max_lag = app[LIMITS]
    loops = app[LOOPS]
    report = await health.check(
        app[STORE],
        now=app[CLOCK](),
        max_heartbeat_age=max_age,
        max_outbox_lag=max_lag,
        loops=loops.snapshot() if loops is not None else (),
    )
    if not report.ok:
        log.warning("unhealthy", extra={"reasons": "; ".join(report.reasons)})
    return web.json_response(
        report.as_dict(),
        status=200 if report.ok else 503,
        headers={"Cache-Control": "no-store"},
    )


async def metrics_view(request: web.Request) -> web.Response:
    app = request.app
    body = await metrics_mod.render(
        app[STORE], now=app[CLOCK](), metrics=app[METRICS], max_age=METRICS_MAX_AGE
    )
    return web.Response(body=body, headers={"Content-Type": metrics_mod.CONTENT_TYPE})


def parse_listen(listen: str) -> tuple[str, int]:
    """ "host:port" (IPv6 in brackets: "[::1]:8080") → (host, port)."""
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"expected host:port, got {listen!r}")
    return host.strip("[]") or "0.0.0.0", int(port)


async def start_ops_server(listen: str, app: web.Application) -> web.AppRunner:
    """Serve `app` on "host:port" (port 0: any free port, see `bound_port`); returns the
    runner, which `stop_ops_server` cleans up."""
    host, port = parse_listen(listen)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except BaseException:
        await runner.cleanup()
        raise
    log.info("ops server listening", extra={"listen": f"{host}:{bound_port(runner)}"})
    return runner


def bound_port(runner: web.AppRunner) -> int:
    """The port actually bound (useful after asking for port 0)."""
    address: Any = runner.addresses[0]
    return int(address[1])


async def stop_ops_server(runner: web.AppRunner | None) -> None:
    """Stop accepting requests and finish the ones in flight; None is a no-op."""
    if runner is not None:
        await runner.cleanup()
