"""Waiting that a stop request cuts short: every long-running loop sleeps this way, so SIGTERM
is answered at once rather than after the current pause."""

from __future__ import annotations

import asyncio
from contextlib import suppress


async def sleep_or_stop(stop: asyncio.Event | None, seconds: float) -> None:
    """Sleep `seconds`, or less if `stop` is set meanwhile (None: a plain sleep)."""
    if stop is None:
        await asyncio.sleep(seconds)
        return
    with suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
