"""`bantin deliver` says when the configured rate is out of reach and why (bot/cli/outbox.py)."""

from __future__ import annotations

from bot.cli.outbox import NOTICE_EVERY, ShortfallNotice
from jobs.i18n import t
from jobs.send.pacing import Shortfall


def test_the_notice_names_the_round_trip_the_rate_and_the_bound() -> None:
    notice = ShortfallNotice()
    assert notice.line(None, 0.0) is None
    shortfall = Shortfall(rate=1000.0, round_trip=0.45, needed=450, bound=100)
    line = notice.line(shortfall, 1.0)
    assert line == t(
        "send_tuning_shortfall",
        rate="1000",
        round_trip_ms=450,
        needed=450,
        bound=100,
        reachable=222,
    )
    assert "450" in line and "100" in line and "BANTIN_SEND_CONCURRENCY" in line
    assert notice.line(shortfall, 1.0 + NOTICE_EVERY / 2) is None  # not every two seconds
    assert notice.line(shortfall, 1.0 + NOTICE_EVERY) is not None  # but again while it lasts
    assert notice.line(None, 100.0) is None  # within reach again...
    assert notice.line(shortfall, 101.0) is not None  # ...and out again: said at once
