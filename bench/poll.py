"""Wall time, CPU time and peak memory of a full poll of N feeds served from loopback.

    python bench/poll.py [--sizes 500,5000] [--runs 3] [--latency 0.05] [--hosts 100]

What it does, for each N: an aiohttp server (a separate process, so its CPU is not ours) serves
N RSS 2.0 feeds of 20 items (~16 KB, Vietnamese text, an ETag each, answering 304 to a matching
If-None-Match) after ``--latency`` seconds per request. Feeds are spread over ``--hosts``
loopback addresses (127.0.1.1, 127.0.1.2, ...) because the Poller limits connections per host,
as it should against real portals; one host for all would measure that limit, not the poller.

Each measured poll runs in a fresh Python process with the real Store (a new SQLite file) and
the real Poller, so ``ru_maxrss`` is the peak of that poll alone; the parse/summary workers'
CPU and peak RSS are read from /proc before ``Poller.aclose()`` ends them:

- first poll: every feed is new, every item is parsed and stored, the newest of each feed
  summarized (the rest is backlog: marked seen, stored without text);
- second poll: the same database one day later, every feed answers 304.

Printed per N: medians over ``--runs`` of wall seconds, CPU seconds (poller process + its
workers), peak RSS of the poller process and of the largest worker; then the growth of peak RSS
from the smallest to the largest N. Figures only; nothing here asserts.

``--process N`` (issue #17) adds the whole ``bantin poll --once`` PROCESS (interpreter start,
imports, worker boot, poll, fan-out, report) over N feeds on ONE host, as a new user runs it
(console mode, a fresh SQLite file seeded by ``bantin feeds import-opml``), wall time from spawn
to exit, first poll and re-poll (every feed 304):

- ``BANTIN_POLL_PER_HOST=32``: the peer comparison (newsboat's ``reload-threads 32``);
- default settings (4 per host);
- with ``--baseline-root DIR`` (a ``git worktree`` of another commit), that tree's
  ``bantin poll --once`` with per-host 32, in the same run;
- ``newsboat -x reload`` with 32 reload threads over the same URLs, when it is installed.

Then the medians and the ratios to newsboat (or to the baseline).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.sample_feeds import ITEMS, make_feed  # noqa: E402

# --cold: the parse workers boot inside the measured first poll (a process's very first poll),
# instead of at start-up as `bantin run` and `bantin scheduler` do.
COLD = os.environ.get("BANTIN_BENCH_COLD") == "1"


def host_of(i: int, hosts: int) -> str:
    return f"127.0.1.{1 + i % hosts}"


def feed_url(i: int, port: int, hosts: int) -> str:
    return f"http://{host_of(i, hosts)}:{port}/feed/{i}.xml"


# -- the server process ----------------------------------------------------------------------


def serve(max_n: int, hosts: int, latency: float) -> None:
    """Serve /feed/<i>.xml on 127.0.1.1..hosts; print the port once listening."""
    from aiohttp import web

    bodies = [make_feed(i) for i in range(max_n)]
    etags = [f'"{i}-v1"' for i in range(max_n)]

    async def feed(request: web.Request) -> web.Response:
        i = int(request.match_info["i"])
        if i >= max_n:
            raise web.HTTPNotFound()
        await asyncio.sleep(latency)
        if request.headers.get("If-None-Match") == etags[i]:
            return web.Response(status=304, headers={"ETag": etags[i]})
        return web.Response(
            body=bodies[i],
            headers={"ETag": etags[i], "Content-Type": "application/rss+xml; charset=utf-8"},
        )

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/feed/{i:\\d+}.xml", feed)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        probe = socket.socket()
        probe.bind((host_of(0, hosts), 0))
        port = probe.getsockname()[1]
        probe.close()
        for h in range(hosts):
            await web.TCPSite(runner, host_of(h, hosts), port, backlog=4096).start()
        print(port, flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


# -- one measured poll (its own process) ------------------------------------------------------


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def _workers_usage(poller: object) -> tuple[float, float]:
    """CPU seconds and the largest peak RSS (MB) of the poller's live worker processes.

    Workers are forked by the forkserver, so they are not our children and RUSAGE_CHILDREN
    never sees them: read /proc while they are alive (bench-only peek at private attributes).
    """
    executor = getattr(getattr(poller, "_cpu", None), "_executor", None)
    pids = list(getattr(executor, "_processes", None) or {})
    cpu, peak = 0.0, 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            cpu += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]) / 1024)
        except (OSError, IndexError, ValueError):
            continue
    return cpu, peak


async def measured_poll(phase: str, db: str, n: int, port: int, hosts: int) -> dict[str, float]:
    from sqlalchemy import insert

    from bot.app.settings import Settings
    from jobs.ingest.fetch import make_client
    from jobs.ingest.poll import Poller
    from storage.models import FeedRow
    from storage.store import Store

    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    store = Store.open(f"sqlite:///{db}")
    await store.migrate()
    if phase == "first":
        rows = [
            dict(url=feed_url(i, port, hosts), enabled=True, consecutive_errors=0, polls=0)
            for i in range(n)
        ]
        async with store.engine.begin() as conn:
            await conn.execute(insert(FeedRow), rows)
    offset = timedelta(days=1 if phase == "second" else 0)

    def clock() -> datetime:
        return datetime.now(UTC) + offset

    # The feeds are served from loopback, which the address rules refuse unless allowed.
    client = make_client(max_connections=settings.poll_concurrency, private_hosts=["127.0.0.0/8"])
    poller = Poller(
        store,
        client,
        clock=clock,
        interval=settings.poll_interval,
        concurrency=settings.poll_concurrency,
        per_host=settings.poll_per_host,
        max_bytes=settings.feed_max_bytes,
    )
    if not COLD:
        await poller.start()  # as bantin run and bantin scheduler do at start-up
    rss_before = _rss_mb()
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    report = await poller.poll_due()
    wall = time.perf_counter() - t0
    worker_cpu, worker_rss = _workers_usage(poller)
    await poller.aclose()
    cpu_self = time.process_time() - cpu0
    await client.aclose()
    articles = await store.articles.count()
    await store.aclose()
    return {
        "wall": wall,
        "cpu": cpu_self + worker_cpu,
        "cpu_workers": worker_cpu,
        "rss_parent": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rss_worker": worker_rss,
        "rss_before": rss_before,
        "feeds": len(report.feeds),
        "errors": len(report.errors),
        "not_modified": sum(o.not_modified for o in report.feeds),
        "articles": articles,
    }


# -- whole processes on one host (issue #17) ------------------------------------------------

PEER_THREADS = 32  # newsboat's reload-threads, and BANTIN_POLL_PER_HOST for the peer comparison


def _opml(urls: list[str]) -> str:
    outlines = "".join(
        f'<outline type="rss" text="f{i}" xmlUrl="{u}"/>' for i, u in enumerate(urls)
    )
    return f'<?xml version="1.0"?><opml version="2.0"><body>{outlines}</body></opml>'


def _bantin_env(root: Path, tmp: Path, per_host: int | None) -> dict[str, str]:
    """Console mode (no platform token), a fresh SQLite file, loopback allowed; nothing else
    set unless the peer comparison asks for 32 per host.

    Bytecode is cached (in ``tmp``, warmed by the ``feeds import-opml`` that seeds the
    database), as in an installed package: with PYTHONDONTWRITEBYTECODE in the caller's
    environment every ``bantin`` would compile its ~160 modules from source again (~0.2 s of
    each process), which no user pays."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BANTIN_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(
        PYTHONPYCACHEPREFIX=str(tmp / "pycache"),
        PYTHONPATH=str(root),
        BANTIN_DATABASE_URL=f"sqlite:///{tmp / 'bantin.db'}",
        BANTIN_ALLOW_PRIVATE_HOSTS="127.0.0.0/8",
    )
    if per_host is not None:
        env["BANTIN_POLL_PER_HOST"] = str(per_host)
    return env


