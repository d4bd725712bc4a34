"""The sent-recorder batches marks and never strands a row recorded during a flush."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from jobs.send.recorder import SentRecorder


class SlowDeliveries:
    def __init__(self) -> None:
        self.batches: list[list[tuple[int, str | None]]] = []
        self.release = asyncio.Event()
        self.started = asyncio.Event()

    async def mark_sent_many(self, sent: list[tuple[int, str | None]], *, now: datetime) -> None:
        self.started.set()
        await self.release.wait()
        self.batches.append(sent)


class FakeStore:
    def __init__(self) -> None:
        self.deliveries = SlowDeliveries()


def clock() -> datetime:
    return datetime.now(UTC)


async def test_row_recorded_during_a_flush_is_flushed_too() -> None:
    store = FakeStore()
    recorder = SentRecorder(store, clock, max_batch=10, max_delay=0.01)  # type: ignore[arg-type]
    first = asyncio.create_task(recorder.record(1, "a"))
    await asyncio.wait_for(store.deliveries.started.wait(), 1)
    second = asyncio.create_task(recorder.record(2, "b"))  # arrives while the flush runs
    await asyncio.sleep(0.05)
    store.deliveries.release.set()
    await asyncio.wait_for(asyncio.gather(first, second), 2)
    assert store.deliveries.batches == [[(1, "a")], [(2, "b")]]


async def test_full_batch_flushes_at_once() -> None:
    store = FakeStore()
    store.deliveries.release.set()
    recorder = SentRecorder(store, clock, max_batch=3, max_delay=10)  # type: ignore[arg-type]
    await asyncio.wait_for(asyncio.gather(*(recorder.record(i, str(i)) for i in range(3))), 1)
    assert store.deliveries.batches == [[(0, "0"), (1, "1"), (2, "2")]]


async def test_failed_flush_raises_to_every_waiter() -> None:
    class Broken:
        async def mark_sent_many(self, sent: Any, *, now: datetime) -> None:
            raise RuntimeError("database is locked")

    store = FakeStore()
    store.deliveries = Broken()  # type: ignore[assignment]
    recorder = SentRecorder(store, clock, max_batch=2, max_delay=0.01)  # type: ignore[arg-type]
    results = await asyncio.gather(
        recorder.record(1, "a"), recorder.record(2, "b"), return_exceptions=True
    )
    assert all(isinstance(r, RuntimeError) for r in results)


async def test_flushes_at_once_when_every_send_in_flight_waits_on_it() -> None:
    """The last sends of a broadcast are marked without waiting out max_delay."""
    store = FakeStore()
    store.deliveries.release.set()
    in_flight = 2
    recorder = SentRecorder(
        store,  # type: ignore[arg-type]
        clock,
        max_batch=50,
        max_delay=10,
        in_flight=lambda: in_flight,
    )
    first = asyncio.create_task(recorder.record(1, "a"))
    await asyncio.sleep(0.05)
    assert not first.done()  # another send is still on the wire: it may join the batch
    await asyncio.wait_for(asyncio.gather(first, recorder.record(2, "b")), 1)
    assert store.deliveries.batches == [[(1, "a"), (2, "b")]]
