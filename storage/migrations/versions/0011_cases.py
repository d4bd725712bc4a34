"""cases: citizens' feedback becomes case handling — units, categories, canned answers,
history, photos, public codes, deadlines, places, satisfaction, consent

Every ticket becomes a case: 'open' becomes 'new' (never answered) or 'in_progress' (answered,
then the citizen wrote again), 'answered' and 'closed' stay; each gets its public code, the
default unit, its first-answer time and a 'created' line of history. Nothing is dropped.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 08:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.models import UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "units",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("platform", sa.String(length=20), nullable=True),
        sa.Column("chat_id", sa.String(length=100), nullable=True),
        sa.Column("is_default", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_units")),
        sa.UniqueConstraint("name", name=op.f("uq_units_name")),
    )
    op.create_table(
        "unit_members",
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_unit_members_unit_id_units"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_unit_members_staff_id_staff"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("unit_id", "staff_id", name=op.f("pk_unit_members")),
    )
    op.create_table(
        "categories",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("deadline_days", sa.Integer(), server_default="10", nullable=False),
        sa.Column("position", sa.Integer(), server_default="0", nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_categories_unit_id_units"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_categories")),
        sa.UniqueConstraint("name", name=op.f("uq_categories_name")),
    )
    op.create_table(
        "canned_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_canned_answers_unit_id_units"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_canned_answers")),
        sa.UniqueConstraint("unit_id", "title", name=op.f("uq_canned_answers_unit_id_title")),
    )
    # SQLite rebuilds `feedback` below (new constraints), and dropping the old table with
    # foreign keys on deletes its rows first, cascading to feedback_messages: keep them aside.
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        op.execute(
            "CREATE TEMPORARY TABLE keep_feedback_messages AS SELECT * FROM feedback_messages"
        )
    with op.batch_alter_table("feedback") as batch:
        batch.add_column(sa.Column("code", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("category_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("unit_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("assignee", sa.String(length=100), nullable=True))
        batch.add_column(
            sa.Column("priority", sa.String(length=10), server_default="normal", nullable=False)
        )
        batch.add_column(sa.Column("due_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("place_lat", sa.Float(), nullable=True))
        batch.add_column(sa.Column("place_lon", sa.Float(), nullable=True))
        batch.add_column(sa.Column("place_label", sa.String(length=300), nullable=True))
        batch.add_column(sa.Column("merged_into", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("state_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("accepted_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("first_answered_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("satisfaction", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("satisfaction_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("reopened_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("reminded_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("escalated_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("updated_at", UTCDateTime(), nullable=True))
        batch.create_unique_constraint(op.f("uq_feedback_code"), ["code"])
        batch.create_index(op.f("ix_feedback_category_id"), ["category_id"])
        batch.create_index(op.f("ix_feedback_unit_id"), ["unit_id"])
        batch.create_index(op.f("ix_feedback_due_at"), ["due_at"])
        batch.create_foreign_key(
            op.f("fk_feedback_category_id_categories"), "categories", ["category_id"], ["id"],
            ondelete="SET NULL",
        )
        batch.create_foreign_key(
            op.f("fk_feedback_unit_id_units"), "units", ["unit_id"], ["id"], ondelete="SET NULL"
        )
        batch.create_foreign_key(
            op.f("fk_feedback_merged_into_feedback"), "feedback", ["merged_into"], ["id"],
            ondelete="SET NULL",
        )
    if sqlite:
        op.execute(
            "INSERT INTO feedback_messages SELECT * FROM keep_feedback_messages "
            "WHERE id NOT IN (SELECT id FROM feedback_messages)"
        )
        op.execute("DROP TABLE keep_feedback_messages")
    with op.batch_alter_table("subscribers") as batch:
        batch.add_column(sa.Column("consent_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("phone", sa.String(length=30), nullable=True))
        batch.add_column(sa.Column("erased_at", UTCDateTime(), nullable=True))
    op.create_table(
        "case_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("from_state", sa.String(length=20), nullable=True),
        sa.Column("to_state", sa.String(length=20), nullable=True),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["feedback.id"], name=op.f("fk_case_events_case_id_feedback"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_case_events_unit_id_units"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_events")),
    )
    op.create_index(op.f("ix_case_events_case_id"), "case_events", ["case_id"])
    op.create_index(op.f("ix_case_events_at"), "case_events", ["at"])
    op.create_table(
        "case_photos",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("platform", sa.String(length=20), nullable=False),
        sa.Column("file_ref", sa.String(length=1000), nullable=True),
        sa.Column("media_key", sa.String(length=300), nullable=True),
        sa.Column("content_type", sa.String(length=50), nullable=True),
        sa.Column("size", sa.Integer(), nullable=True),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("fetched_at", UTCDateTime(), nullable=True),
        sa.Column("error", sa.String(length=300), nullable=True),
        sa.Column("erased_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["feedback.id"], name=op.f("fk_case_photos_case_id_feedback"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["message_id"], ["feedback_messages.id"],
            name=op.f("fk_case_photos_message_id_feedback_messages"), ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_photos")),
    )
    op.create_index(op.f("ix_case_photos_case_id"), "case_photos", ["case_id"])

    # -- every ticket becomes a case ----------------------------------------------------------
    op.execute(
        "INSERT INTO units (name, platform, chat_id, is_default, created_at) "
        "VALUES ('Mặc định', NULL, NULL, true, CURRENT_TIMESTAMP)"
    )
    op.execute(
        "UPDATE feedback SET first_answered_at = (SELECT MIN(m.created_at) FROM "
        "feedback_messages m WHERE m.feedback_id = feedback.id AND m.author = 'staff')"
    )
    op.execute(
        "UPDATE feedback SET status = CASE WHEN first_answered_at IS NULL THEN 'new' "
        "ELSE 'in_progress' END WHERE status = 'open'"
    )
    op.execute("UPDATE feedback SET unit_id = (SELECT id FROM units WHERE is_default = true)")
    # The public code: 'PA' and the number, at least five digits (PA00042).
    if op.get_bind().dialect.name == "postgresql":
        op.execute("UPDATE feedback SET code = 'PA' || lpad(id::text, 5, '0')")
    else:
        op.execute("UPDATE feedback SET code = 'PA' || printf('%05d', id)")
    op.execute(
        "INSERT INTO case_events (case_id, at, actor, kind, from_state, to_state) "
        "SELECT id, created_at, 'citizen', 'created', NULL, 'new' FROM feedback"
    )
    # Photos sent before cases had photos become the case's photos (fetched, stripped and
    # stored by the media job like new ones).
    op.execute(
        "INSERT INTO case_photos (case_id, platform, file_ref, created_at, attempts) "
        "SELECT f.id, s.platform, f.photo_file_id, f.created_at, 0 FROM feedback f "
        "JOIN subscribers s ON s.id = f.subscriber_id WHERE f.photo_file_id IS NOT NULL"
    )
    op.execute(
        "INSERT INTO case_photos (case_id, message_id, platform, file_ref, created_at, attempts) "
        "SELECT m.feedback_id, m.id, s.platform, m.photo_file_id, m.created_at, 0 "
        "FROM feedback_messages m JOIN feedback f ON f.id = m.feedback_id "
        "JOIN subscribers s ON s.id = f.subscriber_id "
        "WHERE m.photo_file_id IS NOT NULL AND m.author = 'citizen'"
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_case_photos_case_id"), table_name="case_photos")
    op.drop_table("case_photos")
    op.drop_index(op.f("ix_case_events_at"), table_name="case_events")
    op.drop_index(op.f("ix_case_events_case_id"), table_name="case_events")
    op.drop_table("case_events")
    with op.batch_alter_table("subscribers") as batch:
        batch.drop_column("erased_at")
        batch.drop_column("phone")
        batch.drop_column("consent_at")
    op.execute(
        "UPDATE feedback SET status = 'open' WHERE status IN ('new', 'accepted', 'in_progress')"
    )
    op.execute(
        "UPDATE feedback SET status = 'closed' WHERE status IN ('not_responsible', 'duplicate')"
    )
    with op.batch_alter_table("feedback") as batch:
        batch.drop_constraint(op.f("fk_feedback_merged_into_feedback"), type_="foreignkey")
        batch.drop_constraint(op.f("fk_feedback_unit_id_units"), type_="foreignkey")
        batch.drop_constraint(op.f("fk_feedback_category_id_categories"), type_="foreignkey")
        batch.drop_index(op.f("ix_feedback_due_at"))
        batch.drop_index(op.f("ix_feedback_unit_id"))
        batch.drop_index(op.f("ix_feedback_category_id"))
        batch.drop_constraint(op.f("uq_feedback_code"), type_="unique")
        for column in (
            "updated_at", "escalated_at", "reminded_at", "reopened_at", "satisfaction_at",
            "satisfaction", "first_answered_at", "accepted_at", "state_reason", "merged_into",
            "place_label", "place_lon", "place_lat", "due_at", "priority", "assignee",
            "unit_id", "category_id", "code",
        ):
            batch.drop_column(column)
    op.drop_table("canned_answers")
    op.drop_table("categories")
    op.drop_table("unit_members")
    op.drop_table("units")
