"""The deliverer: claim due outbox rows, pace, send, and carry out the verdict on each error.

What an error means for its row (retry, dead, blocked, cancelled, moved, plain text) is decided
by the pure jobs/send/verdict.py; this module only performs it on the outbox and the pacer.

Crash safety comes from the outbox: a row is leased before its send and marked sent with the
platform's message id after; leases of a dead process expire and the rows are sent again, so
at most the sends not yet recorded (never more than `concurrency`) can be sent twice and
nothing is lost.

How many sends are on the wire follows the rate and the measured round trip (pacing.InFlight,
bounded by `concurrency`); a send gives its place back when the platform answers, before its
row is recorded (recording is batched: jobs/send/recorder.py). With several workers on
PostgreSQL each batch is sent inside its own stretch of the shared schedule, slot by slot
(storage/budget.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TypeVar

from jobs import metrics
from jobs.channel import PLAIN, Channel, ChannelError, OutMessage, PhotoUpload, Rejected
from jobs.media.store import MediaError, MediaStore, content_type_of
from jobs.render.case_notices import render_case_event
from jobs.render.markup import split_message, strip_tags
from jobs.render.messages import (
    MEDIA_PHOTO,
    render_answer,
    render_article_for,
    render_staff_announcement,
)
from jobs.route.fanout import render_item
from jobs.send.pacing import WIRE_SLOT, InFlight, Pacer, Shortfall, Slot
from jobs.send.recorder import SentRecorder
from jobs.send.retry import MAX_ATTEMPTS, backoff
from jobs.send.verdict import (
    Blocked,
    Cancel,
    Dead,
    Moved,
    Plain,
    Retry,
    Verdict,
    after_crash,
    before_send,
    no_channel,
    retry_or_dead,
    verdict,
)
from jobs.sleep import sleep_or_stop
from storage.budget import SendBudget, Stretch
from storage.deliveries import HELD_KINDS
from storage.kinds import AnnouncementStatus, OutboxKind, RejectReason
from storage.records import Announcement, Article, Delivery, Subscriber
from storage.store import Store

log = logging.getLogger(__name__)
T = TypeVar("T")

LEASE_SECONDS = 60.0
# Shared budget: how late a send may be behind its slot, checked in the send's own task just
# before its call. storage/budget.py leaves a GAP after every stretch that covers this and the
# way from the check to the socket, so a late tail never crowds the next worker's stretch.
LATE = 0.02
# A send is started only while this much of its LATE is left for its task to reach the check.
DISPATCH_LATE = LATE / 2
# Seconds between two reports that the rate is out of reach (while it stays so).
REPORT_EVERY = 60.0
SHORT_WAIT = 0.25  # seconds: a wait this short is not cut short by a stop
SETTLE_AT_ONCE = 8  # failed sends settled (or digests rendered) in the database at once
LONG_PAUSE = 5.0  # seconds of global pause beyond which claimed rows are handed back
IDLE_HORIZON = timedelta(seconds=30)
# Rows in the first claim after idling: the first send waits for the claim and its reads
# (bench/README.md), so start with a few and claim the rest while they go; each claim after
# that may be GROWTH times the last, so it is read while the last one's sends go out. With a
# shared budget every batch is a stretch of the schedule, and a short first one is a boundary
# more where the next worker may come in: the first is FIRST_STRETCH seconds of sends at least.
FIRST_CLAIM = 50
FIRST_STRETCH = 0.5
GROWTH = 16
# Rows read per transaction in one claim: reading and building thousands of rows at once holds
# the event loop for a tenth of a second, a stall the sends then catch up in bursts whose echo
# (a sliding window reproduces every gap a window later) costs slots at a shared stretch's end.
CLAIM_CHUNK = 500


@dataclass(frozen=True)
class Batch:
    """Claimed rows with what sending them needs, read together before the first send."""

    rows: list[Delivery]
    subscribers: dict[int, Subscriber]
    previews: dict[int, bool]  # subscriber id → link preview wanted (article pushes)
    full: bool  # as many rows as asked for: more are probably due
    stretch: Stretch | None = None  # with a shared budget: the batch's share of the schedule


def as_plain(message: OutMessage) -> OutMessage:
    """The fallback when a platform cannot parse our markup: the same words, no tags."""
    return replace(message, text=strip_tags(message.text), markup=PLAIN)


class Gate:
    """A semaphore whose size can change while it is held: the tuned number of sends on the
    wire. Shrinking never interrupts a send; it only makes the next ones wait."""

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self.used = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def acquire(self) -> None:
        if self.used < self.limit and not self._waiters:
            self.used += 1
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(future)
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.release()  # granted just as we were cancelled: pass it on
            else:
                future.cancel()
            raise

    def release(self) -> None:
        self.used -= 1
        self._wake()

    def resize(self, limit: int) -> None:
        self.limit = max(1, limit)
        self._wake()

    def _wake(self) -> None:
        while self._waiters and self.used < self.limit:
            future = self._waiters.popleft()
            if not future.done():
                self.used += 1
                future.set_result(None)


class Hold:
    """One send's place in the gate, given back once (by whichever comes first)."""

    __slots__ = ("_gate",)

    def __init__(self, gate: Gate) -> None:
        self._gate: Gate | None = gate

    def release(self) -> None:
        if self._gate is not None:
            self._gate.release()
            self._gate = None


