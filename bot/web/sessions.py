"""Pure session rules: when a browser session is dead, and the sign-in rate limit.

Kept free of I/O so the expiry rules are tested table-driven (tests/unit/test_web_sessions.py).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta

from storage.web import WebSession

IDLE = timedelta(minutes=30)
ABSOLUTE = timedelta(hours=12)
TOUCH_EVERY = timedelta(seconds=60)  # last_seen is written at most this often

# Why a session is no longer valid (None: it is).
REVOKED, EXPIRED, IDLE_OUT, GONE, ROLE_CHANGED = "revoked", "expired", "idle", "gone", "role"


@dataclass(frozen=True)
class Limits:
    idle: timedelta = IDLE
    absolute: timedelta = ABSOLUTE


def dead_because(
    session: WebSession, role_now: str | None, now: datetime, limits: Limits = Limits()
) -> str | None:
    """Why `session` must not be used at `now` given the staff member's role read from the
    database just now, or None when it is alive. A removed member (no role) or a changed role
    (demoted or promoted) ends it: the person signs in again with their new rights."""
    if session.revoked_at is not None:
        return REVOKED
    if now >= session.expires_at or now >= session.created_at + limits.absolute:
        return EXPIRED
    if now - session.last_seen_at >= limits.idle:
        return IDLE_OUT
    if role_now is None:
        return GONE
    if role_now != session.role:
        return ROLE_CHANGED
    return None


def needs_touch(session: WebSession, now: datetime) -> bool:
    return now - session.last_seen_at >= TOUCH_EVERY


class RateLimiter:
    """At most `count` attempts per `window` per key (a client address), in memory: a burst of
    guesses at sign-in links is slowed; a token has 256 bits, so this only spares the database."""

    def __init__(self, count: int = 10, window: timedelta = timedelta(minutes=1)) -> None:
        self.count = count
        self.window = window
        self._seen: dict[str, deque[datetime]] = {}

    def allow(self, key: str, now: datetime) -> bool:
        times = self._seen.setdefault(key, deque())
        while times and now - times[0] >= self.window:
            times.popleft()
        if len(times) >= self.count:
            return False
        times.append(now)
        if len(self._seen) > 10_000:  # forget idle keys, bounded memory
            for k in [k for k, v in self._seen.items() if not v][:5_000]:
                del self._seen[k]
        return True
