"""staff tools: ticket threads, answers, bans, audit log, composed and scheduled broadcasts

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.models import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("feedback") as batch:
        batch.add_column(sa.Column("forwarded_chat_id", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("photo_file_id", sa.String(length=300), nullable=True))
        batch.add_column(sa.Column("answered_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("closed_at", UTCDateTime(), nullable=True))
    with op.batch_alter_table("announcements") as batch:
        batch.add_column(
            sa.Column("audience", sa.String(length=50), nullable=False, server_default="all")
        )
        batch.add_column(sa.Column("scheduled_at", UTCDateTime(), nullable=True))
        batch.add_column(
            sa.Column("text_format", sa.String(length=10), nullable=False, server_default="plain")
        )
        batch.add_column(sa.Column("photo_file_id", sa.String(length=300), nullable=True))
        batch.add_column(sa.Column("cancelled_by", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("cancelled_at", UTCDateTime(), nullable=True))
        batch.create_index("ix_announcements_scheduled_at", ["scheduled_at"])
    op.create_table(
        "feedback_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("feedback_id", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(length=10), nullable=False),
        sa.Column("staff_user", sa.String(length=100), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("photo_file_id", sa.String(length=300), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("forwarded_at", UTCDateTime(), nullable=True),
        sa.Column("forwarded_chat_id", sa.String(length=100), nullable=True),
        sa.Column("forwarded_message_id", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(
            ["feedback_id"],
            ["feedback.id"],
            name="fk_feedback_messages_feedback_id_feedback",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_feedback_messages"),
    )
    op.create_index("ix_feedback_messages_feedback_id", "feedback_messages", ["feedback_id"])
    op.create_index("ix_feedback_messages_created_at", "feedback_messages", ["created_at"])
    op.create_table(
        "citizen_bans",
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("banned_by", sa.String(length=100), nullable=False),
        sa.Column("banned_at", UTCDateTime(), nullable=False),
        sa.Column("ticket", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name="fk_citizen_bans_subscriber_id_subscribers",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("subscriber_id", name="pk_citizen_bans"),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=50), nullable=False),
        sa.Column("target", sa.String(length=100), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_at", table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_table("citizen_bans")
    op.drop_index("ix_feedback_messages_created_at", table_name="feedback_messages")
    op.drop_index("ix_feedback_messages_feedback_id", table_name="feedback_messages")
    op.drop_table("feedback_messages")
    with op.batch_alter_table("announcements") as batch:
        batch.drop_index("ix_announcements_scheduled_at")
        for column in (
            "cancelled_at",
            "cancelled_by",
            "photo_file_id",
            "text_format",
            "scheduled_at",
            "audience",
        ):
            batch.drop_column(column)
    with op.batch_alter_table("feedback") as batch:
        for column in ("closed_at", "answered_at", "photo_file_id", "forwarded_chat_id"):
            batch.drop_column(column)
