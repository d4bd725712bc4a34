"""Batch the outbox's "sent" marks: one transaction for many messages.

A sender keeps its place among the unrecorded sends until its row is recorded, so rows sent but
not yet marked never exceed the send concurrency (the upper bound): after a crash, at most that
many can go out twice. (Its place on the wire it gives back as soon as the platform answers.)

A batch is written when it holds `max_batch` rows (the deliverer: half its concurrency, so
waiting marks never hold most of the send slots), after `max_delay`, or as soon as every
send in flight is waiting on it (`in_flight`): nothing more can join, so waiting longer
would only delay the end of a broadcast. A transaction's CPU cost hardly depends on its size,
so at fast rates fewer, larger batches leave a noticeable share of the deliverer's core to
the sending (bench/README.md).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from storage.store import Store

log = logging.getLogger(__name__)


class SentRecorder:
    def __init__(
        self,
        store: Store,
        clock: Callable[[], datetime],
        *,
        max_batch: int = 50,
        max_delay: float = 0.05,
        in_flight: Callable[[], int] | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._max_batch = max(1, max_batch)
        self._max_delay = max_delay
        self._in_flight = in_flight
        self._buffer: list[tuple[int, str | None, asyncio.Future[None]]] = []
        # One flush at a time, and no other waiting behind it: rows recorded while it writes
        # are taken by it when it is done (one flush task per full batch, each finding a few
        # rows behind a lock, cost a transaction per handful of rows at 2,000/s).
        self._flusher: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None

    async def record(self, delivery_id: int, message_id: str | None) -> None:
        """Return once the row is durably marked sent."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._buffer.append((delivery_id, message_id, future))
        if self._flusher is None:  # a running flush looks at the buffer when it is done
            if self._due():
                self._start()
            elif self._timer is None:
                self._timer = asyncio.get_running_loop().call_later(self._max_delay, self._on_timer)
        await future

    def _due(self) -> bool:
        """A batch is full, or every send in flight is waiting on it."""
        waiting = len(self._buffer)
        return waiting >= self._max_batch or (
            self._in_flight is not None and waiting >= self._in_flight()
        )

    def _on_timer(self) -> None:
        self._timer = None
        if self._flusher is None and self._buffer:
            self._start()

    def _start(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._flusher = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        try:
            while self._buffer:
                batch, self._buffer = self._buffer, []
                await self._write(batch)
                if not self._due():
                    break
        finally:
            self._flusher = None
            # Rows recorded during the last write and not due yet wait at most max_delay.
            if self._buffer and self._timer is None:
                self._timer = asyncio.get_running_loop().call_later(self._max_delay, self._on_timer)

    async def _write(self, batch: list[tuple[int, str | None, asyncio.Future[None]]]) -> None:
        try:
            await self._store.deliveries.mark_sent_many(
                [(ident, mid) for ident, mid, _ in batch], now=self._clock()
            )
        except Exception as exc:  # the rows stay leased and are retried after the lease
            log.exception("recording sent messages failed", extra={"rows": len(batch)})
            for _, _, fut in batch:
                if not fut.done():
                    fut.set_exception(exc)
            return
        for _, _, fut in batch:
            if not fut.done():
                fut.set_result(None)
