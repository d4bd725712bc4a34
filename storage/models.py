"""SQLAlchemy 2 table definitions.

ORM classes stay inside storage/: repositories turn rows into the frozen dataclasses of
``storage.records`` before anything leaves this package. Every timestamp is stored as naive
UTC through ``UTCDateTime`` so SQLite (no time zones) and PostgreSQL behave the same.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    func,
    literal_column,
    text,
    true,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from storage.kinds import AnnouncementStatus, Audience, DeliveryStatus, DigestMode, TicketState

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in Python, naive UTC in the database (portable across dialects)."""

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use aware UTC")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # SQLite raw text, e.g. from a hand-written query
            value = datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class FeedRow(Base):
    __tablename__ = "feeds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(String(2000), unique=True)
    name: Mapped[str | None] = mapped_column(String(300))
    category: Mapped[str | None] = mapped_column(String(200))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    etag: Mapped[str | None] = mapped_column(String(500))
    last_modified: Mapped[str | None] = mapped_column(String(200))
    poll_interval: Mapped[int | None] = mapped_column(Integer)
    next_poll_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_polled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    consecutive_errors: Mapped[int] = mapped_column(Integer, default=0)
    polls: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # What staff were last told about this feed ('ok' | 'failing') and when: the health job
    # sends one message per change and records it here, so a restart never repeats or skips one.
    alert_state: Mapped[str] = mapped_column(String(20), default="ok", server_default="ok")
    alert_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ArticleRow(Base):
    __tablename__ = "articles"
    __table_args__ = (
        UniqueConstraint("feed_id", "guid"),
        # One article per link across feeds (see migration 0003).
        Index(
            "uq_articles_link",
            "link",
            unique=True,
            sqlite_where=text("link IS NOT NULL"),
            postgresql_where=text("link IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    feed_id: Mapped[int] = mapped_column(ForeignKey("feeds.id", ondelete="CASCADE"))
    guid: Mapped[str] = mapped_column(String(1000))
    link: Mapped[str | None] = mapped_column(String(2000))
    title: Mapped[str] = mapped_column(Text)
    summary: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str | None] = mapped_column(Text)
    image_url: Mapped[str | None] = mapped_column(String(2000))
    categories: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # NULL until the article has been fanned out to subscribers (or marked as seen backlog).
    fanned_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)


class SubscriberRow(Base):
    __tablename__ = "subscribers"
    __table_args__ = (UniqueConstraint("platform", "chat_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(20))
    chat_id: Mapped[str] = mapped_column(String(100))
    chat_type: Mapped[str] = mapped_column(String(20), default="private")
    display_name: Mapped[str | None] = mapped_column(String(300))
    language: Mapped[str] = mapped_column(String(10), default="vi")
    active: Mapped[bool] = mapped_column(Boolean, default=True, index=True)
    deactivated_reason: Mapped[str | None] = mapped_column(String(300))
    # A small, persistent dialog state ("waiting for feedback on article 12") so a restart
    # between the button press and the citizen's text loses nothing.
    dialog_state: Mapped[str | None] = mapped_column(String(50))
    dialog_ref: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Personal data kept only with consent (Decree 13/2023/NĐ-CP): when the citizen agreed to
    # a phone number or a place being stored, the phone itself, and when /xoadulieu erased it.
    consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    phone: Mapped[str | None] = mapped_column(String(30))
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PreferenceRow(Base):
    __tablename__ = "preferences"

    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True
    )
    all_news: Mapped[bool] = mapped_column(Boolean, default=True)
    mode: Mapped[str] = mapped_column(String(20), default=DigestMode.INSTANT)
    link_preview: Mapped[bool] = mapped_column(Boolean, default=False)
    # Digest times as "HH:MM,HH:MM" in Asia/Ho_Chi_Minh; used when mode is 'digest'.
    digest_times: Mapped[str] = mapped_column(
        String(100), default="07:00,19:00", server_default="07:00,19:00"
    )
    # "HH:MM-HH:MM" (local time), "off", or NULL: the operator's default (jobs/route/digest.py).
    quiet_hours: Mapped[str | None] = mapped_column(String(20))


class DeliveryRow(Base):
    """The outbox: one row per (recipient, item), whatever the item is."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("subscriber_id", "kind", "item_id"),
        Index("ix_deliveries_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    item_id: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default=DeliveryStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    message_id: Mapped[str | None] = mapped_column(String(100))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AnnouncementRow(Base):
    __tablename__ = "announcements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default=AnnouncementStatus.DRAFT)
    created_by: Mapped[str | None] = mapped_column(String(100))
    origin_platform: Mapped[str | None] = mapped_column(String(20))
    origin_chat_id: Mapped[str | None] = mapped_column(String(100))
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The staff member's message that shows this broadcast's progress (edited as it goes).
    progress_message_id: Mapped[str | None] = mapped_column(String(100))
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Staff marked it urgent: it goes through subscribers' quiet hours.
    urgent: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Who receives it ('all', 'topic:ID', 'feed:ID'), when ('scheduled' until then),
    # how its text is read ('plain' is escaped as is; 'staff' maps *bold*, _italic_ and
    # [links](https://…) to safe HTML), an optional photo (platform file id), who cancelled it.
    audience: Mapped[str] = mapped_column(
        String(50), default=Audience.EVERYONE, server_default="all"
    )
    scheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    text_format: Mapped[str] = mapped_column(String(10), default="plain", server_default="plain")
    photo_file_id: Mapped[str | None] = mapped_column(String(300))
    cancelled_by: Mapped[str | None] = mapped_column(String(100))
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class FeedbackRow(Base):
    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    article_id: Mapped[int | None] = mapped_column(ForeignKey("articles.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default=TicketState.NEW)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    forwarded_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    forwarded_message_id: Mapped[str | None] = mapped_column(String(100))
    # Where the card went (message ids are per chat), a photo the citizen sent (platform
    # file id, nothing downloaded), and when staff last answered or closed the ticket.
    forwarded_chat_id: Mapped[str | None] = mapped_column(String(100))
    photo_file_id: Mapped[str | None] = mapped_column(String(300))
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Why the card could not be posted to the staff chat (a dead letter, forwarded_at set so it
    # blocks no later card), and why the latest answer could not reach the citizen.
    forward_error: Mapped[str | None] = mapped_column(String(500))
    delivery_error: Mapped[str | None] = mapped_column(String(500))
    # -- the case (migration 0011): what the citizen is shown (code), where it is routed
    # (category → unit), who holds it, its deadline in working time, the place, the case it
    # was merged into, why it was closed as not responsible, the citizen's satisfaction, and
    # when reminders and escalations went out (each once: a conditional UPDATE claims them).
    code: Mapped[str | None] = mapped_column(String(20), unique=True)
    category_id: Mapped[int | None] = mapped_column(
        ForeignKey("categories.id", ondelete="SET NULL"), index=True
    )
    unit_id: Mapped[int | None] = mapped_column(
        ForeignKey("units.id", ondelete="SET NULL"), index=True
    )
    assignee: Mapped[str | None] = mapped_column(String(100))  # "platform:user_id"
    priority: Mapped[str] = mapped_column(String(10), default="normal", server_default="normal")
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    place_lat: Mapped[float | None] = mapped_column(Float)
    place_lon: Mapped[float | None] = mapped_column(Float)
    place_label: Mapped[str | None] = mapped_column(String(300))
    merged_into: Mapped[int | None] = mapped_column(ForeignKey("feedback.id", ondelete="SET NULL"))
    state_reason: Mapped[str | None] = mapped_column(Text)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    satisfaction: Mapped[str | None] = mapped_column(String(20))
    satisfaction_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reopened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class StaffRow(Base):
    __tablename__ = "staff"
    __table_args__ = (UniqueConstraint("platform", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(20))
    user_id: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20), default="editor")
    added_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class KeyValueRow(Base):
    """Small persistent state of the running app (e.g. a platform's update cursor)."""

    __tablename__ = "app_state"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ZaloSeenRow(Base):
    """Zalo update/message ids already handled: Zalo's getUpdates has no offset and webhooks are
    retried, so the same message can arrive again and must be recognised across restarts."""

    __tablename__ = "zalo_seen"

    platform: Mapped[str] = mapped_column(String(20), primary_key=True)
    message_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class DeadUpdateRow(Base):
    """An incoming update (a citizen's message, a press) whose handling kept failing: kept with
    its raw content so operators can see and replay what would otherwise be lost."""

    __tablename__ = "dead_updates"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    platform: Mapped[str] = mapped_column(String(20))
    chat_id: Mapped[str | None] = mapped_column(String(100))
    update_id: Mapped[str | None] = mapped_column(String(100))
    content: Mapped[str] = mapped_column(Text)  # the update as JSON
    error: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class ChoiceMenuRow(Base):
    """The numbered text menu last shown to one person in a chat of a platform without buttons:
    their reply "1" becomes a press of the first option's callback data, after a restart too.
    Keyed by the person too ('' for menus nobody asked for, such as pushes), so in a group one
    member's reply never takes another member's menu."""

    __tablename__ = "choice_menus"

    platform: Mapped[str] = mapped_column(String(20), primary_key=True)
    chat_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(100), primary_key=True, default="")
    message_id: Mapped[str | None] = mapped_column(String(100))
    options: Mapped[str] = mapped_column(Text)  # JSON list of callback data, option 1 first
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class UserDialogStateRow(Base):
    """One person's step in one chat's conversation (waiting for feedback text, answering a
    ticket, composing a broadcast). In a group every member has their own, so two staff
    answering different tickets, or a member typing /huy, never touch another's step."""

    __tablename__ = "user_dialog_states"

    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    state: Mapped[str] = mapped_column(String(50))
    ref: Mapped[str | None] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ZaloContactRow(Base):
    """When a Zalo OA user last wrote to (or followed) the OA: consultation messages may only
    be sent within 7 days of it."""

    __tablename__ = "zalo_contacts"

    platform: Mapped[str] = mapped_column(String(20), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    last_interaction_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ZaloOATokenRow(Base):
    """The OA's access/refresh token pair (one row per OA app). `generation` is a compare-and-set
    counter: a refresh result is stored only over the generation it was made from, and
    `refresh_started_at` marks a refresh in flight (a crash leaves it set for the next start)."""

    __tablename__ = "zalo_oa_tokens"

    app_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    access_token: Mapped[str | None] = mapped_column(Text)
    refresh_token: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    generation: Mapped[int] = mapped_column(Integer, default=0)
    seed_fingerprint: Mapped[str | None] = mapped_column(String(64))
    refresh_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# -- subscriber choices, topics, digests, search --------------------------------------------------


class TopicRow(Base):
    """A short operator-made list of topics; feed categories map onto them (TopicCategoryRow)."""

    __tablename__ = "topics"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TopicCategoryRow(Base):
    """One feed category (compared case- and diacritic-folded) belongs to one topic."""

    __tablename__ = "topic_categories"

    category: Mapped[str] = mapped_column(String(200), primary_key=True)  # folded
    topic_id: Mapped[int] = mapped_column(ForeignKey("topics.id", ondelete="CASCADE"), index=True)


class SubscriberTopicRow(Base):
    __tablename__ = "subscriber_topics"

    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True
    )
    topic_id: Mapped[int] = mapped_column(
        ForeignKey("topics.id", ondelete="CASCADE"), primary_key=True
    )


class SubscriberFeedRow(Base):
    __tablename__ = "subscriber_feeds"

    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True
    )
    feed_id: Mapped[int] = mapped_column(
        ForeignKey("feeds.id", ondelete="CASCADE"), primary_key=True
    )


class KeywordRow(Base):
    """An include or exclude word of one subscriber, as typed (matching folds it)."""

    __tablename__ = "keywords"
    __table_args__ = (UniqueConstraint("subscriber_id", "word"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    word: Mapped[str] = mapped_column(String(100))
    exclude: Mapped[bool] = mapped_column(Boolean, default=False)


class DigestRow(Base):
    """One digest message: the outbox row (kind 'digest') points here."""

    __tablename__ = "digests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DigestItemRow(Base):
    """An article waiting for (digest_id NULL) or listed in one subscriber's digest."""

    __tablename__ = "digest_items"

    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True
    )
    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    digest_id: Mapped[int | None] = mapped_column(
        ForeignKey("digests.id", ondelete="SET NULL"), index=True
    )


class ArticleSearchRow(Base):
    """A diacritic-folded copy of title + summary: what full-text search indexes.

    Folding happens in Python (jobs/match.fold: "đ" becomes "d", marks go), so SQLite FTS5 and
    PostgreSQL's 'simple' text search see the same words and neither needs `unaccent`.
    """

    __tablename__ = "article_search"
    __table_args__ = (
        # PostgreSQL's full-text index (migration 0005); SQLite uses an FTS5 table instead.
        Index(
            "ix_article_search_fts",
            func.to_tsvector(literal_column("'simple'"), text("folded")),
            postgresql_using="gin",
        ).ddl_if(dialect="postgresql"),
    )

    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    folded: Mapped[str] = mapped_column(Text)


# -- staff tools -------------------------------------------------------------------------------


class FeedbackMessageRow(Base):
    """One message in a ticket after the first: a staff answer (sent to the citizen through the
    outbox, kind 'answer', item_id = this id) or the citizen's reply to an answer (forwarded to
    the staff chat as a card, like the first feedback)."""

    __tablename__ = "feedback_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    feedback_id: Mapped[int] = mapped_column(
        ForeignKey("feedback.id", ondelete="CASCADE"), index=True
    )
    author: Mapped[str] = mapped_column(String(10))  # 'staff' | 'citizen' | 'note'
    staff_user: Mapped[str | None] = mapped_column(String(100))  # "platform:user_id"
    text: Mapped[str] = mapped_column(Text)
    photo_file_id: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    forwarded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    forwarded_chat_id: Mapped[str | None] = mapped_column(String(100))
    forwarded_message_id: Mapped[str | None] = mapped_column(String(100))
    # A reply card the staff chat refused (dead letter); an answer the citizen could not get
    # (blocked the bot, out of the platform's window) and when staff were told so.
    forward_error: Mapped[str | None] = mapped_column(String(500))
    delivery_error: Mapped[str | None] = mapped_column(String(500))
    delivery_noticed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CitizenBanRow(Base):
    """A citizen whose feedback is refused; kept in the database so a restart never lifts it."""

    __tablename__ = "citizen_bans"

    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True
    )
    banned_by: Mapped[str] = mapped_column(String(100))
    banned_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ticket: Mapped[int | None] = mapped_column(Integer)  # the feedback that led to it


