"""The vocabularies in storage/kinds.py are database values: their strings must not change."""

from __future__ import annotations

from storage.kinds import (
    AnnouncementStatus,
    Audience,
    Author,
    DeliveryStatus,
    DigestMode,
    FeedbackRefusal,
    OutboxKind,
    RejectReason,
    TicketState,
)


def test_each_vocabulary_keeps_its_stored_strings() -> None:
    """Renaming a value here would strand every row written with the old one."""
    assert {k.value for k in OutboxKind} == {
        "article",
        "digest",
        "announcement",
        "answer",
        "case_notice",
        "case_reminder",
    }
    assert {s.value for s in DeliveryStatus} == {
        "pending",
        "sending",
        "sent",
        "dead",
        "blocked",
        "cancelled",
        "held",
    }
    assert {m.value for m in DigestMode} == {"instant", "digest"}
    assert {a.value for a in Audience} == {"all", "topic", "feed"}
    assert {s.value for s in AnnouncementStatus} == {"draft", "scheduled", "queued", "cancelled"}
    assert {s.value for s in TicketState} == {
        "new",
        "accepted",
        "in_progress",
        "answered",
        "closed",
        "not_responsible",
        "duplicate",
    }
    assert {a.value for a in Author} == {"citizen", "staff", "note"}
    assert {r.value for r in FeedbackRefusal} == {"banned", "rate_limited"}
    assert {r.value for r in RejectReason} == {"parse", "too_long", "window", "other"}


def test_a_member_is_its_string() -> None:
    """Plain strings from a column, JSON and f-strings all see the member as its value."""
    assert DeliveryStatus.SENT == "sent" and f"{OutboxKind.DIGEST}" == "digest"
    assert {"pending": 3}.get(DeliveryStatus.PENDING) == 3
