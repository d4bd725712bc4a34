"""Supervision of every long-running loop and background step of every role.

Why: a loop that raises ends its task, and an asyncio task that ends with an exception says
nothing until someone awaits it, which in a long-running process is at shutdown. A channel
then goes deaf while the rest of the process (pushes, /healthz) looks fine. So every loop runs
under `supervised`: a crash is logged with its traceback, the loop starts again after a pause
that doubles with each crash in a row (capped), and `Loops` remembers the crashes so /healthz
can call a loop that keeps dying unhealthy ("loop <name>: crashing") instead of hiding it
behind endless restarts.

Three shapes share one record (`Loops`):
- `supervised(name, run, stop, loops=...)`: a loop `run(stop)` that should run until `stop`;
- `guard_job(name, job, loops)`: a periodic job (one pass per call, jobs/ops/scheduler.py); after
  a crash its next passes are skipped until the backoff has passed;
- `guarded(name, step, loops)`: one background step (a reply sent after a webhook's answer);
  a crash is logged and counted, never retried (a retry could say the same thing twice).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from jobs.sleep import sleep_or_stop

log = logging.getLogger(__name__)

CRASH_WINDOW = 300.0  # seconds in which crashes are counted
CRASH_LIMIT = 3  # this many crashes within the window: the loop is "crashing"
BASE_DELAY = 1.0  # pause before the first restart
MAX_DELAY = 60.0  # the pause doubles per crash in a row, up to this

Run = Callable[[asyncio.Event], Awaitable[object]]
Job = Callable[[], Awaitable[object]]
Step = Callable[[], Awaitable[object]]


@dataclass(frozen=True)
class LoopStatus:
    """A loop's record as /healthz shows it: counts only, never error text."""

    name: str
    crashes: int  # within the window
    restarts: int  # since the process started
    crashing: bool


@dataclass
class _Record:
    crashes: deque[float] = field(default_factory=deque)
    restarts: int = 0
    in_a_row: int = 0
    last_crash: float | None = None
    retry_at: float = 0.0


class Loops:
    """The crash record of one process's loops (one per App; /healthz reads it)."""

    def __init__(
        self,
        *,
        window: float = CRASH_WINDOW,
        limit: int = CRASH_LIMIT,
        base_delay: float = BASE_DELAY,
        max_delay: float = MAX_DELAY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.window = window
        self.limit = limit
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.clock = clock
        self._records: dict[str, _Record] = {}

    def register(self, name: str) -> None:
        self._records.setdefault(name, _Record())

    def crashed(self, name: str) -> float:
        """Count a crash of `name`; returns the pause before it should run again.

        A crash after a long quiet spell (longer than the longest pause) starts the doubling
        afresh: the loop had recovered, this is a new problem."""
        record = self._records.setdefault(name, _Record())
        now = self.clock()
        if record.last_crash is not None and now - record.last_crash > self.max_delay * 2:
            record.in_a_row = 0
        record.in_a_row += 1
        record.restarts += 1
        record.last_crash = now
        record.crashes.append(now)
        self._forget_old(record, now)
        delay = min(self.max_delay, self.base_delay * 2.0 ** (record.in_a_row - 1))
        record.retry_at = now + delay
        return delay

    def succeeded(self, name: str) -> None:
        """A pass went well: the next crash pauses briefly again."""
        record = self._records.setdefault(name, _Record())
        record.in_a_row = 0
        record.retry_at = 0.0

    def may_run(self, name: str) -> bool:
        """False while a crashed job's backoff runs."""
        record = self._records.get(name)
        return record is None or self.clock() >= record.retry_at

    def snapshot(self) -> list[LoopStatus]:
        now = self.clock()
        out = []
        for name, record in sorted(self._records.items()):
            self._forget_old(record, now)
            crashes = len(record.crashes)
            out.append(LoopStatus(name, crashes, record.restarts, crashes >= self.limit))
        return out

    def _forget_old(self, record: _Record, now: float) -> None:
        while record.crashes and now - record.crashes[0] > self.window:
            record.crashes.popleft()


async def supervised(name: str, run: Run, stop: asyncio.Event, *, loops: Loops) -> None:
    """Run `run(stop)` until `stop` is set, restarting it after each crash with backoff.

    A loop that returns while `stop` is not set has stopped doing its work just as surely as
    one that raised, so it is restarted the same way (and counted)."""
    loops.register(name)
    while not stop.is_set():
        try:
            await run(stop)
        except asyncio.CancelledError:
            raise
        except Exception:
            delay = loops.crashed(name)
            log.exception("loop crashed; restarting", extra={"loop": name, "delay": delay})
        else:
            if stop.is_set():
                break
            delay = loops.crashed(name)
            log.error("loop ended by itself; restarting", extra={"loop": name, "delay": delay})
        await sleep_or_stop(stop, delay)


def guard_job(name: str, job: Job, loops: Loops) -> Job:
    """`job` for a scheduler: a crash is logged with its traceback and counted, and the next
    passes are skipped until the backoff has passed (the interval alone could hammer a broken
    dependency every few seconds)."""
    loops.register(name)

    async def guarded_job() -> None:
        if not loops.may_run(name):
            return
        try:
            await job()
        except asyncio.CancelledError:
            # The process is stopping (its tasks are cancelled): not a crash, though
            # APScheduler would log a cancelled job as one, traceback and all, on every
            # Ctrl+C that comes while a pass runs.
            log.info("job cancelled by the stop", extra={"loop": name})
            return
        except Exception:
            delay = loops.crashed(name)
            log.exception("job crashed; backing off", extra={"loop": name, "delay": delay})
        else:
            loops.succeeded(name)

    guarded_job.__name__ = getattr(job, "__name__", name)
    return guarded_job


async def guarded(
    name: str, step: Step, loops: Loops | None, *, extra: dict[str, object] | None = None
) -> bool:
    """Run one background step; a crash is logged with its traceback (and `extra`, e.g. the
    chat) and counted under `name`. True when it went well."""
    try:
        await step()
    except asyncio.CancelledError:
        raise
    except Exception:
        if loops is not None:
            loops.crashed(name)
        log.exception("background work failed", extra={**(extra or {}), "loop": name})
        return False
    return True
