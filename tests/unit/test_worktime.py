"""Working time: the calendar case deadlines run on (weekends, holidays, make-up days)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jobs.cases.worktime import (
    DEFAULT_HOLIDAYS_FILE,
    DEFAULT_WORK_HOURS,
    TZ,
    Calendar,
    format_hours,
    load_holidays,
    parse_day_lines,
    parse_work_hours,
)

# Week of 2026-04-27: Monday 27/4 is the Giỗ Tổ compensatory day, Thu 30/4 and Fri 1/5 holidays.
HOLIDAYS = frozenset({date(2026, 4, 27), date(2026, 4, 30), date(2026, 5, 1)})
CAL = Calendar(holidays=HOLIDAYS, workdays=frozenset({date(2026, 5, 9)}))  # Saturday 9/5 worked


def vn(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=TZ)


@pytest.mark.parametrize(
    ("received", "days", "due"),
    [
        # Friday morning + 1 working day: Monday evening (weekend skipped).
        (vn(2026, 4, 17, 9), 1, vn(2026, 4, 20, 17)),
        # Friday evening after hours: the receipt day never counts, same due as in the morning.
        (vn(2026, 4, 17, 20), 1, vn(2026, 4, 20, 17)),
        # Saturday: the next working day is Monday.
        (vn(2026, 4, 18, 10), 1, vn(2026, 4, 20, 17)),
        # Friday 24/4 + 1: Monday 27/4 is a holiday → Tuesday 28/4.
        (vn(2026, 4, 24, 10), 1, vn(2026, 4, 28, 17)),
        # Wednesday 29/4 + 2: Thu 30/4, Fri 1/5 holidays, weekend → Mon 4/5, Tue 5/5.
        (vn(2026, 4, 29, 8), 2, vn(2026, 5, 5, 17)),
        # Friday 8/5 + 1: Saturday 9/5 is a make-up working day.
        (vn(2026, 5, 8, 8), 1, vn(2026, 5, 9, 17)),
        # n=0: end of the receipt day while it lasts, else the next working day's end.
        (vn(2026, 4, 22, 10), 0, vn(2026, 4, 22, 17)),
        (vn(2026, 4, 22, 17, 30), 0, vn(2026, 4, 23, 17)),
        (vn(2026, 4, 25, 10), 0, vn(2026, 4, 28, 17)),
        # Ten working days over the holidays and the make-up Saturday.
        (vn(2026, 4, 23, 9), 10, vn(2026, 5, 11, 17)),  # 24,28,29,4,5,6,7,8,9(Sat),11
    ],
)
def test_add_working_days(received: datetime, days: int, due: datetime) -> None:
    got = CAL.add_working_days(received, days)
    assert got == due and got.tzinfo == UTC


@pytest.mark.parametrize(
    ("start", "end", "hours"),
    [
        (vn(2026, 4, 22, 7, 30), vn(2026, 4, 22, 17), 8.0),  # one whole working day
        (vn(2026, 4, 22, 11), vn(2026, 4, 22, 14), 1.5),  # across lunch: 0.5 + 1
        (vn(2026, 4, 22, 12), vn(2026, 4, 22, 12, 30), 0.0),  # inside lunch
        (vn(2026, 4, 24, 16), vn(2026, 4, 28, 8, 30), 2.0),  # Fri 1h + weekend + holiday + Tue 1h
        (vn(2026, 4, 29, 0), vn(2026, 5, 5, 0), 16.0),  # Wed + Mon only
        (vn(2026, 4, 22, 15), vn(2026, 4, 22, 10), 0.0),  # end before start
        (vn(2026, 5, 9, 0), vn(2026, 5, 10, 0), 8.0),  # the make-up Saturday counts
    ],
)
def test_working_time_between(start: datetime, end: datetime, hours: float) -> None:
    assert CAL.working_time_between(start, end) == timedelta(hours=hours)


@pytest.mark.parametrize(
    ("when", "working", "following"),
    [
        (vn(2026, 4, 22, 9), True, vn(2026, 4, 22, 9)),
        (vn(2026, 4, 22, 7), False, vn(2026, 4, 22, 7, 30)),
        (vn(2026, 4, 22, 11, 30), False, vn(2026, 4, 22, 13)),  # the end is exclusive
        (vn(2026, 4, 22, 17), False, vn(2026, 4, 23, 7, 30)),
        (vn(2026, 4, 24, 18), False, vn(2026, 4, 28, 7, 30)),  # weekend and holiday Monday
        (vn(2026, 4, 27, 9), False, vn(2026, 4, 28, 7, 30)),  # the holiday itself
        (vn(2026, 5, 9, 9), True, vn(2026, 5, 9, 9)),  # make-up Saturday
    ],
)
def test_is_working_time_and_next_instant(
    when: datetime, working: bool, following: datetime
) -> None:
    assert CAL.is_working_time(when) is working
    assert CAL.next_working_instant(when) == following


@pytest.mark.parametrize(
    ("start", "hours", "result"),
    [
        (vn(2026, 4, 22, 9), 1, vn(2026, 4, 22, 10)),
        (vn(2026, 4, 22, 11), 1, vn(2026, 4, 22, 13, 30)),  # lunch skipped
        (vn(2026, 4, 24, 16), 2, vn(2026, 4, 28, 8, 30)),  # weekend + holiday skipped
        (vn(2026, 4, 22, 20), 8, vn(2026, 4, 23, 17)),  # from after hours: a whole next day
        (vn(2026, 4, 22, 20), 0, vn(2026, 4, 22, 20)),
    ],
)
def test_add_working_time(start: datetime, hours: float, result: datetime) -> None:
    got = CAL.add_working_time(start, timedelta(hours=hours))
    assert got == result
    if hours:
        assert CAL.working_time_between(start, got) == timedelta(hours=hours)


def test_utc_instants_are_read_in_vietnam_time() -> None:
    # 2026-04-22 02:00 UTC is 09:00 in Hà Nội: working time, whatever the server's zone.
    assert CAL.is_working_time(datetime(2026, 4, 22, 2, tzinfo=UTC))
    assert not CAL.is_working_time(datetime(2026, 4, 22, 11, tzinfo=UTC))  # 18:00 local
    with pytest.raises(ValueError):
        CAL.is_working_time(datetime(2026, 4, 22, 9))  # naive


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("07:30-11:30,13:00-17:00", ((time(7, 30), time(11, 30)), (time(13), time(17)))),
        (" 8:00 - 12:00 , 13:30-17:00 ", ((time(8), time(12)), (time(13, 30), time(17)))),
        ("00:00-24:00", ((time(0), time.max),)),
    ],
)
def test_parse_work_hours(text: str, expected: tuple[tuple[time, time], ...]) -> None:
    assert parse_work_hours(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "7-11",
        "07:30-11:30;13:00",
        "11:30-07:30",
        "07:30-11:30,11:00-17:00",
        "25:00-26:00",
        "13:00-17:00,07:30-11:30",
        "07:60-08:00",
    ],
)
def test_malformed_work_hours(text: str) -> None:
    with pytest.raises(ValueError):
        parse_work_hours(text)


def test_round_trip_and_day_length() -> None:
    assert format_hours(parse_work_hours(DEFAULT_WORK_HOURS)) == DEFAULT_WORK_HOURS
    assert Calendar().day_length == timedelta(hours=8)
    assert Calendar(periods=parse_work_hours("00:00-24:00")).day_length == timedelta(hours=24)


def test_holiday_lines_comments_and_make_up_days() -> None:
    holidays, workdays = parse_day_lines(
        ["# Tết", "2026-02-16  # 29 tháng Chạp", "2026-02-17, 2026-02-18", "", "+2026-01-10"],
        "test",
    )
    assert holidays == {date(2026, 2, 16), date(2026, 2, 17), date(2026, 2, 18)}
    assert workdays == {date(2026, 1, 10)}
    with pytest.raises(ValueError, match="line 2"):
        parse_day_lines(["2026-02-16", "2026-02-30"], "test")
    with pytest.raises(ValueError, match="both"):
        parse_day_lines(["2026-02-16", "+2026-02-16"], "test")


def test_load_holidays_from_files_and_lists(tmp_path: Path) -> None:
    path = tmp_path / "le.txt"
    path.write_text("2026-12-31\n", encoding="utf-8")
    holidays, workdays = load_holidays(f"{path}, 2026-12-30, +2026-12-26")
    assert holidays == {date(2026, 12, 30), date(2026, 12, 31)}
    assert workdays == {date(2026, 12, 26)}
    assert load_holidays("none") == (frozenset(), frozenset())
    with pytest.raises(ValueError, match="neither a date"):
        load_holidays(str(tmp_path / "missing.txt"))


def test_shipped_holiday_file() -> None:
    """The lunar-derived dates: Tết Bính Ngọ 17/2/2026, Đinh Mùi 6/2/2027, Giỗ Tổ 10/3 âm lịch
    on Sunday 26/4/2026 (compensated Monday 27/4) and Friday 16/4/2027."""
    holidays, workdays = load_holidays(None)
    assert DEFAULT_HOLIDAYS_FILE.is_file()
    for day in (
        "2026-01-01",
        "2026-02-17",
        "2026-02-20",
        "2026-04-27",
        "2026-04-30",
        "2026-05-01",
        "2026-09-02",
        "2027-01-01",
        "2027-02-05",
        "2027-02-09",
        "2027-04-16",
        "2027-05-03",
        "2027-09-02",
    ):
        assert date.fromisoformat(day) in holidays, day
    assert all(d.weekday() < 5 for d in holidays)  # a weekend holiday is listed as its nghỉ bù
    assert all(d.weekday() >= 5 for d in workdays)
    assert len([d for d in holidays if d.year == 2026 and d.month == 2]) == 5  # Tết: 5 days
    calendar = Calendar(holidays=holidays, workdays=workdays)
    # Received on Friday 13/2/2026 (before Tết), 1 working day: due Monday 23/2.
    assert calendar.add_working_days(vn(2026, 2, 13, 10), 1) == vn(2026, 2, 23, 17)


def test_a_calendar_without_working_days_is_refused() -> None:
    never = Calendar(holidays=frozenset(date(2026, 1, 1) + timedelta(days=i) for i in range(1200)))
    with pytest.raises(ValueError, match="no working day"):
        never.add_working_days(vn(2026, 1, 1), 1)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    import os

    for key in list(os.environ):
        if key.startswith("BANTIN_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(str(tmp_path))  # no stray .env
    return monkeypatch


def test_settings_defaults_and_calendar(clean_env: pytest.MonkeyPatch) -> None:
    from bot.app.settings import load_settings

    settings = load_settings()
    assert settings.work_hours == DEFAULT_WORK_HOURS and settings.case_remind_before == 8
    calendar = settings.work_calendar()
    assert date(2026, 9, 2) in calendar.holidays and calendar.day_length == timedelta(hours=8)
    clean_env.setenv("BANTIN_WORK_HOURS", "8:00-12:00, 13:00-17:00")
    clean_env.setenv("BANTIN_HOLIDAYS", "2026-12-31")
    settings = load_settings()
    assert settings.work_hours == "08:00-12:00,13:00-17:00"
    assert settings.work_calendar().holidays == {date(2026, 12, 31)}


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("BANTIN_WORK_HOURS", "7h30-11h30", "BANTIN_WORK_HOURS: '7h30-11h30' is not HH:MM-HH:MM"),
        (
            "BANTIN_WORK_HOURS",
            "13:00-17:00,07:30-11:30",
            "BANTIN_WORK_HOURS: '07:30-11:30' overlaps",
        ),
        ("BANTIN_HOLIDAYS", "2026-02-30", "BANTIN_HOLIDAYS: BANTIN_HOLIDAYS line 1: '2026-02-30'"),
        ("BANTIN_HOLIDAYS", "/nowhere/le.txt", "BANTIN_HOLIDAYS: '/nowhere/le.txt' is neither"),
        ("BANTIN_CASE_REMIND_BEFORE", "-1", "BANTIN_CASE_REMIND_BEFORE:"),
    ],
)
def test_settings_errors_name_the_variable(
    clean_env: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    from bot.app.settings import SettingsError, load_settings

    clean_env.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert any(line.startswith(message) for line in caught.value.lines), caught.value.lines


SHIPPED = Calendar.from_settings(DEFAULT_WORK_HOURS, None)
instants = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2027, 11, 30), timezones=st.just(UTC)
)


@settings(max_examples=200, deadline=None)
@given(start=instants, minutes=st.integers(min_value=1, max_value=60 * 8 * 15))
def test_adding_working_time_is_measured_back(start: datetime, minutes: int) -> None:
    """Across the shipped holidays: what is added is what is measured, and it ends in (or at
    the end of) working time."""
    end = SHIPPED.add_working_time(start, timedelta(minutes=minutes))
    assert SHIPPED.working_time_between(start, end) == timedelta(minutes=minutes)
    assert SHIPPED.is_working_time(end - timedelta(microseconds=1))


@settings(max_examples=200, deadline=None)
@given(received=instants, days=st.integers(min_value=1, max_value=30))
def test_due_is_the_end_of_the_nth_working_day_after_receipt(received: datetime, days: int) -> None:
    due = SHIPPED.add_working_days(received, days)
    local_due, local_received = due.astimezone(TZ), received.astimezone(TZ)
    assert local_due.time() == time(17) and SHIPPED.is_working_day(local_due.date())
    between = [
        local_received.date() + timedelta(days=i)
        for i in range(1, (local_due.date() - local_received.date()).days + 1)
    ]
    assert sum(SHIPPED.is_working_day(d) for d in between) == days
