"""Digest times and quiet hours (jobs/route/digest.py), in Asia/Ho_Chi_Minh whatever the server."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from jobs.route.digest import (
    digest_due,
    effective_quiet,
    in_quiet,
    last_slot,
    parse_quiet,
    parse_times,
    release_time,
)


def ict(day: int, hour: int, minute: int = 0) -> datetime:
    """A Vietnam wall-clock time as aware UTC (ICT = UTC+7)."""
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC).replace(
        hour=(hour - 7) % 24, day=day if hour >= 7 else day - 1
    )


NIGHT = (time(22), time(6))


@pytest.mark.parametrize(
    ("when", "quiet"),
    [(ict(28, 21, 59), False), (ict(28, 22), True), (ict(29, 3), True), (ict(29, 6), False)],
)
def test_quiet_window_wraps_midnight(when: datetime, quiet: bool) -> None:
    assert in_quiet(when, NIGHT) is quiet


def test_release_waits_until_morning_unless_urgent() -> None:
    late = ict(28, 23, 30)
    assert release_time(late, NIGHT) == ict(29, 6)
    assert release_time(late, NIGHT, urgent=True) == late
    assert release_time(ict(29, 2), NIGHT) == ict(29, 6)
    assert release_time(ict(28, 12), NIGHT) == ict(28, 12)
    assert release_time(late, None) == late


def test_parsing_and_defaults() -> None:
    assert parse_times("7, 12:30 19h") == ("07:00", "12:30", "19:00")
    assert parse_times("25:00") is None
    assert parse_quiet("22-6") == "22:00-06:00"
    assert parse_quiet("tắt") == "off" and parse_quiet("7-7") is None
    assert effective_quiet(None, "22:00-06:00") == NIGHT
    assert effective_quiet("off", "22:00-06:00") is None
    assert effective_quiet("23:00-05:00", None) == (time(23), time(5))


def test_digest_due_at_first_time_after_oldest_item() -> None:
    times = ("07:00", "19:00")
    assert last_slot(ict(28, 8), times) == ict(28, 7)
    assert last_slot(ict(28, 6), times) == ict(27, 19)
    arrived = ict(28, 9)
    assert not digest_due(ict(28, 18, 59), times, arrived)
    assert digest_due(ict(28, 19), times, arrived)
    assert not digest_due(ict(28, 19), times, None)
