"""jobs/ops/supervise.py's record, with a hand-driven clock: the pause doubles per crash in a row up
to its cap, a long quiet spell starts it afresh, and a loop is "crashing" only while enough of
its crashes fall within the window."""

from __future__ import annotations

import asyncio
import logging

import pytest

from jobs.ops.scheduler import build_scheduler, stop_scheduler
from jobs.ops.supervise import Loops, guard_job
from tests.fakes.clock import FakeClock


def test_backoff_doubles_to_its_cap_and_starts_afresh_after_a_quiet_spell() -> None:
    clock = FakeClock()
    loops = Loops(base_delay=1.0, max_delay=8.0, clock=clock.monotonic)
    assert [loops.crashed("poll") for _ in range(6)] == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    clock.advance(60.0)  # ran well for a minute
    assert loops.crashed("poll") == 1.0


def test_crashing_means_enough_crashes_within_the_window() -> None:
    clock = FakeClock()
    loops = Loops(window=300.0, limit=3, clock=clock.monotonic)
    loops.register("deliverer")
    loops.crashed("deliverer")
    loops.crashed("deliverer")
    assert not loops.snapshot()[0].crashing
    loops.crashed("deliverer")
    (status,) = loops.snapshot()
    assert status.crashing and status.crashes == 3 and status.restarts == 3
    clock.advance(301.0)
    (status,) = loops.snapshot()
    assert not status.crashing and status.crashes == 0 and status.restarts == 3


async def test_a_crashed_job_skips_its_runs_until_the_backoff_passed() -> None:
    clock = FakeClock()
    loops = Loops(base_delay=10.0, clock=clock.monotonic)
    runs: list[int] = []

    async def job() -> None:
        runs.append(1)
        if len(runs) == 1:
            raise ConnectionError("database went away")

    guarded = guard_job("job:poll", job, loops)
    await guarded()  # crashes: next runs wait 10 s
    await guarded()
    assert len(runs) == 1
    clock.advance(10.0)
    await guarded()
    await guarded()
    assert len(runs) == 3 and loops.snapshot()[0].restarts == 1


async def test_a_job_cancelled_by_the_stop_ends_quietly(caplog: pytest.LogCaptureFixture) -> None:
    """A pass running when the process stops is cancelled: not a crash (no backoff, no error
    line), and the job returns, so the scheduler has no exception to log either."""
    loops = Loops(base_delay=10.0)
    started = asyncio.Event()

    async def job() -> None:
        started.set()
        await asyncio.sleep(60)

    task = asyncio.create_task(guard_job("job:poll", job, loops)())
    await started.wait()
    task.cancel()
    with caplog.at_level(logging.INFO, logger="jobs.ops.supervise"):
        assert await task is None
    (status,) = loops.snapshot()
    assert status.crashes == 0 and not status.crashing
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.getMessage() for r in caplog.records] == ["job cancelled by the stop"]


async def test_stopping_the_scheduler_waits_for_the_passes_it_cancels() -> None:
    """A pass running at the stop is cancelled and has ended (its cleanup done) when
    `stop_scheduler` returns: none outlives the app it uses (one still holding a database
    connection when the store closed hung the event loop's close)."""
    began = asyncio.Event()
    cleaned: list[str] = []

    async def poll() -> None:
        began.set()
        try:
            await asyncio.sleep(60)
        finally:
            await asyncio.sleep(0.05)  # e.g. giving a database connection back
            cleaned.append("poll")

    scheduler = build_scheduler({"poll": (poll, 30.0)}, loops=Loops())
    scheduler.start()
    await asyncio.wait_for(began.wait(), 10)
    await stop_scheduler(scheduler, grace=5.0)
    assert cleaned == ["poll"]
    assert not scheduler.running


async def test_a_pass_is_cancelled_once_at_the_stop(caplog: pytest.LogCaptureFixture) -> None:
    """APScheduler's shutdown cancels its tasks a loop turn after it is asked; `stop_scheduler`
    cancels at once. Both reached the same pass, the second inside its cleanup (where a
    database pool was giving a connection back, which it then logged as an error). The pass
    is cancelled once, finishes its cleanup, and neither side logs the stop as a failure."""
    began = asyncio.Event()
    seen: list[int] = []

    async def poll() -> None:
        began.set()
        try:
            await asyncio.sleep(60)
        finally:
            for _ in range(5):  # a cleanup of several awaits, over several loop turns
                await asyncio.sleep(0.01)
            task = asyncio.current_task()
            assert task is not None
            seen.append(task.cancelling())

    scheduler = build_scheduler({"poll": (poll, 30.0)}, loops=Loops())
    scheduler.start()
    await asyncio.wait_for(began.wait(), 10)
    with caplog.at_level(logging.INFO):
        await stop_scheduler(scheduler, grace=5.0)
        await asyncio.sleep(0.1)  # APScheduler's deferred shutdown has run
    assert seen == [1]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
