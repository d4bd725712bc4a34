"""Broadcast progress figures are pure arithmetic over outbox counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from jobs.channel import HTML, Capabilities
from jobs.render.cards import render_broadcast_progress
from jobs.staff.progress import progress_of
from storage.records import Announcement

WINDOW = timedelta(seconds=30)


def test_running_broadcast_has_rate_and_eta() -> None:
    p = progress_of(
        {"sent": 600, "pending": 300, "sending": 100, "dead": 2, "blocked": 5},
        sent_recently=600,
        window=WINDOW,
    )
    assert (p.queued, p.sent, p.failed, p.blocked, p.remaining) == (1007, 600, 2, 5, 400)
    assert p.rate == 20.0 and p.eta_seconds == 20.0 and not p.done


def test_stalled_and_finished() -> None:
    stalled = progress_of({"pending": 10}, sent_recently=0, window=WINDOW)
    assert stalled.eta_seconds is None and not stalled.done
    done = progress_of({"sent": 3, "blocked": 1}, sent_recently=0, window=WINDOW)
    assert done.done and done.eta_seconds == 0.0


def test_progress_message_text() -> None:
    ann = Announcement(
        id=7,
        text="x",
        status="queued",
        created_by=None,
        origin_platform=None,
        origin_chat_id=None,
        recipients=0,
        created_at=datetime.now(UTC),
        queued_at=None,
    )
    running = progress_of({"sent": 50, "pending": 50}, sent_recently=300, window=WINDOW)
    text = render_broadcast_progress(ann, running, "vi", Capabilities(markup=HTML)).text
    assert "#7" in text and "50/100" in text and "10.0" in text and "5 giây" in text
    finished = progress_of({"sent": 100}, sent_recently=0, window=WINDOW)
    assert (
        "đã gửi xong: 100/100"
        in render_broadcast_progress(ann, finished, "vi", Capabilities(markup=HTML)).text
    )
