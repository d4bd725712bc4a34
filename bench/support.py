"""What the benchmarks and the tests share: bulk subscribers, throwaway PostgreSQL databases,
free loopback ports, and the one-second-window count that every rate figure uses.

It lives in bench/ because the benchmarks are scripts that must run without the test suite;
tests import it from here, bench never imports tests. It imports only storage (and the
database drivers), so it sits below everything it measures.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import UTC, datetime

from sqlalchemy import insert

from storage.kinds import DigestMode
from storage.models import PreferenceRow, SubscriberRow
from storage.store import Store

CHUNK = 5000  # rows per INSERT: large enough to be quick, small enough for any driver's limits


# -- subscribers ---------------------------------------------------------------------------------


async def seed_subscribers(
    store: Store, n: int, *, platform: str = "telegram", first_chat: int = 10_000_000
) -> list[int]:
    """Insert `n` active private-chat subscribers; returns their chat ids."""
    now = datetime.now(UTC)
    chats = [first_chat + i for i in range(n)]
    rows = [
        dict(
            platform=platform,
            chat_id=str(c),
            chat_type="private",
            language="vi",
            active=True,
            created_at=now,
            updated_at=now,
        )
        for c in chats
    ]
    async with store.engine.begin() as conn:
        ids: list[int] = []
        for start in range(0, n, CHUNK):
            result = await conn.execute(
                insert(SubscriberRow).returning(SubscriberRow.id), rows[start : start + CHUNK]
            )
            ids.extend(result.scalars())
        prefs = [
            dict(subscriber_id=i, all_news=True, mode=DigestMode.INSTANT, link_preview=False)
            for i in ids
        ]
        for start in range(0, n, CHUNK):
            await conn.execute(insert(PreferenceRow), prefs[start : start + CHUNK])
    return chats


# -- throwaway PostgreSQL databases --------------------------------------------------------------


def _admin_url(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def fresh_pg_database(url: str) -> str:
    """A new empty database beside the one `url` names; returns its URL."""
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
    """Drop the database `url` names, connected to `admin_url` (default: the test database
    BANTIN_TEST_DATABASE_URL names, as a database cannot drop itself)."""
    import asyncpg
    from sqlalchemy.engine import make_url

    name = make_url(url).database
    admin = admin_url or os.environ.get("BANTIN_TEST_DATABASE_URL") or url
    conn = await asyncpg.connect(_admin_url(admin))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


# -- rates ---------------------------------------------------------------------------------------


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on right now (closed again on return)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def max_in_window(times: list[float], window: float = 1.0) -> int:
    """Largest number of sorted timestamps inside any half-open interval of ``window`` s."""
    best, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best
