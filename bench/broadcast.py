"""Broadcast throughput of bantin's outbox against a Bot API stand-in with latency.

    python bench/broadcast.py [--subscribers 20000] [--latency 0.02] [--concurrency 100]
                              [--limited-rate 1000] [--limited-subscribers 10000] [--runs 3]
                              [--baseline 600] [--databases sqlite,postgresql]
                              [--configs default,tuned]

Prints, for one broadcast to every subscriber, under two settings: "default" (the deliverer as
`bantin` builds it when BANTIN_SEND_CONCURRENCY is not set: the sends in flight follow
rate × round trip up to the default bound) and "tuned" (--concurrency as the bound):
- unlimited: the deliverer with no overall rate limit (per-chat spacing still applies):
  messages/s, its ratio to the python-telegram-bot loop measured in the same run, CPU seconds
  per 1,000 messages, the most arrivals in any 1 s window at the server, peak RSS;
- limited: the deliverer at --limited-rate: achieved rate (sent / wall time, start and drain
  included) and its ratio to the limit, the most sends in any one-second window counted three
  ways: at the client (when bantin calls channel.send), at the socket write and at the server
  (arrival), how long a send took to arrive (p50, p99, max), the in-flight target it settled on;
- baseline: a plain python-telegram-bot loop with AIORateLimiter (its default limits), on
  --baseline messages (it is slow: ~30/s), same figures.
Every line is the median of --runs runs (the 1 s window figure: the largest of the runs).
--databases: SQLite (a file) and/or PostgreSQL (a throwaway database beside
BANTIN_TEST_DATABASE_URL or --database-url).
The load average is printed first and last: the cores are shared, compare runs made at similar
load. Figures are from this run only; compare ratios, not absolutes, across machines.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import multiprocessing
import os
import resource
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.fake_botapi import FakeServer as _Server  # noqa: E402
from bench.support import (  # noqa: E402
    drop_pg_database,
    fresh_pg_database,
    max_in_window,
    seed_subscribers,
)
from bot.adapters.telegram.adapter import TelegramChannel, make_bot  # noqa: E402
from bot.adapters.telegram.http import WireRequest  # noqa: E402
from bot.app import aio  # noqa: E402
from bot.app.settings import Settings  # noqa: E402
from jobs.channel import Capabilities, OutMessage  # noqa: E402
from jobs.route.fanout import queue_announcement  # noqa: E402
from jobs.send.deliverer import Deliverer  # noqa: E402
from storage.budget import SendBudget  # noqa: E402
from storage.kinds import AnnouncementStatus  # noqa: E402
from storage.store import Store  # noqa: E402

TOKEN = "123:BENCH"


def now() -> datetime:
    return datetime.now(UTC)


class StampingChannel:
    """The real channel, with the moment bantin hands each message to it recorded: the
    client's side of "never more than the rate in any one-second window"."""

    def __init__(self, inner: TelegramChannel) -> None:
        self.inner = inner
        self.platform = inner.platform
        self.capabilities: Capabilities = inner.capabilities
        self.stamps: dict[int, float] = {}

    async def send(self, chat_id: str, message: OutMessage) -> str:
        self.stamps[int(chat_id)] = time.monotonic()
        CHAT.set(int(chat_id))  # the sender's own task: read back when the body is written
        return await self.inner.send(chat_id, message)

    async def edit(self, chat_id: str, message_id: str, message: OutMessage) -> None:
        await self.inner.edit(chat_id, message_id, message)

    async def answer_press(self, press_id: str, text: str | None = None) -> None:
        await self.inner.answer_press(press_id, text)


CHAT: ContextVar[int | None] = ContextVar("bench_chat", default=None)


def stamp_writes(bot: Any) -> dict[int, float]:
    """When each sendMessage body is written to the socket, by chat id (bench only), taken
    where bot/adapters/telegram/http.py reports the write to the pacer (its request class's
    write_bytes, which runs in the sender's context). Between channel.send and this moment
    lie python-telegram-bot's and aiohttp's own work, which a starved CPU stretches."""
    written: dict[int, float] = {}

    class Stamped(WireRequest):
        async def write_bytes(self, *args: Any, **kwargs: Any) -> None:
            await super().write_bytes(*args, **kwargs)
            chat = CHAT.get()
            if chat is not None:
                written[chat] = time.monotonic()

    for request in bot._request:  # PTB keeps (getUpdates request, every other request)
        session = getattr(request, "_session", None)
        if session is not None:
            session._request_class = Stamped
    return written


