"""APScheduler 3 wiring: periodic jobs in the bot's own event loop.

Each job is a coroutine that does one pass and returns; APScheduler only decides when. Jobs
never overlap themselves (max_instances=1) and missed runs coalesce into one. Every job runs
under jobs/ops/supervise.py's guard, so a job that raises is logged with its traceback, backs off,
and shows in /healthz when it keeps failing, like every other loop of the process.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from jobs.ops.supervise import Loops, guard_job

Job = Callable[[], Awaitable[object]]


def build_scheduler(jobs: dict[str, tuple[Job, float]], *, loops: Loops) -> AsyncIOScheduler:
    """`jobs` maps a name to (coroutine function, seconds between runs); all run at start.
    Crashes are recorded in `loops` under "job:<name>"."""
    scheduler = AsyncIOScheduler(timezone=UTC)
    now = datetime.now(UTC)
    for name, (func, every) in jobs.items():
        scheduler.add_job(
            guard_job(f"job:{name}", func, loops),
            "interval",
            seconds=every,
            id=name,
            name=name,
            next_run_time=now,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=max(1, int(every)),
        )
    return scheduler
