"""Send pacing: the overall rate, spacing per chat, and flood pauses. Pure: `now` is passed in.

The overall limit is a sliding window (at most floor(rate) sends in any window of a little
over one second; one send per 1/rate seconds below 1/s), so no one-second window ever holds
more than the configured rate, with sends spread evenly (1/rate apart, a few ms of slack).
Per chat, Telegram tolerates about one message a second to a private chat and twenty a minute
to a group.
"""

from __future__ import annotations

import math
from collections import deque

PRIVATE_INTERVAL = 1.0
GROUP_INTERVAL = 3.0  # 20 per minute
WINDOW_MARGIN = 1.02  # a little slack for clock and network jitter between us and the server
FAST_RATE = 500.0  # messages/s from which sends are spread evenly rather than in short bursts
SLACK = 0.004  # seconds a send may run ahead of even spacing (the loop's timer is coarse)


class Pacer:
    def __init__(self, rate: float | None) -> None:
        """`rate` in messages per second; None means no overall limit (per-chat spacing and
        flood pauses still apply) — for a self-hosted Bot API or benchmarks."""
        if rate is not None and rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self._n = max(1, math.floor(rate)) if rate else 1
        self._window = max(1.0, self._n / rate) * WINDOW_MARGIN if rate else 0.0
        # Below 500/s: at least half the average spacing between two sends (short bursts,
        # exact average). Above: even spacing 1/rate apart with a few ms of slack, so no burst
        # at a window's start can reach the server bunched up and over the limit, and the
        # event loop's coarse timer does not cost a sleep per message.
        self._spacing = self._window / self._n / 2 if rate and rate < FAST_RATE else 0.0
        self._interval = 1.0 / rate if rate and rate >= FAST_RATE else 0.0
        self._tat = 0.0  # theoretical time of the next send (fast rates)
        self._sent: deque[float] = deque(maxlen=self._n)
        self._chat_next: dict[str, float] = {}
        self._paused_until = 0.0

    def global_delay(self, now: float) -> float:
        """Seconds to wait before the next send may start."""
        wait = max(0.0, self._paused_until - now)
        if self.rate is None:
            return wait
        if len(self._sent) == self._n:
            wait = max(wait, self._sent[0] + self._window - now)
        if self._sent and self._spacing:
            wait = max(wait, self._sent[-1] + self._spacing - now)
        if self._interval:
            wait = max(wait, self._tat - SLACK - now)
        return wait

    def take_global(self, now: float) -> None:
        """Record a send starting now (call after waiting `global_delay`)."""
        if self.rate is not None:
            self._sent.append(now)
            # Late wake-ups within the slack are caught up, so the average rate stays exact.
            self._tat = max(self._tat, now - SLACK) + self._interval

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

    def _forget(self, now: float) -> None:
        self._chat_next = {c: t for c, t in self._chat_next.items() if t > now}
