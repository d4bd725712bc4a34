"""case queue: diacritic-free full-text search over cases and indexes for the console's filters

PostgreSQL (13 or later: normalize()) gets `bantin_fold(text)`, an IMMUTABLE SQL function that
strips Vietnamese diacritics (NFD, then the combining marks removed; đ → d), turns ASCII
punctuation into spaces and lower-cases — the same folding as the app's Python `fold`: "Đường"
→ "duong"; no `unaccent` extension needed — and a GIN index on
to_tsvector('simple', bantin_fold(text)) over `feedback.text`. SQLite registers a Python
function of the same name per search (storage/case_queue.py). The b-tree indexes serve the
queue's keyset pages (newest first) under its common filters on both databases.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


# The open cases (kinds.OPEN_STATES) by due time: the overdue filter and the «soonest due» order.
OPEN = "status IN ('accepted', 'in_progress', 'new')"
# ASCII punctuation becomes a space: the text parser would otherwise read "<b>", "a/b", "x@y"
# or "1.5" as tags, paths, e-mails and numbers and hide the words in them; đ/Đ have no
# decomposition and are mapped by hand.
PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
FOLD_SQL = (
    "CREATE OR REPLACE FUNCTION bantin_fold(value text) RETURNS text "
    "LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$ SELECT lower(translate("
    "regexp_replace(normalize(value, NFD), '[\\u0300-\\u036f]+', '', 'g'), "
    "'đĐ" + PUNCTUATION.replace("'", "''") + "', 'dD" + " " * len(PUNCTUATION) + "')) $$"
)


def upgrade() -> None:
    op.create_index("ix_feedback_status_id", "feedback", ["status", "id"], unique=False)
    op.create_index("ix_feedback_unit_id_id", "feedback", ["unit_id", "id"], unique=False)
    op.create_index("ix_feedback_assignee_id", "feedback", ["assignee", "id"], unique=False)
    op.create_index("ix_feedback_created_at", "feedback", ["created_at"], unique=False)
    op.create_index(
        "ix_feedback_open_due",
        "feedback",
        ["due_at", "id"],
        unique=False,
        postgresql_where=sa.text(OPEN),
        sqlite_where=sa.text(OPEN),
    )
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(FOLD_SQL)
    op.execute(
        "CREATE INDEX ix_feedback_search ON feedback "
        "USING gin (to_tsvector('simple', bantin_fold(text)))"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_feedback_search")
        op.execute("DROP FUNCTION IF EXISTS bantin_fold(text)")
    op.drop_index("ix_feedback_open_due", table_name="feedback")
    op.drop_index("ix_feedback_created_at", table_name="feedback")
    op.drop_index("ix_feedback_assignee_id", table_name="feedback")
    op.drop_index("ix_feedback_unit_id_id", table_name="feedback")
    op.drop_index("ix_feedback_status_id", table_name="feedback")
