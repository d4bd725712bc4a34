"""Upgrading to per-person dialog steps keeps the steps in progress: a private chat's step
becomes its own person's, a group step names its person in the reference ("<id>:<user>")."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from storage import migrate
from storage.store import Store


async def test_steps_in_progress_survive_the_upgrade(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path}/bantin.db")
    try:
        await migrate.upgrade(store.engine, "0007")
        async with store.engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO subscribers (platform, chat_id, chat_type, language, active, "
                    "dialog_state, dialog_ref, created_at, updated_at) VALUES "
                    "('telegram', '501', 'private', 'vi', 1, 'feedback', '12', "
                    "'2026-12-01 00:00:00', '2026-12-01 00:00:00'), "
                    "('telegram', '-100', 'supergroup', 'vi', 1, 'answering', '7:900', "
                    "'2026-12-01 00:00:00', '2026-12-01 00:00:00')"
                )
            )
        await store.migrate()
        private = await store.subscribers.get("telegram", "501")
        group = await store.subscribers.get("telegram", "-100")
        assert private is not None and group is not None
        assert await store.subscribers.dialog_of(private.id, "501") == ("feedback", "12")
        assert await store.subscribers.dialog_of(group.id, "900") == ("answering", "7:900")
        assert await store.subscribers.dialog_of(group.id, "901") == (None, None)
        assert private.dialog_state is None and group.dialog_state is None
    finally:
        await store.aclose()
