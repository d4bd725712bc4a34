"""What the benchmarks and the tests share: bulk subscribers, throwaway PostgreSQL databases,
a deterministic feed and the one-second-window count that every rate figure uses.

It lives in bench/ because the benchmarks are scripts that must run without the test suite;
tests import it from here, bench never imports tests. It imports only storage (and the
database drivers), so it sits below everything it measures.
"""

from __future__ import annotations

import html
import os
import random
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


def max_in_window(times: list[float], window: float = 1.0) -> int:
    """Largest number of sorted timestamps inside any half-open interval of ``window`` s."""
    best, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


# -- a feed like a district portal's -------------------------------------------------------------

WORDS = (
    "Ủy ban nhân dân huyện Chiêm Hóa tổ chức hội nghị triển khai nhiệm vụ phát triển kinh tế "
    "xã hội năm 2026 Công an tỉnh Tuyên Quang bảo đảm an ninh trật tự người dân doanh nghiệp "
    "đầu tư xây dựng nông thôn mới giáo dục y tế cải cách hành chính chuyển đổi số cán bộ "
    "đảng viên Mặt trận Tổ quốc thôn bản đồng bào dân tộc thiểu số giảm nghèo bền vững"
).split()
ITEMS = 20


def _sentence(rnd: random.Random, n: int) -> str:
    text = " ".join(rnd.choice(WORDS) for _ in range(n))
    return text[0].upper() + text[1:] + "."


def make_feed(i: int) -> bytes:
    """A deterministic ~16 KB RSS feed of 20 items, like a district portal's."""
    rnd = random.Random(i)
    items = []
    for j in range(ITEMS):
        body = "".join(
            f"<p>{' '.join(_sentence(rnd, rnd.randint(14, 24)) for _ in range(2))}</p>"
            for _ in range(2)
        )
        items.append(
            "<item>"
            f"<title>{html.escape(_sentence(rnd, 12)[:-1])}</title>"
            f"<link>https://portal-{i}.gov.vn/tin-tuc/bai-{j}.html</link>"
            f'<guid isPermaLink="false">portal-{i}-bai-{j}</guid>'
            f"<pubDate>{1 + j % 28:02d} Nov 2026 08:{j:02d}:00 +0700</pubDate>"
            f"<description>{html.escape(body, quote=False)}</description>"
            "</item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>Cổng TTĐT số {i}</title><link>https://portal-{i}.gov.vn/</link>"
        + "".join(items)
        + "</channel></rss>"
    ).encode()
