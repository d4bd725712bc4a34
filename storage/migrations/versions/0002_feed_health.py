"""feed health: what staff were last told about each feed

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 09:00:00

Adds feeds.alert_state ('ok' | 'failing', default 'ok') and feeds.alert_changed_at, so the
health job sends one message when a feed starts failing and one when it recovers, across
restarts. batch_alter_table keeps SQLite working (it cannot ALTER most things in place).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.models import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("feeds") as batch:
        batch.add_column(
            sa.Column("alert_state", sa.String(length=20), nullable=False, server_default="ok")
        )
        batch.add_column(sa.Column("alert_changed_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("feeds") as batch:
        batch.drop_column("alert_changed_at")
        batch.drop_column("alert_state")
