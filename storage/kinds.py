"""The closed vocabularies the database and the pipeline share, each spelled once.

They are `StrEnum`s: a member is equal to its string and is stored as that string, so rows
written before these types existed read back unchanged, and a value read from a column (a
plain `str`) compares equal to the member. Record fields read from the database stay `str`
for that reason: an unexpected value (a row written by a newer version) is logged and skipped
by its reader, never a crash while loading the record.
"""

from __future__ import annotations

from enum import StrEnum


class OutboxKind(StrEnum):
    """What an outbox row (`deliveries.kind`) carries; its `item_id` points into that table."""

    ARTICLE = "article"  # articles.id: pushed to one subscriber right away
    DIGEST = "digest"  # digests.id: several articles gathered for one subscriber
    ANNOUNCEMENT = "announcement"  # announcements.id: a staff broadcast
    ANSWER = "answer"  # feedback_messages.id: a staff answer to a citizen
    CASE_NOTICE = "case_notice"  # case_events.id: a case's change of state, told to its citizen
    CASE_REMINDER = "case_reminder"  # case_events.id: a deadline reminder or escalation to staff


class DeliveryStatus(StrEnum):
    """Where one outbox row stands (`deliveries.status`)."""

    PENDING = "pending"  # waiting for its next attempt
    SENDING = "sending"  # leased by a sender
    SENT = "sent"
    DEAD = "dead"  # given up on: retries exhausted or refused by the platform
    BLOCKED = "blocked"  # the recipient is gone (blocked the bot, deleted the chat)
    CANCELLED = "cancelled"  # withdrawn before sending (unsubscribed, broadcast cancelled...)
    HELD = "held"  # Zalo OA: outside the 7-day window; released when the citizen next writes


class DigestMode(StrEnum):
    """How a subscriber takes articles (`preferences.mode`)."""

    INSTANT = "instant"  # one push per article
    DIGEST = "digest"  # gathered, sent at the chosen digest times


class Audience(StrEnum):
    """The kind of a broadcast's audience (`announcements.audience` is "all", or this kind and
    an id: "topic:3", "feed:7")."""

    EVERYONE = "all"
    TOPIC = "topic"
    FEED = "feed"


class AnnouncementStatus(StrEnum):
    """Where a broadcast stands (`announcements.status`)."""

    DRAFT = "draft"
    SCHEDULED = "scheduled"  # waiting for its time; queued by the scheduler
    QUEUED = "queued"  # its outbox rows exist
    CANCELLED = "cancelled"


class TicketState(StrEnum):
    """Where a citizen's case stands (`feedback.status`): mới → đã tiếp nhận → đang xử lý →
    đã trả lời → đã đóng, or closed as «không thuộc thẩm quyền» or «trùng» (merged)."""

    NEW = "new"  # filed, no unit has taken it yet
    ACCEPTED = "accepted"  # a unit took it (đã tiếp nhận)
    IN_PROGRESS = "in_progress"  # being handled; also after the citizen wrote again
    ANSWERED = "answered"  # staff answered (đã trả lời)
    CLOSED = "closed"  # đã đóng
    NOT_RESPONSIBLE = "not_responsible"  # closed: not this office's matter (with where to go)
    DUPLICATE = "duplicate"  # merged into another case (`merged_into`)


# A case still owed work: reminders, escalation and the staff queue count only these.
OPEN_STATES: frozenset[str] = frozenset(
    {TicketState.NEW, TicketState.ACCEPTED, TicketState.IN_PROGRESS}
)
# A case that is over: a citizen's new words open a new case or reopen it (satisfaction).
FINAL_STATES: frozenset[str] = frozenset(
    {TicketState.CLOSED, TicketState.NOT_RESPONSIBLE, TicketState.DUPLICATE}
)


class CaseEventKind(StrEnum):
    """One line of a case's history (`case_events.kind`)."""

    CREATED = "created"
    ACCEPTED = "accepted"  # a unit member took it (assignee set)
    ASSIGNED = "assigned"  # given to someone else
    STARTED = "started"  # moved to đang xử lý
    ANSWERED = "answered"
    TRANSFERRED = "transferred"  # to another unit (unit_id = the new unit, detail = why)
    MERGED = "merged"  # into another case (detail = its code)
    NOT_RESPONSIBLE = "not_responsible"  # detail = the reason and where to go instead
    CLOSED = "closed"
    REOPENED = "reopened"  # the citizen was not satisfied, or wrote again
    SATISFACTION = "satisfaction"  # detail = 'satisfied' | 'unsatisfied'
    CITIZEN_WROTE = "citizen_wrote"  # a later message from the citizen
    REMINDER = "reminder"  # the due time is near (told to the unit's chat)
    ESCALATION = "escalation"  # overdue (told to admins)
    ERASED = "erased"  # the citizen's personal data was erased (/xoadulieu)


class Satisfaction(StrEnum):
    """The citizen's one-tap answer after a case is closed (`feedback.satisfaction`)."""

    SATISFIED = "satisfied"
    UNSATISFIED = "unsatisfied"


class Priority(StrEnum):
    """`feedback.priority`."""

    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class Author(StrEnum):
    """Who wrote a message inside a feedback ticket (`feedback_messages.author`)."""

    CITIZEN = "citizen"
    STAFF = "staff"
    NOTE = "note"  # an internal note between staff: never sent to the citizen, never shown them


class FeedbackRefusal(StrEnum):
    """Why a citizen's feedback was not filed."""

    BANNED = "banned"
    RATE_LIMITED = "rate_limited"


class RejectReason(StrEnum):
    """How a platform refused a message (`jobs.channel.Rejected.reason`): it says how the
    deliverer falls back."""

    PARSE = "parse"  # the markup did not parse: resend as plain text
    TOO_LONG = "too_long"  # split into smaller parts
    WINDOW = "window"  # Zalo OA: outside the consultation window; cancel, do not retry
    OTHER = "other"  # anything else: dead-letter
