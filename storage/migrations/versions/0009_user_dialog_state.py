"""per-user dialog state and numbered menus: in a group each member has their own step and menu

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 05:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.models import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "user_dialog_states",
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=100), nullable=False),
        sa.Column("state", sa.String(length=50), nullable=False),
        sa.Column("ref", sa.String(length=100), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_user_dialog_states_subscriber_id_subscribers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("subscriber_id", "user_id", name=op.f("pk_user_dialog_states")),
    )
    # Carry over the steps in progress: the person is the one named in the reference
    # ("<id>:<user>", as staff steps in groups store it), else the chat itself (private chats).
    bind = op.get_bind()
    rows = bind.execute(
        sa.text(
            "SELECT id, chat_id, dialog_state, dialog_ref, updated_at FROM subscribers "
            "WHERE dialog_state IS NOT NULL"
        )
    ).all()
    insert = sa.text(
        "INSERT INTO user_dialog_states (subscriber_id, user_id, state, ref, updated_at) "
        "VALUES (:sub, :user, :state, :ref, :at)"
    )
    for sub_id, chat_id, state, ref, updated_at in rows:
        _, sep, tail = (ref or "").rpartition(":")
        user = tail if sep and tail else chat_id
        bind.execute(
            insert, {"sub": sub_id, "user": user, "state": state, "ref": ref, "at": updated_at}
        )
    bind.execute(sa.text("UPDATE subscribers SET dialog_state = NULL, dialog_ref = NULL"))
    # Menus live two days; the old per-chat ones are dropped rather than guessed an owner.
    op.drop_table("choice_menus")
    op.create_table(
        "choice_menus",
        sa.Column("platform", sa.String(length=20), nullable=False),
        sa.Column("chat_id", sa.String(length=100), nullable=False),
        sa.Column("user_id", sa.String(length=100), nullable=False),
        sa.Column("message_id", sa.String(length=100), nullable=True),
        sa.Column("options", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("platform", "chat_id", "user_id", name=op.f("pk_choice_menus")),
    )


def downgrade() -> None:
    op.drop_table("choice_menus")
    op.create_table(
        "choice_menus",
        sa.Column("platform", sa.String(length=20), nullable=False),
        sa.Column("chat_id", sa.String(length=100), nullable=False),
        sa.Column("message_id", sa.String(length=100), nullable=True),
        sa.Column("options", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("platform", "chat_id", name=op.f("pk_choice_menus")),
    )
    op.drop_table("user_dialog_states")
