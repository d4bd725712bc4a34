"""Deadline reminders and escalations: working time across a weekend and a holiday, each
notice queued once through the outbox, whatever restarts or how many schedulers run."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from jobs.cases.deadlines import run_deadlines
from jobs.cases.worktime import DEFAULT_WORK_HOURS, TZ, Calendar
from jobs.channel import Capabilities
from jobs.render.case_staff_notices import render_case_staff_notice
from jobs.send.deliverer import Deliverer
from storage.feedback import CaseIntake, RateLimit
from storage.kinds import CaseEventKind, OutboxKind
from storage.records import Feedback
from storage.store import Store
from tests.fakes.channel import FakeChannel
from tests.fakes.clock import FakeClock

# The shipped holidays: Monday 27/4/2026 is the Giỗ Tổ Hùng Vương compensatory day off.
CALENDAR = Calendar.from_settings(DEFAULT_WORK_HOURS, None)
STAFF = [("telegram", "-100500")]  # the configured staff chat (BANTIN_STAFF_CHAT_ID)
EIGHT_HOURS = timedelta(hours=8)


def vn(d: int, h: int, mi: int = 0, mo: int = 4) -> datetime:
    return datetime(2026, mo, d, h, mi, tzinfo=TZ)


async def file_case(
    store: Store, chat: str, received: datetime, days: int, **intake: object
) -> Feedback:
    sub = await store.subscribers.ensure("telegram", chat)
    due = CALENDAR.add_working_days(received, days)
    filed = await store.feedback.file(
        sub.id,
        None,
        f"Phản ánh của {chat}",
        limit=RateLimit(count=100),
        now=received,
        intake=CaseIntake(due_at=due, **intake),  # type: ignore[arg-type]
    )
    assert isinstance(filed, Feedback)
    return filed


async def outbox(store: Store) -> list[tuple[str, str, str, int]]:
    """(chat, kind of event, case code, item) of every staff notice queued, in order."""
    q = text(
        "SELECT s.chat_id, e.kind, f.code, d.item_id FROM deliveries d "
        "JOIN subscribers s ON s.id = d.subscriber_id "
        "JOIN case_events e ON e.id = d.item_id JOIN feedback f ON f.id = e.case_id "
        "WHERE d.kind = :kind ORDER BY d.id"
    )
    async with store.engine.connect() as conn:
        rows = (await conn.execute(q, {"kind": OutboxKind.CASE_REMINDER.value})).all()
    return [(r[0], r[1], r[2], int(r[3])) for r in rows]


def reopen(store: Store) -> Store:
    """Another Store (own engine, own connections) on the same database: a restarted process
    or a second scheduler."""
    return Store.open(store.engine.url.render_as_string(hide_password=False))


async def run(store: Store, clock: FakeClock, before: timedelta = EIGHT_HOURS) -> tuple[int, int]:
    done = await run_deadlines(store, CALENDAR, now=clock(), remind_before=before, configured=STAFF)
    return done.reminders, done.escalations


async def test_reminders_and_escalations_across_a_weekend_and_a_holiday(any_store: Store) -> None:
    store = any_store
    await store.units.ensure_default()
    roads = await store.units.add("Giao thông", platform="zalo", chat_id="g-roads")
    assert roads is not None
    # Thursday 23/4 10:00: A due Fri 24/4 17:00 (1 day); B due Tue 28/4 17:00 (2 days: the
    # weekend and the holiday Monday do not count), in the roads unit's own Zalo chat;
    # C like A but answered in time: it is owed nothing.
    a = await file_case(store, "a", vn(23, 10), 1)
    b = await file_case(store, "b", vn(23, 10), 2, unit_id=roads.id)
    c = await file_case(store, "c", vn(23, 10), 1)
    assert a.due_at == vn(24, 17) and b.due_at == vn(28, 17)
    async with store.engine.begin() as conn:
        await conn.execute(
            text("UPDATE feedback SET status = 'answered' WHERE id = :i"), {"i": c.id}
        )
    clock = FakeClock(vn(23, 10))

    assert await run(store, clock) == (0, 0)  # A has 13.5 working hours left
    clock.now = vn(23, 16, 59)
    assert await run(store, clock) == (0, 0)  # 8 h 01 min left
    clock.now = vn(23, 20)
    assert await run(store, clock) == (0, 0)  # after hours: nothing is looked at
    clock.now = vn(24, 7, 30)  # Friday's start: A has 8 working hours left
    assert await run(store, clock) == (1, 0)
    assert await outbox(store) == [("-100500", "reminder", a.code, 1 + 3)]  # events 1-3: created
    assert await run(store, clock) == (0, 0)  # the same pass again: nothing twice
    clock.now = vn(24, 16)
    assert await run(store, clock) == (0, 0)  # B: 1 h Friday + 8 h Tuesday left
    for moment in (vn(24, 17, 30), vn(25, 10), vn(26, 10), vn(27, 10)):  # evening, weekend, holiday
        clock.now = moment
        assert await run(store, clock) == (0, 0)
    clock.now = vn(28, 7, 30)  # Tuesday: B has 8 h left; A is late (escalated to the admins)
    assert await run(store, clock) == (1, 1)
    clock.now = vn(28, 17)
    assert await run(store, clock) == (0, 0)  # B due now, but 17:00 is after hours
    clock.now = vn(29, 7, 30)
    assert await run(store, clock) == (0, 1)
    clock.advance(hours=2)
    assert await run(store, clock) == (0, 0)  # a later pass
    restarted = reopen(store)  # a restart: the claims are in the database, not in memory
    try:
        clock.advance(hours=2)
        assert await run(restarted, clock) == (0, 0)
    finally:
        await restarted.aclose()
    queued = await outbox(store)
    assert [(chat, kind, code) for chat, kind, code, _ in queued] == [
        ("-100500", "reminder", a.code),
        ("g-roads", "reminder", b.code),  # B's unit has its own chat
        ("-100500", "escalation", a.code),
        ("-100500", "escalation", b.code),  # escalations go to the admins' (default) chat
    ]
    history = [e.kind for e in await store.cases.history(b.id)]
    assert history == [CaseEventKind.CREATED, CaseEventKind.REMINDER, CaseEventKind.ESCALATION]
    # The notices say which unit and which case.
    sub = await store.subscribers.get("telegram", "-100500")
    assert sub is not None and not sub.active  # a recipient row only: it gets no news
    event = await store.cases.event(queued[-1][3])
    case_b = await store.cases.get(b.id)
    assert event is not None and case_b is not None
    shown = await render_case_staff_notice(store, event, case_b, sub, Capabilities())
    assert b.code in shown.text and "Giao thông" in shown.text and "Quá hạn" in shown.text
    assert "28/04/2026 17:00" in shown.text
    # The outbox delivers them: the unit's Zalo group and the staff chat read what happened.
    telegram, zalo = FakeChannel("telegram"), FakeChannel("zalo")
    channels = {"telegram": telegram, "zalo": zalo}
    # (real time for the deliverer: its per-chat pacing waits for the clock to move on)
    real = Deliverer(store, channels, rate=None, concurrency=2, clock=lambda: datetime.now(UTC))
    await real.run_until_idle()
    assert len(telegram.texts("-100500")) == 3 and len(zalo.texts("g-roads")) == 1
    assert b.code in zalo.texts("g-roads")[0] and "Sắp đến hạn" in zalo.texts("g-roads")[0]
    assert all(a.code in text for text in telegram.texts("-100500")[:2])


async def test_closed_answered_and_transferred_cases(any_store: Store) -> None:
    store = any_store
    await store.units.ensure_default()
    other = await store.units.add("Y tế")
    assert other is not None
    late = await file_case(store, "x", vn(20, 9), 1)  # due Tue 21/4 17:00
    done = await file_case(store, "y", vn(20, 9), 1)
    await store.cases.close(done.id, actor="cli", now=vn(21, 9))
    clock = FakeClock(vn(22, 8))
    assert await run(store, clock) == (0, 1)  # only the open one; no reminder once late
    # A transfer starts the case again in the other unit: it may be escalated again there.
    moved = await store.cases.transfer(
        late.id, unit_id=other.id, reason="sai đơn vị", actor="cli", now=vn(22, 9)
    )
    assert hasattr(moved, "case")
    clock.now = vn(22, 10)
    assert await run(store, clock) == (0, 1)
    assert await run(store, clock, before=timedelta()) == (0, 0)  # 0: no reminders at all


async def test_two_schedulers_at_once_send_each_notice_once(any_store: Store) -> None:
    """Two schedulers (two Stores, two engines, one database) racing over the same cases."""
    store = any_store
    await store.units.ensure_default()
    for n in range(12):
        await file_case(store, f"c{n}", vn(20, 9), 1)  # all late on Wednesday 22/4
    second = reopen(store)
    clock = FakeClock(vn(22, 9))
    try:
        results = await asyncio.gather(run(store, clock), run(second, clock), run(store, clock))
    finally:
        await second.aclose()
    assert sum(e for _, e in results) == 12
    queued = await outbox(store)
    assert len(queued) == 12 and len({q[2] for q in queued}) == 12


async def test_the_scheduler_runs_the_job_to_the_configured_staff_chat(tmp_path: object) -> None:
    """`case-deadlines` is one of the active scheduler's jobs; in the console demo the staff
    pane is the configured staff chat."""
    import io

    from bot.adapters import console
    from bot.app.compose import compose
    from bot.app.schedule import configured_staff_chats, scheduler_jobs
    from bot.app.settings import Settings

    settings = Settings(database_url=f"sqlite:///{tmp_path}/bantin.db", holidays="none")
    clock = FakeClock(vn(22, 9))
    app = await compose(settings, out=io.StringIO(), clock=clock)
    try:
        assert configured_staff_chats(settings) == [(console.PLATFORM, console.STAFF_CHAT)]
        await file_case(app.store, "late", vn(20, 9), 1)
        job, every = scheduler_jobs(app)["case-deadlines"]
        assert every == settings.case_check_interval
        await job()
        await job()
        queued = await outbox(app.store)
        assert [(chat, kind) for chat, kind, _, _ in queued] == [(console.STAFF_CHAT, "escalation")]
    finally:
        await app.aclose()
    telegram = Settings(telegram_token="1:x", staff_chat_id=-100, zalo_staff_chat_id="g-2")  # type: ignore[arg-type]
    assert configured_staff_chats(telegram) == [("telegram", "-100"), ("zalo", "g-2")]
