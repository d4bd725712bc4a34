"""A stretch of the shared send schedule (storage/budget.py): where a late send may still go."""

from __future__ import annotations

from dataclasses import replace

import pytest

from jobs.send.pacing import Pacer
from storage.budget import Stretch

# 3,000 slots 1 ms apart from t=100: the stretch ends at 103, its last second starts at 102.
STRETCH = Stretch(start=100.0, interval=0.001, slack=0.0, slots=3000)


def test_before_the_last_second_a_late_send_catches_up() -> None:
    assert STRETCH.may_catch_up(101.5)
    assert STRETCH.deadline(0, late=0.02) == pytest.approx(102.0)  # no earlier than the zone


def test_in_the_last_second_a_send_keeps_to_its_slot() -> None:
    assert not STRETCH.may_catch_up(102.5)
    assert STRETCH.deadline(2600, late=0.02) == pytest.approx(102.62)
    assert STRETCH.next_slot(102.7005, after=2600, late=0.01) == 2691  # the missed skipped


def test_followed_by_its_own_worker_the_last_second_catches_up_too() -> None:
    own = replace(STRETCH, strict_end=False)
    assert own.may_catch_up(102.99)
    assert own.deadline(2999, late=0.02) is None


@pytest.mark.parametrize(
    ("rate", "interval"), [(1000.0, 1.004 / 1000), (30.0, 1.02 / 30), (None, 0.0)]
)
def test_the_pacers_long_run_spacing_is_what_it_asks_the_schedule_for(
    rate: float | None, interval: float
) -> None:
    """The stretch's slots are this far apart, or the pacer (a little slower than 1/rate for
    its window's margin) falls behind them by that margin, second after second."""
    assert Pacer(rate).mean_interval == pytest.approx(interval)
