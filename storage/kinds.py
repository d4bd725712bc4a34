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


class DeliveryStatus(StrEnum):
    """Where one outbox row stands (`deliveries.status`)."""

    PENDING = "pending"  # waiting for its next attempt
    SENDING = "sending"  # leased by a sender
    SENT = "sent"
    DEAD = "dead"  # given up on: retries exhausted or refused by the platform
    BLOCKED = "blocked"  # the recipient is gone (blocked the bot, deleted the chat)
    CANCELLED = "cancelled"  # withdrawn before sending (unsubscribed, broadcast cancelled...)


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
    """Where a citizen's feedback stands (`feedback.status`)."""

    OPEN = "open"
    ANSWERED = "answered"
    CLOSED = "closed"


class Author(StrEnum):
    """Who wrote a message inside a feedback ticket (`feedback_messages.author`)."""

    CITIZEN = "citizen"
    STAFF = "staff"


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
