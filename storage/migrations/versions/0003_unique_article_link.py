"""one article per link: a unique index on articles.link (NULL links excluded)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 15:10:00

Two feeds of one portal often list the same article, and two pollers (the bot and a
`bantin poll --once` from cron) may store it at the same moment. A unique index makes the
database the arbiter: the second insert is a no-op, so a subscriber gets the article once.
Existing duplicates (from before this index) keep their oldest row's link; later ones lose it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "UPDATE articles SET link = NULL WHERE link IS NOT NULL AND id NOT IN "
        "(SELECT MIN(id) FROM articles WHERE link IS NOT NULL GROUP BY link)"
    )
    with op.batch_alter_table("articles") as batch:
        batch.drop_index("ix_articles_link")
    op.create_index(
        "uq_articles_link",
        "articles",
        ["link"],
        unique=True,
        sqlite_where=sa.text("link IS NOT NULL"),
        postgresql_where=sa.text("link IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("uq_articles_link", table_name="articles")
    with op.batch_alter_table("articles") as batch:
        batch.create_index("ix_articles_link", ["link"], unique=False)
