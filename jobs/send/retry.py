"""Retry policy for transient send failures: exponential backoff with jitter, then dead."""

from __future__ import annotations

import random

BASE_SECONDS = 2.0
CAP_SECONDS = 3600.0
MAX_ATTEMPTS = 8


def backoff(attempt: int, *, rnd: random.Random | None = None) -> float:
    """Delay before retry number `attempt` (1-based): 2, 4, 8 … s, capped, ±25 % jitter."""
    base = min(CAP_SECONDS, BASE_SECONDS * 2 ** max(0, attempt - 1))
    jitter = (rnd or random).uniform(0.75, 1.25)
    return min(CAP_SECONDS, base * jitter)


def exhausted(attempts: int, max_attempts: int = MAX_ATTEMPTS) -> bool:
    return attempts >= max_attempts
