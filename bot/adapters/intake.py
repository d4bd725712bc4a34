"""One rule for every incoming update, whatever the platform or transport: it is handled, or
retried a bounded number of times and then kept as a dead update, never dropped with a log line.

Why here and not in each adapter: Telegram's long polling, Telegram's webhook and the Zalo Bot
intake all used to catch a failure, log it and move on, so a database hiccup while storing a
citizen's feedback lost the feedback for good (the platform was told the update was handled).
`UpdateGuard.run` is the one place that decides: the work is retried with a doubling pause (in
place, so one chat's later updates wait and keep their order), and after the last attempt the
update's raw content is written to `dead_updates` with the error. If even that write fails, the
error is raised: the caller must then not acknowledge the update, so the platform sends it again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Protocol, TypeVar

log = logging.getLogger(__name__)

ATTEMPTS = 3
FIRST_PAUSE = 0.5  # seconds before the second attempt; doubles after each failure

T = TypeVar("T")


class DeadLetters(Protocol):
    async def record(
        self,
        *,
        platform: str,
        chat_id: str | None,
        update_id: str | None,
        content: Any,
        error: str,
        attempts: int,
        now: datetime,
    ) -> int: ...


def describe(exc: BaseException) -> str:
    """The error as kept with a dead update (for operators, never shown to a citizen)."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class UpdateGuard:
    """Bounded retries, then a dead update (see the module docstring)."""

    def __init__(
        self,
        dead: DeadLetters | None,
        *,
        platform: str,
        clock: Callable[[], datetime],
        attempts: int | None = None,
        first_pause: float | None = None,
    ) -> None:
        """`attempts` and `first_pause` default to ATTEMPTS and FIRST_PAUSE (None: the default,
        so adapters can pass their own optional settings straight through)."""
        self._dead = dead
        self._platform = platform
        self._clock = clock
        self.attempts = max(1, ATTEMPTS if attempts is None else attempts)
        self.first_pause = FIRST_PAUSE if first_pause is None else first_pause

    async def run(
        self,
        work: Callable[[], Awaitable[T]],
        *,
        chat_id: str | None,
        update_id: str | None,
        content: Callable[[], Any],
    ) -> T | None:
        """`work()`'s result; None once the update was recorded dead. Raises when it could not
        be recorded (or no dead-letter store was given): the update must not be acknowledged."""
        ids = {"platform": self._platform, "chat": chat_id, "update": update_id}
        for attempt in range(1, self.attempts + 1):
            try:
                return await work()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if attempt < self.attempts:
                    log.warning(
                        "update handling failed; retrying",
                        exc_info=True,
                        extra={**ids, "attempt": attempt},
                    )
                    await asyncio.sleep(self.first_pause * 2.0 ** (attempt - 1))
                    continue
                if self._dead is None:
                    raise
                await self._dead.record(
                    platform=self._platform,
                    chat_id=chat_id,
                    update_id=update_id,
                    content=content(),
                    error=describe(exc),
                    attempts=attempt,
                    now=self._clock(),
                )
                log.exception(
                    "update handling failed; kept as a dead update",
                    extra={**ids, "attempts": attempt},
                )
        return None
