"""Server time of the web console's pages with 100,000 cases and 100,000 subscribers.

    BANTIN_TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test \\
        .venv/bin/python -m bench.console [--cases 100000] [--subscribers 100000] [--requests 40]

Seeds a scratch PostgreSQL database (bench/support.py; dropped at the end; --url instead of
the environment variable), serves the console in this process on 127.0.0.1 (the real /admin
sub-application behind the listener's body limit), signs in with a one-time link as an
editor-free admin, then requests each page N times and prints the median and 95th percentile
of the *server* time (a middleware around the console: the handler, templates and queries,
not the client). The target (issue #16) is under 300 ms for the queue and the subscriber
search. SQLite works too (--url sqlite:///x.db) for a quick look.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from aiohttp import ClientSession, CookieJar, web
from sqlalchemy import insert, select

from bench.support import drop_pg_database, fresh_pg_database
from storage.kinds import TicketState
from storage.models import (
    CaseEventRow,
    CategoryRow,
    FeedbackMessageRow,
    FeedbackRow,
    SubscriberRow,
    UnitRow,
)
from storage.store import Store

CHUNK = 5000
NOW = datetime.now(UTC)
WORDS = (
    "đường ổ gà ngập nước đèn chiếu sáng rác thải tiếng ồn karaoke cây đổ cống thoát nước "
    "vỉa hè lấn chiếm xây dựng trái phép giấy tờ thủ tục đất đai hộ khẩu điện nước mất điện "
    "trường học trạm y tế tiêm chủng chợ an toàn thực phẩm khói bụi xe tải cầu hỏng biển báo"
).split()
FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng"]
GIVEN = ["An", "Bình", "Chi", "Dũng", "Hoa", "Hùng", "Lan", "Minh", "Nam", "Thảo", "Tuấn", "Yến"]
STATES = [
    (TicketState.NEW, 8),
    (TicketState.ACCEPTED, 6),
    (TicketState.IN_PROGRESS, 6),
    (TicketState.ANSWERED, 15),
    (TicketState.CLOSED, 60),
    (TicketState.NOT_RESPONSIBLE, 3),
    (TicketState.DUPLICATE, 2),
]


async def seed(store: Store, cases: int, subscribers: int, rng: random.Random) -> None:
    async with store.engine.begin() as conn:
        units = []
        for i, name in enumerate(["Phòng Giao thông", "Phòng Tài nguyên", "Phòng Y tế", "UBND xã"]):
            row = await conn.execute(
                insert(UnitRow).returning(UnitRow.id),
                [dict(name=name, is_default=i == 0, created_at=NOW)],
            )
            units.append(row.scalar_one())
        cats = []
        for i, name in enumerate(["Giao thông", "Môi trường", "Y tế", "Đất đai", "Khác"]):
            row = await conn.execute(
                insert(CategoryRow).returning(CategoryRow.id),
                [
                    dict(
                        name=name,
                        unit_id=units[i % len(units)],
                        deadline_days=10,
                        position=i,
                        active=True,
                        created_at=NOW,
                    )
                ],
            )
            cats.append(row.scalar_one())
        subs = []
        for start in range(0, subscribers, CHUNK):
            people: list[dict[str, object]] = [
                dict(
                    platform="telegram" if i % 3 else "zalo",
                    chat_id=str(20_000_000 + i),
                    chat_type="private",
                    language="vi",
                    active=True,
                    display_name=f"{rng.choice(FAMILY)} Văn {rng.choice(GIVEN)} {i}",
                    created_at=NOW - timedelta(minutes=i),
                    updated_at=NOW,
                )
                for i in range(start, min(start + CHUNK, subscribers))
            ]
            subs += (
                await conn.execute(insert(SubscriberRow).returning(SubscriberRow.id), people)
            ).scalars()
        states = [s for s, w in STATES for _ in range(w)]
        span = timedelta(days=365)
        for start in range(0, cases, CHUNK):
            rows: list[dict[str, object]] = []
            for i in range(start, min(start + CHUNK, cases)):
                created = NOW - span + span * (i / cases)
                state = rng.choice(states)
                rows.append(
                    dict(
                        subscriber_id=rng.choice(subs),
                        text=" ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 40))),
                        status=state,
                        created_at=created,
                        updated_at=created,
                        unit_id=rng.choice(units),
                        category_id=rng.choice(cats),
                        due_at=created + timedelta(days=14),
                        assignee=f"telegram:{rng.randint(1, 20)}" if state != "new" else None,
                        priority="normal",
                        forwarded_at=created,
                    )
                )
            ids = list(
                (await conn.execute(insert(FeedbackRow).returning(FeedbackRow.id), rows)).scalars()
            )
            await conn.execute(
                insert(CaseEventRow),
                [
                    dict(case_id=i, at=NOW, actor="citizen", kind="created", to_state="new")
                    for i in ids
                ],
            )
            await conn.execute(
                insert(FeedbackMessageRow),
                [
                    dict(
                        feedback_id=i,
                        author="staff",
                        staff_user="telegram:1",
                        text="Đã tiếp nhận, đang xử lý.",
                        created_at=NOW,
                        forwarded_at=NOW,
                    )
                    for i in ids[::3]
                ],
            )
        # codes in one statement, as storage/records.case_code makes them (PA00042)
        if store.engine.dialect.name == "postgresql":
            await conn.exec_driver_sql(
                "UPDATE feedback SET code = 'PA' || CASE WHEN id < 100000 "
                "THEN lpad(id::text, 5, '0') ELSE id::text END"
            )
        else:
            await conn.exec_driver_sql(
                "UPDATE feedback SET code = 'PA' || substr('00000' || id, -max(5, length(id)))"
            )
    if store.engine.dialect.name == "postgresql":
        async with store.engine.connect() as conn:
            await conn.exec_driver_sql("COMMIT")
            await conn.exec_driver_sql("VACUUM ANALYZE")  # as autovacuum leaves a live database


async def serve(store: Store, url: str) -> tuple[web.AppRunner, str, dict[str, list[float]]]:
    from bot.app.compose import App
    from bot.app.settings import Settings
    from bot.web.app import console_app
    from bot.web.links import PREFIX

    settings = Settings(_env_file=None, database_url=url)  # type: ignore[call-arg]
    app = App(settings, store)
    timings: dict[str, list[float]] = defaultdict(list)

    @web.middleware
    async def timed(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        started = time.perf_counter()
        try:
            return await handler(request)
        finally:
            label = request.headers.get("X-Bench-Label")
            if label:
                timings[label].append((time.perf_counter() - started) * 1000)

    parent = web.Application(middlewares=[timed], client_max_size=1024**2)
    runner = web.AppRunner(parent)
    parent.add_subapp(PREFIX, console_app(app, base="http://127.0.0.1"))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}", timings


async def run(
    url: str, cases: int, subscribers: int, n: int, *, seeded: bool = False
) -> dict[str, tuple[float, float]]:
    from bot.web import links

    rng = random.Random(16)
    store = Store.open(url)
    await store.migrate()
    started = time.perf_counter()
    if not seeded:
        await seed(store, cases, subscribers, rng)
    print(
        f"seeded {cases} cases, {subscribers} subscribers in {time.perf_counter() - started:.0f} s",
        file=sys.stderr,
    )
    await store.staff.ensure("telegram", "1", role="admin", added_by="bench")
    runner, base, timings = await serve(store, url)
    try:
        async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as http:  # an IP host
            link = await links.issue_login_link(
                store, "telegram", "1", base=base, now=datetime.now(UTC)
            )
            async with http.post(link, allow_redirects=False) as signed:
                assert signed.status == 303, signed.status
            async with store.engine.connect() as conn:
                some = list((await conn.execute(select(FeedbackRow.id).limit(500))).scalars())
                unit = (await conn.execute(select(UnitRow.id).limit(1))).scalar_one()
            keyset = "queue page 5 (keyset)"
            pages: list[tuple[str, Callable[[int], str] | None]] = [
                ("queue", lambda i: "/admin/cases?state=all"),
                ("queue open (default)", lambda i: "/admin/cases"),
                (
                    "queue filtered",
                    lambda i: f"/admin/cases?state=closed&unit={unit}&since=2026-01-01",
                ),
                ("queue overdue, due first", lambda i: "/admin/cases?overdue=1&sort=due"),
                (keyset, None),
                (
                    "search",
                    lambda i: f"/admin/cases?state=all&q={rng.choice(WORDS)}+{rng.choice(WORDS)}",
                ),
                ("search + filter", lambda i: f"/admin/cases?state=open&q=duong&unit={unit}"),
                ("search code", lambda i: f"/admin/cases?state=all&q=PA{rng.choice(some):05d}"),
                ("case page", lambda i: f"/admin/cases/{rng.choice(some)}"),
                (
                    "subscriber search",
                    lambda i: f"/admin/subscribers?q={rng.choice(GIVEN)}+{rng.randint(1, 99999)}",
                ),
                (
                    "subscriber search (common)",
                    lambda i: f"/admin/subscribers?q={rng.choice(FAMILY)}",
                ),
                ("dashboard", lambda i: "/admin/"),
            ]
            cursor = None
            async with http.get(base + "/admin/cases?state=all") as first:
                body = await first.text()
            import re

            found = re.search(r'id="cases-more" href="/admin/cases\?([^"]+)"', body)
            cursor = found.group(1).replace("&amp;", "&") if found else None
            for label, path in pages:
                for i in range(n + 2):
                    if path is None:
                        target = f"/admin/cases?{cursor}" if cursor else "/admin/cases"
                    else:
                        target = path(i)
                    headers = {"X-Bench-Label": label} if i >= 2 else {}  # two warm-ups
                    async with http.get(base + target, headers=headers) as resp:
                        text = await resp.text()
                        assert resp.status == 200, (label, resp.status, text[:300])
                    if path is None and i < 4:
                        more = re.search(r'id="cases-more" href="/admin/cases\?([^"]+)"', text)
                        cursor = more.group(1).replace("&amp;", "&") if more else cursor
    finally:
        await runner.cleanup()
        await store.aclose()
    return {
        label: (statistics.median(ms), sorted(ms)[max(0, int(len(ms) * 0.95) - 1)])
        for label, ms in timings.items()
    }


async def main_async(args: argparse.Namespace) -> int:
    url = args.url or os.environ.get("BANTIN_TEST_DATABASE_URL")
    if not url:
        print("set BANTIN_TEST_DATABASE_URL or pass --url", file=sys.stderr)
        return 2
    scratch = None
    if url.startswith("postgresql") and not args.seeded:
        scratch = await fresh_pg_database(url)
    try:
        figures = await run(
            scratch or url, args.cases, args.subscribers, args.requests, seeded=args.seeded
        )
    finally:
        if scratch and args.keep:
            print(f"kept the seeded database: {scratch} (run again with --seeded --url …)")
        elif scratch:
            await drop_pg_database(scratch, url)
    print(f"{'page':32} {'median ms':>10} {'p95 ms':>10}   ({args.requests} requests each)")
    for label, (median, p95) in figures.items():
        flag = "" if p95 < 300 else "  over 300 ms"
        print(f"{label:32} {median:10.1f} {p95:10.1f}{flag}")
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="database (default BANTIN_TEST_DATABASE_URL)")
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--seeded", action="store_true", help="--url is seeded already")
    raise SystemExit(asyncio.run(main_async(parser.parse_args())))


if __name__ == "__main__":
    main()