def _become_subreaper() -> None:
    """Orphaned descendants (the parse workers' forkserver) are re-parented to this process, so
    reaping them (``_timed``) adds their CPU, and their workers', to RUSAGE_CHILDREN."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _timed(cmd: list[str], **kw: Any) -> tuple[float, float, int]:
    """Run ``cmd`` to its end: (wall s, CPU s of it and every descendant, exit status)."""
    cpu0 = _children_cpu()
    t0 = time.perf_counter()
    done = subprocess.run(cmd, **kw)
    wall = time.perf_counter() - t0
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # orphans (a forkserver) exit once their parent has
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            time.sleep(0.02)
    return wall, _children_cpu() - cpu0, done.returncode


def _bantin(args: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float, str]:
    """Run ``bantin ARGS`` (from the tree on PYTHONPATH) to its end; (wall s, CPU s, last
    line)."""
    code = "from bot.cli.main import main; main()"
    out = cwd / "out.txt"
    with out.open("w") as f:
        wall, cpu, status = _timed(
            [sys.executable, "-c", code, *args], env=env, cwd=cwd, stdout=f, stderr=f
        )
    lines = out.read_text(errors="replace").strip().splitlines()
    if status not in (0, 1):
        raise RuntimeError(f"bantin {' '.join(args)}: exit {status}: {lines[-5:]}")
    return wall, cpu, (lines[-1] if lines else "")


Polls = tuple[float, float, float, float, str]  # first s, re-poll s, their CPU s, a remark


def bantin_polls(root: Path, urls: list[str], per_host: int | None) -> Polls:
    """First poll and re-poll of ``bantin poll --once``, and the first poll's last line."""
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        env = _bantin_env(root, tmp, per_host)
        (tmp / "feeds.opml").write_text(_opml(urls))
        _bantin(["feeds", "import-opml", str(tmp / "feeds.opml")], env, tmp)
        first, first_cpu, said = _bantin(["poll", "--once"], env, tmp)
        second, second_cpu, _ = _bantin(["poll", "--once"], env, tmp)
    return first, second, first_cpu, second_cpu, said