def steady_rate(times: list[float]) -> float:
    """Sends per second from the first write to the last: the pacing alone, without the
    start (opening the database, the first claim) and the last replies."""
    return (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def FakeServer(latency: float) -> _Server:
    return _Server(latency, TOKEN)


async def announce(store: Store) -> int:
    ann = await store.announcements.create(
        "Thông báo: lịch tiếp công dân tháng 12 & các điểm thay đổi <quan trọng>.",
        created_by="bench",
    )
    await store.announcements.transition(
        ann.id, frm=AnnouncementStatus.DRAFT, to=AnnouncementStatus.QUEUED, now=now()
    )
    return await queue_announcement(store, ann.id, now=now())


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


DEFAULT_BOUND = int(Settings.model_fields["send_concurrency"].default)
DEFAULT_PG = os.environ.get("BANTIN_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")


def prepare(url: str, subscribers: int) -> int:
    """Child process: a database with `subscribers` and one queued broadcast to them all."""

    async def go() -> int:
        store = Store.open(url)
        await store.migrate()
        await seed_subscribers(store, subscribers)
        queued = await announce(store)
        await store.aclose()
        return queued

    return asyncio.run(go())


async def run_deliverer(
    server: _Server,
    db: str,
    subscribers: int,
    rate: float | None,
    concurrency: int,
    pg_admin: str | None = None,
) -> dict[str, float]:
    """One broadcast; `db` is a SQLite file, or with `pg_admin` a throwaway PostgreSQL
    database is made beside that one (and dropped after)."""
    url = await fresh_pg_database(pg_admin) if pg_admin else f"sqlite:///{db}"
    try:
        return await _run_deliverer(server, url, subscribers, rate, concurrency)
    finally:
        if pg_admin:
            await drop_pg_database(url, pg_admin)


async def _run_deliverer(
    server: _Server,
    url: str,
    subscribers: int,
    rate: float | None,
    concurrency: int,
) -> dict[str, float]:
    # Seed and queue in a child process, so peak RSS below is the deliverer's own.
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        queued = pool.submit(prepare, url, subscribers).result()
    store = Store.open(url, pool_size=concurrency + 4)
    bot = make_bot(TOKEN, server.url, pool_size=concurrency + 4)
    await bot.initialize()
    channel = StampingChannel(TelegramChannel(bot))
    written = stamp_writes(bot)
    deliverer = Deliverer(
        store,
        {"telegram": channel},  # type: ignore[dict-item]
        rate=rate,
        concurrency=concurrency,
        clock=now,
        budget=SendBudget(store.engine, rate),  # as `bantin` builds it (shared on PostgreSQL)
    )
    gc.collect()  # as `bantin`'s runner does before it starts sending (bot/app/runner.py)
    gc.freeze()
    before_stats = server.stats()
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    await deliverer.run_until_idle()
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
    stats = server.stats(int(before_stats["sent"]))
    arrivals = server.stamps(int(before_stats["sent"]))
    counts = await store.deliveries.counts()
    await bot.shutdown()
    await store.aclose()
    sent = stats["sent"]
    delays = [t - channel.stamps[c] for c, t in arrivals if c in channel.stamps]
    to_wire = [t - channel.stamps[c] for c, t in written.items() if c in channel.stamps]
    return {
        "queued": queued,
        "sent": sent,
        "wall": wall,
        "rate": sent / wall,
        "cpu_per_1000": cpu / max(1, sent) * 1000,
        "max_per_second": stats["max_per_second"],
        "client_max_per_second": max_in_window(sorted(channel.stamps.values())),
        "written_max_per_second": max_in_window(sorted(written.values())),
        "steady_rate": steady_rate(sorted(written.values())),
        "to_wire_p99_ms": percentile(to_wire, 0.99) * 1000,
        "delay_p50_ms": percentile(delays, 0.5) * 1000,
        "delay_p99_ms": percentile(delays, 0.99) * 1000,
        "delay_max_ms": max(delays, default=0.0) * 1000,
        "outbox_sent": counts.get("sent", 0),
        "in_flight_target": deliverer.in_flight_target,
        "shortfall": 0.0 if deliverer.shortfall is None else 1.0,
    }


async def run_baseline(server: _Server, n: int) -> dict[str, float]:
    from telegram import Bot
    from telegram.ext import AIORateLimiter

    bot = Bot(TOKEN, base_url=f"{server.url}/bot")
    limiter = AIORateLimiter()
    await limiter.initialize()
    await bot.initialize()
    before = server.stats()["sent"]
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    for i in range(n):
        await limiter.process_request(
            bot.send_message,
            args=(),
            kwargs={"chat_id": 20_000_000 + i, "text": "Thông báo"},
            endpoint="sendMessage",
            data={"chat_id": 20_000_000 + i},
            rate_limit_args=None,
        )
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
    sent = server.stats()["sent"] - before
    await bot.shutdown()
    return {"sent": sent, "wall": wall, "rate": sent / wall, "cpu_per_1000": cpu / sent * 1000}


def median_of(runs: list[dict[str, float]]) -> dict[str, float]:
    """Medians of every figure, except the busiest 1 s windows: the largest of the runs."""
    out = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    for k in ("max_per_second", "client_max_per_second", "written_max_per_second"):
        out[k] = max(r[k] for r in runs)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=20_000)
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--concurrency", type=int, default=100, help="the tuned bound")
    parser.add_argument("--limited-rate", type=float, default=1000)
    parser.add_argument("--limited-subscribers", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3, help="runs per line (medians printed)")
    parser.add_argument("--baseline", type=int, default=600)
    parser.add_argument("--databases", default="sqlite", help="sqlite and/or postgresql")
    parser.add_argument("--database-url", default=DEFAULT_PG, help="PostgreSQL server to use")
    parser.add_argument("--configs", default="default,tuned", help="default and/or tuned")
    parser.add_argument(
        "--loop",
        choices=aio.CHOICES,
        default="auto",
        help="event loop (auto: uvloop where installed, as bantin runs; see bot/app/aio.py)",
    )
    parser.add_argument(
        "--skip", nargs="*", default=[], choices=["unlimited", "limited", "baseline"]
    )
    args = parser.parse_args()
    server = FakeServer(args.latency)
    print(
        f"lean fake Bot API at {server.url}, {args.latency * 1000:.0f} ms latency per "
        f"call; python {sys.version.split()[0]}, {aio.loop_name(args.loop)} event loop, "
        f"{os.cpu_count()} cores; medians of {args.runs}; "
        f"load average {load_average()}"
    )
    bounds = {"default": DEFAULT_BOUND, "tuned": args.concurrency}
    configs = [c for c in args.configs.split(",") if c]
    try:
        baseline = None
        if "baseline" not in args.skip:
            baseline = aio.run(run_baseline(server, args.baseline), args.loop)
            print(
                f"baseline PTB loop + AIORateLimiter: {baseline['sent']:.0f} sent in "
                f"{baseline['wall']:.1f} s = {baseline['rate']:.1f} msg/s; CPU "
                f"{baseline['cpu_per_1000']:.2f} s per 1,000",
                flush=True,
            )
        with tempfile.TemporaryDirectory() as tmp:
            for database in args.databases.split(","):
                pg = args.database_url if database.startswith("postgres") else None
                for config in configs:
                    bound = bounds[config]
                    label = f"{database}, {config} (bound {bound})"
                    if "unlimited" not in args.skip:
                        runs = [
                            aio.run(
                                run_deliverer(
                                    server,
                                    f"{tmp}/u{config}{i}.db",
                                    args.subscribers,
                                    None,
                                    bound,
                                    pg,
                                ),
                                args.loop,
                            )
                            for i in range(args.runs)
                        ]
                        r = median_of(runs)
                        ratio = (
                            f" = {r['rate'] / baseline['rate']:.0f}x the PTB loop"
                            if baseline
                            else ""
                        )
                        print(
                            f"bantin unlimited, {label}: "
                            f"{r['sent']:.0f}/{r['queued']:.0f} sent in {r['wall']:.1f} s = "
                            f"{r['rate']:.0f} msg/s{ratio}; CPU {r['cpu_per_1000']:.2f} s per "
                            f"1,000; max in any 1 s window {r['max_per_second']:.0f}; "
                            f"peak RSS {peak_rss_mb():.0f} MB",
                            flush=True,
                        )
                    if "limited" not in args.skip:
                        rate = args.limited_rate
                        runs = [
                            aio.run(
                                run_deliverer(
                                    server,
                                    f"{tmp}/l{config}{i}.db",
                                    args.limited_subscribers,
                                    rate,
                                    bound,
                                    pg,
                                ),
                                args.loop,
                            )
                            for i in range(args.runs)
                        ]
                        print(
                            limited_line(
                                f"bantin limited to {rate:.0f}/s, {label}", median_of(runs), rate
                            ),
                            flush=True,
                        )
    finally:
        server.close()
    print(f"load average {load_average()}")


def limited_line(label: str, r: dict[str, float], rate: float) -> str:
    return (
        f"{label}: {r['sent']:.0f} sent in {r['wall']:.1f} s = {r['rate']:.1f} msg/s "
        f"({r['rate'] / rate * 100:.1f} % of the limit; first to last write "
        f"{r['steady_rate'] / rate * 100:.1f} %); CPU {r['cpu_per_1000']:.2f} s per 1,000; "
        f"max in any 1 s window: "
        f"{r['client_max_per_second']:.0f} sent by bantin (channel.send), "
        f"{r['written_max_per_second']:.0f} written to the socket, {r['max_per_second']:.0f} "
        f"at the server; arrival after channel.send p50 {r['delay_p50_ms']:.1f} ms, p99 "
        f"{r['delay_p99_ms']:.1f} ms, max {r['delay_max_ms']:.1f} ms (of which to the socket: "
        f"p99 {r['to_wire_p99_ms']:.1f} ms); in flight at the end {r['in_flight_target']:.0f}"
        + ("; rate out of reach (see the log)" if r["shortfall"] else "")
    )


if __name__ == "__main__":
    main()
