"""The case state machine on real databases: each change checks the state it starts from,
writes its history line and queues the citizen's notice in one transaction; codes, merges,
transfers and the satisfaction rule behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from storage.cases import Changed, Unchanged
from storage.feedback import CaseIntake, RateLimit, Refused
from storage.kinds import (
    Author,
    CaseEventKind,
    DeliveryStatus,
    FeedbackRefusal,
    OutboxKind,
    TicketState,
)
from storage.models import UnitRow
from storage.records import Feedback, case_code, parse_case_code
from storage.store import Store

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
LIMIT = RateLimit(count=100, seconds=600)


async def _citizen(store: Store, chat: str = "501") -> int:
    sub = await store.subscribers.ensure("telegram", chat, display_name=f"Dân {chat}")
    return sub.id


async def _file(
    store: Store, sub_id: int, text: str = "Ổ gà ở đường Lê Lợi", **kw: object
) -> Feedback:
    case = await store.feedback.file(
        sub_id,
        None,
        text,
        limit=LIMIT,
        now=NOW,
        intake=CaseIntake(**kw),  # type: ignore[arg-type]
    )
    assert isinstance(case, Feedback)
    return case


async def _unit(store: Store, name: str) -> int:
    async with store.cases._tx() as s:  # units are created by storage/units.py in the product
        row = UnitRow(name=name, created_at=NOW)
        s.add(row)
        await s.flush()
        return row.id


async def _notices(store: Store, sub_id: int) -> list[str]:
    """The kinds of the case events queued to the citizen, in order."""
    rows = [r for r in await store.deliveries.all(limit=1000) if r.subscriber_id == sub_id]
    kinds = []
    for row in sorted(rows, key=lambda r: r.id):
        if row.kind == OutboxKind.CASE_NOTICE:
            event = await store.cases.event(row.item_id)
            assert event is not None
            kinds.append(event.kind)
    return kinds


def test_codes_are_short_and_typeable() -> None:
    assert case_code(42) == "PA00042" and case_code(123456) == "PA123456"
    for typed in ("PA00042", "pa42", "PA-42", "#42", " 42 ", "pa 00042"):
        assert parse_case_code(typed) == 42, typed
    for junk in ("", "PA", "PA-x1", "٤٢", "42.0", "PA99999999999", "0", "PA0"):
        assert parse_case_code(junk) is None, junk


async def test_a_filed_case_has_code_default_unit_and_history(any_store: Store) -> None:
    store = any_store
    sub = await _citizen(store)
    due = NOW + timedelta(days=14)
    case = await _file(store, sub, due_at=due, place_lat=10.77, place_lon=106.70)
    assert case.code == case_code(case.id) and case.status == TicketState.NEW
    assert case.unit_id is not None and case.due_at == due and case.has_place
    assert (await store.cases.by_code(case.code)) == case
    [created] = await store.cases.history(case.id)
    assert (created.kind, created.actor, created.to_state) == ("created", "citizen", "new")
    second = await _file(store, sub)
    assert second.unit_id == case.unit_id  # one default unit, not one per case


async def test_the_life_of_a_case(any_store: Store) -> None:
    store = any_store
    sub = await _citizen(store)
    case = await _file(store, sub)
    taken = await store.cases.take(case.id, actor="telegram:900", now=NOW)
    assert isinstance(taken, Changed) and taken.case.status == TicketState.ACCEPTED
    assert taken.case.assignee == "telegram:900" and taken.case.accepted_at == NOW
    again = await store.cases.take(case.id, actor="telegram:901", now=NOW)  # a colleague takes over
    assert isinstance(again, Changed) and again.event.kind == CaseEventKind.ASSIGNED
    assert again.case.status == TicketState.ACCEPTED and again.case.assignee == "telegram:901"
    note = await store.cases.note(case.id, actor="telegram:901", text="Gọi điện xác minh", now=NOW)
    assert note is not None and note.author == Author.NOTE
    answer = await store.feedback.add_answer(
        case.id, staff_user="telegram:901", text="Sẽ vá trong tuần", now=NOW
    )
    assert answer is not None
    answered = await store.cases.get(case.id)
    assert answered is not None and answered.status == TicketState.ANSWERED
    assert answered.first_answered_at == NOW
    # The citizen's thread holds the answer but never the note; staff see both.
    assert [m.author for m in await store.cases.thread(case.id, notes=False)] == ["staff"]
    assert [m.author for m in await store.cases.thread(case.id, notes=True)] == ["note", "staff"]
    assert not [m for m in await store.feedback.unforwarded_replies() if m.author == Author.NOTE]
    closed = await store.cases.close(case.id, actor="telegram:901", now=NOW)
    assert isinstance(closed, Changed) and closed.case.closed_at == NOW
    twice = await store.cases.close(case.id, actor="telegram:901", now=NOW)
    assert twice == Unchanged("state", TicketState.CLOSED)
    assert await _notices(store, sub) == ["accepted", "closed"]
    kinds = [e.kind for e in await store.cases.history(case.id)]
    assert kinds == ["created", "accepted", "assigned", "answered", "closed"]


async def test_unsatisfied_within_seven_days_reopens_and_not_after(any_store: Store) -> None:
    store = any_store
    sub, other = await _citizen(store), await _citizen(store, "502")
    early, late = await _file(store, sub), await _file(store, sub)
    for case in (early, late):
        await store.cases.close(case.id, actor="telegram:900", now=NOW)
    assert await store.cases.rate(early.id, other, "unsatisfied", now=NOW) == Unchanged(
        "not_theirs"
    )
    reopened = await store.cases.rate(early.id, sub, "unsatisfied", now=NOW + timedelta(days=6))
    assert isinstance(reopened, Changed) and reopened.event.kind == CaseEventKind.REOPENED
    assert reopened.case.status == TicketState.IN_PROGRESS and reopened.case.forwarded_at is None
    assert reopened.case.satisfaction == "unsatisfied" and reopened.case.closed_at is None
    too_late = await store.cases.rate(late.id, sub, "unsatisfied", now=NOW + timedelta(days=8))
    assert too_late == Unchanged("late", TicketState.CLOSED)
    kept = await store.cases.get(late.id)
    assert kept is not None and kept.status == TicketState.CLOSED
    assert kept.satisfaction == "unsatisfied"  # the answer counts in the report all the same
    happy = await _file(store, sub)
    await store.cases.close(happy.id, actor="telegram:900", now=NOW)
    done = await store.cases.rate(happy.id, sub, "satisfied", now=NOW)
    assert isinstance(done, Changed) and done.case.status == TicketState.CLOSED


async def test_transfer_merge_and_not_responsible(any_store: Store) -> None:
    store = any_store
    sub = await _citizen(store)
    roads = await _unit(store, "Phòng Quản lý đô thị")
    case, twin, other = await _file(store, sub), await _file(store, sub), await _file(store, sub)
    await store.feedback.mark_forwarded(case.id, message_id="77", now=NOW, chat_id="-500")
    moved = await store.cases.transfer(
        case.id, unit_id=roads, reason="Thuộc lĩnh vực giao thông", actor="telegram:900", now=NOW
    )
    assert isinstance(moved, Changed) and moved.case.unit_id == roads
    assert moved.case.status == TicketState.NEW and moved.case.forwarded_at is None
    assert moved.event.detail == "Thuộc lĩnh vực giao thông" and moved.event.unit_id == roads
    same = await store.cases.transfer(case.id, unit_id=roads, reason="x", actor="a", now=NOW)
    assert same == Unchanged("same_case")
    assert await store.cases.transfer(
        case.id, unit_id=9999, reason="x", actor="a", now=NOW
    ) == Unchanged("target_missing")
    merged = await store.cases.merge(twin.id, into_code=case.code or "", actor="a", now=NOW)
    assert isinstance(merged, Changed) and merged.case.status == TicketState.DUPLICATE
    assert merged.case.merged_into == case.id and merged.event.detail == case.code
    assert (await store.cases.followed(twin.id)) == (await store.cases.get(case.id))
    assert await store.cases.merge(case.id, into_code=twin.code or "", actor="a", now=NOW) == (
        Unchanged("same_case")  # no cycle
    )
    assert await store.cases.merge(other.id, into_code="PA99999", actor="a", now=NOW) == (
        Unchanged("target_missing")
    )
    refused = await store.cases.not_responsible(
        other.id, reason="Liên hệ Công an phường", actor="a", now=NOW
    )
    assert isinstance(refused, Changed) and refused.case.status == TicketState.NOT_RESPONSIBLE
    assert refused.case.state_reason == "Liên hệ Công an phường"
    assert await _notices(store, sub) == ["transferred", "merged", "not_responsible"]


async def test_two_staff_closing_at_once_close_once(any_store: Store) -> None:
    store = any_store
    sub = await _citizen(store)
    case = await _file(store, sub)
    results = await asyncio.gather(
        *(store.cases.close(case.id, actor=f"telegram:{n}", now=NOW) for n in range(5))
    )
    assert sum(isinstance(r, Changed) for r in results) == 1
    assert await _notices(store, sub) == ["closed"]
    pending = [
        r
        for r in await store.deliveries.all(status=DeliveryStatus.PENDING)
        if r.subscriber_id == sub
    ]
    assert len(pending) == 1


async def test_a_citizen_reply_brings_an_answered_case_back(any_store: Store) -> None:
    store = any_store
    sub = await _citizen(store)
    case = await _file(store, sub)
    await store.feedback.add_answer(case.id, staff_user="telegram:900", text="Đã nhận", now=NOW)
    reply = await store.feedback.file_reply(case.id, sub, "Vẫn chưa sửa", limit=LIMIT, now=NOW)
    assert reply is not None
    back = await store.cases.get(case.id)
    assert back is not None and back.status == TicketState.IN_PROGRESS
    assert [e.kind for e in await store.cases.history(case.id)][-1] == "citizen_wrote"


async def test_citizens_of_merged_cases_follow_the_case_they_were_merged_into(
    any_store: Store,
) -> None:
    """A duplicate's citizen is told of the main case's changes and of its answer (as a
    state notice: never the other citizen's words); the answer itself goes to its own citizen
    in the same transaction as it is stored."""
    store = any_store
    owner, follower, chained = (
        await _citizen(store),
        await _citizen(store, "502"),
        await _citizen(store, "503"),
    )
    main, twin, third = (
        await _file(store, owner),
        await _file(store, follower),
        await _file(store, chained),
    )
    await store.cases.merge(third.id, into_code=twin.code or "", actor="a", now=NOW)
    await store.cases.merge(twin.id, into_code=main.code or "", actor="a", now=NOW)
    await store.cases.take(main.id, actor="telegram:900", now=NOW)
    answer = await store.feedback.add_answer(
        main.id, staff_user="telegram:900", text="Đã xử lý", now=NOW
    )
    assert answer is not None
    answers = [r for r in await store.deliveries.all(limit=100) if r.kind == OutboxKind.ANSWER]
    assert [(r.subscriber_id, r.item_id) for r in answers] == [(owner, answer.id)]
    assert await _notices(store, owner) == ["accepted"]
    assert await _notices(store, follower) == ["merged", "accepted", "answered"]
    assert await _notices(store, chained) == ["merged", "merged", "accepted", "answered"]


async def test_messages_at_once_never_pass_the_rate_limit_together(any_store: Store) -> None:
    """Ten filings and replies from one citizen at once against a limit of three: exactly three
    are taken (the ban and limit read lock the citizen's row on PostgreSQL), and a banned
    citizen's next message is refused as banned."""
    store = any_store
    sub, _ = await store.subscribers.subscribe("telegram", "501", display_name="Dân")
    limit = RateLimit(count=3, seconds=3600)
    results = await asyncio.gather(
        *(store.feedback.file(sub.id, None, f"Ý kiến {i}", limit=limit, now=NOW) for i in range(10))
    )
    taken = [r for r in results if isinstance(r, Feedback)]
    assert len(taken) == 3
    assert {r.reason for r in results if isinstance(r, Refused)} == {FeedbackRefusal.RATE_LIMITED}
    reply = await store.feedback.file_reply(taken[0].id, sub.id, "Thêm", limit=limit, now=NOW)
    assert reply == Refused(FeedbackRefusal.RATE_LIMITED)  # replies are under the same limit
    more = RateLimit(count=5, seconds=3600)
    assert not isinstance(
        await store.feedback.file_reply(taken[0].id, sub.id, "Thêm", limit=more, now=NOW), Refused
    )
    # Three cases and one reply counted: the fifth message is over a limit of four.
    four = RateLimit(count=4, seconds=3600)
    assert await store.feedback.file(sub.id, None, "x", limit=four, now=NOW) == Refused(
        FeedbackRefusal.RATE_LIMITED
    )
    await store.feedback.ban(sub.id, by="t", now=NOW)
    banned = await store.feedback.file(sub.id, None, "Nữa", limit=RateLimit(count=100), now=NOW)
    assert banned == Refused(FeedbackRefusal.BANNED)
