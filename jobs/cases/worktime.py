"""Working time of a Vietnamese office: the clock that case deadlines and reminders run on.

Pure (no I/O but `load_holidays` reading the operator's file, no clock of its own): every
function takes the instants it works on. Deadlines in the regulations that offices answer
citizens under are counted in working days, so a case received on Friday evening before Tết is
not "late" on the Monday after; this module is the one place that knows what a working day is.

The calendar is Asia/Ho_Chi_Minh (UTC+7, no daylight saving), Monday to Friday, inside the
configured working periods (default 07:30-11:30 and 13:00-17:00: eight hours, the usual
administrative day), minus holidays (ngày lễ, Tết), plus make-up working days (ngày làm bù, a
Saturday worked in exchange for a day off next to a holiday).

Definitions (the README repeats them for operators):

- A working day is a Monday-Friday that is not a holiday, or any make-up day.
- `add_working_days(received, n)`, the due time: the END of the n-th working day AFTER the local
  date of receipt (the day of receipt never counts, whatever the hour, so a case received at
  08:00 on Monday and one received on Saturday night with n=1 are both due at the end of the
  next working day: Monday 17:00 for the Saturday one, Tuesday 17:00 for the Monday one). n=0
  means the end of the receipt day when that is a working day and it has not ended yet, else the
  end of the next working day.
- `working_time_between(a, b)`: the working time inside [a, b), zero when b <= a.
- `add_working_time(t, d)`: the earliest instant at which d of working time has passed since t.
- `next_working_instant(t)`: t itself inside working time, else the start of the next period.

Instants in and out are aware datetimes; results are in UTC (what the store keeps).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path

try:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    TZ: tzinfo = ZoneInfo("Asia/Ho_Chi_Minh")
except (ImportError, ZoneInfoNotFoundError):  # a system without tz data: the same fixed offset
    from datetime import timezone

    TZ = timezone(timedelta(hours=7), "ICT")

DEFAULT_WORK_HOURS = "07:30-11:30,13:00-17:00"
# The holiday list shipped with bantin (2026 and 2027); BANTIN_HOLIDAYS replaces it.
DEFAULT_HOLIDAYS_FILE = Path(__file__).resolve().parents[2] / "bot" / "data" / "holidays_vn.txt"
MAX_SCAN_DAYS = 3 * 366  # a calendar with no working day in three years is refused, not looped
_PERIOD = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_DATE = re.compile(r"^(\+?)\s*(\d{4})-(\d{2})-(\d{2})$")

Period = tuple[time, time]


def parse_work_hours(text: str) -> tuple[Period, ...]:
    """ "07:30-11:30,13:00-17:00" → ((07:30, 11:30), (13:00, 17:00)).

    Raises ValueError naming the bad part: periods must be HH:MM-HH:MM, inside one day, start
    before end, in order and not overlapping.
    """
    periods: list[Period] = []
    parts = [p for p in text.split(",") if p.strip()]
    if not parts:
        raise ValueError("no working period given (example: 07:30-11:30,13:00-17:00)")
    for part in parts:
        match = _PERIOD.match(part)
        if match is None:
            raise ValueError(f"'{part.strip()}' is not HH:MM-HH:MM (example: 07:30-11:30)")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if not (0 <= h1 <= 23 and 0 <= m1 <= 59 and 0 <= h2 <= 24 and 0 <= m2 <= 59):
            raise ValueError(f"'{part.strip()}' has an hour or minute out of range")
        if h2 == 24 and m2 != 0:
            raise ValueError(f"'{part.strip()}' ends after midnight")
        start = time(h1, m1)
        end = time.max if h2 == 24 else time(h2, m2)
        if end <= start:
            raise ValueError(f"'{part.strip()}' ends before it starts (overnight is not allowed)")
        if periods and start < periods[-1][1]:
            raise ValueError(f"'{part.strip()}' overlaps or precedes the period before it")
        periods.append((start, end))
    return tuple(periods)


def parse_day_lines(lines: Iterable[str], source: str) -> tuple[frozenset[date], frozenset[date]]:
    """Holiday lines → (holidays, make-up working days).

    One date a line (or a comma list), YYYY-MM-DD; "+YYYY-MM-DD" marks a make-up working day;
    "#" starts a comment. Raises ValueError naming `source` and the line.
    """
    holidays: set[date] = set()
    workdays: set[date] = set()
    for number, raw in enumerate(lines, start=1):
        text = raw.split("#", 1)[0]
        for item in (p.strip() for p in text.split(",")):
            if not item:
                continue
            match = _DATE.match(item)
            try:
                if match is None:
                    raise ValueError
                day = date(int(match.group(2)), int(match.group(3)), int(match.group(4)))
            except ValueError:
                raise ValueError(
                    f"{source} line {number}: '{item}' is not a date YYYY-MM-DD "
                    "(or +YYYY-MM-DD for a make-up working day)"
                ) from None
            (workdays if match.group(1) else holidays).add(day)
    both = holidays & workdays
    if both:
        first = min(both).isoformat()
        raise ValueError(f"{source}: {first} is both a holiday and a make-up working day")
    return frozenset(holidays), frozenset(workdays)


def load_holidays(spec: str | None) -> tuple[frozenset[date], frozenset[date]]:
    """BANTIN_HOLIDAYS → (holidays, make-up days). A comma list whose items are file paths (one
    date a line) and/or dates; "none" (or an empty value) means no holidays; None means the
    shipped file. Raises ValueError with a readable message (missing file, bad date)."""
    if spec is None:
        spec = str(DEFAULT_HOLIDAYS_FILE)
    if spec.strip().lower() in ("", "none", "off"):
        return frozenset(), frozenset()
    holidays: set[date] = set()
    workdays: set[date] = set()
    for item in (p.strip() for p in spec.split(",")):
        if not item:
            continue
        if _DATE.match(item):
            lines, source = [item], "BANTIN_HOLIDAYS"
        else:
            path = Path(item).expanduser()
            try:
                lines, source = path.read_text(encoding="utf-8").splitlines(), str(path)
            except OSError as err:
                raise ValueError(
                    f"'{item}' is neither a date YYYY-MM-DD nor a readable file "
                    f"({err.strerror or err})"
                ) from None
        h, w = parse_day_lines(lines, source)
        holidays |= h
        workdays |= w
    both = holidays & workdays
    if both:
        raise ValueError(f"{min(both).isoformat()} is both a holiday and a make-up working day")
    return frozenset(holidays), frozenset(workdays)


@dataclass(frozen=True)
class Calendar:
    """The working calendar: periods of a working day, holidays, make-up working days."""

    periods: tuple[Period, ...] = field(
        default_factory=lambda: parse_work_hours(DEFAULT_WORK_HOURS)
    )
    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()
    tz: tzinfo = TZ

    @classmethod
    def from_settings(cls, work_hours: str, holidays: str | None) -> Calendar:
        h, w = load_holidays(holidays)
        return cls(periods=parse_work_hours(work_hours), holidays=h, workdays=w)

    @property
    def day_length(self) -> timedelta:
        """Working time in one working day (8 hours by default)."""
        return sum((_span(a, b) for a, b in self.periods), timedelta())

    def is_working_day(self, day: date) -> bool:
        if day in self.workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def _local(self, when: datetime) -> datetime:
        if when.tzinfo is None:
            raise ValueError("naive datetime: pass an aware instant")
        return when.astimezone(self.tz)

    def _intervals(self, day: date) -> list[tuple[datetime, datetime]]:
        """The working periods of `day` as aware local instants (none on a day off)."""
        if not self.is_working_day(day):
            return []
        out = []
        for start, end in self.periods:
            a = datetime.combine(day, start, self.tz)
            b = (
                datetime.combine(day + timedelta(days=1), time(0), self.tz)
                if end == time.max
                else datetime.combine(day, end, self.tz)
            )
            out.append((a, b))
        return out

    def _days_from(self, day: date) -> Iterator[date]:
        for offset in range(MAX_SCAN_DAYS):
            yield day + timedelta(days=offset)
        raise ValueError("no working day within three years: check the hours and the holidays")

    def is_working_time(self, when: datetime) -> bool:
        local = self._local(when)
        return any(a <= local < b for a, b in self._intervals(local.date()))

    def next_working_instant(self, when: datetime) -> datetime:
        """`when` when it is working time, else the start of the next working period."""
        local = self._local(when)
        for day in self._days_from(local.date()):
            for a, b in self._intervals(day):
                if local < b:
                    return max(a, local).astimezone(UTC)
        raise AssertionError("unreachable")  # pragma: no cover

    def working_time_between(self, start: datetime, end: datetime) -> timedelta:
        """Working time inside [start, end); zero when end <= start."""
        a_local, b_local = self._local(start), self._local(end)
        total = timedelta()
        if b_local <= a_local:
            return total
        day = a_local.date()
        while day <= b_local.date():
            for a, b in self._intervals(day):
                lo, hi = max(a, a_local), min(b, b_local)
                if hi > lo:
                    total += hi - lo
            day += timedelta(days=1)
        return total

    def add_working_time(self, when: datetime, amount: timedelta) -> datetime:
        """The earliest instant at which `amount` of working time has passed since `when`.

        Zero or less → `when` unchanged (in UTC)."""
        local = self._local(when)
        left = amount
        if left <= timedelta():
            return local.astimezone(UTC)
        for day in self._days_from(local.date()):
            for a, b in self._intervals(day):
                lo = max(a, local)
                if b <= lo:
                    continue
                if b - lo >= left:
                    return (lo + left).astimezone(UTC)
                left -= b - lo
        raise AssertionError("unreachable")  # pragma: no cover

    def end_of_working_day(self, day: date) -> datetime:
        """The end of the last working period of a working `day`."""
        intervals = self._intervals(day)
        if not intervals:
            raise ValueError(f"{day.isoformat()} is not a working day")
        return intervals[-1][1].astimezone(UTC)

    def add_working_days(self, received: datetime, days: int) -> datetime:
        """The due time: the end of the `days`-th working day after the local date of receipt
        (see the module docstring for n=0)."""
        if days < 0:
            raise ValueError("days must be 0 or more")
        local = self._local(received)
        if days == 0:
            today = self._intervals(local.date())
            if today and local < today[-1][1]:
                return today[-1][1].astimezone(UTC)
            days = 1
        counted = 0
        for day in self._days_from(local.date() + timedelta(days=1)):
            if self.is_working_day(day):
                counted += 1
                if counted == days:
                    return self.end_of_working_day(day)
        raise AssertionError("unreachable")  # pragma: no cover


def _span(start: time, end: time) -> timedelta:
    base = date(2000, 1, 3)
    b = datetime.combine(base + timedelta(days=1), time(0)) if end == time.max else None
    return (b or datetime.combine(base, end)) - datetime.combine(base, start)


def format_hours(periods: Iterable[Period]) -> str:
    """The canonical "HH:MM-HH:MM,…" form (for messages and the README's examples)."""
    return ",".join(
        f"{a:%H:%M}-{'24:00' if b == time.max else format(b, '%H:%M')}" for a, b in periods
    )
