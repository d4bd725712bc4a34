"""Throughput of `bantin worker` processes sharing one PostgreSQL outbox.

For each setting and worker count: a fresh PostgreSQL database with N subscribers, the fake Bot
API in its own process with --latency per call, that many `bantin worker` processes, running
and idle (each answers /healthz), then one announcement queued for everyone, as staff would
queue it while the workers run; they find it by themselves. Prints messages/s measured by the
server (first to last arrival) and its ratio to the first worker count of the setting,
the share of --rate reached, the most arrivals in any 1 s window at the server, the workers'
CPU seconds per 1,000 messages, wall time until the outbox is empty, and whether every
recipient got the message exactly once; then the medians of --runs.

    .venv/bin/python bench/scale.py [--workers 1,2,4] [--rate 0] [--concurrency default,100]
        [--subscribers 20000] [--latency 0.02] [--runs 1]
        [--database-url postgresql://postgres@127.0.0.1:5432/test]

--rate 0 is no overall limit (BANTIN_SEND_RATE=0 with paid broadcast); --concurrency lists the
settings to compare: "default" leaves BANTIN_SEND_CONCURRENCY unset (the in-flight number then
follows rate × round trip up to its default bound), a number sets it.

The machine's cores are shared by the workers, PostgreSQL and the fake server: on 2 cores the
figures show the outbox scaling until the CPU is the limit, not the limit of the design.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.fake_botapi import FakeServer  # noqa: E402
from bench.support import (  # noqa: E402
    drop_pg_database,
    free_port,
    fresh_pg_database,
    seed_subscribers,
)
from jobs.route.fanout import queue_announcement  # noqa: E402
from storage.kinds import AnnouncementStatus  # noqa: E402
from storage.store import Store  # noqa: E402

TOKEN = "123:SCALE"
DEFAULT_URL = os.environ.get(
    "BANTIN_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


async def fresh_database(admin_url: str, subscribers: int) -> str:
    """A new database beside `admin_url`, migrated, with `subscribers` subscribers."""
    url = await fresh_pg_database(admin_url)
    store = Store.open(url)
    try:
        await store.migrate()
        await seed_subscribers(store, subscribers)
    finally:
        await store.aclose()
    return url


async def queue_for_all(url: str) -> None:
    """One announcement queued for every subscriber."""
    store = Store.open(url)
    try:
        ann = await store.announcements.create("Thông báo: lịch tiêm chủng", created_by="bench")
        now = datetime.now(UTC)
        await store.announcements.transition(
            ann.id, frm=AnnouncementStatus.DRAFT, to=AnnouncementStatus.QUEUED, now=now
        )
        await queue_announcement(store, ann.id, now=now)
    finally:
        await store.aclose()


def wait_healthy(ports: list[int], procs: list[subprocess.Popen[bytes]]) -> None:
    """Until every worker answers on its metrics port (started, connected, idle)."""
    deadline = time.monotonic() + 60
    for port in ports:
        while True:
            if any(p.poll() is not None for p in procs):
                raise SystemExit("a worker exited early")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                    break
            except urllib.error.HTTPError:
                break  # it answers (unhealthy only because nothing was sent yet)
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("a worker did not start") from None
                time.sleep(0.1)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a live process (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_once(workers: int, concurrency: str, args: argparse.Namespace) -> dict[str, float]:
    url = asyncio.run(fresh_database(args.database_url, args.subscribers))
    server = FakeServer(args.latency, TOKEN)
    bantin = shutil.which("bantin", path=str(Path(sys.executable).parent)) or "bantin"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("BANTIN_")},
        "BANTIN_DATABASE_URL": url,
        "BANTIN_TELEGRAM_TOKEN": TOKEN,
        "BANTIN_TELEGRAM_API_URL": server.url,
        "BANTIN_SEND_RATE": f"{args.rate:g}",  # 0: no overall limit (per-chat pacing stays)
        "BANTIN_PAID_BROADCAST": "true",
        "BANTIN_LOG_LEVEL": "WARNING",
    }
    if concurrency != "default":
        env["BANTIN_SEND_CONCURRENCY"] = concurrency
    ports = [free_port() for _ in range(workers)]
    procs = [
        subprocess.Popen(
            [bantin, "worker"],
            env={**env, "BANTIN_METRICS_PORT": str(port)},
            stdin=subprocess.DEVNULL,
        )
        for port in ports
    ]
    try:
        wait_healthy(ports, procs)
        cpu_idle = sum(cpu_seconds(p.pid) for p in procs)  # start-up is not the sends' cost
        started = time.monotonic()
        asyncio.run(queue_for_all(url))
        while True:
            stats = server.stats()
            if stats["sent"] >= args.subscribers:
                break
            if any(p.poll() is not None for p in procs):
                raise SystemExit("a worker exited early")
            if time.monotonic() - started > 600:
                raise SystemExit(f"timed out with {stats['sent']} sent")
            time.sleep(0.25)
        wall = time.monotonic() - started
        time.sleep(1.0)  # a duplicate would arrive now
        stats = server.stats()
        cpu = sum(cpu_seconds(p.pid) for p in procs) - cpu_idle
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(30)
        server.close()
        asyncio.run(drop_pg_database(url, args.database_url))
    span = max(1e-9, float(stats["last"]) - float(stats["first"]))
    return {
        "workers": workers,
        "rate": stats["sent"] / span,
        "wall": wall,
        "sent": stats["sent"],
        "distinct": stats["distinct"],
        "max_per_second": stats["max_per_second"],
        "cpu_per_1000": cpu / max(1, stats["sent"]) * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--rate", type=float, default=0.0, help="BANTIN_SEND_RATE (0: none)")
    parser.add_argument("--concurrency", default="default,100", help="settings to compare")
    parser.add_argument("--subscribers", type=int, default=20_000)
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--runs", type=int, default=1, help="runs per row (medians printed)")
    parser.add_argument("--database-url", default=DEFAULT_URL)
    args = parser.parse_args()
    limit = f"rate {args.rate:g}/s" if args.rate else "no rate limit"
    print(
        f"# {args.subscribers} recipients, {args.latency * 1000:.0f} ms per call, {limit}, "
        f"medians of {args.runs}; load {os.getloadavg()[0]:.2f}, {os.cpu_count()} cores"
    )
    print(
        f"{'concurrency':>11} {'workers':>7} {'msg/s':>8} {'ratio':>6} {'of rate':>7} "
        f"{'max 1 s':>7} {'CPU/1k':>6} {'wall s':>7} {'sent':>7} {'once':>5}"
    )
    for concurrency in args.concurrency.split(","):
        base = None
        for n in (int(x) for x in args.workers.split(",")):
            runs = [run_once(n, concurrency, args) for _ in range(args.runs)]
            r = {k: statistics.median(run[k] for run in runs) for k in runs[0]}
            once = all(run["sent"] == run["distinct"] == args.subscribers for run in runs)
            base = base or r["rate"]
            share = f"{r['rate'] / args.rate * 100:6.1f}%" if args.rate else "     -"
            print(
                f"{concurrency:>11} {n:>7} {r['rate']:>8.0f} {r['rate'] / base:>6.2f} "
                f"{share:>7} {max(run['max_per_second'] for run in runs):>7.0f} "
                f"{r['cpu_per_1000']:>6.2f} {r['wall']:>7.1f} {r['sent']:>7.0f} "
                f"{'yes' if once else 'NO':>5}",
                flush=True,
            )
    print(f"# load {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
