"""Canned answers: placeholders filled, unknown ones kept visible, nothing ever raises."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jobs.cases.canned import CaseFacts, render_canned, unknown_placeholders, values_for

FACTS = CaseFacts(
    code="PA00042",
    name="Nguyễn Văn A",
    due_at=datetime(2026, 2, 23, 10, tzinfo=UTC),  # 17:00 in Vietnam
    category="Giao thông",
    unit="Phòng Quản lý đô thị",
    received_at=datetime(2026, 2, 12, 20, tzinfo=UTC),  # 13/02 03:00 in Vietnam
)


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("Phản ánh {ma_phan_anh} của {ten}", "Phản ánh PA00042 của Nguyễn Văn A"),
        ("Hạn: {han}", "Hạn: 23/02/2026 17:00"),
        ("{code} / {NAME} / {due}", "PA00042 / Nguyễn Văn A / 23/02/2026 17:00"),
        (
            "{linh_vuc} → {don_vi}, nhận {ngay_nhan}",
            "Giao thông → Phòng Quản lý đô thị, nhận 13/02/2026",
        ),
        ("Gửi {ho_ten} mã {ma_phan_anh}", "Gửi {ho_ten} mã PA00042"),  # unknown stays
        (
            "{ {ma_phan_anh}} {{ten}} {0} {} {han:%Y} {",
            "{ PA00042} {Nguyễn Văn A} {0} {} {han:%Y} {",
        ),
        ("", ""),
    ],
)
def test_render(template: str, expected: str) -> None:
    assert render_canned(template, values_for(FACTS)) == expected


def test_unknown_facts_leave_their_placeholder() -> None:
    values = values_for(CaseFacts(code="PA00007"))
    assert render_canned("{ten}, {ma_phan_anh}, hạn {han}", values) == "bạn, PA00007, hạn {han}"
    assert render_canned("{name}", values_for(CaseFacts(code="X"), anonymous="you")) == "you"


def test_unknown_placeholders_are_reported_once() -> None:
    assert unknown_placeholders("{ho_ten} {ma_phan_anh} {ho_ten} {CODE} {x1}") == ["ho_ten", "x1"]


@given(st.text(max_size=200))
def test_never_raises(template: str) -> None:
    out = render_canned(template, values_for(FACTS))
    assert isinstance(out, str)
    if "{" not in template:
        assert out == template
