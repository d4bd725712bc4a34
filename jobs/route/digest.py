"""When a subscriber gets things: digest times and quiet hours, decided without I/O.

All times a subscriber picks are wall-clock times in Asia/Ho_Chi_Minh (UTC+7, no daylight
saving), whatever the server's zone; `now` is always an aware UTC datetime passed in.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta, timezone

VIETNAM = timezone(timedelta(hours=7), "ICT")
DEFAULT_DIGEST_TIMES = ("07:00", "19:00")
DEFAULT_QUIET_HOURS = "22:00-06:00"
OFF = "off"
MAX_DIGEST_TIMES = 6
_HHMM = re.compile(r"^([01]?\d|2[0-3])[:hH.]?([0-5]\d)?$")


def parse_time(text: str) -> time | None:
    """ "7", "07:30", "7h30", "19.00" → time; None when it is not a time of day."""
    match = _HHMM.match(text.strip())
    if match is None:
        return None
    return time(int(match.group(1)), int(match.group(2) or 0))


def format_time(value: time) -> str:
    return f"{value.hour:02d}:{value.minute:02d}"


def parse_times(text: str) -> tuple[str, ...] | None:
    """ "7, 12:30 19h" → ("07:00", "12:30", "19:00"), sorted, unique; None if any part is bad."""
    parts = [p for p in re.split(r"[,;\s]+", text.strip()) if p]
    if not parts or len(parts) > MAX_DIGEST_TIMES:
        return None
    parsed = [parse_time(p) for p in parts]
    if any(p is None for p in parsed):
        return None
    return tuple(sorted({format_time(p) for p in parsed if p is not None}))


def parse_quiet(text: str) -> str | None:
    """ "22-6", "22:00-06:00", "off" → the stored form; None when malformed or empty."""
    cleaned = text.strip().lower()
    if cleaned in (OFF, "tat", "tắt", "khong", "không"):
        return OFF
    start, sep, end = cleaned.partition("-")
    a, b = parse_time(start), parse_time(end)
    if not sep or a is None or b is None or a == b:
        return None
    return f"{format_time(a)}-{format_time(b)}"


def effective_quiet(own: str | None, default: str | None) -> tuple[time, time] | None:
    """The quiet window that applies: the subscriber's, else the operator's; None when off."""
    chosen = own if own is not None else default
    if not chosen or chosen == OFF:
        return None
    start, _, end = chosen.partition("-")
    a, b = parse_time(start), parse_time(end)
    return (a, b) if a is not None and b is not None and a != b else None


def _local(now: datetime) -> datetime:
    return now.astimezone(VIETNAM)


def in_quiet(now: datetime, window: tuple[time, time] | None) -> bool:
    if window is None:
        return False
    start, end = window
    current = _local(now).time()
    if start < end:
        return start <= current < end
    return current >= start or current < end  # the window wraps past midnight


def release_time(
    now: datetime, window: tuple[time, time] | None, *, urgent: bool = False
) -> datetime:
    """When a push made at `now` may go out: now, or the end of the quiet window (in UTC).

    Urgent announcements never wait.
    """
    if urgent or not in_quiet(now, window):
        return now
    assert window is not None
    local = _local(now)
    end = local.replace(hour=window[1].hour, minute=window[1].minute, second=0, microsecond=0)
    if end <= local:
        end += timedelta(days=1)
    return end.astimezone(UTC)


def last_slot(now: datetime, times: tuple[str, ...]) -> datetime | None:
    """The latest digest time at or before `now` (within the last day), in UTC."""
    local = _local(now)
    best: datetime | None = None
    for text in times:
        at = parse_time(text)
        if at is None:
            continue
        slot = local.replace(hour=at.hour, minute=at.minute, second=0, microsecond=0)
        if slot > local:
            slot -= timedelta(days=1)
        if best is None or slot > best:
            best = slot
    return best.astimezone(UTC) if best is not None else None


def digest_due(now: datetime, times: tuple[str, ...], oldest_waiting: datetime | None) -> bool:
    """A digest goes out when a digest time has passed since the oldest item still waiting.

    No "last sent" bookkeeping is needed: items leave the waiting list when a digest takes
    them, so the next digest is due at the first digest time after the next item arrives.
    """
    if oldest_waiting is None:
        return False
    slot = last_slot(now, times or DEFAULT_DIGEST_TIMES)
    return slot is not None and slot >= oldest_waiting
