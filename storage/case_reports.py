"""The monthly case report (`bantin cases report`), computed in SQL on SQLite and PostgreSQL.

Offices report each month how many citizens' cases they received and answered, how many on
time, how fast, and how satisfied people were. The figures are aggregated by the database (no
rows are pulled into Python), so a year of cases costs one query per table, and both databases
agree with each other and with a hand count (tests/integration/test_case_reports.py).

Definitions (the README repeats them):
- the month is a calendar month in Asia/Ho_Chi_Minh; the cohort is the cases RECEIVED in it
  (`created_at`), whatever happened to them later (a late answer in the next month still
  counts for the month the case came in);
- received: every case of the cohort, duplicates included (they are shown apart as well);
- answered: cases with a first staff answer (`first_answered_at`);
- on time: answered no later than the due time (a case without a due time is on time);
  the percentage is of the answered ones;
- median hours to first answer (answered cases) and to close (cases with `closed_at`: closed,
  not responsible, duplicate), in calendar hours;
- satisfaction: of the cases closed and asked, satisfied / unsatisfied / no answer.
Medians: PostgreSQL's percentile_cont(0.5); on SQLite the middle row(s) found with ROW_NUMBER
and COUNT windows, averaged (the same value as percentile_cont).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import Float, and_, case, cast, extract, func, literal, select
from sqlalchemy.sql.elements import ColumnElement

from storage.base import Repo
from storage.kinds import Satisfaction, TicketState
from storage.models import CategoryRow, FeedbackRow, UnitRow

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
By = Literal["unit", "category", "total"]


@dataclass(frozen=True)
class ReportLine:
    """One line of the report: a unit, a category, or the total (key None, name None)."""

    by: str
    key: int | None  # unit or category id; None: "không rõ" (none set) or the total line
    name: str | None
    received: int
    answered: int
    on_time: int
    duplicates: int
    closed: int
    median_answer_hours: float | None
    median_close_hours: float | None
    satisfied: int
    unsatisfied: int
    no_rating: int

    @property
    def on_time_percent(self) -> float | None:
        return round(100.0 * self.on_time / self.answered, 1) if self.answered else None


@dataclass(frozen=True)
class MonthReport:
    month: str  # "YYYY-MM"
    unit_id: int | None
    units: list[ReportLine]
    categories: list[ReportLine]
    total: ReportLine


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """ "2026-02" → [start, end) as aware UTC instants of that month in Vietnam time."""
    try:
        year, mon = (int(p) for p in month.split("-"))
        first = date(year, mon, 1)
    except ValueError:
        raise ValueError(f"'{month}' is not a month YYYY-MM") from None
    following = date(year + (mon == 12), mon % 12 + 1, 1)
    start = datetime.combine(first, time(0), TZ).astimezone(UTC)
    end = datetime.combine(following, time(0), TZ).astimezone(UTC)
    return start, end


class CaseReportRepo(Repo):
    def _hours(self, later: Any, earlier: Any) -> ColumnElement[Any]:
        if self._dialect == "postgresql":
            return extract("epoch", later - earlier) / 3600.0
        return (func.julianday(later) - func.julianday(earlier)) * 24.0

    async def month(self, month: str, *, unit_id: int | None = None) -> MonthReport:
        start, end = month_bounds(month)
        units = await self._lines("unit", start, end, unit_id)
        categories = await self._lines("category", start, end, unit_id)
        total = await self._lines("total", start, end, unit_id)
        empty = ReportLine("total", None, None, 0, 0, 0, 0, 0, None, None, 0, 0, 0)
        return MonthReport(month, unit_id, units, categories, total[0] if total else empty)

    async def _lines(
        self, by: By, start: datetime, end: datetime, unit_id: int | None
    ) -> list[ReportLine]:
        f = FeedbackRow
        if by == "unit":
            key: ColumnElement[Any] = func.coalesce(f.unit_id, 0)
        elif by == "category":
            key = func.coalesce(f.category_id, 0)
        else:
            key = literal(0)
        where = [f.created_at >= start, f.created_at < end]
        if unit_id is not None:
            where.append(f.unit_id == unit_id)
        cohort = and_(*where)
        answer_h = self._hours(f.first_answered_at, f.created_at)
        close_h = self._hours(f.closed_at, f.created_at)
        one = literal(1)
        counts = (
            select(
                key.label("k"),
                func.count().label("received"),
                func.count(f.first_answered_at).label("answered"),
                func.sum(
                    case(
                        (
                            and_(
                                f.first_answered_at.is_not(None),
                                (f.due_at.is_(None)) | (f.first_answered_at <= f.due_at),
                            ),
                            one,
                        ),
                        else_=0,
                    )
                ).label("on_time"),
                func.sum(case((f.status == TicketState.DUPLICATE, one), else_=0)).label("dup"),
                func.count(f.closed_at).label("closed"),
                func.sum(case((f.satisfaction == Satisfaction.SATISFIED, one), else_=0)).label(
                    "sat"
                ),
                func.sum(case((f.satisfaction == Satisfaction.UNSATISFIED, one), else_=0)).label(
                    "unsat"
                ),
                func.sum(
                    case(
                        (and_(f.status == TicketState.CLOSED, f.satisfaction.is_(None)), one),
                        else_=0,
                    )
                ).label("norate"),
            )
            .where(cohort)
            .group_by(key)
            .subquery("counts")
        )
        med_answer = self._median(key, answer_h, and_(cohort, f.first_answered_at.is_not(None)))
        med_close = self._median(key, close_h, and_(cohort, f.closed_at.is_not(None)))
        if by == "unit":
            names = select(UnitRow.id.label("k"), UnitRow.name.label("name")).subquery("names")
        elif by == "category":
            names = select(CategoryRow.id.label("k"), CategoryRow.name.label("name")).subquery(
                "names"
            )
        else:
            names = None
        cols: list[Any] = [
            counts.c.k,
            counts.c.received,
            counts.c.answered,
            counts.c.on_time,
            counts.c.dup,
            counts.c.closed,
            med_answer.c.median,
            med_close.c.median,
            counts.c.sat,
            counts.c.unsat,
            counts.c.norate,
        ]
        joined: Any = counts.outerjoin(med_answer, med_answer.c.k == counts.c.k).outerjoin(
            med_close, med_close.c.k == counts.c.k
        )
        if names is not None:
            joined = joined.outerjoin(names, names.c.k == counts.c.k)
            cols.append(names.c.name)
        else:
            cols.append(literal(None).label("name"))
        q = select(*cols).select_from(joined).order_by(counts.c.k)
        async with self._tx() as s:
            rows = (await s.execute(q)).all()
        out = []
        for r in rows:
            k = int(r[0])
            out.append(
                ReportLine(
                    by=by,
                    key=k or None,
                    name=r[11],
                    received=int(r[1]),
                    answered=int(r[2]),
                    on_time=int(r[3] or 0),
                    duplicates=int(r[4] or 0),
                    closed=int(r[5]),
                    median_answer_hours=_hours_or_none(r[6]),
                    median_close_hours=_hours_or_none(r[7]),
                    satisfied=int(r[8] or 0),
                    unsatisfied=int(r[9] or 0),
                    no_rating=int(r[10] or 0),
                )
            )
        return out

    def _median(self, key: ColumnElement[Any], value: ColumnElement[Any], where: Any) -> Any:
        """Per key, the median of `value` over the rows `where` selects: a subquery (k, median)."""
        if self._dialect == "postgresql":
            return (
                select(
                    key.label("k"),
                    func.percentile_cont(0.5).within_group(value).label("median"),
                )
                .where(where)
                .group_by(key)
                .subquery()
            )
        ranked = (
            select(
                key.label("k"),
                value.label("v"),
                func.row_number().over(partition_by=key, order_by=value).label("rn"),
                func.count().over(partition_by=key).label("cnt"),
            )
            .where(where)
            .subquery()
        )
        middle = (ranked.c.rn == (ranked.c.cnt + 1) // 2) | (ranked.c.rn == (ranked.c.cnt + 2) // 2)
        return (
            select(ranked.c.k, func.avg(cast(ranked.c.v, Float)).label("median"))
            .where(middle)
            .group_by(ranked.c.k)
            .subquery()
        )


def _hours_or_none(value: object) -> float | None:
    return None if value is None else round(float(value), 2)  # type: ignore[arg-type]
