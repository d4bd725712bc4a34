"""APScheduler 3 wiring: periodic jobs in the bot's own event loop.

Each job is a coroutine that does one pass and returns; APScheduler only decides when. Jobs
never overlap themselves (max_instances=1) and missed runs coalesce into one. Every job runs
under jobs/ops/supervise.py's guard, so a job that raises is logged with its traceback, backs off,
and shows in /healthz when it keeps failing, like every other loop of the process.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from weakref import WeakKeyDictionary

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from jobs.ops.supervise import Loops, guard_job

Job = Callable[[], Awaitable[object]]

# The passes each scheduler is running now (tasks), for `stop_scheduler` to wait on.
_PASSES: WeakKeyDictionary[AsyncIOScheduler, set[asyncio.Task[Any]]] = WeakKeyDictionary()


def build_scheduler(jobs: dict[str, tuple[Job, float]], *, loops: Loops) -> AsyncIOScheduler:
    """`jobs` maps a name to (coroutine function, seconds between runs); all run at start.
    Crashes are recorded in `loops` under "job:<name>"."""
    scheduler = AsyncIOScheduler(timezone=UTC)
    passes: set[asyncio.Task[Any]] = set()
    _PASSES[scheduler] = passes
    now = datetime.now(UTC)
    for name, (func, every) in jobs.items():
        scheduler.add_job(
            _tracked(guard_job(f"job:{name}", func, loops), passes),
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


def _tracked(job: Job, passes: set[asyncio.Task[Any]]) -> Job:
    """`job`, each pass run in a task of its own, recorded in `passes` while it runs.

    The pass is cancelled once, by `stop_scheduler` or, if APScheduler cancels its own task
    first, from here. APScheduler's shutdown cancels its tasks a loop turn after it was asked
    (it is scheduled on the loop), by then inside the pass's cleanup: a second cancel there
    broke off the rollback that returns its database connection (the pool logged it as an
    error with a traceback on a Ctrl+C soon after start)."""

    async def tracked() -> None:
        run = asyncio.ensure_future(job())
        passes.add(run)
        run.add_done_callback(passes.discard)
        try:
            await asyncio.shield(run)
        except asyncio.CancelledError:
            if not run.done() and not run.cancelling():
                run.cancel()
            # The stop is not the job's failure (APScheduler would log it as one); whoever
            # stops the scheduler waits for the pass to end (stop_scheduler).

    tracked.__name__ = getattr(job, "__name__", "job")
    return tracked


async def stop_scheduler(scheduler: AsyncIOScheduler, grace: float) -> None:
    """Stop scheduling, cancel the passes running now and wait (at most `grace` seconds) until
    they have ended. APScheduler's own shutdown only cancels them: a pass then outlived the app
    it used, and one still holding a database connection when the store was closed waited for
    it forever at the event loop's close (a stop that hung)."""
    if scheduler.running:
        scheduler.shutdown(wait=False)
    running = [task for task in _PASSES.get(scheduler, ()) if not task.done()]
    for task in running:
        if not task.cancelling():  # APScheduler's shutdown may have asked already
            task.cancel()
    if running:
        await asyncio.wait(running, timeout=grace)
