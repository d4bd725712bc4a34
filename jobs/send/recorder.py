"""Batch the outbox's "sent" marks: one transaction for many messages.

A sender's slot is released only after its row is recorded, so rows sent but not yet marked
never exceed the send concurrency: after a crash, at most that many can go out twice.

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
        self._timer: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._flushes: set[asyncio.Future[None]] = set()

    async def record(self, delivery_id: int, message_id: str | None) -> None:
        """Return once the row is durably marked sent."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._buffer.append((delivery_id, message_id, future))
        waiting = len(self._buffer)
        if waiting >= self._max_batch or (
            self._in_flight is not None and waiting >= self._in_flight()
        ):
            flush = asyncio.ensure_future(self._flush())
            self._flushes.add(flush)
            flush.add_done_callback(self._flushes.discard)
        elif self._timer is None or self._timer.done():
            self._timer = asyncio.ensure_future(self._flush_later())
        await future

    async def _flush_later(self) -> None:
        await asyncio.sleep(self._max_delay)
        await self._flush()

    async def _flush(self) -> None:
        try:
            await self._flush_batch()
        finally:
            # Rows recorded while this flush ran have no timer of their own: give them one.
            if self._buffer and (
                self._timer is None or self._timer.done() or self._timer is asyncio.current_task()
            ):
                self._timer = asyncio.ensure_future(self._flush_later())

    async def _flush_batch(self) -> None:
        async with self._lock:
            batch, self._buffer = self._buffer, []
            if not batch:
                return
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
