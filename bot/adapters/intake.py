"""One rule for every incoming update, whatever the platform or transport: it is handled, or
retried a bounded number of times and then kept as a dead update, never dropped with a log line.

Why here and not in each adapter: Telegram's long polling, Telegram's webhook and the Zalo Bot
intake all used to catch a failure, log it and move on, so a database hiccup while storing a
citizen's feedback lost the feedback for good (the platform was told the update was handled).
`UpdateGuard.run` is the one place that decides: the work is retried with a doubling pause (in
place, so one chat's later updates wait and keep their order), and after the last attempt the
update's raw content is written to `dead_updates` with the error. If even that write fails, the
error is raised: the caller must then not acknowledge the update, so the platform sends it again.

Bursts (a QR code on a poster, a TV spot: thousands of /start in a minute) are why the intake
also has `ChatLanes` (chats side by side, each chat in order, a bound on the work in flight) and
`SeenMarks` (handled update ids checked and recorded in batches rather than a transaction
each): bot/adapters/telegram/ uses both, bench/inbound.py measures them.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from contextlib import suppress
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


Work = Callable[[], Awaitable[object]]


class ChatLanes:
    """Work per chat, strictly in order within one chat, chats side by side, at most `limit`
    pieces of work running at once.

    Why: a burst of thousands of chats must not wait behind one another (the database and the
    platform are mostly waited on, not computed), yet one chat's updates (or replies) must keep
    their order, and an unbounded fan-out of tasks would take every database connection and
    the whole event loop. Each chat is a FIFO lane; a chat whose item is running is not
    offered to another worker, and after each item its lane goes to the back of the line, so a
    chat with many items does not starve the others. A failing item is logged and its lane
    goes on (callers that must stop a chat after a failure check that in their work)."""

    def __init__(self, limit: int, *, name: str = "lanes") -> None:
        self.limit = max(1, limit)
        self.name = name
        self._lanes: dict[str, deque[Work]] = {}
        self._ready: deque[str] = deque()
        self._workers: set[asyncio.Task[None]] = set()
        self._pending = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def pending(self) -> int:
        """Items added and not finished (running or waiting)."""
        return self._pending

    def add(self, chat: str, work: Work) -> None:
        lane = self._lanes.get(chat)
        self._pending += 1
        self._idle.clear()
        if lane is not None:
            lane.append(work)
            return
        self._lanes[chat] = deque([work])
        self._ready.append(chat)
        if len(self._workers) < self.limit:
            task = asyncio.create_task(self._work(), name=f"{self.name}-worker")
            self._workers.add(task)
            task.add_done_callback(self._workers.discard)

    async def _work(self) -> None:
        while self._ready:
            chat = self._ready.popleft()
            lane = self._lanes[chat]
            try:
                await lane[0]()  # stays in its lane while it runs: later items queue behind it
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("lane work failed", extra={"lanes": self.name, "chat": chat})
            finally:
                lane.popleft()
                self._pending -= 1
                if lane:
                    self._ready.append(chat)  # the other chats first
                else:
                    del self._lanes[chat]
                if not self._pending:
                    self._idle.set()

    async def join(self) -> None:
        """Until every item added so far has finished."""
        await self._idle.wait()

    async def drain(self, timeout: float) -> bool:
        """Wait up to `timeout` s for every item; whether all finished."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def cancel(self) -> None:
        """Stop now: running items are cancelled, waiting ones dropped."""
        workers = list(self._workers)
        for task in workers:
            task.cancel()
        for task in workers:
            with suppress(asyncio.CancelledError, Exception):
                await task
        self._lanes.clear()
        self._ready.clear()
        self._pending = 0
        self._idle.set()


class SeenLog(Protocol):
    """Where handled update ids are kept (storage/zalo.py's seen ids, shared by processes)."""

    async def seen_among(self, platform: str, ids: list[str]) -> set[str]: ...

    async def mark_seen_many(self, platform: str, ids: list[str], now: datetime) -> None: ...


class SeenMarks:
    """Handled update ids written to the seen log in batches: one short transaction for all
    the ids that finished while the previous one was being written, instead of one per update
    (on SQLite a transaction costs about as much CPU as a whole /start).

    `mark` returns once the id is stored; `mark_then` calls back then without holding its
    caller (ids are stored, and callbacks run, in the order they were given). A write that
    fails is logged and its callers go on as if stored: the update's work is stored already,
    and an unrecorded id only means a redelivered update would be handled again."""

    def __init__(
        self, log_: SeenLog, kind: str, *, clock: Callable[[], datetime], max_batch: int = 500
    ) -> None:
        self._log = log_
        self._kind = kind
        self._clock = clock
        self._max = max_batch
        self._queue: list[tuple[str, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None
        self._asked: list[tuple[str, asyncio.Future[bool]]] = []
        self._reader: asyncio.Task[None] | None = None

    async def seen(self, key: str) -> bool:
        """Whether `key` was recorded: the questions asked while one read runs are answered
        together by the next (one query for many webhook requests, not one each)."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._asked.append((key, future))
        if self._reader is None or self._reader.done():
            self._reader = asyncio.create_task(self._read(), name=f"seen-read-{self._kind}")
        return await asyncio.shield(future)

    async def _read(self) -> None:
        while self._asked:
            batch, self._asked = self._asked[: self._max], self._asked[self._max :]
            try:
                found = await self._log.seen_among(self._kind, [k for k, _ in batch])
            except asyncio.CancelledError:
                for _, asked in [*batch, *self._asked]:
                    asked.cancel()
                self._asked = []
                raise
            except Exception as exc:  # each asker gets the error (the update is not acked)
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for key, future in batch:
                if not future.done():
                    future.set_result(key in found)

    def _add(self, key: str) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((key, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write(), name=f"seen-{self._kind}")
        return future

    async def mark(self, key: str) -> None:
        await asyncio.shield(self._add(key))

    def mark_then(self, key: str, then: Callable[[], object]) -> None:
        self._add(key).add_done_callback(lambda f: None if f.cancelled() else then())

    async def _write(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[: self._max], self._queue[self._max :]
            try:
                await self._log.mark_seen_many(self._kind, [k for k, _ in batch], self._clock())
            except asyncio.CancelledError:
                for _, future in [*batch, *self._queue]:
                    future.cancel()
                self._queue = []
                raise
            except Exception:
                log.warning("handled update ids not recorded", exc_info=True)
            for _, future in batch:
                if not future.done():
                    future.set_result(None)

    async def flush(self) -> None:
        """Until every id given so far is written (or its write failed)."""
        while self._writer is not None and not self._writer.done():
            with suppress(Exception):
                await asyncio.shield(self._writer)
