"""`bantin feedback export --format csv` and `bantin audit`: cells a spreadsheet would run
as formulas come out as text."""

from __future__ import annotations

import csv
import io

from storage.store import Store
from tests.e2e.conftest import Bantin
from tests.integration.test_hardening_export_cells import HOSTILE_NAME, HOSTILE_TEXT


def test_feedback_csv_and_audit_listing(bantin: Bantin) -> None:
    async def seed(store: Store) -> None:
        sub, _ = await store.subscribers.subscribe("telegram", "501", display_name=HOSTILE_NAME)
        await store.feedback.add(sub.id, None, HOSTILE_TEXT)
        await store.audit.record("telegram:900", "citizen.ban", "subscriber:1", "=1+1")

    assert bantin("db", "upgrade").returncode == 0
    bantin.with_store(seed)
    exported, audit = bantin.parallel(("feedback", "export", "--format", "csv"), ("audit",))
    assert exported.returncode == 0, exported.stderr
    header, row = list(csv.reader(io.StringIO(exported.stdout.lstrip("\ufeff"))))
    cells = dict(zip(header, row, strict=True))
    assert cells["name"] == "'" + HOSTILE_NAME and cells["text"] == "'" + HOSTILE_TEXT
    assert audit.returncode == 0, audit.stderr
    assert audit.stdout.rstrip("\n").split("\t")[-1] == "'=1+1"
