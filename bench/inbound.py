"""Inbound bursts: N `/start` then N feedback messages, answered by a whole bantin process.

    .venv/bin/python bench/inbound.py [--n 10000] [--runs 3] [--modes polling,webhook]
        [--databases sqlite,postgresql] [--database-url postgresql://...] [--latency 0.02]
        [--connections 100] [--phases start,feedback] [--code DIR]
        [--profile DIR [--profiler cprofile|py-spy]]

For each transport (long polling, webhook) and database (SQLite file; PostgreSQL when
`--database-url` or BANTIN_TEST_DATABASE_URL names a server): a fresh database, then `bantin
serve` in its own process (with `BANTIN_TELEGRAM_WEBHOOK_URL` for the webhook, without it for
long polling) against the Bot API stand-in this script serves on 127.0.0.1, with paid broadcast
at 1,000/s (Telegram's free ~30/s would cap any reply burst, whatever bantin does).

- polling: the N updates are queued at once (a burst) and fetched with getUpdates;
- webhook: the N updates are POSTed to /telegram over `--connections` connections (Telegram's
  max_connections), as fast as bantin answers them.

Printed per phase: answered per second (N / first offer to last reply), the bantin process's
CPU per update (user + system, /proc: comparable across loads, where the rate is not on two
shared cores), the time until every
update was acknowledged (offset confirmed, or the webhook's 200), p50/p95 time to reply (from
the update being offered to its reply arriving at the stand-in), and lost / duplicated replies
(every chat must get exactly one). Medians over `--runs`. `--code DIR` runs the bantin process
from another checkout (a before/after comparison: `git worktree add /tmp/base HEAD`);
`--profile DIR` writes a profile of the bantin process per run (cProfile, or py-spy's raw
samples of the GIL holder with `--profiler py-spy` if installed). Feedback: every subscriber
is put in the "waiting for feedback" step, then sends one text. Figures only: nothing asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiohttp import ClientSession, ClientTimeout, TCPConnector, web
from sqlalchemy import insert, select

from bench.support import drop_pg_database, free_port, fresh_pg_database
from storage.models import SubscriberRow, UserDialogStateRow
from storage.store import Store

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "123456:BENCHbenchBENCHbenchBENCHbench123"
SECRET = "bench-secret-token"
FIRST_CHAT = 700_000_000
FEEDBACK_TEXT = "Đường liên xã đoạn qua thôn 3 bị sạt lở, đề nghị xã kiểm tra sớm."


def update(update_id: int, chat: int, text: str) -> dict[str, Any]:
    user = {"id": chat, "is_bot": False, "first_name": f"Dân {chat % 1000}", "language_code": "vi"}
    message: dict[str, Any] = {
        "message_id": update_id,
        "date": int(time.time()),
        "chat": {"id": chat, "type": "private", "first_name": user["first_name"]},
        "from": user,
        "text": text,
    }
    if text.startswith("/"):
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text)}]
    return {"update_id": update_id, "message": message}


@dataclass
class FakeBotApi:
    """The Bot API methods bantin serve calls, with getUpdates fed from `offer` and every
    sendMessage stamped on arrival (time.monotonic(), as the offers are)."""

    latency: float
    queue: list[dict[str, Any]] = field(default_factory=list)
    confirmed_at: float | None = None  # when the offset passed the last queued update
    replies: dict[int, list[float]] = field(default_factory=dict)
    webhook_set: asyncio.Event = field(default_factory=asyncio.Event)
    polling: asyncio.Event = field(default_factory=asyncio.Event)
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _sent: int = 0

    def offer(self, updates: list[dict[str, Any]]) -> None:
        self.queue.extend(updates)
        self.confirmed_at = None
        self._wake.set()

    async def handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"].lower()
        body = await request.read()
        params: dict[str, Any] = {}
        if body.startswith(b"{"):
            params = json.loads(body)
        elif body:
            params = _form(body)
        if method == "getupdates":
            return _ok(await self.get_updates(params))
        if method == "sendmessage":
            arrival = time.monotonic()
            chat = int(params.get("chat_id", 0))
            self.replies.setdefault(chat, []).append(arrival)
            self._sent += 1
            if self.latency:
                await asyncio.sleep(self.latency)
            return _ok(
                {
                    "message_id": self._sent,
                    "date": int(time.time()),
                    "chat": {"id": chat, "type": "private"},
                    "text": str(params.get("text", "")),
                }
            )
        if method == "getme":
            return _ok({"id": 123456, "is_bot": True, "first_name": "Bench", "username": "b_bot"})
        if method == "setwebhook":
            self.webhook_set.set()
        if self.latency:
            await asyncio.sleep(self.latency)
        return _ok(True)

    async def get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        self.polling.set()
        offset = params.get("offset")
        if offset is not None:
            offset = int(offset)
            if self.queue and self.queue[0]["update_id"] < offset:
                self.queue = [u for u in self.queue if u["update_id"] >= offset]
                if not self.queue and self.confirmed_at is None:
                    self.confirmed_at = time.monotonic()
        limit = min(int(params.get("limit") or 100), 100)
        timeout = float(params.get("timeout") or 0)
        if not self.queue and timeout > 0:
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), min(timeout, 1.0))
            except TimeoutError:
                pass
        return self.queue[:limit]


def _form(body: bytes) -> dict[str, Any]:
    from urllib.parse import parse_qsl

    out: dict[str, Any] = {}
    for key, value in parse_qsl(body.decode()):
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    return out


def _ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result})


@dataclass
class Phase:
    name: str
    n: int
    per_second: float
    acked_s: float
    p50_ms: float
    p95_ms: float
    lost: int
    duplicated: int
    failed_posts: int = 0
    cpu_ms: float = 0.0  # CPU of the bantin process per update (ms), whatever the load


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run_phase(
    name: str,
    api: FakeBotApi,
    updates: list[dict[str, Any]],
    *,
    webhook: str | None,
    connections: int,
    deadline: float,
    pid: int,
) -> Phase:
    chats = [u["message"]["chat"]["id"] for u in updates]
    before = {c: len(api.replies.get(c, [])) for c in chats}
    offered: dict[int, float] = {}
    failed = 0
    cpu = cpu_seconds(pid)
    start = time.monotonic()
    acked_at = start
    if webhook is None:
        for c in chats:
            offered[c] = start
        api.offer(updates)
    else:
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}
        bodies = [(u["message"]["chat"]["id"], json.dumps(u).encode()) for u in updates]
        connector = TCPConnector(limit=connections)
        async with ClientSession(connector=connector, timeout=ClientTimeout(total=120)) as http:
            it = iter(bodies)

            async def poster() -> None:
                nonlocal failed, acked_at
                for chat, body in it:
                    offered[chat] = time.monotonic()
                    for _ in range(5):  # Telegram retries a failed delivery
                        try:
                            async with http.post(webhook, data=body, headers=headers) as r:
                                await r.read()
                                if r.status == 200:
                                    break
                        except Exception:
                            pass
                        failed += 1
                        await asyncio.sleep(0.5)
                    acked_at = max(acked_at, time.monotonic())

            await asyncio.gather(*(poster() for _ in range(connections)))
    # wait for one reply per chat, then a moment more to catch duplicates
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if all(len(api.replies.get(c, [])) > before[c] for c in chats):
            break
        await asyncio.sleep(0.05)
    if webhook is None:
        while api.confirmed_at is None and time.monotonic() < end:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        acked_at = api.confirmed_at or time.monotonic()
    cpu = cpu_seconds(pid) - cpu
    await asyncio.sleep(1.0)
    latencies: list[float] = []
    last = start
    lost = duplicated = 0
    for c in chats:
        got = api.replies.get(c, [])[before[c] :]
        if not got:
            lost += 1
            continue
        if len(got) > 1:
            duplicated += 1
        latencies.append(got[0] - offered[c])
        last = max(last, got[0])
    n = len(chats)
    return Phase(
        name,
        n,
        per_second=(n - lost) / (last - start) if last > start else 0.0,
        acked_s=acked_at - start,
        p50_ms=percentile(latencies, 0.5) * 1000,
        p95_ms=percentile(latencies, 0.95) * 1000,
        lost=lost,
        duplicated=duplicated,
        failed_posts=failed,
        cpu_ms=cpu * 1000 / max(1, n),
    )


async def seed_feedback_state(url: str) -> None:
    """Every subscriber waiting for feedback text (as after pressing "Gửi phản hồi")."""
    store = Store.open(url)
    try:
        async with store.engine.begin() as conn:
            rows = (await conn.execute(select(SubscriberRow.id, SubscriberRow.chat_id))).all()
            now = datetime.now(UTC)
            await conn.execute(
                insert(UserDialogStateRow),
                [
                    dict(subscriber_id=i, user_id=c, state="feedback", ref=None, updated_at=now)
                    for i, c in rows
                ],
            )
    finally:
        await store.aclose()


async def one_run(
    args: argparse.Namespace, mode: str, url: str, run: int
) -> tuple[Phase, ...] | None:
    api = FakeBotApi(args.latency)
    server = web.Application(client_max_size=2**20)
    server.router.add_route("*", "/bot{token}/{method}", api.handle)
    runner = web.AppRunner(server, access_log=None)
    await runner.setup()
    api_port = free_port()
    await web.TCPSite(runner, "127.0.0.1", api_port).start()
    listen = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(args.code),
        "BANTIN_DATABASE_URL": url,
        "BANTIN_TELEGRAM_TOKEN": TOKEN,
        "BANTIN_TELEGRAM_API_URL": f"http://127.0.0.1:{api_port}",
        "BANTIN_SEND_RATE": str(args.rate),
        "BANTIN_PAID_BROADCAST": "true",
        "BANTIN_QUIET_HOURS": "off",
        "BANTIN_LISTEN": f"127.0.0.1:{listen}",
        "BANTIN_LOG_LEVEL": args.log_level,
    }
    for key in ("BANTIN_TELEGRAM_WEBHOOK_URL", "BANTIN_TELEGRAM_WEBHOOK_SECRET"):
        env.pop(key, None)
    webhook = None
    if mode == "webhook":
        env["BANTIN_TELEGRAM_WEBHOOK_URL"] = "https://bench.example.vn/telegram"
        env["BANTIN_TELEGRAM_WEBHOOK_SECRET"] = SECRET
        webhook = f"http://127.0.0.1:{listen}/telegram"
    command = [sys.executable]
    script = Path(tempfile.mkdtemp(prefix="bantin-inbound-")) / "bantin_serve.py"
    script.write_text("from bot.cli.main import main\n\nmain()\n")
    out = None
    if args.profile:
        Path(args.profile).mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240
        db = "pg" if url.startswith("postgresql") else "sqlite"
        out = Path(args.profile) / f"inbound-{mode}-{db}-{run}"
        if args.profiler == "cprofile":
            command += ["-m", "cProfile", "-o", f"{out}.prof"]
    command += [str(script), "serve"]
    log = tempfile.NamedTemporaryFile("w", prefix="bantin-inbound-", suffix=".log", delete=False)
    proc = subprocess.Popen(command, cwd=args.code, env=env, stdout=log, stderr=log)  # noqa: ASYNC220
    spy = None
    if out is not None and args.profiler == "py-spy":
        spy = subprocess.Popen(  # noqa: ASYNC220
            [
                str(Path(sys.executable).parent / "py-spy"),
                "record",
                "--format",
                "raw",
                "--gil",
                "-r",
                "100",
                "-o",
                f"{out}.txt",
                "-p",
                str(proc.pid),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    try:
        ready = api.webhook_set if webhook else api.polling
        try:
            await asyncio.wait_for(ready.wait(), 60)
        except TimeoutError:
            print(f"  bantin did not start; see {log.name}", file=sys.stderr)
            return None
        await asyncio.sleep(0.3)
        n = args.n
        deadline = max(60.0, n / 20)
        starts = [update(i + 1, FIRST_CHAT + i, "/start") for i in range(n)]
        first = await run_phase(
            "/start",
            api,
            starts,
            webhook=webhook,
            connections=args.connections,
            deadline=deadline,
            pid=proc.pid,
        )
        if "feedback" not in args.phases:
            return (first,)
        await seed_feedback_state(url)
        texts = [update(n + i + 1, FIRST_CHAT + i, FEEDBACK_TEXT) for i in range(n)]
        second = await run_phase(
            "feedback",
            api,
            texts,
            webhook=webhook,
            connections=args.connections,
            deadline=deadline,
            pid=proc.pid,
        )
        return first, second
    finally:
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(30)
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
        await runner.cleanup()
        log.close()
        if proc.returncode not in (0, None):
            print(f"  bantin exited {proc.returncode}; see {log.name}", file=sys.stderr)
        else:
            os.unlink(log.name)


def median_phase(phases: list[Phase]) -> Phase:
    def med(attr: str) -> float:
        return statistics.median(getattr(p, attr) for p in phases)

    return Phase(
        phases[0].name,
        phases[0].n,
        per_second=med("per_second"),
        acked_s=med("acked_s"),
        p50_ms=med("p50_ms"),
        p95_ms=med("p95_ms"),
        lost=max(p.lost for p in phases),
        duplicated=max(p.duplicated for p in phases),
        failed_posts=max(p.failed_posts for p in phases),
        cpu_ms=med("cpu_ms"),
    )


def show(label: str, phase: Phase, runs: int) -> None:
    print(
        f"{label:<22} {phase.name:<9} n={phase.n:<6} {phase.per_second:8.0f}/s  "
        f"CPU {phase.cpu_ms:4.2f} ms/update  acked {phase.acked_s:6.2f}s  "
        f"p50 {phase.p50_ms:8.0f} ms  p95 {phase.p95_ms:8.0f} ms  "
        f"lost {phase.lost}  dup {phase.duplicated}  "
        f"{'failed posts ' + str(phase.failed_posts) + '  ' if phase.failed_posts else ''}"
        f"(median of {runs})",
        flush=True,
    )


async def main_async(args: argparse.Namespace) -> None:
    pg = args.database_url or os.environ.get("BANTIN_TEST_DATABASE_URL")
    databases = [d for d in args.databases.split(",") if d]
    if "postgresql" in databases and not pg:
        print("no PostgreSQL URL (--database-url or BANTIN_TEST_DATABASE_URL): skipped")
        databases.remove("postgresql")
    print(f"load average {os.getloadavg()}; code {args.code}", flush=True)
    for mode in args.modes.split(","):
        for db in databases:
            results: list[tuple[Phase, ...]] = []
            for run in range(args.runs):
                tmp = tempfile.mkdtemp(prefix="bantin-inbound-")
                if db == "sqlite":
                    url = f"sqlite:///{tmp}/inbound.db"
                else:
                    assert pg is not None
                    url = await fresh_pg_database(pg)
                try:
                    got = await one_run(args, mode, url, run)
                finally:
                    if db != "sqlite":
                        await drop_pg_database(url, pg)
                if got is not None:
                    results.append(got)
                    for phase in got:
                        show(f"  run {run + 1} {mode}/{db}", phase, 1)
            for i in range(len(results[0]) if results else 0):
                show(f"{mode}/{db}", median_phase([r[i] for r in results]), len(results))
    print(f"load average {os.getloadavg()}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="updates per phase")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--modes", default="polling,webhook")
    parser.add_argument("--phases", default="start,feedback", help="start or start,feedback")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--database-url", default=None, help="a PostgreSQL server to use")
    parser.add_argument("--latency", type=float, default=0.02, help="Bot API seconds per call")
    parser.add_argument("--connections", type=int, default=100, help="webhook posts in flight")
    parser.add_argument("--rate", type=float, default=1000, help="BANTIN_SEND_RATE (paid)")
    parser.add_argument("--log-level", default="INFO", help="BANTIN_LOG_LEVEL of the process")
    parser.add_argument("--code", type=Path, default=ROOT, help="checkout to run bantin from")
    parser.add_argument("--profile", default=None, help="directory for profiles of bantin")
    parser.add_argument("--profiler", choices=["cprofile", "py-spy"], default="cprofile")
    args = parser.parse_args()
    args.code = args.code.resolve()
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
