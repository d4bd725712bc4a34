"""The monthly case report's cost on a month of N cases (SQLite, and PostgreSQL when given).

Prints, per database and N: seconds to seed (one bulk INSERT … SELECT path, not timed) and the
median seconds of `store.case_reports.month(...)` over --runs (three SQL queries: by unit, by
category, total; medians by window functions on SQLite, percentile_cont on PostgreSQL).

    .venv/bin/python bench/case_report.py [--cases 10000,100000] [--runs 3]
        [--database-url postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.support import drop_pg_database, fresh_pg_database
from storage.models import FeedbackRow
from storage.store import Store

MONTH = "2026-11"
START = datetime(2026, 10, 31, 17, tzinfo=UTC)  # 1/11 00:00 in Vietnam


async def seed(store: Store, n: int) -> None:
    units = [await store.units.add(f"Đơn vị {i}") for i in range(10)]
    categories = [
        await store.units.add_category(f"Lĩnh vực {i}", unit_id=units[i % 10].id, deadline_days=5)  # type: ignore[union-attr]
        for i in range(30)
    ]
    sub = await store.subscribers.ensure("telegram", "1")
    rng = random.Random(15)
    rows = []
    for i in range(n):
        created = START + timedelta(minutes=rng.randrange(30 * 24 * 60))
        category = categories[rng.randrange(30)]
        assert category is not None
        answered = created + timedelta(hours=rng.uniform(1, 200)) if rng.random() < 0.8 else None
        closed = (
            answered + timedelta(hours=rng.uniform(0, 48))
            if answered and rng.random() < 0.7
            else None
        )
        rows.append(
            {
                "subscriber_id": sub.id,
                "text": "x",
                "status": "closed" if closed else ("answered" if answered else "new"),
                "created_at": created,
                "category_id": category.id,
                "unit_id": category.unit_id,
                "due_at": created + timedelta(days=7),
                "first_answered_at": answered,
                "closed_at": closed,
                "satisfaction": rng.choice([None, "satisfied", "unsatisfied"]) if closed else None,
                "code": f"B{i}",
            }
        )
    async with store.engine.begin() as conn:
        for chunk in range(0, n, 5000):
            await conn.execute(FeedbackRow.__table__.insert(), rows[chunk : chunk + 5000])


async def measure(url: str, n: int, runs: int) -> tuple[float, float]:
    store = Store.open(url)
    try:
        await store.migrate()
        started = time.perf_counter()
        await seed(store, n)
        seeded = time.perf_counter() - started
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            report = await store.case_reports.month(MONTH)
            times.append(time.perf_counter() - started)
        assert report.total.received == n
        return seeded, statistics.median(times)
    finally:
        await store.aclose()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", default="10000,100000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--database-url", default=os.environ.get("BANTIN_TEST_DATABASE_URL"))
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f}")
    for n in (int(x) for x in args.cases.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            seeded, took = await measure(f"sqlite:///{tmp}/bench.db", n, args.runs)
        print(f"sqlite     cases={n:>7}  seed {seeded:6.1f} s  report median {took:6.3f} s")
        if args.database_url:
            url = await fresh_pg_database(args.database_url)
            try:
                seeded, took = await measure(url, n, args.runs)
            finally:
                await drop_pg_database(url, args.database_url)
            print(f"postgresql cases={n:>7}  seed {seeded:6.1f} s  report median {took:6.3f} s")
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
