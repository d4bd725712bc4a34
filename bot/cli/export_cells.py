"""Cells of files staff open in a spreadsheet program (CSV and XLSX exports, the audit list).

Citizens write the feedback text and choose their display names, so a cell may start with
`=`, `+`, `-` or `@` (or a tab or carriage return, which spreadsheets skip before reading
one of those): opened in Excel or LibreOffice, `=HYPERLINK(…)` or `=cmd|…` would run as a
formula (OWASP "CSV injection"). Every export writes its text cells through `safe_cell`,
which keeps such text as text by a leading apostrophe, the spreadsheet convention for
"this is text". Full-width forms of the same signs are treated alike: some spreadsheet
programs read them as formula signs too.
"""

from __future__ import annotations

from typing import Any

FORMULA_STARTS = frozenset("=+-@\t\r＝＋－＠")
_ILLEGAL_XML = dict.fromkeys([*range(0, 9), 11, 12, *range(14, 32)])


def safe_cell(value: Any) -> Any:
    """`value` as a cell that a spreadsheet shows and never runs; non-text values unchanged."""
    if isinstance(value, str) and value[:1] in FORMULA_STARTS:
        return "'" + value
    return value


def safe_xlsx_cell(value: Any) -> Any:
    """`safe_cell` for XLSX: control characters dropped first (XLSX is XML and refuses them,
    and a dropped leading one must not uncover a formula sign)."""
    if isinstance(value, str):
        value = value.translate(_ILLEGAL_XML)
    return safe_cell(value)


def safe_row(values: list[Any]) -> list[Any]:
    return [safe_cell(v) for v in values]
