"""subscriber preferences: topics, sources, keywords, digests, quiet hours, search, urgent

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 16:00:00

Full-text search indexes `article_search.folded`, a diacritic-folded copy of title and summary
written by the app (jobs/match.fold), so neither database needs `unaccent`:
- SQLite: an FTS5 table with external content, kept in step by triggers;
- PostgreSQL: a GIN index over to_tsvector('simple', folded).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.models import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_SQLITE_FTS = [
    "CREATE VIRTUAL TABLE article_search_fts USING fts5("
    "folded, content='article_search', content_rowid='article_id', tokenize='unicode61')",
    "CREATE TRIGGER article_search_ai AFTER INSERT ON article_search BEGIN "
    "INSERT INTO article_search_fts(rowid, folded) VALUES (new.article_id, new.folded); END",
    "CREATE TRIGGER article_search_ad AFTER DELETE ON article_search BEGIN "
    "INSERT INTO article_search_fts(article_search_fts, rowid, folded) "
    "VALUES ('delete', old.article_id, old.folded); END",
    "CREATE TRIGGER article_search_au AFTER UPDATE ON article_search BEGIN "
    "INSERT INTO article_search_fts(article_search_fts, rowid, folded) "
    "VALUES ('delete', old.article_id, old.folded); "
    "INSERT INTO article_search_fts(rowid, folded) VALUES (new.article_id, new.folded); END",
]
_PG_FTS = (
    "CREATE INDEX ix_article_search_fts ON article_search "
    "USING gin (to_tsvector('simple', folded))"
)


def upgrade() -> None:
    with op.batch_alter_table("preferences") as batch:
        batch.add_column(
            sa.Column(
                "digest_times", sa.String(length=100), nullable=False, server_default="07:00,19:00"
            )
        )
        batch.add_column(sa.Column("quiet_hours", sa.String(length=20), nullable=True))
    with op.batch_alter_table("announcements") as batch:
        batch.add_column(
            sa.Column("urgent", sa.Boolean(), nullable=False, server_default=sa.text("false"))
        )
    op.create_table(
        "topics",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_topics")),
        sa.UniqueConstraint("name", name=op.f("uq_topics_name")),
    )
    op.create_table(
        "topic_categories",
        sa.Column("category", sa.String(length=200), nullable=False),
        sa.Column("topic_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["topic_id"],
            ["topics.id"],
            name=op.f("fk_topic_categories_topic_id_topics"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("category", name=op.f("pk_topic_categories")),
    )
    op.create_index(
        op.f("ix_topic_categories_topic_id"), "topic_categories", ["topic_id"], unique=False
    )
    op.create_table(
        "subscriber_topics",
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("topic_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_subscriber_topics_subscriber_id_subscribers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["topic_id"],
            ["topics.id"],
            name=op.f("fk_subscriber_topics_topic_id_topics"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("subscriber_id", "topic_id", name=op.f("pk_subscriber_topics")),
    )
    op.create_table(
        "subscriber_feeds",
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("feed_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_subscriber_feeds_subscriber_id_subscribers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["feed_id"],
            ["feeds.id"],
            name=op.f("fk_subscriber_feeds_feed_id_feeds"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("subscriber_id", "feed_id", name=op.f("pk_subscriber_feeds")),
    )
    op.create_table(
        "keywords",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("word", sa.String(length=100), nullable=False),
        sa.Column("exclude", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_keywords_subscriber_id_subscribers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_keywords")),
        sa.UniqueConstraint("subscriber_id", "word", name=op.f("uq_keywords_subscriber_id_word")),
    )
    op.create_table(
        "digests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_digests_subscriber_id_subscribers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_digests")),
    )
    op.create_index(op.f("ix_digests_subscriber_id"), "digests", ["subscriber_id"], unique=False)
    op.create_table(
        "digest_items",
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("digest_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_digest_items_subscriber_id_subscribers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name=op.f("fk_digest_items_article_id_articles"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["digest_id"],
            ["digests.id"],
            name=op.f("fk_digest_items_digest_id_digests"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("subscriber_id", "article_id", name=op.f("pk_digest_items")),
    )
    op.create_index(
        op.f("ix_digest_items_digest_id"), "digest_items", ["digest_id"], unique=False
    )
    op.create_table(
        "article_search",
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("folded", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name=op.f("fk_article_search_article_id_articles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("article_id", name=op.f("pk_article_search")),
    )
    if op.get_bind().dialect.name == "sqlite":
        for statement in _SQLITE_FTS:
            op.execute(statement)
    else:
        op.execute(_PG_FTS)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("article_search_ai", "article_search_ad", "article_search_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS article_search_fts")
    else:
        op.execute("DROP INDEX IF EXISTS ix_article_search_fts")
    op.drop_table("article_search")
    op.drop_index(op.f("ix_digest_items_digest_id"), table_name="digest_items")
    op.drop_table("digest_items")
    op.drop_index(op.f("ix_digests_subscriber_id"), table_name="digests")
    op.drop_table("digests")
    op.drop_table("keywords")
    op.drop_table("subscriber_feeds")
    op.drop_table("subscriber_topics")
    op.drop_index(op.f("ix_topic_categories_topic_id"), table_name="topic_categories")
    op.drop_table("topic_categories")
    op.drop_table("topics")
    with op.batch_alter_table("announcements") as batch:
        batch.drop_column("urgent")
    with op.batch_alter_table("preferences") as batch:
        batch.drop_column("quiet_hours")
        batch.drop_column("digest_times")
