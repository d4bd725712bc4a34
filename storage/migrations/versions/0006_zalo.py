"""zalo: seen message ids, numbered choice menus, OA contacts (7-day window), OA token pair

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 15:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.models import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "zalo_seen",
        sa.Column("platform", sa.String(length=20), nullable=False),
        sa.Column("message_id", sa.String(length=100), nullable=False),
        sa.Column("seen_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("platform", "message_id", name=op.f("pk_zalo_seen")),
    )
    op.create_index(op.f("ix_zalo_seen_seen_at"), "zalo_seen", ["seen_at"])
    op.create_table(
        "choice_menus",
        sa.Column("platform", sa.String(length=20), nullable=False),
        sa.Column("chat_id", sa.String(length=100), nullable=False),
        sa.Column("message_id", sa.String(length=100), nullable=True),
        sa.Column("options", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("platform", "chat_id", name=op.f("pk_choice_menus")),
    )
    op.create_table(
        "zalo_contacts",
        sa.Column("platform", sa.String(length=20), nullable=False),
        sa.Column("user_id", sa.String(length=100), nullable=False),
        sa.Column("last_interaction_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("platform", "user_id", name=op.f("pk_zalo_contacts")),
    )
    op.create_table(
        "zalo_oa_tokens",
        sa.Column("app_id", sa.String(length=100), nullable=False),
        sa.Column("access_token", sa.Text(), nullable=True),
        sa.Column("refresh_token", sa.Text(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=True),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("seed_fingerprint", sa.String(length=64), nullable=True),
        sa.Column("refresh_started_at", UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("app_id", name=op.f("pk_zalo_oa_tokens")),
    )


def downgrade() -> None:
    op.drop_table("zalo_oa_tokens")
    op.drop_table("zalo_contacts")
    op.drop_table("choice_menus")
    op.drop_index(op.f("ix_zalo_seen_seen_at"), table_name="zalo_seen")
    op.drop_table("zalo_seen")
