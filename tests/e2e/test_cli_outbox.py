"""`bantin deliveries failed|retry` and `bantin broadcasts` as subprocesses on a SQLite file."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from jobs.i18n import t
from storage.store import Store
from tests.e2e.conftest import Bantin


def _seed(bantin: Bantin) -> list[int]:
    async def work(store: Store) -> list[int]:
        now = datetime.now(UTC)
        ids = []
        for chat in ("1", "2", "3"):
            sub, _ = await store.subscribers.subscribe("telegram", chat)
            await store.deliveries.enqueue_one(sub.id, "announcement", 1, now=now)
        for row in await store.deliveries.claim_due(now=now, limit=3, lease_seconds=60):
            await store.deliveries.mark_dead(row.id, error="HTTP 502 Bad Gateway")
            ids.append(row.id)
        return ids

    return bantin.with_store(work)


def test_dead_letters_listed_and_retried(bantin: Bantin) -> None:
    ids = _seed(bantin)
    listed = bantin("deliveries", "failed")
    assert listed.returncode == 0 and listed.stdout.count("Bad Gateway") == 3
    as_json = json.loads(bantin("deliveries", "failed", "--json").stdout)
    assert [r["id"] for r in as_json] == ids and as_json[0]["last_error"].startswith("HTTP 502")

    one = bantin("deliveries", "retry", str(ids[0]))
    assert one.returncode == 0 and t("cli_retry_done", count=1) in one.stdout
    missing = bantin("deliveries", "retry", "999")
    assert missing.returncode == 1 and t("cli_retry_missing", id=999) in missing.stderr
    both = bantin("deliveries", "retry", str(ids[1]), "--all")
    assert both.returncode == 2
    rest = bantin("deliveries", "retry", "--all")
    assert t("cli_retry_done", count=2) in rest.stdout

    async def counts(store: Store) -> dict[str, int]:
        return await store.deliveries.counts()

    assert bantin.with_store(counts) == {"pending": 3}
    assert t("cli_no_dead_letters") in bantin("deliveries", "failed").stdout


def test_broadcasts_show_counts(bantin: Bantin) -> None:
    assert t("cli_no_broadcasts") in bantin("broadcasts").stdout

    async def seed(store: Store) -> None:
        for chat in ("1", "2", "3", "4"):
            await store.subscribers.subscribe("telegram", chat)

    bantin.with_store(seed)
    assert bantin("broadcast", "Lịch tiếp dân", "--yes").returncode == 0

    async def progress(store: Store) -> None:
        now = datetime.now(UTC)
        rows = await store.deliveries.claim_due(now=now, limit=4, lease_seconds=60)
        await store.deliveries.mark_sent(rows[0].id, message_id="1", now=now)
        await store.deliveries.mark_dead(rows[1].id, error="x")
        await store.deliveries.mark_blocked(rows[2].id, reason="Forbidden")

    bantin.with_store(progress)
    out = bantin("broadcasts", "--json")
    [item] = json.loads(out.stdout)
    assert (item["queued"], item["sent"], item["failed"], item["blocked"], item["remaining"]) == (
        4,
        1,
        1,
        1,
        1,
    )
    text = bantin("broadcasts").stdout
    assert "#1" in text and "1/4" in text and "Lịch tiếp dân" in text