def newsboat_polls(urls: list[str]) -> Polls:
    """First and second ``newsboat -x reload``, and the items it cached."""
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        (tmp / "urls").write_text("".join(u + "\n" for u in urls))
        (tmp / "config").write_text(f"reload-threads {PEER_THREADS}\n")
        cmd = ["newsboat", "-x", "reload", "-u", str(tmp / "urls"), "-c", str(tmp / "cache.db")]
        cmd += ["-C", str(tmp / "config")]
        env = {
            **os.environ,
            "HOME": str(tmp),
            "XDG_CONFIG_HOME": str(tmp),
            "XDG_DATA_HOME": str(tmp),
        }
        runs = []
        for _ in range(2):
            wall, cpu, status = _timed(cmd, env=env, cwd=tmp, capture_output=True)
            if status:
                raise RuntimeError(f"newsboat: exit {status}")
            runs.append((wall, cpu))
        import sqlite3

        with sqlite3.connect(tmp / "cache.db") as db:
            items = db.execute("SELECT count(*) FROM rss_item").fetchone()[0]
    return runs[0][0], runs[1][0], runs[0][1], runs[1][1], f"{items} items cached"


def process_comparison(n: int, port: int, runs: int, baseline: Path | None) -> None:
    urls = [feed_url(i, port, 1) for i in range(n)]  # one host: 127.0.1.1
    contenders: list[tuple[str, Any]] = [
        (f"bantin per-host {PEER_THREADS}", lambda: bantin_polls(ROOT, urls, PEER_THREADS)),
        ("bantin defaults", lambda: bantin_polls(ROOT, urls, None)),
    ]
    if baseline is not None:
        contenders.append(
            (
                f"baseline per-host {PEER_THREADS}",
                lambda: bantin_polls(baseline, urls, PEER_THREADS),
            )
        )
    if shutil.which("newsboat"):
        contenders.append((f"newsboat {PEER_THREADS} threads", lambda: newsboat_polls(urls)))
    else:
        print("newsboat is not installed (apt-get install -y newsboat): no peer figure")
    print(
        f"whole processes, {n} feeds on one host, medians of {runs} run(s) "
        f"(runs interleaved), load average at start {_load()}"
    )
    _become_subreaper()
    got: dict[str, list[Polls]] = {name: [] for name, _ in contenders}
    for _ in range(runs):
        for name, run in contenders:
            got[name].append(run())
    meds = {
        name: tuple(statistics.median(float(r[k]) for r in rs) for k in range(4))
        for name, rs in got.items()
    }
    ref_name = next((k for k in meds if k.startswith("newsboat")), None)
    ref_name = ref_name or next((k for k in meds if k.startswith("baseline")), None)
    print(
        f"{'':<26} {'first s':>8} {'re-poll s':>10} {'first/ref':>10} {'re/ref':>7} "
        f"{'CPU first':>10} {'CPU re':>7}  said"
    )
    for name, (first, second, first_cpu, second_cpu) in meds.items():
        ratio = ""
        if ref_name:
            rf, rs = meds[ref_name][:2]
            ratio = f"{first / rf:>10.2f} {second / rs:>7.2f}"
        print(
            f"{name:<26} {first:>8.2f} {second:>10.2f} {ratio:>18} {first_cpu:>10.2f} "
            f"{second_cpu:>7.2f}  {got[name][-1][4]}"
        )
    if ref_name:
        print(f"ratios: wall time / {ref_name} (below 1: faster)")
    print(
        "CPU: user+system seconds of the process and every descendant (parse workers), "
        f"load average at end {_load()}"
    )


