"""Pacing is pure: simulate a sender against the pacer with a virtual clock."""

from __future__ import annotations

import pytest

from bench.support import max_in_window
from jobs.send.pacing import Pacer
from jobs.send.retry import CAP_SECONDS, backoff, exhausted


def simulate(rate: float, sends: int) -> list[float]:
    pacer, now, times = Pacer(rate), 0.0, []
    for _ in range(sends):
        now += pacer.global_delay(now)
        pacer.take_global(now)
        times.append(now)
    return times


@pytest.mark.parametrize("rate", [1, 5, 25, 30, 100, 1000, 0.5, 2.5])
def test_never_above_rate_in_any_second(rate: float) -> None:
    times = simulate(rate, 3000 if rate >= 25 else 200)
    assert max_in_window(times) <= max(1, rate)
    achieved = (len(times) - 1) / (times[-1] - times[0])
    assert achieved >= (rate if rate < 1 else int(rate)) * 0.95  # and not needlessly slow


def test_chat_spacing_and_pause() -> None:
    pacer = Pacer(30)
    pacer.take_chat("tg:1", "private", 10.0)
    assert pacer.chat_ready_at("tg:1", 10.0) == 11.0
    assert pacer.chat_ready_at("tg:2", 10.0) == 10.0
    pacer.take_chat("tg:g", "group", 10.0)
    assert pacer.chat_ready_at("tg:g", 10.0) == 13.0
    pacer.pause(5, 10.0)
    assert pacer.global_delay(10.0) == 5.0
    pacer.pause(7, 10.0, chat="tg:2")
    assert pacer.chat_ready_at("tg:2", 10.0) == 17.0


def test_backoff_grows_and_caps() -> None:
    import random

    rnd = random.Random(0)
    delays = [backoff(n, rnd=rnd) for n in range(1, 20)]
    assert delays[0] < delays[3] < delays[6]
    assert max(delays) <= CAP_SECONDS
    assert not exhausted(7) and exhausted(8)
