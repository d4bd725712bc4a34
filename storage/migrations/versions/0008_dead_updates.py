"""dead updates: incoming updates whose handling kept failing, kept with their content

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 05:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.models import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dead_updates",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("platform", sa.String(length=20), nullable=False),
        sa.Column("chat_id", sa.String(length=100), nullable=True),
        sa.Column("update_id", sa.String(length=100), nullable=True),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_dead_updates"),
    )
    op.create_index("ix_dead_updates_created_at", "dead_updates", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_dead_updates_created_at", table_name="dead_updates")
    op.drop_table("dead_updates")
