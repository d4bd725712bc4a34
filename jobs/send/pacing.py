"""Send pacing: the overall rate, spacing per chat, and flood pauses. Pure: `now` is passed in.

The overall limit is a true sliding window over the moments sends actually go out: at most
floor(rate) in any window of a little over one second. A send is let through in two steps,
`reserve` (the pacer's loop decides) and `Slot.start` (its request has been written to the
socket, when the HTTP layer reports it through `on_wire`; else the latest moment it can have
been written, once the call returned); until started, a reserved slot counts as starting at
every moment the pacer looks. So whatever lies between the decision and the write cannot make
more than the rate go out in one second: an event-loop stall, the HTTP client's own queueing
on a busy CPU, or the first send of a broadcast reading its announcement from the database
while the next ones, sharing that read, go right behind it (counted from the decision, that
let more than the rate arrive in one second at the server: bench/README.md).

Inside that cap the sends are spread:
- below 500/s, sliding window with at least half the average spacing between two sends (short
  bursts, exact average; Telegram tolerates them at these rates);
- from 500/s, even spacing (a GCRA: one send every window/n seconds) with catch-up: when the
  sender was late (a claim from the database, a stall), the sends it owes go at once, up to
  CATCH_UP seconds' worth, at up to PEAK times the rate in small bursts, instead of being
  lost. Without catch-up every database claim cost a measurable share of the rate; in one
  burst, a catch-up left its sends queued in the HTTP client; without the window, catch-up
  could overshoot (figures in bench/README.md).

Per chat, Telegram tolerates about one message a second to a private chat and twenty a minute
to a group. A 429 pauses one chat or everyone: see `rate_limited`.

How many sends are in flight at once is `InFlight`'s: about rate × the measured round trip
(Little's law), with headroom, never more than the configured upper bound
(BANTIN_SEND_CONCURRENCY). A fixed number either undercut the rate the operator set (8 in
flight gave a quarter of 1000/s, silently: issue 17) or held hundreds of sends for a rate that
needs twenty; when the bound is too low for the round trip, `Shortfall` says so with figures.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from contextvars import ContextVar
from dataclasses import dataclass

PRIVATE_INTERVAL = 1.0
GROUP_INTERVAL = 3.0  # 20 per minute
WINDOW_MARGIN = 1.02  # below FAST_RATE: slack for clock and network jitter up to the server
FAST_RATE = 500.0  # messages/s from which sends are spread evenly rather than in short bursts
# Seconds added to the window from FAST_RATE, for jitter between our socket and Telegram's
# count. Sends count from when the HTTP layer has handed them to the kernel (after the write,
# bot/adapters/telegram/http.py), so no stamp is early; a wider margin costs rate for nothing
# the loopback bench could see (bench/README.md).
FAST_MARGIN = 0.004
RTT_SAMPLES = 512  # recent round trips whose fastest bounds an unreported write (fast rates)
CATCH_UP = 0.2  # seconds of sends a late sender may make up (fast rates)...
PEAK = 3.0  # ...at up to three times the rate...
PEAK_SLACK = 0.005  # ...in bursts of at most this many seconds' worth at the peak rate
POLL = 0.002  # seconds to wait when only reserved-but-unstarted sends fill the window
FLOOD_WINDOW = 2.0  # seconds: 429s for two different chats this close together mean a flood
OTHERS_OK = 2  # later sends to other chats that must succeed to clear a private chat's 429
GROUP_TYPES = frozenset({"group", "supergroup", "channel"})


# The slot of the send the current task is making: an HTTP layer that can tell when a request's
# bytes are written calls `on_wire` then, and the window counts the send from that moment.
WIRE_SLOT: ContextVar[Slot | None] = ContextVar("bantin_wire_slot", default=None)


def on_wire(now: float) -> None:
    """A request is being written to the socket now (called by an HTTP layer, e.g. from an
    aiohttp trace's on_request_chunk_sent: aiohttp buffers the headers and writes them with
    the body). Between the deliverer's call and this moment lie
    the HTTP client's own work and, on a busy machine, the process waiting for a CPU: tens of
    ms, enough for a window counted at the call to hold more than the rate at the server."""
    slot = WIRE_SLOT.get()
    if slot is not None:
        slot.start(now)


class Slot:
    """One send the pacer let through: `start` it when it reaches the platform, or `release`
    it if it never does (item gone, no channel), so the window frees its place.

    Until then it counts as starting at every moment the pacer looks, so it may be started
    late with an earlier time (the moment of the call, once the send returned without an HTTP
    layer reporting its write): every window it could belong to has counted it."""

    __slots__ = ("_open", "_pacer", "started_at")

    def __init__(self, pacer: Pacer) -> None:
        self._pacer = pacer
        self.started_at: float | None = None
        self._open = True

    def start(self, now: float) -> None:
        if self._open:
            self._open = False
            self.started_at = now
            self._pacer._started(now)

    def release(self) -> None:
        if self._open:
            self._open = False
            self._pacer._released()


class Pacer:
    def __init__(self, rate: float | None) -> None:
        """`rate` in messages per second; None means no overall limit (per-chat spacing and
        flood pauses still apply) — for a self-hosted Bot API or benchmarks."""
        if rate is not None and rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        fast = bool(rate and rate >= FAST_RATE)
        self._n = max(1, math.floor(rate)) if rate else 1
        self._fast = fast
        self._rtts: deque[float] = deque(maxlen=RTT_SAMPLES)
        if not rate:
            self._window = 0.0
        elif fast:
            self._window = self._n / rate + FAST_MARGIN
        else:
            self._window = max(1.0, self._n / rate) * WINDOW_MARGIN
        self._spacing = self._window / self._n / 2 if rate and not fast else 0.0
        self._interval = self._window / self._n if fast else 0.0
        self._tat: float | None = None  # theoretical time of the next send (fast rates)
        self._peak_tat = -math.inf  # the same at the catch-up peak rate
        self._last = -math.inf  # the latest reservation (slow rates' spacing)
        self._sent: deque[float] = deque()  # starts inside the current window, oldest first
        self._pending = 0  # reserved slots not started yet
        self._chat_next: dict[str, float] = {}
        self._paused_until = 0.0
        self._ok: deque[tuple[float, str]] = deque(maxlen=64)  # (started, chat) of successes
        self._limited: deque[tuple[float, str]] = deque(maxlen=64)  # (when, chat) of 429s

    # -- the overall rate --------------------------------------------------------------------

    @property
    def mean_interval(self) -> float:
        """Seconds between sends at the most this pacer lets through for long (0: no rate):
        its window over the sends it holds, a little wider than 1/rate."""
        return self._window / self._n if self.rate else 0.0

    def global_delay(self, now: float) -> float:
        """Seconds to wait before the next send may be reserved."""
        wait = max(0.0, self._paused_until - now)
        if self.rate is None:
            return wait
        sent = self._sent
        while sent and sent[0] <= now - self._window:
            sent.popleft()
        excess = len(sent) + self._pending + 1 - self._n
        if excess > 0:
            # Reserved slots will start at `now` or later, so only old starts can free places.
            free_at = sent[excess - 1] + self._window if excess <= len(sent) else now + POLL
            wait = max(wait, free_at - now)
        if self._spacing:
            wait = max(wait, self._last + self._spacing - now)
        if self._interval and self._tat is not None:
            wait = max(wait, self._tat - now, self._peak_tat - PEAK_SLACK - now)
        return wait

    def reserve(self, now: float) -> Slot:
        """Let one send through (call after waiting `global_delay`); start or release it."""
        if self.rate is not None:
            self._pending += 1
            self._last = now
            if self._interval:
                # A late sender keeps its schedule for up to CATCH_UP, so the average holds.
                tat = now if self._tat is None else max(self._tat, now - CATCH_UP)
                self._tat = tat + self._interval
                self._peak_tat = max(self._peak_tat, now) + self._interval / PEAK
        return Slot(self)

    def take_global(self, now: float) -> None:
        """Record a send starting now (call after waiting `global_delay`)."""
        self.reserve(now).start(now)

    def _started(self, now: float) -> None:
        if self.rate is not None:
            self._pending -= 1
            if not self._sent or now >= self._sent[-1]:
                self._sent.append(now)
            else:  # started at an earlier moment than one already recorded (see Slot.start)
                bisect.insort(self._sent, now)

    def written_by(self, called: float, returned: float) -> float:
        """The latest moment a send called at `called`, answered at `returned`, can have been
        written, for an HTTP layer that does not report writes (`on_wire`).

        At fast rates the call time is not enough: on a busy CPU a send may wait in the HTTP
        client after the call, while the catch-up after that stall sends more, and the server
        then counted more than the rate (bench/README.md). But no request is written later than its
        answer minus the fastest round trip seen lately: the slot is started at that bound,
        which is exact when round trips are steady and errs late (safe) otherwise."""
        self._rtts.append(returned - called)
        return max(called, returned - min(self._rtts))

    def _released(self) -> None:
        if self.rate is not None:
            self._pending -= 1

    # -- per chat ----------------------------------------------------------------------------

    def chat_ready_at(self, chat: str, now: float) -> float:
        """Monotonic time when `chat` may receive its next message (<= now: ready)."""
        return self._chat_next.get(chat, now)

    def take_chat(self, chat: str, chat_type: str, now: float) -> None:
        interval = PRIVATE_INTERVAL if chat_type == "private" else GROUP_INTERVAL
        self._chat_next[chat] = max(now, self._chat_next.get(chat, now)) + interval
        if len(self._chat_next) > 100_000:
            self._forget(now)

    def pause(self, seconds: float, now: float, chat: str | None = None) -> None:
        """A 429: everyone (chat=None) or one chat waits `seconds`."""
        if chat is None:
            self._paused_until = max(self._paused_until, now + seconds)
        else:
            self._chat_next[chat] = max(self._chat_next.get(chat, now), now + seconds)

    # -- 429s: one chat or everyone ----------------------------------------------------------

    def succeeded(self, chat: str, started: float) -> None:
        """A send to `chat` that started at `started` was accepted (evidence for
        `rate_limited`: the platform was not refusing everyone then)."""
        self._ok.append((started, chat))

    def rate_limited(
        self,
        chat: str,
        chat_type: str,
        retry_after: float,
        now: float,
        *,
        started: float | None = None,
        scope: str = "global",
    ) -> str:
        """A 429 for `chat` (its send started at `started`): pause that chat, or everyone, for
        `retry_after` seconds; returns the scope chosen, "chat" or "global".

        Telegram's 429 does not say whether it is the bot-wide flood limit (~30/s, or what the
        paid broadcast allows) or one chat's own (a group takes 20 a minute, a private chat
        about one a second). Pausing everyone for one busy group would stall a broadcast for up
        to a minute; pausing one chat during a real flood makes Telegram answer 429 again, and
        repeated floods lengthen its bans. So everyone waits unless the 429 is plausibly the
        chat's own:
        - the adapter knows it is per chat (`scope="chat"`, e.g. Zalo OA's daily quota); or
        - the chat is a group or channel, whose own limit (20/min) is the likely cause; or
        - a private chat, and at least OTHERS_OK sends to other chats that started no earlier
          than this one have already been accepted: Telegram was not refusing everyone.
        and in every case no other chat got a 429 in the last FLOOD_WINDOW seconds and no global
        pause is running: several chats refused at once is a flood, whatever their type. A
        global pause also pauses the chat itself (its row waits `retry_after` either way).
        """
        if scope != "chat":
            flood = now < self._paused_until or any(
                at > now - FLOOD_WINDOW and other != chat for at, other in self._limited
            )
            if flood:
                scope = "global"
            elif chat_type in GROUP_TYPES:
                scope = "chat"
            else:
                since = now if started is None else started
                others = sum(1 for s, other in self._ok if s >= since and other != chat)
                scope = "chat" if others >= OTHERS_OK else "global"
        self._limited.append((now, chat))
        self.pause(retry_after, now, chat=chat)
        if scope == "global":
            self.pause(retry_after, now)
        return scope

    def _forget(self, now: float) -> None:
        self._chat_next = {c: t for c, t in self._chat_next.items() if t > now}


# -- how many sends in flight ----------------------------------------------------------------

# A rate of r sends a second, each taking a round trip of t seconds, needs about r × t sends in
# flight (Little's law): 1,000/s over a 20 ms loopback needs 20, over a 300 ms path to Telegram
# 300. A fixed number undercuts one or wastes the other (8 in flight gave 247/s of 1,000/s at
# 20 ms plus a busy CPU: bench/README.md), so the number follows the measured round trip.
RTT_HORIZON = 3.0  # seconds of recent round trips the target follows
RTT_MIN_SAMPLES = 16  # fewer than this inside the horizon: the latest this many count
RTT_KEEP = 4096  # round trips remembered at most
HEADROOM = 2.0  # in flight beyond rate × round trip: jitter, a slow answer
# From FAST_RATE the pacer catches up at up to PEAK times the rate after a stall, and those
# sends need their places too: a catch-up held back by too few places is rate lost for good.
SPARE = 4  # and a few more: at low rates rate × round trip rounds to almost nothing
INITIAL_RTT = 0.25  # assumed before the first answer (Telegram is 50-300 ms away)
RETUNE = 0.1  # seconds between two computations of the target


@dataclass(frozen=True)
class Shortfall:
    """Why the configured rate cannot be reached: the round trip times the rate needs more
    sends in flight than the upper bound (BANTIN_SEND_CONCURRENCY) allows."""

    rate: float
    round_trip: float  # seconds
    needed: int
    bound: int

    @property
    def reachable(self) -> float:
        """About the most a second the bound allows at this round trip."""
        return self.bound / self.round_trip if self.round_trip > 0 else self.rate

    def __str__(self) -> str:
        return (
            f"round trip {self.round_trip * 1000:.0f} ms × rate {self.rate:g}/s needs "
            f"{self.needed} in flight, upper bound {self.bound} (BANTIN_SEND_CONCURRENCY): "
            f"about {self.reachable:.0f}/s reachable"
        )


class InFlight:
    """The number of sends to keep in flight: about rate × round trip (with headroom), never
    more than `bound`; `bound` itself when there is no overall rate. Pure: `now` is passed in.

    The round trip is what a send holds its place for (from the call to the answer), over the
    last RTT_HORIZON seconds, so the target follows latency up and down within seconds."""

    def __init__(self, rate: float | None, bound: int) -> None:
        if bound < 1:
            raise ValueError("bound must be at least 1")
        self.rate = rate
        self.bound = bound
        self._samples: deque[tuple[float, float]] = deque(maxlen=RTT_KEEP)  # (when, seconds)
        self._at = -math.inf  # when the target was last computed
        self._rtt: float | None = None
        self._rtt_at = -math.inf  # when `_rtt` was computed
        self._target = bound if rate is None else self._for(INITIAL_RTT)

    def observe(self, round_trip: float, now: float) -> None:
        """One send took `round_trip` seconds from its call to its answer."""
        self._samples.append((now, max(0.0, round_trip)))

    def target(self, now: float) -> int:
        """Sends to allow in flight now."""
        if self.rate is not None and now - self._at >= RETUNE:
            self._at = now
            rtt = self.round_trip(now)
            if rtt is not None:
                self._target = self._for(rtt)
        return self._target

    def round_trip(self, now: float) -> float | None:
        """The recent round trip the target is computed from, None before the first answer:
        the mean of the samples in the horizon, as Little's law has it (sends in flight =
        rate × mean time in flight). A high percentile would follow the slow tail, which on
        a starved CPU is mostly the answers waiting for this process, which more sends in
        flight do not shorten."""
        samples = self._samples
        while len(samples) > RTT_MIN_SAMPLES and samples[0][0] < now - RTT_HORIZON:
            samples.popleft()
        if not samples:
            return None
        if now - self._rtt_at < RETUNE and self._rtt is not None:
            return self._rtt
        self._rtt_at = now
        self._rtt = round(sum(s for _, s in samples) / len(samples), 6)  # to the microsecond
        return self._rtt

    def needed(self, round_trip: float) -> int:
        """Sends in flight the rate needs at this round trip, without headroom."""
        return math.ceil((self.rate or 0.0) * round_trip)

    def shortfall(self, now: float) -> Shortfall | None:
        """Why the rate is out of reach at the current round trip, or None when it is not (or
        there is no overall rate, or no answer yet)."""
        if self.rate is None:
            return None
        rtt = self.round_trip(now)
        if rtt is None:
            return None
        needed = self.needed(rtt)
        return Shortfall(self.rate, rtt, needed, self.bound) if needed > self.bound else None

    def _for(self, round_trip: float) -> int:
        rate = self.rate or 0.0
        headroom = max(HEADROOM, PEAK) if rate >= FAST_RATE else HEADROOM
        want = math.ceil(rate * round_trip * headroom) + SPARE
        return max(1, min(self.bound, want))
