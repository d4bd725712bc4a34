"""A database from before cases (revision 0010) upgrades with nothing lost: open, answered and
closed tickets become cases (new / in_progress / answered / closed) with their texts, threads,
bans, public codes, the default unit and a line of history; and the buttons of a card sent
before the upgrade (ib:c:<id>) and a reply to that card still work afterwards."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from bench.support import drop_pg_database, fresh_pg_database
from bot.dialog.events import Press, Text, Who
from bot.dialog.router import Dialog
from jobs.channel import HTML, Capabilities
from storage import migrate
from storage.kinds import CaseEventKind, TicketState
from storage.store import Store
from tests.integration.conftest import PG_URL

NOW = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)
STAFF_CHAT = "-500"
ADMIN = Who("telegram", STAFF_CHAT, "900", chat_type="supergroup")

ROWS = [
    # feedback: id, subscriber, text, status, forwarded_message_id
    "INSERT INTO subscribers (id, platform, chat_id, chat_type, language, active, display_name, "
    "created_at, updated_at) VALUES (1, 'telegram', '501', 'private', 'vi', true, 'Dân A', "
    "'2026-11-01 00:00:00', '2026-11-01 00:00:00'), (2, 'zalo', 'z502', 'private', 'vi', "
    "true, 'Dân B', '2026-11-01 00:00:00', '2026-11-01 00:00:00')",
    "INSERT INTO staff (platform, user_id, role, created_at) VALUES "
    "('telegram', '900', 'admin', '2026-11-01 00:00:00')",
    "INSERT INTO feedback (id, subscriber_id, text, status, created_at, forwarded_at, "
    "forwarded_message_id, forwarded_chat_id) VALUES "
    "(1, 1, 'Ổ gà chưa ai trả lời', 'open', '2026-11-02 00:00:00', '2026-11-02 00:01:00', "
    "'55', '-500'), "
    "(2, 1, 'Đèn hỏng, đã trả lời, dân hỏi thêm', 'open', '2026-11-03 00:00:00', "
    "'2026-11-03 00:01:00', '56', '-500'), "
    "(3, 2, 'Rác đã trả lời', 'answered', '2026-11-04 00:00:00', '2026-11-04 00:01:00', "
    "'57', '-500'), "
    "(4, 2, 'Nước đã đóng', 'closed', '2026-11-05 00:00:00', '2026-11-05 00:01:00', "
    "'58', '-500')",
    "INSERT INTO feedback_messages (id, feedback_id, author, staff_user, text, created_at, "
    "forwarded_at) VALUES "
    "(1, 2, 'staff', 'telegram:900', 'Sẽ thay bóng', '2026-11-03 01:00:00', NULL), "
    "(2, 2, 'citizen', NULL, 'Vẫn chưa thay', '2026-11-03 02:00:00', '2026-11-03 02:01:00'), "
    "(3, 3, 'staff', 'telegram:900', 'Đã thu gom', '2026-11-04 01:00:00', NULL)",
    "INSERT INTO citizen_bans (subscriber_id, banned_by, banned_at, ticket) VALUES "
    "(2, 'telegram:900', '2026-11-06 00:00:00', 4)",
]


SEQUENCES = ("subscribers", "feedback", "feedback_messages")


@pytest.fixture(params=["sqlite", "postgresql"])
async def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database: a SQLite file, or a scratch PostgreSQL database when configured."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/bantin.db"
        return
    if not PG_URL:
        pytest.skip("PostgreSQL test: set BANTIN_TEST_DATABASE_URL to run it")
    url = await fresh_pg_database(PG_URL)
    yield url
    await drop_pg_database(url)


async def test_tickets_become_cases_and_old_buttons_still_work(empty_url: str) -> None:
    store = Store.open(empty_url)
    try:
        await migrate.upgrade(store.engine, "0010")
        async with store.engine.begin() as conn:
            for statement in ROWS:
                await conn.execute(text(statement))
            if conn.dialect.name == "postgresql":  # rows inserted with their ids
                for table in SEQUENCES:
                    await conn.execute(
                        text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), 100)")
                    )
        await store.migrate()

        cases = [await store.feedback.get(n) for n in (1, 2, 3, 4)]
        assert all(c is not None for c in cases)
        assert [c.status for c in cases] == [  # type: ignore[union-attr]
            TicketState.NEW,
            TicketState.IN_PROGRESS,
            TicketState.ANSWERED,
            TicketState.CLOSED,
        ]
        assert [c.text for c in cases] == [  # type: ignore[union-attr]
            "Ổ gà chưa ai trả lời",
            "Đèn hỏng, đã trả lời, dân hỏi thêm",
            "Rác đã trả lời",
            "Nước đã đóng",
        ]
        assert [c.code for c in cases] == ["PA00001", "PA00002", "PA00003", "PA00004"]  # type: ignore[union-attr]
        [unit] = await store.units.all()
        assert unit.is_default and {c.unit_id for c in cases} == {unit.id}  # type: ignore[union-attr]
        for case in cases:
            assert case is not None
            [created] = await store.cases.history(case.id)
            assert (created.kind, created.to_state) == (CaseEventKind.CREATED, "new")
        thread = await store.feedback.messages(2)
        assert [(m.author, m.text) for m in thread] == [
            ("staff", "Sẽ thay bóng"),
            ("citizen", "Vẫn chưa thay"),
        ]
        assert await store.feedback.is_banned(2) and not await store.feedback.is_banned(1)

        # The old card of ticket 1 (message 55 in the staff chat): a reply answers it, its
        # «Đã xử lý» button closes it, and the card is re-rendered in place.
        caps = Capabilities(markup=HTML)
        dialog = Dialog(store, capabilities=lambda _p: caps, clock=lambda: NOW)
        await dialog.handle(Text(ADMIN, "Đã vá xong", reply_to="55"))
        [answer] = await store.feedback.messages(1)
        assert (answer.text, answer.staff_user) == ("Đã vá xong", "telegram:900")
        closed = await dialog.handle(Press(ADMIN, "ib:c:1", message_id="55"))
        assert closed.edit is not None and "PA00001" in closed.edit.text
        assert "đã đóng" in closed.edit.text
        assert (await store.feedback.get(1)).status == TicketState.CLOSED  # type: ignore[union-attr]
        unbanned = await dialog.handle(Press(ADMIN, "ib:u:4", message_id="58"))
        assert unbanned.toast and not await store.feedback.is_banned(2)
        actions = [e.action for e in reversed(await store.audit.recent())]
        assert actions == ["feedback.answer", "feedback.close", "citizen.unban"]
    finally:
        await store.aclose()
