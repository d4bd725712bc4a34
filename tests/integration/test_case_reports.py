"""The monthly case report: figures computed in SQL agree with a hand count, on SQLite and on
PostgreSQL, with Vietnam-time month boundaries."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from jobs.cases.worktime import TZ
from storage.case_reports import ReportLine, month_bounds
from storage.feedback import CaseIntake, RateLimit
from storage.models import FeedbackRow
from storage.records import Feedback
from storage.store import Store

H = timedelta(hours=1)


async def seed(store: Store) -> dict[str, int]:
    """Eight cases around February 2026 (Vietnam time); the hand count is in the tests."""
    await store.units.ensure_default()
    u1 = await store.units.add("Đô thị")
    u2 = await store.units.add("Y tế")
    assert u1 and u2
    c1 = await store.units.add_category("Giao thông", unit_id=u1.id, deadline_days=2)
    c2 = await store.units.add_category("Vệ sinh", unit_id=u2.id, deadline_days=2)
    assert c1 and c2
    sub = await store.subscribers.ensure("telegram", "900")

    async def case(created: datetime, unit: int, category: int | None, **values: Any) -> int:
        filed = await store.feedback.file(
            sub.id,
            None,
            "x",
            limit=RateLimit(count=1000),
            now=created,
            intake=CaseIntake(category_id=category, unit_id=unit, due_at=created + 24 * H),
        )
        assert isinstance(filed, Feedback)
        fixed = {k: (created + v if isinstance(v, timedelta) else v) for k, v in values.items()}
        if fixed:
            async with store.engine.begin() as conn:
                await conn.execute(
                    update(FeedbackRow).where(FeedbackRow.id == filed.id).values(**fixed)
                )
        return filed.id

    feb = datetime(2026, 2, 1, 0, 30, tzinfo=TZ)  # 31/1 17:30 UTC: February in Vietnam
    await case(
        feb,
        u1.id,
        c1.id,
        status="closed",
        first_answered_at=10 * H,
        closed_at=20 * H,
        satisfaction="satisfied",
    )
    await case(datetime(2026, 1, 31, 23, 30, tzinfo=TZ), u1.id, c1.id)  # January: not counted
    await case(
        datetime(2026, 2, 28, 23, 59, tzinfo=TZ),
        u1.id,
        c1.id,
        status="closed",
        first_answered_at=30 * H,
        closed_at=40 * H,
        satisfaction="unsatisfied",
    )  # late
    await case(
        datetime(2026, 2, 10, 9, tzinfo=TZ),
        u1.id,
        c1.id,
        status="closed",
        first_answered_at=2 * H,
        closed_at=4 * H,
    )  # closed, never rated
    await case(datetime(2026, 2, 11, 9, tzinfo=TZ), u2.id, c2.id)  # still new
    await case(
        datetime(2026, 2, 12, 9, tzinfo=TZ), u2.id, c2.id, status="duplicate", closed_at=1 * H
    )
    await case(
        datetime(2026, 2, 13, 9, tzinfo=TZ),
        u2.id,
        None,
        status="answered",
        first_answered_at=5 * H,
        due_at=None,
    )  # no due time: on time
    await case(datetime(2026, 3, 1, 0, 0, tzinfo=TZ), u2.id, c2.id)  # March: not counted
    return {"u1": u1.id, "u2": u2.id, "c1": c1.id, "c2": c2.id}


def figures(line: ReportLine) -> tuple[object, ...]:
    return (
        line.name,
        line.received,
        line.answered,
        line.on_time,
        line.on_time_percent,
        line.duplicates,
        line.closed,
        line.median_answer_hours,
        line.median_close_hours,
        line.satisfied,
        line.unsatisfied,
        line.no_rating,
    )


async def test_month_report_agrees_with_a_hand_count(any_store: Store) -> None:
    ids = await seed(any_store)
    report = await any_store.case_reports.month("2026-02")
    assert [figures(x) for x in report.units] == [
        ("Đô thị", 3, 3, 2, 66.7, 0, 3, 10.0, 20.0, 1, 1, 1),
        ("Y tế", 3, 1, 1, 100.0, 1, 1, 5.0, 1.0, 0, 0, 0),
    ]
    assert [x.key for x in report.units] == [ids["u1"], ids["u2"]]
    assert [figures(x) for x in report.categories] == [
        (None, 1, 1, 1, 100.0, 0, 0, 5.0, None, 0, 0, 0),  # no category ("không rõ")
        ("Giao thông", 3, 3, 2, 66.7, 0, 3, 10.0, 20.0, 1, 1, 1),
        ("Vệ sinh", 2, 0, 0, None, 1, 1, None, 1.0, 0, 0, 0),
    ]
    # Medians of an even count average the two middle values: (5 + 10) / 2, (4 + 20) / 2.
    assert figures(report.total) == (None, 6, 4, 3, 75.0, 1, 4, 7.5, 12.0, 1, 1, 1)


async def test_one_unit_and_an_empty_month(any_store: Store) -> None:
    ids = await seed(any_store)
    report = await any_store.case_reports.month("2026-02", unit_id=ids["u2"])
    assert [x.name for x in report.units] == ["Y tế"]
    assert [x.name for x in report.categories] == [None, "Vệ sinh"]
    assert report.total.received == 3 and report.total.median_answer_hours == 5.0
    empty = await any_store.case_reports.month("2025-07")
    assert empty.units == [] and empty.categories == [] and empty.total.received == 0
    assert empty.total.on_time_percent is None


@pytest.mark.parametrize("bad", ["2026-13", "2026", "26-02-01", "tháng 2"])
def test_month_bounds(bad: str) -> None:
    start, end = month_bounds("2026-12")
    assert start.isoformat() == "2026-11-30T17:00:00+00:00"
    assert end.isoformat() == "2026-12-31T17:00:00+00:00"
    with pytest.raises(ValueError):
        month_bounds(bad)
