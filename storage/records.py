"""Plain frozen dataclasses that repositories return.

Nothing outside storage/ sees an ORM object or a session: these records are values, safe to
pass between tasks and to render without lazy loads. Kinds, statuses and modes are named in
storage/kinds.py; the fields holding them stay `str` (see there why).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from storage.kinds import Audience, DigestMode
from storage.urls import shown_url


@dataclass(frozen=True)
class Feed:
    id: int
    url: str
    name: str | None
    category: str | None
    enabled: bool
    etag: str | None
    last_modified: str | None
    poll_interval: int | None
    next_poll_at: datetime | None
    last_polled_at: datetime | None
    last_success_at: datetime | None
    last_error: str | None
    consecutive_errors: int
    polls: int
    created_at: datetime
    article_count: int = 0
    alert_state: str = (
        "ok"  # what staff were last told: 'ok' or 'failing' (jobs/staff/feed_alerts.py)
    )
    alert_changed_at: datetime | None = None

    @property
    def shown_url(self) -> str:
        """The address without user:password@: what a person may see (storage/urls.py)."""
        return shown_url(self.url)

    @property
    def label(self) -> str:
        return self.name or self.shown_url


@dataclass(frozen=True)
class NewArticle:
    """What the poller hands to storage for one feed entry."""

    guid: str
    link: str | None
    title: str
    summary: str | None
    body: str | None
    image_url: str | None
    categories: tuple[str, ...]
    published_at: datetime | None


@dataclass(frozen=True)
class Article:
    id: int
    feed_id: int
    guid: str
    link: str | None
    title: str
    summary: str | None
    image_url: str | None
    categories: tuple[str, ...]
    published_at: datetime | None
    created_at: datetime
    fanned_out_at: datetime | None
    feed_name: str | None = None


@dataclass(frozen=True)
class Subscriber:
    id: int
    platform: str
    chat_id: str
    chat_type: str
    display_name: str | None
    language: str
    active: bool
    dialog_state: str | None
    dialog_ref: str | None
    created_at: datetime
    # personal data rules (storage/privacy.py): consent to keep a phone or a place, erasure
    consent_at: datetime | None = None
    phone: str | None = None
    erased_at: datetime | None = None


@dataclass(frozen=True)
class Delivery:
    id: int
    subscriber_id: int
    kind: str  # an OutboxKind
    item_id: int
    status: str  # a DeliveryStatus
    attempts: int
    next_attempt_at: datetime
    lease_until: datetime | None
    message_id: str | None
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


@dataclass(frozen=True)
class Announcement:
    id: int
    text: str
    status: str  # an AnnouncementStatus
    created_by: str | None
    origin_platform: str | None
    origin_chat_id: str | None
    recipients: int
    created_at: datetime
    queued_at: datetime | None
    progress_message_id: str | None = None
    finished_at: datetime | None = None
    # planned broadcasts: who, when, how the text is read, a photo, cancelling
    audience: str = Audience.EVERYONE  # or an Audience kind and an id: "topic:3", "feed:7"
    scheduled_at: datetime | None = None
    text_format: str = "plain"  # 'plain' | 'staff' (see jobs.render.staff_markup)
    photo_file_id: str | None = None
    cancelled_at: datetime | None = None


@dataclass(frozen=True)
class Feedback:
    id: int
    subscriber_id: int
    article_id: int | None
    text: str
    status: str  # a TicketState
    created_at: datetime
    forwarded_at: datetime | None
    forwarded_message_id: str | None
    # tickets: where the card went, the citizen's photo
    forwarded_chat_id: str | None = None
    photo_file_id: str | None = None
    answered_at: datetime | None = None
    closed_at: datetime | None = None
    forward_error: str | None = None  # the staff chat refused the card (a dead letter)
    delivery_error: str | None = None  # the latest answer could not reach the citizen
    # the case (see storage/cases.py)
    code: str | None = None  # the public code the citizen is shown: PA00042
    category_id: int | None = None
    unit_id: int | None = None
    assignee: str | None = None  # "platform:user_id" of the staff member holding it
    priority: str = "normal"
    due_at: datetime | None = None
    place_lat: float | None = None
    place_lon: float | None = None
    place_label: str | None = None
    merged_into: int | None = None
    state_reason: str | None = None
    accepted_at: datetime | None = None
    first_answered_at: datetime | None = None
    satisfaction: str | None = None
    satisfaction_at: datetime | None = None
    reopened_at: datetime | None = None
    reminded_at: datetime | None = None
    escalated_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def shown_code(self) -> str:
        """The code, or one made from the id for a row filed before codes existed."""
        return self.code or case_code(self.id)

    @property
    def has_place(self) -> bool:
        return self.place_lat is not None and self.place_lon is not None


# Cases are the feedback rows of storage/feedback.py, seen as a whole by storage/cases.py.
Case = Feedback


def case_code(case_id: int) -> str:
    """The public code of a case: 'PA' and its number, at least five digits (PA00042). Short,
    typeable on a phone keyboard without letters in the number, and stable."""
    return f"PA{case_id:05d}"


def parse_case_code(text: str) -> int | None:
    """The case number in what a citizen or staff member typed: 'PA00042', 'pa42', 'PA-42',
    '#42' or '42'; None for anything else (so a code is never a database error)."""
    raw = text.strip().upper().replace(" ", "").replace("-", "").lstrip("#")
    if raw.startswith("PA"):
        raw = raw[2:]
    if not raw.isascii() or not raw.isdigit() or len(raw) > 10:
        return None
    number = int(raw)
    return number if 1 <= number <= 2**31 - 1 else None


@dataclass(frozen=True)
class CaseEvent:
    """One line of a case's history (storage.kinds.CaseEventKind)."""

    id: int
    case_id: int
    at: datetime
    actor: str
    kind: str
    from_state: str | None = None
    to_state: str | None = None
    unit_id: int | None = None
    detail: str | None = None


