"""Exactly one active scheduler: a PostgreSQL session advisory lock held on its own connection.

Why an advisory lock and not a row with a lease: PostgreSQL releases a session lock the moment
the holder's connection ends, so a killed scheduler (SIGKILL, a lost machine) frees it without
waiting for any lease to run out, and a standby that retries every few seconds takes over well
within the 30 s the operators were promised. The lock lives on one dedicated connection, outside
the pool, which the holder checks on every renewal: if it breaks, the holder stops acting as the
scheduler before a standby could start, so two never poll for long (and duplicate polls are
harmless anyway: articles have a unique link index and deliveries a unique key).

SQLite has no such lock and no second machine: there the single process is always the leader.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from contextlib import suppress
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from jobs.sleep import sleep_or_stop

log = logging.getLogger(__name__)

# A fixed 64-bit key for "the bantin scheduler" (any constant; "bantin" as bytes).
SCHEDULER_LOCK_KEY = 0x62616E74696E
LEADER_STATE_KEY = "scheduler.leader"


def identity() -> str:
    """Who holds the lock, as shown in logs and the state table: host and pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Leadership:
    """Acquire, keep and release the scheduler lock.

    `acquire(stop)` returns True once this process is the leader (False if `stop` was set
    first); `held()` re-checks the lock's connection; `release()` gives it up.
    """

    def __init__(self, engine: AsyncEngine, *, retry_seconds: float = 5.0) -> None:
        self._engine = engine
        self._retry = retry_seconds
        self._conn: AsyncConnection | None = None
        self.is_postgres = engine.dialect.name == "postgresql"

    async def try_acquire(self) -> bool:
        if not self.is_postgres:
            return True
        if self._conn is not None:
            return await self.held()
        conn = await self._engine.connect()
        try:
            got = (
                await conn.execute(
                    text("SELECT pg_try_advisory_lock(:key)"), {"key": SCHEDULER_LOCK_KEY}
                )
            ).scalar_one()
            await conn.commit()  # the lock is per session: no transaction left open
        except Exception:
            await _close(conn)
            raise
        if not got:
            await _close(conn)
            return False
        self._conn = conn
        return True

    async def acquire(self, stop: asyncio.Event) -> bool:
        """Wait as a standby until the lock is ours or `stop` is set."""
        announced = False
        while not stop.is_set():
            try:
                if await self.try_acquire():
                    return True
            except Exception as err:  # database down: keep waiting, say why once per outage
                log.warning("leader election failed", extra={"error": type(err).__name__})
            if not announced:
                log.info("standby: another scheduler is active", extra={"retry": self._retry})
                announced = True
            await sleep_or_stop(stop, self._retry)
        return False

    async def held(self) -> bool:
        """True while the lock's connection answers (and, on PostgreSQL, still holds it)."""
        if not self.is_postgres:
            return True
        conn = self._conn
        if conn is None:
            return False
        try:
            count = (
                await conn.execute(
                    text(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                        "AND pid = pg_backend_pid() AND granted "
                        "AND ((classid::bigint << 32) | objid::bigint) = :key"
                    ),
                    {"key": SCHEDULER_LOCK_KEY},
                )
            ).scalar_one()
            await conn.commit()
        except Exception as err:
            log.error("scheduler lock connection lost", extra={"error": type(err).__name__})
            await self._drop()
            return False
        if not count:
            await self._drop()
            return False
        return True

    async def release(self) -> None:
        conn = self._conn
        if conn is None:
            return
        with suppress(Exception):
            await conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": SCHEDULER_LOCK_KEY})
            await conn.commit()
        await self._drop()

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await _close(conn)


async def _close(conn: AsyncConnection) -> None:
    with suppress(Exception):
        await conn.close()


def describe(who: str, since: datetime) -> str:
    """The value stored under LEADER_STATE_KEY: `host:pid since ISO-time`."""
    return f"{who} since {since.isoformat(timespec='seconds')}"
