"""Which feed health notices are due, and how they read: pure, table-driven."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from jobs.channel import HTML, PLAIN, Capabilities
from jobs.staff.feed_alerts import FAILING, OK, health_notices, render_notice
from storage.records import Feed

NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
BASE = Feed(
    id=1,
    url="https://user:secret@chiemhoa.tuyenquang.gov.vn/rss",
    name="Cổng <Chiêm Hóa> & tin",
    category=None,
    enabled=True,
    etag=None,
    last_modified=None,
    poll_interval=None,
    next_poll_at=None,
    last_polled_at=NOW,
    last_success_at=datetime(2026, 11, 27, 1, 30, tzinfo=UTC),
    last_error="HTTP 500 <b>Internal</b> & Server Error",
    consecutive_errors=5,
    polls=10,
    created_at=NOW,
)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, ["failing"]),  # at the threshold, staff not told yet
        ({"consecutive_errors": 4}, []),  # below it
        ({"alert_state": FAILING}, []),  # told already: once only
        ({"alert_state": FAILING, "consecutive_errors": 9}, []),
        ({"alert_state": FAILING, "consecutive_errors": 0}, ["recovered"]),
        ({"alert_state": OK, "consecutive_errors": 0}, []),
        ({"enabled": False}, []),  # switched off on purpose: no alarm
        # failing since before the first success: still reported
        ({"last_success_at": None, "consecutive_errors": 7}, ["failing"]),
    ],
)
def test_health_notices(changes: dict[str, object], expected: list[str]) -> None:
    feed = replace(BASE, **changes)  # type: ignore[arg-type]
    assert [n.kind for n in health_notices([feed], threshold=5)] == expected


def test_failing_notice_in_html_escapes_and_hides_credentials() -> None:
    msg = render_notice(health_notices([BASE], 5)[0], Capabilities(markup=HTML), "vi")
    assert msg.markup == HTML
    assert "Cổng &lt;Chiêm Hóa&gt; &amp; tin" in msg.text
    assert "HTTP 500 &lt;b&gt;Internal&lt;/b&gt; &amp; Server Error" in msg.text
    assert "secret" not in msg.text and "https://chiemhoa.tuyenquang.gov.vn/rss" in msg.text
    assert "5 lần lỗi liên tiếp" in msg.text and "2026-11-27 01:30 UTC" in msg.text
    assert msg.text.startswith("⚠️ <b>")


def test_plain_channel_gets_unescaped_text_and_english_works() -> None:
    msg = render_notice(health_notices([BASE], 5)[0], Capabilities(markup=PLAIN), "en")
    assert msg.markup == PLAIN
    assert "Cổng <Chiêm Hóa> & tin" in msg.text and "<b>Internal</b>" in msg.text
    assert "5 failures in a row" in msg.text


def test_recovered_notice_and_long_errors() -> None:
    back = replace(BASE, alert_state=FAILING, consecutive_errors=0, alert_changed_at=NOW)
    [notice] = health_notices([back], 5)
    msg = render_notice(notice, Capabilities(markup=HTML), "vi")
    assert "hoạt động lại" in msg.text and "2026-11-28 08:00 UTC" in msg.text
    long = replace(BASE, last_error="x" * 3000, name=None)
    text = render_notice(health_notices([long], 5)[0], Capabilities(markup=PLAIN)).text
    assert "x" * 499 + "…" in text and "x" * 501 not in text
    assert "chiemhoa.tuyenquang.gov.vn/rss" in text  # no name: the address names it
