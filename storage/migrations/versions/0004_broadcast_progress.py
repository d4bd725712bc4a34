"""broadcast progress: the staff message edited as a broadcast goes, and when it finished

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 15:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.models import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("announcements") as batch:
        batch.add_column(sa.Column("progress_message_id", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("finished_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("announcements") as batch:
        batch.drop_column("finished_at")
        batch.drop_column("progress_message_id")
