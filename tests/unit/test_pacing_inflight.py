"""Sends in flight follow rate × round trip (jobs/send/pacing.py: InFlight), within the bound.

Pure: a virtual clock feeds round trips to the tuner; nothing is timed.
"""

from __future__ import annotations

import math

import pytest

from jobs.send.pacing import (
    FAST_RATE,
    HEADROOM,
    PEAK,
    RETUNE,
    RTT_HORIZON,
    SPARE,
    InFlight,
    Shortfall,
)


def feed(tuner: InFlight, rtt: float, *, start: float, seconds: float, per_second: int) -> float:
    """Answers with round trip `rtt`, `per_second` of them for `seconds`; returns the end."""
    now = start
    for _ in range(int(seconds * per_second)):
        now += 1 / per_second
        tuner.observe(rtt, now)
        tuner.target(now)
    return now


def expected(rate: float, rtt: float, bound: int) -> int:
    headroom = max(HEADROOM, PEAK) if rate >= FAST_RATE else HEADROOM
    return max(1, min(bound, math.ceil(rate * rtt * headroom) + SPARE))


def test_target_follows_rate_times_round_trip_as_latency_moves() -> None:
    rate, bound = 100.0, 500
    tuner = InFlight(rate, bound)
    now = feed(tuner, 0.02, start=0.0, seconds=5, per_second=100)
    low = tuner.target(now)
    assert low == expected(rate, 0.02, bound)  # 100/s over 20 ms: a handful
    # The path to the platform gets slow: within a horizon the target rises to match.
    now = feed(tuner, 0.3, start=now, seconds=RTT_HORIZON + 1, per_second=100)
    high = tuner.target(now)
    assert high == expected(rate, 0.3, bound)
    assert high > 10 * low / 2
    # And it comes back down once the slow answers have left the horizon.
    now = feed(tuner, 0.05, start=now, seconds=RTT_HORIZON + 1, per_second=100)
    assert tuner.target(now) == expected(rate, 0.05, bound)


def test_target_scales_with_the_rate() -> None:
    for rate in (25.0, 200.0, 1000.0):
        tuner = InFlight(rate, 512)
        now = feed(tuner, 0.1, start=0.0, seconds=2, per_second=200)
        assert tuner.target(now) == expected(rate, 0.1, 512)
    # twice the rate, twice the sends in flight (same side of FAST_RATE)
    a, b = InFlight(100.0, 512), InFlight(200.0, 512)
    ta = tuner_after(a, 0.1)
    tb = tuner_after(b, 0.1)
    assert tb - SPARE == 2 * (ta - SPARE)


def tuner_after(tuner: InFlight, rtt: float) -> int:
    now = feed(tuner, rtt, start=0.0, seconds=2, per_second=200)
    return tuner.target(now)


def test_slow_answers_count_by_their_share() -> None:
    """One answer in five slow: the target follows the mean round trip (Little's law: a place
    is held until the answer), so the slow answers count by their share."""
    tuner, now = InFlight(100.0, 512), 0.0
    for i in range(1000):
        now += 0.005
        tuner.observe(0.4 if i % 5 == 0 else 0.02, now)
    mean = (0.4 + 4 * 0.02) / 5
    assert tuner.target(now + RETUNE) == expected(100.0, mean, 512)
    assert tuner.target(now + RETUNE) > expected(100.0, 0.02, 512)


@pytest.mark.parametrize("bound", [1, 8, 100])
def test_the_upper_bound_holds(bound: int) -> None:
    tuner = InFlight(1000.0, bound)
    assert tuner.target(0.0) <= bound  # before any answer too
    now = feed(tuner, 2.0, start=0.0, seconds=2, per_second=500)  # needs 2,000 in flight
    assert tuner.target(now) == bound


def test_no_rate_means_the_bound() -> None:
    tuner = InFlight(None, 64)
    now = feed(tuner, 0.01, start=0.0, seconds=2, per_second=100)
    assert tuner.target(now) == 64
    assert tuner.shortfall(now) is None


def test_shortfall_says_why_the_rate_is_out_of_reach() -> None:
    tuner = InFlight(1000.0, 100)
    assert tuner.shortfall(0.0) is None  # no answer yet: nothing to say
    now = feed(tuner, 0.45, start=0.0, seconds=2, per_second=200)
    shortfall = tuner.shortfall(now)
    assert shortfall == Shortfall(rate=1000.0, round_trip=0.45, needed=450, bound=100)
    assert shortfall is not None
    assert round(shortfall.reachable) == 222
    text = str(shortfall)
    assert "round trip 450 ms" in text and "rate 1000/s" in text
    assert "needs 450 in flight" in text and "upper bound 100" in text
    # Latency falls back: the rate is within reach again.
    now = feed(tuner, 0.05, start=now, seconds=RTT_HORIZON + 1, per_second=200)
    assert tuner.shortfall(now) is None


def test_before_the_first_answer_a_plausible_round_trip_is_assumed() -> None:
    assert 1 < InFlight(1000.0, 512).target(0.0) <= 512
    assert InFlight(25.0, 512).target(0.0) >= SPARE
