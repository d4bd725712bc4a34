"""Real databases for integration tests: a SQLite file always, PostgreSQL when configured."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest

from bench.support import drop_pg_database, fresh_pg_database
from storage.store import Store

PG_URL = os.environ.get("BANTIN_TEST_DATABASE_URL")


def _backends() -> list[object]:
    return [
        "sqlite",
        pytest.param(
            "postgresql",
            marks=pytest.mark.skipif(
                not PG_URL, reason="PostgreSQL test: set BANTIN_TEST_DATABASE_URL to run it"
            ),
        ),
    ]


@pytest.fixture(params=_backends())
async def any_store(request: pytest.FixtureRequest, tmp_path: object) -> AsyncIterator[Store]:
    """A migrated Store on SQLite, and again on PostgreSQL when BANTIN_TEST_DATABASE_URL is set."""
    if request.param == "sqlite":
        store = Store.open(f"sqlite:///{tmp_path}/bantin.db")
        await store.migrate()
        yield store
        await store.aclose()
        return
    assert PG_URL
    url = await fresh_pg_database(PG_URL)
    store = Store.open(url)
    await store.migrate()
    yield store
    await store.aclose()
    await drop_pg_database(url)


@pytest.fixture
async def store(tmp_path: object) -> AsyncIterator[Store]:
    """A migrated Store on a real SQLite file."""
    s = Store.open(f"sqlite:///{tmp_path}/bantin.db")
    await s.migrate()
    yield s
    await s.aclose()


@pytest.fixture
def db_url(tmp_path: object) -> Iterator[str]:
    yield f"sqlite:///{tmp_path}/bantin.db"
