"""Process health for /healthz: is the database there, is a scheduler alive, is the outbox moving.

Why these three: they are what silently stops news from reaching people. A dead database stops
everything; a dead scheduler (or one that lost its lock and no standby took over) stops polls
and digests while every web process still answers; a stuck outbox (no worker, or workers that
cannot keep up) delays every push. Each is judged against a limit the operator sets
(BANTIN_HEARTBEAT_MAX_AGE, BANTIN_OUTBOX_MAX_LAG).

Gathering (I/O: `gather`) is kept apart from judging (pure: `judge`, which takes `now`), so the
rules are tested table-driven without a database. The active scheduler calls `beat` on every
tick; the heartbeat lives in storage's key-value table, so any process can read it.

Every long-running loop of the process (update polling, the deliverer, scheduler jobs, reply
steps) runs under jobs/ops/supervise.py, which restarts it after a crash; a loop that keeps dying
would hide behind those restarts, so `judge` also takes the loops' crash record and names a
loop that crashed too often lately ("loop <name>: crashing").

/healthz may be public (it shares BANTIN_LISTEN with the webhooks), so a report says only what
failed ("database: unreachable"); the driver's error text (role names, hosts) goes to the log.

Feed health (feeds failing, staff notices) is a different thing and lives in
jobs/staff/feed_alerts.py.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from jobs.ops.supervise import LoopStatus

if TYPE_CHECKING:
    from storage.store import Store

log = logging.getLogger(__name__)

HEARTBEAT_KEY = "scheduler.heartbeat"
DB_TIMEOUT = 5.0  # seconds: a database that takes longer than this to answer counts as down


@dataclass(frozen=True)
class Observed:
    """What `gather` saw. `database_error` is None when the database answered; when not, it
    is the detail for the log, never for the report."""

    database_error: str | None
    heartbeat: datetime | None = None  # last scheduler tick, None if never
    oldest_due: datetime | None = None  # next_attempt_at of the oldest pending row, None if none


@dataclass(frozen=True)
class HealthReport:
    ok: bool
    checks: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def reasons(self) -> list[str]:
        return [str(c["reason"]) for c in self.checks.values() if not c["ok"] and "reason" in c]

    def as_dict(self) -> dict[str, Any]:
        """JSON-able: {"ok": …, "checks": {name: {"ok": …, …}}, "reasons": […]}."""
        return {"ok": self.ok, "checks": self.checks, "reasons": self.reasons}


def _age(now: datetime, then: datetime) -> float:
    return round(max(0.0, (now - then).total_seconds()), 3)


def judge(
    seen: Observed,
    *,
    now: datetime,
    max_heartbeat_age: float | None,
    max_outbox_lag: float | None,
    loops: Sequence[LoopStatus] = (),
) -> HealthReport:
    """Pure: the verdict on what was observed. A limit of None skips that check (a process
    that must not be judged by another's health, e.g. a worker by the scheduler's)."""
    checks: dict[str, dict[str, Any]] = {}
    if loops:
        checks["loops"] = _judge_loops(loops)
    if seen.database_error is not None:
        checks["database"] = {"ok": False, "reason": "database: unreachable"}
        return HealthReport(False, checks)
    checks["database"] = {"ok": True}

    if max_heartbeat_age is None:  # shown, not judged
        checks["scheduler"] = {
            "ok": True,
            "judged": False,
            "heartbeat_age_seconds": None if seen.heartbeat is None else _age(now, seen.heartbeat),
        }
    else:
        if seen.heartbeat is None:
            checks["scheduler"] = {"ok": False, "reason": "no scheduler has ever run"}
        else:
            age = _age(now, seen.heartbeat)
            fresh = age <= max_heartbeat_age
            checks["scheduler"] = {
                "ok": fresh,
                "heartbeat_age_seconds": age,
                "max_age_seconds": max_heartbeat_age,
            }
            if not fresh:
                checks["scheduler"]["reason"] = (
                    f"scheduler heartbeat is {age:.0f} s old (limit {max_heartbeat_age:g} s)"
                )

    if max_outbox_lag is not None:
        lag = _age(now, seen.oldest_due) if seen.oldest_due is not None else 0.0
        moving = lag <= max_outbox_lag
        checks["outbox"] = {"ok": moving, "lag_seconds": lag, "max_lag_seconds": max_outbox_lag}
        if not moving:
            checks["outbox"]["reason"] = (
                f"oldest due outbox row has waited {lag:.0f} s (limit {max_outbox_lag:g} s)"
            )
    return HealthReport(all(c["ok"] for c in checks.values()), checks)


def _judge_loops(loops: Sequence[LoopStatus]) -> dict[str, Any]:
    """Names and counts only (no error text: the traceback is in the log)."""
    crashing = [loop.name for loop in loops if loop.crashing]
    check: dict[str, Any] = {
        "ok": not crashing,
        "loops": {
            loop.name: {"crashes": loop.crashes, "restarts": loop.restarts} for loop in loops
        },
    }
    if crashing:
        check["reason"] = "; ".join(f"loop {name}: crashing" for name in crashing)
    return check


def _describe(exc: BaseException) -> str:
    """A short, secret-free description: the error's type and first line (no URL is kept)."""
    first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


async def gather(store: Store, *, timeout: float = DB_TIMEOUT) -> Observed:
    """Ask the database: reachable? last heartbeat? oldest pending row?"""
    try:
        async with asyncio.timeout(timeout):
            await store.ping()
            raw = await store.state.get(HEARTBEAT_KEY)
            oldest = await store.deliveries.next_due_at()
    except TimeoutError:
        return Observed(f"no answer within {timeout:g} s")
    except Exception as exc:  # any driver error means the same thing here
        return Observed(_describe(exc))
    return Observed(None, parse_heartbeat(raw), oldest)


def parse_heartbeat(raw: str | None) -> datetime | None:
    if not raw:
        return None
    try:
        when = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return when if when.tzinfo is not None else None


async def check(
    store: Store,
    *,
    now: datetime,
    max_heartbeat_age: float | None,
    max_outbox_lag: float | None,
    loops: Sequence[LoopStatus] = (),
) -> HealthReport:
    """Gather, then judge. The database's error detail is logged here, not reported."""
    seen = await gather(store)
    if seen.database_error is not None:
        log.warning("health: database unreachable", extra={"error": seen.database_error})
    return judge(
        seen,
        now=now,
        max_heartbeat_age=max_heartbeat_age,
        max_outbox_lag=max_outbox_lag,
        loops=loops,
    )


async def beat(store: Store, now: datetime) -> None:
    """The active scheduler is alive at `now` (called on every scheduler tick)."""
    await store.state.set(HEARTBEAT_KEY, now.isoformat())
