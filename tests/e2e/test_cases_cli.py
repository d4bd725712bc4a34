"""`bantin units|categories|canned …` and `bantin cases report` as subprocesses on SQLite:
every change audited, bad input refused with exit status 2, the report in CSV and XLSX."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from storage.feedback import CaseIntake, RateLimit
from storage.store import Store
from tests.e2e.conftest import Bantin


def test_units_categories_and_canned_answers(bantin: Bantin) -> None:
    listed = bantin("units", "list")
    assert listed.returncode == 0, listed.stderr
    assert "Bộ phận một cửa *" in listed.stdout  # the default unit: the staff chat
    assert bantin("units", "add", "Phòng QLĐT", "--telegram-chat", "-1001").returncode == 0
    both = bantin("units", "add", "X", "--telegram-chat", "1", "--zalo-chat", "2")
    assert both.returncode == 2
    assert bantin("units", "set-chat", "#2", "--zalo-chat", "g-9").returncode == 0
    assert bantin("staff", "add", "77").returncode == 0
    assert bantin("units", "members", "add", "2", "telegram:77").returncode == 0
    assert bantin("units", "members", "add", "2", "telegram:78").returncode == 1  # not staff
    added = bantin("categories", "add", "Giao thông", "--unit", "phòng qlđt", "--days", "5")
    assert added.returncode == 0, added.stderr
    assert bantin("categories", "add", "Y", "--days", "-1").returncode == 2
    assert bantin("categories", "edit", "giao thông", "--days", "7").returncode == 0
    assert bantin("categories", "deactivate", "Giao thông").returncode == 0
    canned = bantin("canned", "add", "Tiếp nhận", "Mã {ma_phan_anh}, {ho_ten}", "--unit", "2")
    assert canned.returncode == 0 and "{ho_ten}" in canned.stderr  # unknown placeholder warned
    units, categories, answers = bantin.parallel(
        ("units", "list"), ("categories", "list"), ("canned", "list", "--unit", "2")
    )
    assert "Phòng QLĐT\tzalo:g-9\t1" in units.stdout
    assert categories.stdout.split("\t")[1:] == [
        "Giao thông",
        "Phòng QLĐT",
        "7 ngày làm việc",
        "đã ẩn\n",
    ]
    assert "Mã {ma_phan_anh}" in answers.stdout
    assert bantin("canned", "remove", "1").returncode == 0
    removed = bantin("units", "remove", "Bộ phận một cửa")
    assert removed.returncode == 1 and "mặc định" in removed.stderr
    assert bantin("units", "remove", "Phòng QLĐT").returncode == 0
    actions = [e["action"] for e in reversed(json.loads(bantin("audit", "--json").stdout))]
    assert actions == [
        "unit.add", "unit.set_chat", "staff.add", "unit.member_add", "category.add",
        "category.edit", "category.deactivate", "canned.add", "canned.remove", "unit.remove",
    ]  # fmt: skip


def test_cases_report_csv_and_xlsx(bantin: Bantin, tmp_path: Path) -> None:
    async def seed(store: Store) -> None:
        await store.units.ensure_default()
        unit = await store.units.add("Đô thị")
        assert unit is not None
        sub = await store.subscribers.ensure("telegram", "5")
        when = datetime(2026, 11, 3, 2, tzinfo=UTC)
        for n in range(3):
            await store.feedback.file(
                sub.id,
                None,
                f"=cmd {n}",
                limit=RateLimit(count=10),
                now=when + timedelta(hours=n),
                intake=CaseIntake(unit_id=unit.id, due_at=when + timedelta(days=2)),
            )

    bantin.with_store(seed)
    out = bantin("cases", "report", "--month", "2026-11")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(out.stdout.lstrip("\ufeff"))))
    assert rows[0][:4] == ["Nhóm", "Tên", "Tiếp nhận", "Đã trả lời"]
    assert rows[1][:4] == ["Đơn vị", "Đô thị", "3", "0"]
    assert rows[-1][:3] == ["Tổng", "Tổng cộng", "3"]
    path = tmp_path / "bc.xlsx"
    done = bantin(
        "cases",
        "report",
        "--month",
        "2026-11",
        "--unit",
        "Đô thị",
        "--format",
        "xlsx",
        "-o",
        str(path),
    )
    assert done.returncode == 0, done.stderr
    from openpyxl import load_workbook

    sheet = load_workbook(path).active
    assert sheet is not None and sheet.title == "Phản ánh 2026-11"
    values = list(sheet.iter_rows(values_only=True))
    assert values[1][:3] == ("Đơn vị", "Đô thị", 3) and values[-1][2] == 3
    assert bantin("cases", "report", "--month", "2026-13").returncode == 2
    assert bantin("cases", "report", "--month", "2026-11", "--format", "pdf").returncode == 2
    assert bantin("cases", "report", "--month", "2026-11", "--unit", "Không có").returncode == 1