class AuditRow(Base):
    """Who did what and when: every staff action, from chat or the CLI."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(100))  # "telegram:123", "cli"
    action: Mapped[str] = mapped_column(String(50))  # e.g. "broadcast.queue", "feedback.answer"
    target: Mapped[str | None] = mapped_column(String(100))  # e.g. "announcement:12"
    detail: Mapped[str | None] = mapped_column(Text)


# -- cases: units, categories, history, photos (migration 0011) ------------------------------


class UnitRow(Base):
    """A responsible unit (đơn vị xử lý): the staff chat its cases go to and its members. A
    unit without a chat posts to the configured staff chat, so a deployment that sets up no
    units keeps one default unit that is today's staff chat."""

    __tablename__ = "units"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    platform: Mapped[str | None] = mapped_column(String(20))
    chat_id: Mapped[str | None] = mapped_column(String(100))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class UnitMemberRow(Base):
    __tablename__ = "unit_members"

    unit_id: Mapped[int] = mapped_column(
        ForeignKey("units.id", ondelete="CASCADE"), primary_key=True
    )
    staff_id: Mapped[int] = mapped_column(
        ForeignKey("staff.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CategoryRow(Base):
    """A category (lĩnh vực) routes cases to a unit with a deadline in working days."""

    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="SET NULL"))
    deadline_days: Mapped[int] = mapped_column(Integer, default=10, server_default="10")
    position: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CannedAnswerRow(Base):
    """An answer a unit keeps for common cases; placeholders such as {ma_phan_anh}."""

    __tablename__ = "canned_answers"
    __table_args__ = (UniqueConstraint("unit_id", "title"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CaseEventRow(Base):
    """One line of a case's history: who changed what, when and why. Events the citizen is
    told about go out through the outbox (kind 'case_notice', item_id = this id); reminders
    and escalations to staff likewise (kind 'case_reminder')."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("feedback.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(100))  # "telegram:123", "citizen", "system", "cli"
    kind: Mapped[str] = mapped_column(String(30))
    from_state: Mapped[str | None] = mapped_column(String(20))
    to_state: Mapped[str | None] = mapped_column(String(20))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="SET NULL"))
    detail: Mapped[str | None] = mapped_column(Text)


class CasePhotoRow(Base):
    """A photo of a case: the platform's reference first, our own re-encoded copy (EXIF
    stripped) once fetched into the media store."""

    __tablename__ = "case_photos"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("feedback.id", ondelete="CASCADE"), index=True)
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("feedback_messages.id", ondelete="SET NULL")
    )
    platform: Mapped[str] = mapped_column(String(20))
    file_ref: Mapped[str | None] = mapped_column(String(1000))
    media_key: Mapped[str | None] = mapped_column(String(300))
    content_type: Mapped[str | None] = mapped_column(String(50))
    size: Mapped[int | None] = mapped_column(Integer)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(String(300))
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebLoginTokenRow(Base):
    """A one-time sign-in link for the web console (bot/web): only its hash is kept, it is bound
    to one staff identity, expires after minutes and is used at most once."""

    __tablename__ = "web_login_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    platform: Mapped[str] = mapped_column(String(20))
    user_id: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebSessionRow(Base):
    """A signed-in browser: the cookie's hash, who, the role it was opened with (a changed role
    ends it), idle and absolute expiry, and when it was ended (logout, removal, demotion)."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    platform: Mapped[str] = mapped_column(String(20))
    user_id: Mapped[str] = mapped_column(String(100), index=True)
    role: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# -- the console's case queue (migration 0018): keyset pages under common filters, and the
# diacritic-free full-text index (PostgreSQL; `bantin_fold` is created by the migration).
Index("ix_feedback_status_id", FeedbackRow.status, FeedbackRow.id)
Index("ix_feedback_unit_id_id", FeedbackRow.unit_id, FeedbackRow.id)
Index("ix_feedback_assignee_id", FeedbackRow.assignee, FeedbackRow.id)
Index("ix_feedback_created_at", FeedbackRow.created_at)
Index(
    "ix_feedback_open_due",
    FeedbackRow.due_at,
    FeedbackRow.id,
    postgresql_where=text("status IN ('accepted', 'in_progress', 'new')"),
    sqlite_where=text("status IN ('accepted', 'in_progress', 'new')"),
)
Index(
    "ix_feedback_search",
    func.to_tsvector(literal_column("'simple'"), func.bantin_fold(FeedbackRow.__table__.c.text)),
    postgresql_using="gin",
    _table=FeedbackRow.__table__,  # type: ignore[arg-type]  # the expression hides the column
).ddl_if(dialect="postgresql")
