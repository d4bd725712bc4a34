"""Group commit: callers hand in one item each, and a single runner does them in groups.

Why: the poller's lanes each used to open their own transaction per feed (a read to de-duplicate,
an insert). A transaction costs more than its rows, and SQLite has one writer, so fifty lanes
mostly queued on its lock. Here the first caller starts a run at once (no added latency when
idle), and everything that arrives while a run is in flight goes into the next run together, so
under load the groups grow by themselves and there are few transactions in flight at a time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

__all__ = ["GroupRunner"]

log = logging.getLogger(__name__)
A = TypeVar("A")
R = TypeVar("R")


class GroupRunner(Generic[A, R]):
    """``await runner.submit(item)`` gives ``run(group)[i]`` for the group ``item`` went into.

    ``run`` must return one result per item, in order. When a group fails, each of its items is
    run again alone, so one bad item cannot fail the others (their errors are their own).
    """

    def __init__(
        self, run: Callable[[Sequence[A]], Awaitable[Sequence[R]]], max_group: int
    ) -> None:
        self._run = run
        self._max = max(1, max_group)
        self._queue: list[tuple[A, asyncio.Future[R]]] = []
        self._runner: asyncio.Task[None] | None = None

    async def submit(self, item: A) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        if self._runner is None or self._runner.done():
            self._runner = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            await self._drain_queue()
        except BaseException:  # cancelled with the loop: nobody may wait forever
            for _, future in self._queue:
                if not future.done():
                    future.cancel()
            self._queue = []
            raise

    async def _drain_queue(self) -> None:
        while self._queue:
            group, self._queue = self._queue[: self._max], self._queue[self._max :]
            live = [(item, f) for item, f in group if not f.cancelled()]
            if not live:
                continue
            try:
                await self._run_group(live)
            except BaseException:
                for _, future in live:
                    if not future.done():
                        future.cancel()
                raise

    async def _run_group(self, live: list[tuple[A, asyncio.Future[R]]]) -> None:
        try:
            results = await self._run([item for item, _ in live])
        except Exception as exc:
            if len(live) == 1:
                _settle(live[0][1], exc=exc)
                return
            log.warning("group failed, retrying one by one", extra={"error": repr(exc)})
            for item, future in live:
                try:
                    (result,) = await self._run([item])
                except Exception as one_exc:
                    _settle(future, exc=one_exc)
                else:
                    _settle(future, result=result)
            return
        for (_, future), result in zip(live, results, strict=True):
            _settle(future, result=result)


def _settle(
    future: asyncio.Future[R], *, result: R | None = None, exc: BaseException | None = None
) -> None:
    if future.done():
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)  # type: ignore[arg-type]
