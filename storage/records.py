"""Plain frozen dataclasses that repositories return.

Nothing outside storage/ sees an ORM object or a session: these records are values, safe to
pass between tasks and to render without lazy loads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


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
    alert_state: str = "ok"  # what staff were last told: 'ok' or 'failing' (jobs/health.py)
    alert_changed_at: datetime | None = None

    @property
    def label(self) -> str:
        return self.name or self.url


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


@dataclass(frozen=True)
class Delivery:
    id: int
    subscriber_id: int
    kind: str
    item_id: int
    status: str
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
    status: str
    created_by: str | None
    origin_platform: str | None
    origin_chat_id: str | None
    recipients: int
    created_at: datetime
    queued_at: datetime | None
    progress_message_id: str | None = None
    finished_at: datetime | None = None


@dataclass(frozen=True)
class Feedback:
    id: int
    subscriber_id: int
    article_id: int | None
    text: str
    status: str
    created_at: datetime
    forwarded_at: datetime | None
    forwarded_message_id: str | None


@dataclass(frozen=True)
class StaffMember:
    id: int
    platform: str
    user_id: str
    role: str
    added_by: str | None
    created_at: datetime
