"""owed replies and staff-chat dead letters: why an answer could not reach its citizen (and
whether staff were told), why a feedback card could not be posted to the staff chat

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 05:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.models import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("feedback") as batch:
        batch.add_column(sa.Column("forward_error", sa.String(length=500), nullable=True))
        batch.add_column(sa.Column("delivery_error", sa.String(length=500), nullable=True))
    with op.batch_alter_table("feedback_messages") as batch:
        batch.add_column(sa.Column("forward_error", sa.String(length=500), nullable=True))
        batch.add_column(sa.Column("delivery_error", sa.String(length=500), nullable=True))
        batch.add_column(sa.Column("delivery_noticed_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("feedback_messages") as batch:
        batch.drop_column("delivery_noticed_at")
        batch.drop_column("delivery_error")
        batch.drop_column("forward_error")
    with op.batch_alter_table("feedback") as batch:
        batch.drop_column("delivery_error")
        batch.drop_column("forward_error")