# -- the driver -------------------------------------------------------------------------------


def run_phase(phase: str, db: str, n: int, port: int, hosts: int) -> dict[str, float]:
    out = subprocess.run(
        [
            *(sys.executable, __file__, "--phase", phase, "--db", db, "--n", str(n)),
            *("--port", str(port), "--hosts", str(hosts)),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sizes", default="500,5000", help="comma-separated feed counts")
    ap.add_argument("--runs", type=int, default=3, help="runs per size (medians printed)")
    ap.add_argument("--latency", type=float, default=0.05, help="server latency, seconds")
    ap.add_argument("--hosts", type=int, default=100, help="loopback hosts the feeds spread over")
    ap.add_argument(
        "--cold", action="store_true", help="boot the parse workers inside the first poll"
    )
    ap.add_argument(
        "--process",
        type=int,
        default=0,
        metavar="N",
        help="also time whole `bantin poll --once` processes (and newsboat) over N feeds",
    )
    ap.add_argument(
        "--only-process", action="store_true", help="skip the in-process polls (--sizes)"
    )
    ap.add_argument(
        "--baseline-root", type=Path, help="another tree (git worktree) to time in --process"
    )
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--phase", choices=("first", "second"), help=argparse.SUPPRESS)
    ap.add_argument("--db", help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.serve:
        serve(args.n, args.hosts, args.latency)
        return
    if args.phase:
        result = asyncio.run(measured_poll(args.phase, args.db, args.n, args.port, args.hosts))
        print(json.dumps(result))
        return

    if args.cold:
        os.environ["BANTIN_BENCH_COLD"] = "1"  # read by the phase subprocesses
    sizes = [] if args.only_process else [int(s) for s in args.sizes.split(",")]
    server = subprocess.Popen(
        [
            *(sys.executable, __file__, "--serve", "--n", str(max([*sizes, args.process]))),
            *("--hosts", str(args.hosts), "--latency", str(args.latency)),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        if args.process:
            process_comparison(args.process, port, args.runs, args.baseline_root)
        if not sizes:
            return
        print(
            f"bench/poll.py: {ITEMS}-item feeds of {len(make_feed(0)) / 1024:.1f} KB, "
            f"{args.latency * 1000:g} ms latency, {args.hosts} loopback hosts, "
            f"{os.cpu_count()} cores, medians of {args.runs} run(s), "
            f"load average at start {_load()}"
        )
        header = (
            f"{'N':>6} {'poll':<7} {'wall s':>7} {'CPU s':>7} {'workers':>8} "
            f"{'RSS MB':>7} {'worker':>7} {'feeds':>6} {'errors':>6} {'304':>6} {'articles':>8}"
        )
        print(header)
        peaks: dict[int, tuple[float, float]] = {}
        for n in sizes:
            results: dict[str, list[dict[str, float]]] = {"first": [], "second": []}
            for _ in range(args.runs):
                with tempfile.TemporaryDirectory() as tmp:
                    db = str(Path(tmp) / "bench.db")
                    for phase in ("first", "second"):
                        results[phase].append(run_phase(phase, db, n, port, args.hosts))
            for phase, runs in results.items():
                med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
                print(
                    f"{n:>6} {phase:<7} {med['wall']:>7.2f} {med['cpu']:>7.2f} "
                    f"{med['cpu_workers']:>8.2f} {med['rss_parent']:>7.1f} "
                    f"{med['rss_worker']:>7.1f} {med['feeds']:>6.0f} {med['errors']:>6.0f} "
                    f"{med['not_modified']:>6.0f} {med['articles']:>8.0f}"
                )
                if phase == "first":
                    peaks[n] = (med["rss_parent"], med["rss_worker"])
        if len(sizes) > 1:
            lo, hi = min(sizes), max(sizes)
            print(
                f"peak RSS growth {lo} -> {hi} feeds (first poll): poller process "
                f"{peaks[hi][0] - peaks[lo][0]:+.1f} MB, largest worker "
                f"{peaks[hi][1] - peaks[lo][1]:+.1f} MB"
            )
        print(f"load average at end {_load()} (other processes share these cores: compare runs)")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
