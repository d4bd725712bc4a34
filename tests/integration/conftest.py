"""Real databases for integration tests: a SQLite file always, PostgreSQL when configured."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

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


def _admin_url(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def fresh_pg_database(url: str) -> str:
    """A new empty database beside the configured one; returns its URL."""
    import asyncpg
    from sqlalchemy.engine import make_url

    name = f"bantin_t_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(_admin_url(url))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return make_url(url).set(database=name).render_as_string(hide_password=False)


async def drop_pg_database(url: str, admin_url: str | None = None) -> None:
    """Drop the database `url` names, connected to `admin_url` (default: the configured one)."""
    import asyncpg
    from sqlalchemy.engine import make_url

    name = make_url(url).database
    conn = await asyncpg.connect(_admin_url(admin_url or PG_URL or url))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


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
