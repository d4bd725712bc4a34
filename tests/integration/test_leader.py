"""The scheduler lock (jobs/ops/leader.py) on real PostgreSQL, and its SQLite stand-in."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text

from bench.support import drop_pg_database, fresh_pg_database
from jobs.ops.leader import Leadership
from storage.store import Store
from tests.integration.conftest import PG_URL

needs_pg = pytest.mark.skipif(not PG_URL, reason="PostgreSQL test: set BANTIN_TEST_DATABASE_URL")


@pytest.fixture
async def two_stores() -> AsyncIterator[tuple[Store, Store]]:
    assert PG_URL
    url = await fresh_pg_database(PG_URL)
    a, b = Store.open(url), Store.open(url)
    yield a, b
    await a.aclose()
    await b.aclose()
    await drop_pg_database(url)


@needs_pg
@pytest.mark.postgres
async def test_one_holder_at_a_time_and_release_hands_over(
    two_stores: tuple[Store, Store],
) -> None:
    a, b = (Leadership(s.engine, retry_seconds=0.1) for s in two_stores)
    assert await a.try_acquire()
    assert await a.held()
    assert not await b.try_acquire()
    assert await a.try_acquire()  # asking again while holding is not a second lock
    await a.release()
    assert not await a.held()
    assert await b.try_acquire()
    assert not await a.try_acquire()
    await b.release()


@needs_pg
@pytest.mark.postgres
async def test_a_dead_holders_connection_frees_the_lock_for_the_standby(
    two_stores: tuple[Store, Store],
) -> None:
    a, b = (Leadership(s.engine, retry_seconds=0.1) for s in two_stores)
    assert await a.try_acquire()
    stop = asyncio.Event()
    standby = asyncio.create_task(b.acquire(stop))
    await asyncio.sleep(0.3)
    assert not standby.done()
    # The holder's backend dies (as when its machine is lost): PostgreSQL frees the lock.
    async with two_stores[1].engine.connect() as conn:
        await conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_locks "
                "WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid()"
            )
        )
    assert await asyncio.wait_for(standby, 5) is True
    assert not await a.held(), "the old holder learns it lost the lock"
    assert await b.held()
    await b.release()


async def test_sqlite_has_one_process_which_always_leads(store: Store) -> None:
    leader = Leadership(store.engine)
    assert not leader.is_postgres
    assert await leader.try_acquire()
    assert await leader.held()
    assert await leader.acquire(asyncio.Event())
    await leader.release()