class Deliverer:
    def __init__(
        self,
        store: Store,
        channels: Mapping[str, Channel],
        *,
        rate: float | None,
        concurrency: int = 200,
        clock: Callable[[], datetime],
        max_attempts: int = MAX_ATTEMPTS,
        lease_seconds: float = LEASE_SECONDS,
        budget: SendBudget | None = None,
        backoff: Callable[[int], float] = backoff,
        media: MediaStore | None = None,
    ) -> None:
        self._store = store
        # Several workers on PostgreSQL share one rate (storage/budget.py); None: this
        # process's pacer is the only one.
        self._budget = budget if budget is not None and budget.shared else None
        self._channels = channels
        self._pacer = Pacer(rate)
        # `concurrency` is an upper bound: the sends in flight follow rate × round trip.
        self._concurrency = concurrency
        self._inflight = InFlight(rate, concurrency)
        self._shortfall: Shortfall | None = None
        self._reported = -REPORT_EVERY  # monotonic time of the last shortfall report
        self._checked = -REPORT_EVERY  # ... and of the last look at the round trip
        self._clock = clock
        self._max_attempts = max_attempts
        self._backoff = backoff  # seconds before retry number n
        self._lease = lease_seconds
        self._idle_horizon = max(IDLE_HORIZON, timedelta(seconds=lease_seconds + 1))
        self._wake = asyncio.Event()
        # One read per item, shared by every send of it (see _once).
        self._articles: dict[int, asyncio.Future[Article | None]] = {}
        self._announcements: dict[int, asyncio.Future[Announcement | None]] = {}
        # A photo uploaded in the web console ("media:<key>"), read once per announcement.
        self._media = media
        self._uploads: dict[int, asyncio.Future[PhotoUpload | None]] = {}
        self._ahead: asyncio.Task[Batch] | None = None  # the next batch, claimed early
        self._claimed = 0  # rows the last claim found (0: idle, start small)
        self._deferred = 0.0  # monotonic time until which another worker has the schedule
        # A broadcast's message is the same for every recipient with the same language,
        # platform and preview choice: rendered and split once (bench/README.md).
        self._rendered: dict[tuple[object, ...], tuple[OutMessage, list[OutMessage]]] = {}
        # Sends on the wire (the tuned number); a send's place is given back when its answer
        # comes, before its row is recorded: recording is batched and must not hold the rate.
        self._gate = Gate(self._inflight.target(time.monotonic()))
        # Sends not yet recorded, on the wire or waiting for the recorder: after a crash at most
        # this many can go out twice (the upper bound, BANTIN_SEND_CONCURRENCY).
        self._room = asyncio.Semaphore(concurrency)
        self._tasks: set[asyncio.Task[None]] = set()
        # Rows whose stretch slot passed before their call, with their subscriber and preview
        # choice: the next claim takes them first, or they go back (`_give_back_missed`).
        self._missed: list[tuple[Delivery, Subscriber, bool]] = []
        # Settling a failed send takes a database connection; hundreds in flight failing at
        # once (a flood 429) must not ask the pool for hundreds at once.
        self._writes = asyncio.Semaphore(SETTLE_AT_ONCE)
        self._reads = asyncio.Semaphore(SETTLE_AT_ONCE)  # the same for per-recipient renders
        self._recorder = SentRecorder(
            store, clock, max_batch=max(1, concurrency // 2), in_flight=lambda: len(self._tasks)
        )
        self.sent = 0

    @property
    def pacer(self) -> Pacer:
        """The one pacing shared with interactive replies (so a /start burst and a broadcast
        together never exceed the rate)."""
        return self._pacer

    def wake(self) -> None:
        """New rows were queued: stop idling now."""
        self._wake.set()

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    @property
    def in_flight_target(self) -> int:
        """How many sends may be on the wire now (rate × round trip, bounded)."""
        return self._gate.limit

    @property
    def shortfall(self) -> Shortfall | None:
        """Why the configured rate is out of reach, while it is (None otherwise)."""
        return self._shortfall

    def _tune(self, now: float) -> None:
        """Follow the round trip: resize the gate; say once a minute while the rate cannot be
        reached and why (and once when it can again)."""
        self._gate.resize(self._inflight.target(now))
        if now - self._checked < 1.0:
            return
        self._checked = now
        shortfall = self._inflight.shortfall(now)
        if shortfall is not None:
            if self._shortfall is None or now - self._reported >= REPORT_EVERY:
                self._reported = now
                log.warning(
                    "send rate out of reach: %s",
                    shortfall,
                    extra={
                        "rate": shortfall.rate,
                        "round_trip_ms": round(shortfall.round_trip * 1000),
                        "needed": shortfall.needed,
                        "bound": shortfall.bound,
                        "reachable": round(shortfall.reachable),
                    },
                )
        elif self._shortfall is not None:
            log.info("send rate within reach again", extra={"rate": self._pacer.rate})
        self._shortfall = shortfall

    # -- loops -------------------------------------------------------------------------------

    async def run_forever(self, stop: asyncio.Event, *, idle: float = 2.0) -> None:
        """Send until `stop`; then stop claiming and let in-flight sends finish."""
        await self._store.deliveries.release_expired(self._clock())
        try:
            while not stop.is_set():
                if await self.run_batch(stop):
                    continue
                if self._tasks:
                    await self.drain()
                    continue
                self._wake.clear()
                nxt = await self._store.deliveries.next_due_at()
                timeout = idle
                if nxt is not None:
                    timeout = min(idle, max(0.01, (nxt - self._clock()).total_seconds()))
                # Due rows another worker's stretches will take: look again when they end.
                timeout = max(timeout, min(idle, self._deferred - time.monotonic()))
                waiter = asyncio.ensure_future(self._wake.wait())
                stopper = asyncio.ensure_future(stop.wait())
                await asyncio.wait(
                    {waiter, stopper}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
                )
                waiter.cancel()
                stopper.cancel()
        finally:
            await self.drain()
            await self._give_back_ahead()

    async def run_until_idle(self, stop: asyncio.Event | None = None) -> int:
        """Send every due row; wait for rows due within a short horizon; return rows handled."""
        stop = stop or asyncio.Event()
        await self._store.deliveries.release_expired(self._clock())
        handled = 0
        try:
            while not stop.is_set():
                done = await self.run_batch(stop)
                handled += done
                if done:
                    continue
                if self._tasks:
                    await self.drain()
                    continue
                now = self._clock()
                if await self._store.deliveries.release_expired(now):
                    continue
                # Rows due soon, or leased by a sender that died, are waited for.
                due = [
                    t
                    for t in (
                        await self._store.deliveries.next_due_at(),
                        await self._store.deliveries.next_lease_expiry(),
                    )
                    if t is not None
                ]
                nxt = min(due) if due else None
                if nxt is None or nxt > now + self._idle_horizon:
                    return handled
                wait = max((nxt - now).total_seconds(), self._deferred - time.monotonic())
                await asyncio.sleep(min(1.0, max(0.05, wait)))
        finally:
            await self.drain()
            await self._give_back_ahead()
        return handled

    async def drain(self) -> None:
        """Wait for every send in flight to finish and be recorded."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        await self._give_back_missed()

    async def _give_back_missed(self) -> None:
        missed, self._missed = self._missed, []
        if missed:
            await self._hand_back([row for row, _, _ in missed])

    def _claim_limit(self) -> int:
        # Claim no more than can be sent in about ten seconds, so leases never run out while
        # rows wait for the pacer.
        if self._pacer.rate is None:
            return self._concurrency * 4
        if self._budget is not None:
            # A batch is one stretch of the shared schedule: long stretches make its gaps cheap.
            return self._budget.batch_limit()
        return max(1, min(self._concurrency * 4, int(self._pacer.rate * 10) + 1))

    async def _claim(self) -> Batch:
        """Claim the next batch (in chunks, see CLAIM_CHUNK) with what sending it needs; with a
        shared budget, reserve its stretch at once, so that a batch claimed ahead gets the
        stretch right after this worker's current one when no other worker asked between."""
        most = self._claim_limit()
        first = not self._claimed
        start = FIRST_CLAIM
        if self._budget is not None and self._pacer.rate is not None:
            start = max(start, int(self._pacer.rate * FIRST_STRETCH))
        limit = min(most, start if first else self._claimed * GROWTH)
        carried = await self._carry_missed()
        if first and not carried and await self._others_stretch_runs():
            return Batch([], {}, {}, full=False)
        rows = [row for row, _, _ in carried]
        subs = {sub.id: sub for _, sub, _ in carried}
        previews = {sub.id: preview for _, sub, preview in carried}
        if rows:
            until = self._clock() + timedelta(seconds=self._lease)
            await self._store.deliveries.extend_lease([r.id for r in rows], until=until)
        limit = max(limit, len(rows))
        await self._claim_into(rows, subs, previews, limit)
        self._claimed = len(rows)
        self._deferred = 0.0
        if not rows:
            return Batch([], {}, {}, full=False)
        stretch: Stretch | None = None
        if self._budget is not None and self._pacer.rate is not None:
            stretch = await self._budget.reserve_stretch(len(rows), self._pacer.mean_interval)
        return Batch(rows, subs, previews, full=len(rows) >= limit, stretch=stretch)

    async def _carry_missed(self) -> list[tuple[Delivery, Subscriber, bool]]:
        """Rows whose slots passed unsent (still leased by us), to go first in the next batch.

        In a stretch that follows ours with no gap they cost nothing; handed back, the last
        stretch's would take a stretch of their own (and its gap) at the end of a broadcast.
        Behind other workers' stretches they go back, for the next claim's batch to take
        along."""
        carried, self._missed = self._missed, []
        if carried and self._budget is not None and not await self._budget.ends_with_mine():
            await self._hand_back([row for row, _, _ in carried])
            return []
        return carried

    async def _others_stretch_runs(self) -> bool:
        """Whether an idle worker should leave the outbox to the worker whose stretch of the
        shared schedule runs: the schedule is the bottleneck (each stretch needs the whole
        rate from one worker anyway), a stretch of ours behind it would cost a gap
        (storage/budget.py), and that worker claims what is due, stragglers included, in
        stretches that follow its own with none. Once its stretches end (it stopped, died, or
        fell behind), the others claim again."""
        if self._budget is None or self._pacer.rate is None:
            return False
        busy, mine = await self._budget.schedule()
        if busy > 0 and not mine:
            self._deferred = time.monotonic() + busy
            return True
        return False

    async def _claim_into(
        self,
        rows: list[Delivery],
        subs: dict[int, Subscriber],
        previews: dict[int, bool],
        limit: int,
    ) -> None:
        """Claim due rows up to `limit` in transactions of CLAIM_CHUNK, each with one read of
        its subscribers and one of its link-preview choices (a long claim in one transaction
        would hold the loop and the rows' locks for its whole read)."""
        while len(rows) < limit:
            want = min(CLAIM_CHUNK, limit - len(rows))
            chunk = await self._store.deliveries.claim_due(
                now=self._clock(), limit=want, lease_seconds=self._lease
            )
            if not chunk:
                return
            rows += chunk
            subs.update(await self._store.subscribers.get_many([r.subscriber_id for r in chunk]))
            article_rows = [r.subscriber_id for r in chunk if r.kind == OutboxKind.ARTICLE]
            if article_rows:
                prefs = await self._store.preferences.get_many(article_rows)
                previews.update({i: p.link_preview for i, p in prefs.items()})
            if len(chunk) < want:
                return

    def _own_next(self) -> bool:
        """Whether the batch claimed ahead has the stretch right after the current one."""
        ahead = self._ahead
        if ahead is None or not ahead.done() or ahead.cancelled() or ahead.exception():
            return False
        nxt = ahead.result().stretch
        return nxt is not None and nxt.after_own

    def _claim_ahead(self) -> None:
        """Claim the next batch while this one's last sends go out: a claim and its reads
        take database work, a gap in the sending that a limited rate could only make up by
        sending faster than the rate afterwards (bench/README.md)."""
        if self._ahead is None:
            self._ahead = asyncio.ensure_future(self._claim())

    async def _next_batch(self) -> Batch:
        ahead, self._ahead = self._ahead, None
        if ahead is not None:
            try:
                batch = await asyncio.shield(ahead)
            except asyncio.CancelledError:
                self._ahead = ahead  # still running: handed back by _give_back_ahead
                raise
            except Exception:
                log.exception("claiming ahead failed; claiming again")
            else:
                if batch.rows:
                    return batch
        return await self._claim()

    async def _give_back_ahead(self) -> None:
        """Rows claimed early but never sent return to the outbox now, not when their lease
        runs out (another worker, or this one after a restart, sends them at once)."""
        ahead, self._ahead = self._ahead, None
        if ahead is None:
            return
        try:
            batch = await ahead
        except Exception:
            return  # nothing was claimed, or the claim failed: its rows stay pending
        await self._hand_back(batch.rows)

    async def _hand_back(self, rows: list[Delivery], at: datetime | None = None) -> None:
        """Unsent claimed rows back to pending (due `at`, else now), with no attempt counted."""
        await self._store.deliveries.hand_back([r.id for r in rows], at=at or self._clock())

    def _ahead_at(self, n: int) -> int:
        """Index of the row from which the next batch is claimed: about 0.1 s of sends
        before the end at a limited rate (the claim's own time), 2 s with a shared budget,
        a quarter of the batch when sends go as fast as they can."""
        if self._pacer.rate is None:
            return n - max(1, n // 4)
        # A batch of the shared schedule is seconds of sends, and claiming it (with its
        # subscribers) holds the loop for a while: claim before the stretch's last second,
        # where sends may still catch up (storage/budget.py: Stretch.may_catch_up).
        if self._budget is not None:
            # A batch shorter than that (the first ones after idling grow GROWTH times a
            # claim): claim the next at its first row, so its stretch follows with no pause.
            return n - max(1, min(n, int(self._pacer.rate * 2.0)))
        return n - max(1, min(n // 2, int(self._pacer.rate * 0.1)))

    async def run_batch(self, stop: asyncio.Event | None = None) -> int:
        """Claim one batch and start sending it; returns how many rows were claimed.

        Sends run on after this returns (at most `concurrency` at once), so the next claim
        overlaps the tail of this batch instead of waiting for its slowest send; when the
        batch was full the next one is claimed while its last rows are still being paced.
        """
        if self._ahead is not None:  # the next batch is claimed: they cannot join it
            await self._give_back_missed()
        batch = await self._next_batch()
        rows, subs = batch.rows, batch.subscribers
        if not rows:
            return 0
        stretch = batch.stretch  # with a shared budget: this batch's share of time
        if stretch is not None:
            ends_in = stretch.start + stretch.slots * stretch.interval - time.monotonic()
            if ends_in > self._lease / 2:  # many workers queued ahead: keep the rows ours
                until = self._clock() + timedelta(seconds=ends_in + self._lease)
                await self._store.deliveries.extend_lease([r.id for r in rows], until=until)
        ahead_at = self._ahead_at(len(rows)) if batch.full else -1
        k = 0  # the stretch's next free slot
        for i, row in enumerate(rows):
            if i == ahead_at and (stop is None or not stop.is_set()):
                self._claim_ahead()
            if stretch is not None and stretch.strict_end and self._own_next():
                stretch = replace(stretch, strict_end=False)
            if stop is not None and stop.is_set():
                # Stop claiming work: give the rest back right away instead of waiting on leases.
                await self._hand_back(rows[i:])
                break
            sub = subs.get(row.subscriber_id)
            skip = before_send(sub, row.kind)
            if skip is not None:
                await self._store.deliveries.cancel(row.id, reason=skip.reason)
                continue
            assert sub is not None  # before_send cancels a missing subscriber
            chat_key = f"{sub.platform}:{sub.chat_id}"
            if await self._chat_waits(row, chat_key):
                continue
            deadline = None
            if stretch is None:
                placed = await self._wait_for_pacer()
            else:
                k, placed = await self._wait_for_slot(stretch, k, stop)
                # Late for its slot is fine inside the stretch, not in its last second.
                deadline = stretch.deadline(k, LATE)
                k += 1
                if k > stretch.slots or (stop is not None and stop.is_set()):
                    # The stretch is over (or a stop): the rest goes back at once, or (the
                    # stretch over) first into the next claim, which reserves a new stretch.
                    if placed:
                        self._leave()
                    rest = rows[i:]
                    if stop is None or not stop.is_set():
                        kept = [r for r in rest if r.subscriber_id in subs]
                        self._missed += [
                            (r, subs[r.subscriber_id], batch.previews.get(r.subscriber_id, False))
                            for r in kept
                        ]
                        rest = [r for r in rest if r.subscriber_id not in subs]
                    await self._hand_back(rest)
                    break
            if not placed:
                # A flood pause (429): hand the rest back for after the pause instead of
                # holding leases through it.
                at = self._clock() + timedelta(seconds=self._pacer.global_delay(time.monotonic()))
                await self._hand_back(rows[i:], at)
                break
            if await self._chat_waits(row, chat_key):  # a 429 for this chat came meanwhile
                self._leave()
                continue
            mono = time.monotonic()
            slot = self._pacer.reserve(mono)
            self._pacer.take_chat(chat_key, sub.chat_type, mono)
            preview = batch.previews.get(sub.id, False)
            task = asyncio.create_task(self._send_released(row, sub, slot, preview, deadline))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return len(rows)

    async def _chat_waits(self, row: Delivery, chat_key: str) -> bool:
        """Reschedule `row` for when its chat may receive again, if that is later than now."""
        mono = time.monotonic()
        ready = self._pacer.chat_ready_at(chat_key, mono)
        if ready <= mono:
            return False
        at = self._clock() + timedelta(seconds=ready - mono)
        await self._store.deliveries.reschedule(row.id, at=at, error=None, count_attempt=False)
        return True

    async def _wait_for_slot(
        self, stretch: Stretch, k: int, stop: asyncio.Event | None
    ) -> tuple[int, bool]:
        """Wait for the first slot of `stretch` from `k` on that this send can still make, and
        for the pacer; returns (the slot, placed as `_wait_for_pacer`). The local pacer alone
        would send a batch's first second at once, but other workers' stretches end right
        before ours and start right after: keep to ours, slot by slot, never early. In its
        last second a send late for its slot skips to a later one (a stall's slots are lost);
        before that it takes the next slot however late, so the local pacer catches up after
        a stall as it does without a shared budget (Stretch.may_catch_up)."""
        while True:
            now = time.monotonic()
            if not stretch.may_catch_up(now):
                k = stretch.next_slot(now, k, DISPATCH_LATE)
            if k >= stretch.slots:
                return k, False
            ahead = stretch.earliest(k) - time.monotonic()
            if ahead > 0:  # other workers' stretches go first; a stop ends the wait
                if ahead < SHORT_WAIT:  # between two slots: a plain timer, no stop watcher
                    await asyncio.sleep(ahead)
                else:
                    await sleep_or_stop(stop, ahead)
                if stop is not None and stop.is_set():
                    return k, False
            if not await self._wait_for_pacer():
                return k, False
            now = time.monotonic()
            if stretch.may_catch_up(now) or now <= stretch.latest(k, DISPATCH_LATE):
                return k, True
            self._leave()  # the pacer or the gate held us past the slot: try a later one

    async def _wait_for_pacer(self) -> bool:
        """Take a place among the sends in flight and wait for the pacer; False (holding no
        place) when a flood pause longer than LONG_PAUSE stands in the way."""
        if self._pacer.global_delay(time.monotonic()) > LONG_PAUSE:
            return False
        await self._room.acquire()
        self._tune(time.monotonic())
        await self._gate.acquire()
        delay = self._pacer.global_delay(time.monotonic())
        while delay > 0:
            if delay > LONG_PAUSE:  # a 429 arrived while we waited
                self._leave()
                return False
            await asyncio.sleep(delay)
            delay = self._pacer.global_delay(time.monotonic())
        return True

    def _leave(self) -> None:
        """Give back the places `_wait_for_pacer` took, for a row that will not be sent."""
        self._gate.release()
        self._room.release()

    # -- one row -----------------------------------------------------------------------------

    async def _send_released(
        self, row: Delivery, sub: Subscriber, slot: Slot, preview: bool, deadline: float | None
    ) -> None:
        hold = Hold(self._gate)
        try:
            await self._send(row, sub, slot, preview, hold, deadline)
        except Exception:  # never let one row kill the loop; it returns via its lease
            log.exception("delivery crashed", extra={"delivery": row.id})
            hold.release()
            crash = after_crash(row.attempts, now=self._clock(), delay=self._backoff)
            await self._settle(row, None, crash, quiet=True)
        finally:
            slot.release()  # a no-op once started: only sends that never went out free it
            hold.release()
            self._room.release()

    async def _send(
        self,
        row: Delivery,
        sub: Subscriber,
        slot: Slot,
        preview: bool,
        hold: Hold,
        deadline: float | None = None,
    ) -> None:
        """Send one row; `hold` (its place on the wire) is given back once the platform has
        answered, before the row is recorded; `deadline`: its slot's latest moment in a
        shared stretch, after which it goes back unsent."""
        store = self._store
        channel = self._channels.get(sub.platform)
        if channel is None:
            await self._settle(row, sub, no_channel(sub.platform, now=self._clock()))
            return
        rendered = await self._rendered_for(row, sub, channel, preview)
        if rendered is None:
            await store.deliveries.cancel(row.id, reason="item no longer exists")
            metrics.delivery("failed", sub.platform)
            return
        message, parts = rendered
        if deadline is not None and time.monotonic() > deadline:
            # Checked here, the last moment before the call: the task may have waited for
            # the CPU since it was started (storage/budget.py: GAP). Such rows go back
            # together (`_give_back_missed`): one write each, after a stall, would ask the
            # database for hundreds of connections at once.
            self._missed.append((row, sub, preview))
            return
        platform = sub.platform
        started = time.monotonic()
        chat_id = sub.chat_id
        fallback_used = False
        for _ in range(3):  # original, then after a chat move or a markup fallback
            try:
                message_id = await self._send_paced(channel, chat_id, parts, slot)
            except ChannelError as err:
                decision = verdict(
                    err,
                    row.attempts,
                    now=self._clock(),
                    fallback_used=fallback_used,
                    max_attempts=self._max_attempts,
                    delay=self._backoff,
                )
                if isinstance(decision, Moved):
                    await store.subscribers.move_chat(sub.id, decision.new_id)
                    chat_id = decision.new_id
                    continue
                if isinstance(decision, Plain):
                    log.warning(
                        "markup rejected; sending as plain text",
                        extra={
                            "delivery": row.id,
                            "error": decision.reason,
                            "text": message.text[:500],
                        },
                    )
                    message, fallback_used = as_plain(message), True
                    parts = split_message(message, channel.capabilities.max_text)
                    continue
                if isinstance(decision, Retry) and decision.retry_after is not None:
                    self._rate_limited(row, sub, chat_id, slot, decision)
                hold.release()
                status = await self._settle(row, sub, decision)
                metrics.delivery(status, platform, time.monotonic() - started)
                return
            if slot.started_at is not None:
                self._pacer.succeeded(f"{sub.platform}:{chat_id}", slot.started_at)
            hold.release()
            await self._recorder.record(row.id, message_id)
            self.sent += 1
            metrics.delivery("sent", platform, time.monotonic() - started)
            return
        decision = retry_or_dead(
            "too many redirections",
            row.attempts,
            now=self._clock(),
            max_attempts=self._max_attempts,
            delay=self._backoff,
        )
        metrics.delivery(await self._settle(row, sub, decision), platform)

    def _rate_limited(
        self, row: Delivery, sub: Subscriber, chat_id: str, slot: Slot, decision: Retry
    ) -> None:
        """A 429: the pacer pauses the chat or every send, as the platform's scope says."""
        assert decision.retry_after is not None
        scope = self._pacer.rate_limited(
            f"{sub.platform}:{chat_id}",
            sub.chat_type,
            decision.retry_after,
            time.monotonic(),
            started=slot.started_at,
            scope=decision.scope or "global",
        )
        log.warning(
            "rate limited",
            extra={"delivery": row.id, "retry_after": decision.retry_after, "scope": scope},
        )
        metrics.rate_limited(scope)

    async def _settle(
        self, row: Delivery, sub: Subscriber | None, decision: Verdict, *, quiet: bool = False
    ) -> str:
        """Carry out a verdict that ends this send; returns its metrics status. `quiet`: the
        caller has logged the cause already."""
        async with self._writes:
            return await self._settle_now(row, sub, decision, quiet=quiet)

    async def _settle_now(
        self, row: Delivery, sub: Subscriber | None, decision: Verdict, *, quiet: bool
    ) -> str:
        deliveries = self._store.deliveries
        if isinstance(decision, Retry):
            await deliveries.reschedule(
                row.id, at=decision.at, error=decision.error, count_attempt=decision.counted
            )
            if decision.counted and not quiet:
                log.warning(
                    "delivery will retry",
                    extra={
                        "delivery": row.id,
                        "error": decision.error,
                        "attempt": row.attempts + 1,
                    },
                )
            return "retry"
        if isinstance(decision, Dead):
            await deliveries.mark_dead(row.id, error=decision.reason)
            await self._owed_lost(row, decision.reason)
            event = "message rejected" if decision.refused else "delivery dead-lettered"
            log.error(event, extra={"delivery": row.id, "error": decision.reason})
            return "dead"
        if isinstance(decision, Blocked):
            assert sub is not None
            await self._store.subscribers.deactivate(sub.id, decision.reason)
            await deliveries.mark_blocked(row.id, reason=decision.reason)
            await deliveries.cancel_pending_for(sub.id, reason=decision.reason)
            await self._owed_lost(row, decision.reason)
            log.info("recipient gone", extra={"subscriber": sub.id, "error": decision.reason})
            return "blocked"
        if isinstance(decision, Cancel):
            if decision.window and row.kind in HELD_KINDS:  # sent when the citizen next writes
                await deliveries.hold(row.id, reason=decision.reason)
                return "held"
            await deliveries.cancel(row.id, reason=decision.reason)
            await self._owed_lost(row, decision.reason)
            return "failed"
        raise AssertionError(f"not a final verdict: {decision!r}")

    async def _send_paced(
        self, channel: Channel, chat_id: str, parts: list[OutMessage], slot: Slot
    ) -> str:
        """Send with the pacer's slot started when the request is written to the socket, if
        the HTTP layer reports it (pacing.on_wire), else at the latest moment it can have been
        written (Pacer.written_by): the window counts what went out, not what was decided."""
        called = time.monotonic()
        token = WIRE_SLOT.set(slot)
        try:
            return await self._send_parts(channel, chat_id, parts)
        finally:
            WIRE_SLOT.reset(token)
            returned = time.monotonic()
            self._inflight.observe(returned - called, returned)
            if slot.started_at is None:  # the HTTP layer did not report the write
                slot.start(self._pacer.written_by(called, returned))

    async def _send_parts(
        self, channel: Channel, chat_id: str, parts: list[OutMessage], limit: int | None = None
    ) -> str:
        """Send a message (possibly split in parts) in order; returns the first part's id.

        A part the platform still finds too long (it counts differently from us) is split
        finer, down to a floor, and only that part is sent again.
        """
        limit = limit or channel.capabilities.max_text
        first: str | None = None
        for part in parts:
            try:
                sent = await channel.send(chat_id, part)
            except Rejected as err:
                finer = split_message(part, limit // 2) if limit > 400 else [part]
                if err.reason != RejectReason.TOO_LONG or len(finer) < 2:
                    raise
                sent = await self._send_parts(channel, chat_id, finer, limit // 2)
            first = first or sent
        assert first is not None
        return first

    async def _owed_lost(self, row: Delivery, reason: str) -> None:
        """An owed reply that will never arrive (blocked, refused, out of retries) is recorded
        on its ticket, which opens again; the forwarder then tells the staff chat. Staff must
        never believe a citizen got an answer they did not."""
        if row.kind != OutboxKind.ANSWER:
            return
        ticket = await self._store.feedback.mark_answer_undelivered(row.item_id, reason=reason)
        log.warning(
            "answer undelivered",
            extra={
                "delivery": row.id,
                "answer": row.item_id,
                "ticket": ticket.id if ticket else None,
                "error": reason,
            },
        )

    async def _rendered_for(
        self, row: Delivery, sub: Subscriber, channel: Channel, preview: bool
    ) -> tuple[OutMessage, list[OutMessage]] | None:
        """The message for `row` and its parts within the platform's length, shared by every
        recipient of the same article or announcement in the same language, platform and
        preview choice (the renderers are pure); digests and answers are per recipient."""
        if row.kind not in (OutboxKind.ARTICLE, OutboxKind.ANNOUNCEMENT):
            async with self._reads:  # per-recipient reads: a few at a time, not all in flight
                message = await self._render(row, sub, channel, preview)
            return None if message is None else (message, self._split(message, channel))
        key = (row.kind, row.item_id, sub.language, sub.platform, preview)
        rendered = self._rendered.get(key)
        if rendered is None:
            message = await self._render(row, sub, channel, preview)
            if message is None:
                return None  # not remembered: the item may come back (a retried read)
            if len(self._rendered) >= 1000:
                self._rendered.clear()
            rendered = self._rendered[key] = (message, self._split(message, channel))
        return rendered

    @staticmethod
    def _split(message: OutMessage, channel: Channel) -> list[OutMessage]:
        return split_message(message, channel.capabilities.max_text)

    async def _render(
        self, row: Delivery, sub: Subscriber, channel: Channel, preview: bool
    ) -> OutMessage | None:
        caps = channel.capabilities
        if row.kind == OutboxKind.ARTICLE:
            article = await self._once(self._articles, row.item_id, self._store.articles.get)
            if article is None:
                return None
            return render_article_for(article, sub.language, caps, link_preview=preview)
        if row.kind == OutboxKind.DIGEST:
            return await render_item(self._store, row, sub, caps)
        if row.kind == OutboxKind.ANNOUNCEMENT:
            ann = await self._once(self._announcements, row.item_id, self._store.announcements.get)
            if ann is None or ann.status != AnnouncementStatus.QUEUED:
                return None
            upload = None
            if self._media is not None and (ann.photo_file_id or "").startswith(MEDIA_PHOTO):
                upload = await self._once(self._uploads, ann.id, self._read_upload)
            return render_staff_announcement(ann, sub.language, caps, upload)
        if row.kind == OutboxKind.ANSWER:  # a staff answer to a citizen's feedback, quoting it
            answer = await self._store.feedback.answer_context(row.item_id)
            return render_answer(answer, sub.language, caps) if answer else None
        if row.kind in (OutboxKind.CASE_NOTICE, OutboxKind.CASE_REMINDER):
            return await render_case_event(self._store, row, sub, caps)
        log.error("unknown outbox kind", extra={"delivery": row.id, "kind": row.kind})
        return None

    async def _read_upload(self, announcement_id: int) -> PhotoUpload | None:
        """The stored photo of a console announcement; None (text only) when it is gone."""
        ann = await self._once(self._announcements, announcement_id, self._store.announcements.get)
        key = (ann.photo_file_id or "")[len(MEDIA_PHOTO) :] if ann else ""
        assert self._media is not None
        try:
            return PhotoUpload(await self._media.get(key), content_type_of(key))
        except MediaError as err:
            log.warning("announcement photo unavailable", extra={"error": str(err)})
            return None

    @staticmethod
    async def _once(
        cache: dict[int, asyncio.Future[T]], key: int, fetch: Callable[[int], Awaitable[T]]
    ) -> T:
        """Read an item once for all its sends: a broadcast starts ~100 sends at once, and each
        reading the same announcement itself cost a thousand reads, which starved the sending
        of CPU. The read in progress is shared; a failed one is forgotten."""
        future = cache.get(key)
        if future is None or future.get_loop() is not asyncio.get_running_loop():
            if len(cache) > 1000:
                cache.clear()
            future = cache[key] = asyncio.ensure_future(fetch(key))
        try:
            return await asyncio.shield(future)  # one waiter cancelled: the read goes on
        except Exception:
            if cache.get(key) is future:
                del cache[key]
            raise