@dataclass(frozen=True)
class Unit:
    id: int
    name: str
    platform: str | None
    chat_id: str | None
    is_default: bool
    created_at: datetime


@dataclass(frozen=True)
class Category:
    id: int
    name: str
    unit_id: int | None
    deadline_days: int
    position: int
    active: bool


@dataclass(frozen=True)
class CannedAnswer:
    id: int
    unit_id: int | None
    title: str
    text: str
    created_by: str | None
    created_at: datetime


@dataclass(frozen=True)
class CasePhoto:
    id: int
    case_id: int
    message_id: int | None
    platform: str
    file_ref: str | None
    media_key: str | None
    content_type: str | None = None
    size: int | None = None
    width: int | None = None
    height: int | None = None
    attempts: int = 0
    created_at: datetime | None = None
    fetched_at: datetime | None = None
    error: str | None = None
    erased_at: datetime | None = None


@dataclass(frozen=True)
class StaffMember:
    id: int
    platform: str
    user_id: str
    role: str
    added_by: str | None
    created_at: datetime


# -- subscriber choices: topics, preferences, recipients -----------------------------------------


@dataclass(frozen=True)
class Topic:
    id: int
    name: str
    categories: tuple[str, ...] = ()


@dataclass(frozen=True)
class Preferences:
    """Everything that decides what one subscriber receives, and when."""

    subscriber_id: int
    all_news: bool = True
    mode: str = DigestMode.INSTANT
    link_preview: bool = False
    digest_times: tuple[str, ...] = ("07:00", "19:00")
    quiet_hours: str | None = None  # "HH:MM-HH:MM", "off", or None: the operator's default
    topics: frozenset[int] = frozenset()
    feeds: frozenset[int] = frozenset()
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()


@dataclass(frozen=True)
class Recipient:
    """An active subscriber with their preferences, as fan-out sees them."""

    subscriber: Subscriber
    preferences: Preferences


# -- staff tools: ticket messages, answers, audit, broadcast summaries ---------------------------


@dataclass(frozen=True)
class FeedbackMessage:
    """A staff answer or a citizen's reply to one, inside a ticket."""

    id: int
    feedback_id: int
    author: str  # an Author
    staff_user: str | None
    text: str
    created_at: datetime
    photo_file_id: str | None = None
    forwarded_at: datetime | None = None
    forwarded_chat_id: str | None = None
    forwarded_message_id: str | None = None
    forward_error: str | None = None
    delivery_error: str | None = None
    delivery_noticed_at: datetime | None = None


@dataclass(frozen=True)
class AnswerContext:
    """What a citizen's answer message needs: the answer, its ticket, the words it answers."""

    answer: FeedbackMessage
    ticket: Feedback
    quoted: str


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    target: str | None = None
    detail: str | None = None


@dataclass(frozen=True)
class BroadcastSummary:
    """One line of /broadcasts: the announcement and its outbox counts by status."""

    announcement: Announcement
    urgent: bool = False
    counts: tuple[tuple[str, int], ...] = ()

    def count(self, status: str) -> int:
        return dict(self.counts).get(status, 0)
