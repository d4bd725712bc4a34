"""bot/app/health.py judging what it saw: pure and table-driven (gathering is tested against a real
database in tests/integration/test_ops_http.py). Named apart from test_health.py, which is
about feed health notices (jobs/staff/feed_alerts.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from bot.app.health import HealthReport, Observed, judge, parse_heartbeat

NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
AGO = {s: NOW - timedelta(seconds=s) for s in (0, 30, 119, 121, 600, 899, 901, 5000)}


def verdict(seen: Observed, heartbeat: float | None = 120, lag: float | None = 900) -> HealthReport:
    return judge(seen, now=NOW, max_heartbeat_age=heartbeat, max_outbox_lag=lag)


@pytest.mark.parametrize(
    ("seen", "ok", "failing"),
    [
        (Observed(None, AGO[30], None), True, set()),
        (Observed(None, AGO[119], AGO[899]), True, set()),
        (Observed(None, AGO[121], None), False, {"scheduler"}),
        (Observed(None, None, None), False, {"scheduler"}),  # no scheduler ever ran
        (Observed(None, AGO[0], AGO[901]), False, {"outbox"}),
        (Observed(None, AGO[5000], AGO[5000]), False, {"scheduler", "outbox"}),
        (Observed(None, AGO[0], NOW + timedelta(hours=3)), True, set()),  # deferred, not late
        (Observed("ConnectionRefusedError", None, None), False, {"database"}),
    ],
)
def test_verdicts(seen: Observed, ok: bool, failing: set[str]) -> None:
    report = verdict(seen)
    assert report.ok is ok
    assert {name for name, c in report.checks.items() if not c["ok"]} == failing
    assert len(report.reasons) == len(failing)


def test_a_limit_of_none_skips_that_check() -> None:
    report = verdict(Observed(None, None, AGO[5000]), heartbeat=None, lag=None)
    assert report.ok and set(report.checks) == {"database", "scheduler"}
    # the heartbeat is still shown (a worker's /healthz), only not judged
    assert report.checks["scheduler"] == {
        "ok": True,
        "judged": False,
        "heartbeat_age_seconds": None,
    }
    shown = verdict(Observed(None, AGO[5000], None), heartbeat=None, lag=None)
    assert shown.ok and shown.checks["scheduler"]["heartbeat_age_seconds"] == 5000


def test_an_unreachable_database_says_only_that() -> None:
    report = verdict(Observed("TimeoutError: no answer", AGO[0], None))
    assert report.checks == {"database": {"ok": False, "reason": "database: unreachable"}}


def test_report_is_json_with_ages_and_reasons() -> None:
    data = json.loads(json.dumps(verdict(Observed(None, AGO[600], AGO[30])).as_dict()))
    assert data["ok"] is False
    assert data["checks"]["scheduler"]["heartbeat_age_seconds"] == 600
    assert data["checks"]["outbox"] == {"ok": True, "lag_seconds": 30, "max_lag_seconds": 900}
    assert data["reasons"] == ["scheduler heartbeat is 600 s old (limit 120 s)"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (NOW.isoformat(), NOW),
        (None, None),
        ("", None),
        ("yesterday", None),
        ("2026-11-28T08:00:00", None),  # naive: not something beat() writes
    ],
)
def test_parse_heartbeat(raw: str | None, expected: datetime | None) -> None:
    assert parse_heartbeat(raw) == expected
