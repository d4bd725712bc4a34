"""`bantin staff add|list|remove`, `bantin audit` and `bantin feedback export --format --since`
as subprocesses against a SQLite file."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from storage.store import Store
from tests.e2e.conftest import Bantin


def test_staff_changes_and_feed_changes_are_audited(bantin: Bantin) -> None:
    assert bantin("staff", "add", "4242", "--role", "admin").returncode == 0
    bad = bantin("staff", "add", "1", "--role", "boss")
    assert bad.returncode == 2 and "boss" in bad.stderr
    listed = json.loads(bantin("staff", "list", "--json").stdout)
    assert [(m["platform"], m["user_id"], m["role"]) for m in listed] == [
        ("telegram", "4242", "admin")
    ]
    assert bantin("feeds", "add", "https://p.example/rss").returncode == 0
    assert bantin("staff", "remove", "4242").returncode == 0
    missing = bantin("staff", "remove", "4242")
    assert missing.returncode == 1 and "4242" in missing.stderr
    entries = json.loads(bantin("audit", "--json").stdout)
    assert [(e["actor"], e["action"], e["target"]) for e in reversed(entries)] == [
        ("cli", "staff.add", "telegram:4242"),
        ("cli", "feed.add", "feed:1"),
        ("cli", "staff.remove", "telegram:4242"),
    ]
    text = bantin("audit", "--action", "staff").stdout
    assert text.count("staff.") == 2 and "feed.add" not in text


def test_feedback_export_xlsx_and_since(bantin: Bantin, tmp_path: Path) -> None:
    async def seed(store: Store) -> None:
        sub, _ = await store.subscribers.subscribe("telegram", "555", display_name="Nguyễn Thị Hà")
        old = datetime(2026, 10, 1, 3, 0, tzinfo=UTC)
        new = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
        await store.feedback.add(sub.id, None, "Ý kiến cũ", now=old)
        await store.feedback.add(sub.id, None, '=HYPERLINK("x") đường hỏng\x07', now=new)

    bantin.with_store(seed)
    csv_out = bantin("feedback", "export", "--since", "2026-11-01")
    assert csv_out.returncode == 0 and csv_out.stdout.startswith("\ufeff")
    assert "đường hỏng" in csv_out.stdout and "Ý kiến cũ" not in csv_out.stdout
    path = tmp_path / "phan-hoi.xlsx"
    done = bantin("feedback", "export", "--format", "xlsx", "-o", str(path))
    assert done.returncode == 0, done.stderr
    from openpyxl import load_workbook

    sheet = load_workbook(path).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:2] == ("ticket", "time") and len(rows) == 3
    assert rows[1][4] == "Nguyễn Thị Hà" and rows[1][9] == "Ý kiến cũ"
    assert rows[2][9] == '\'=HYPERLINK("x") đường hỏng'  # never a formula, no control char
    assert isinstance(rows[1][1], datetime)
    assert bantin("feedback", "export", "--format", "pdf").returncode == 2
    assert bantin("feedback", "export", "--format", "xlsx").returncode == 2
    assert bantin("feedback", "export", "--since", "hôm qua").returncode == 2
