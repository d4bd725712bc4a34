"""Bulk data for tests and benchmarks: thousands of subscribers in a few statements."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import insert

from storage.models import PreferenceRow, SubscriberRow
from storage.store import Store

CHUNK = 5000


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
            dict(subscriber_id=i, all_news=True, mode="instant", link_preview=False) for i in ids
        ]
        for start in range(0, n, CHUNK):
            await conn.execute(insert(PreferenceRow), prefs[start : start + CHUNK])
    return chats
