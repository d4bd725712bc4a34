"""Case handling: the state machine of a citizen's case, its history and the notices it owes.

A case is a `feedback` row (storage/feedback.py files it and keeps its messages); this module
changes its state. Every change is one transaction that checks the state it starts from (so two
staff pressing at once cannot both succeed), writes a line of history (`case_events`: who,
when, from → to, why) and, when the citizen is to be told, queues the notice in the outbox
(kind 'case_notice', item_id = the event) in the same transaction: a crash can lose neither
the change nor the notice, and a notice can never go out for a change that did not happen.

Who may act (role, unit) is checked by the callers against the staff table at the moment of
the action; this module keeps the rules about states.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.base import Repo
from storage.kinds import (
    FINAL_STATES,
    OPEN_STATES,
    Author,
    CaseEventKind,
    DeliveryStatus,
    OutboxKind,
    Satisfaction,
    TicketState,
)
from storage.models import (
    CaseEventRow,
    DeliveryRow,
    FeedbackMessageRow,
    FeedbackRow,
    UnitRow,
)
from storage.records import Case, CaseEvent, FeedbackMessage, parse_case_code

# How long after closing a citizen's «chưa hài lòng» still reopens the case.
REOPEN_WINDOW = timedelta(days=7)
# States a staff member may take (assign to themselves) a case from.
TAKEABLE = frozenset({TicketState.NEW, TicketState.ACCEPTED, TicketState.IN_PROGRESS})
# States a case may be closed, transferred, merged or refused from: anything not over.
ACTIVE = frozenset({*OPEN_STATES, TicketState.ANSWERED})
# A case that starts again in a unit (transferred, reopened): the forwarder posts its card
# anew (a card refused in the old chat is not this one's) and its deadline notices may go again.
POSTED_AGAIN: dict[str, Any] = {
    "forwarded_at": None,
    "forwarded_message_id": None,
    "forwarded_chat_id": None,
    "forward_error": None,
    "reminded_at": None,
    "escalated_at": None,
}


@dataclass(frozen=True)
class Changed:
    """The change happened: the case as it is now and the history line written."""

    case: Case
    event: CaseEvent


@dataclass(frozen=True)
class Unchanged:
    """Nothing changed: the case is gone, or its state does not allow it (`state`)."""

    reason: str  # 'missing' | 'state' | 'same_case' | 'target_missing' | 'not_theirs' | 'late'
    state: str | None = None


def _event(row: CaseEventRow) -> CaseEvent:
    return CaseEvent(
        id=row.id,
        case_id=row.case_id,
        at=row.at,
        actor=row.actor,
        kind=row.kind,
        from_state=row.from_state,
        to_state=row.to_state,
        unit_id=row.unit_id,
        detail=row.detail,
    )


def _case(row: FeedbackRow) -> Case:
    from storage.feedback import _feedback  # one converter for the one table

    return _feedback(row)


async def change_in(
    s: AsyncSession,
    insert: Callable[[Any], Any],
    case_id: int,
    *,
    kind: str,
    actor: str,
    now: datetime,
    allowed: frozenset[str],
    to_state: str | None,
    notify: bool,
    detail: str | None = None,
    unit_id: int | None = None,
    values: dict[str, Any] | None = None,
) -> Changed | Unchanged:
    """The one way a case changes: check, update, history, notice — in the caller's
    transaction. `to_state` None keeps the state (an assignment, a satisfaction answer)."""
    row = await s.get(FeedbackRow, case_id, with_for_update=True, populate_existing=True)
    if row is None:
        return Unchanged("missing")
    if row.status not in allowed:
        return Unchanged("state", row.status)
    before = row.status
    # Compare and set: the UPDATE itself checks the state read above, so two staff pressing
    # at once change the case once even where SELECT … FOR UPDATE locks nothing (SQLite).
    changes = {**(values or {}), "updated_at": now}
    if to_state is not None:
        changes["status"] = to_state
    done = await s.execute(
        update(FeedbackRow)
        .where(FeedbackRow.id == case_id, FeedbackRow.status == before)
        .values(**changes)
        .execution_options(synchronize_session=False)
    )
    if not done.rowcount:  # type: ignore[attr-defined]
        current = await s.get(FeedbackRow, case_id, populate_existing=True)
        return Unchanged("state", current.status if current else None)
    await s.refresh(row)
    event = CaseEventRow(
        case_id=row.id,
        at=now,
        actor=actor,
        kind=kind,
        from_state=before,
        to_state=row.status,
        unit_id=unit_id,
        detail=detail,
    )
    s.add(event)
    await s.flush()
    if notify:
        await queue_notice(s, insert, row.subscriber_id, event.id, now)
        for follower in await followers_in(s, row.id, row.subscriber_id):
            await queue_notice(s, insert, follower, event.id, now)
    return Changed(_case(row), _event(event))


async def followers_in(s: AsyncSession, case_id: int, owner: int) -> list[int]:
    """The citizens who follow a case because theirs was merged into it (directly or through
    a chain of merges), other than its own citizen: they are told of its changes too."""
    subscribers: set[int] = set()
    frontier, seen = [case_id], {case_id}
    for _ in range(10):  # merges form short chains; the bound keeps a bad row from looping
        q = select(FeedbackRow.id, FeedbackRow.subscriber_id).where(
            FeedbackRow.merged_into.in_(frontier)
        )
        rows = [(cid, sub) for cid, sub in (await s.execute(q)).all() if cid not in seen]
        if not rows:
            break
        frontier = [cid for cid, _ in rows]
        seen.update(frontier)
        subscribers.update(sub for _, sub in rows)
    subscribers.discard(owner)
    return sorted(subscribers)


async def queue_notice(
    s: AsyncSession,
    insert: Callable[[Any], Any],
    subscriber_id: int,
    event_id: int,
    now: datetime,
    *,
    kind: str = OutboxKind.CASE_NOTICE,
) -> None:
    """An outbox row telling a case event to one recipient (once: the outbox is unique on
    recipient, kind and item)."""
    await s.execute(
        insert(DeliveryRow)
        .values(
            subscriber_id=subscriber_id,
            kind=kind,
            item_id=event_id,
            status=DeliveryStatus.PENDING,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["subscriber_id", "kind", "item_id"])
    )


async def close_in(
    s: AsyncSession, insert: Callable[[Any], Any], case_id: int, *, actor: str, now: datetime
) -> bool:
    done = await change_in(
        s,
        insert,
        case_id,
        kind=CaseEventKind.CLOSED,
        actor=actor,
        now=now,
        allowed=ACTIVE,
        to_state=TicketState.CLOSED,
        notify=True,
        values={"closed_at": now},
    )
    return isinstance(done, Changed)


class CaseRepo(Repo):
    """State changes of cases, their history, and the lookups both citizens and staff use."""

    async def _change(self, case_id: int, **kw: Any) -> Changed | Unchanged:
        async with self._tx() as s:
            return await change_in(s, self._insert, case_id, **kw)

    # -- lookups -------------------------------------------------------------------------------

    async def get(self, case_id: int) -> Case | None:
        async with self._tx() as s:
            row = await s.get(FeedbackRow, case_id)
            return _case(row) if row else None

    async def by_code(self, code: str) -> Case | None:
        """The case a typed code names ('PA00042', 'pa42', '42'); None for anything else."""
        number = parse_case_code(code)
        return await self.get(number) if number is not None else None

    async def for_subscriber(self, subscriber_id: int, *, limit: int = 10) -> list[Case]:
        """A citizen's cases, newest first (/phananh)."""
        q = (
            select(FeedbackRow)
            .where(FeedbackRow.subscriber_id == subscriber_id)
            .order_by(FeedbackRow.id.desc())
            .limit(limit)
        )
        async with self._tx() as s:
            return [_case(r) for r in (await s.execute(q)).scalars()]

    async def count_for_subscriber(self, subscriber_id: int) -> int:
        q = select(func.count()).where(FeedbackRow.subscriber_id == subscriber_id)
        async with self._tx() as s:
            return int((await s.execute(q)).scalar_one())

    async def history(self, case_id: int) -> list[CaseEvent]:
        q = select(CaseEventRow).where(CaseEventRow.case_id == case_id).order_by(CaseEventRow.id)
        async with self._tx() as s:
            return [_event(r) for r in (await s.execute(q)).scalars()]

    async def event(self, event_id: int) -> CaseEvent | None:
        async with self._tx() as s:
            row = await s.get(CaseEventRow, event_id)
            return _event(row) if row else None

    async def thread(self, case_id: int, *, notes: bool) -> list[FeedbackMessage]:
        """The case's messages after the first, oldest first; internal notes only for staff
        (`notes=True`): the citizen's view never holds them."""
        from storage.feedback import _message

        q = select(FeedbackMessageRow).where(FeedbackMessageRow.feedback_id == case_id)
        if not notes:
            q = q.where(FeedbackMessageRow.author != Author.NOTE)
        async with self._tx() as s:
            rows = (await s.execute(q.order_by(FeedbackMessageRow.id))).scalars()
            return [_message(r) for r in rows]

    async def followed(self, case_id: int) -> Case | None:
        """The case a citizen follows: a merged case leads to the one it was merged into
        (through chains of merges, at most a few steps)."""
        async with self._tx() as s:
            row = await s.get(FeedbackRow, case_id)
            for _ in range(10):
                if row is None or row.merged_into is None:
                    break
                row = await s.get(FeedbackRow, row.merged_into)
            return _case(row) if row else None

    # -- staff actions -------------------------------------------------------------------------

    async def take(self, case_id: int, *, actor: str, now: datetime) -> Changed | Unchanged:
        """«Nhận xử lý»: the staff member holds the case; a new case is accepted (the citizen
        is told), one already in hand changes holder only."""
        async with self._tx() as s:
            row = await s.get(FeedbackRow, case_id)
            if row is None:
                return Unchanged("missing")
            first = row.status == TicketState.NEW
            return await change_in(
                s,
                self._insert,
                case_id,
                kind=CaseEventKind.ACCEPTED if first else CaseEventKind.ASSIGNED,
                actor=actor,
                now=now,
                allowed=TAKEABLE,
                to_state=TicketState.ACCEPTED if first else None,
                notify=first,
                detail=actor,
                values={"assignee": actor, "accepted_at": row.accepted_at or now},
            )

    async def start(self, case_id: int, *, actor: str, now: datetime) -> Changed | Unchanged:
        """«Đang xử lý»."""
        return await self._change(
            case_id,
            kind=CaseEventKind.STARTED,
            actor=actor,
            now=now,
            allowed=frozenset({TicketState.NEW, TicketState.ACCEPTED}),
            to_state=TicketState.IN_PROGRESS,
            notify=True,
        )

    async def note(
        self, case_id: int, *, actor: str, text: str, now: datetime
    ) -> FeedbackMessage | None:
        """An internal note: part of the staff's thread, never sent or shown to the citizen."""
        from storage.feedback import _message

        async with self._tx() as s:
            if await s.get(FeedbackRow, case_id) is None:
                return None
            row = FeedbackMessageRow(
                feedback_id=case_id,
                created_at=now,
                author=Author.NOTE,
                staff_user=actor,
                text=text,
                forwarded_at=now,  # never a card of its own, never an outbox row
            )
            s.add(row)
            await s.flush()
            return _message(row)

    async def transfer(
        self, case_id: int, *, unit_id: int, reason: str, actor: str, now: datetime
    ) -> Changed | Unchanged:
        """To another unit, with the reason: the case starts again there (new, nobody holds
        it) and its card is posted to that unit's chat by the forwarder."""
        async with self._tx() as s:
            if await s.get(UnitRow, unit_id) is None:
                return Unchanged("target_missing")
            row = await s.get(FeedbackRow, case_id)
            if row is not None and row.unit_id == unit_id:
                return Unchanged("same_case")
            return await change_in(
                s,
                self._insert,
                case_id,
                kind=CaseEventKind.TRANSFERRED,
                actor=actor,
                now=now,
                allowed=ACTIVE,
                to_state=TicketState.NEW,
                notify=True,
                detail=reason,
                unit_id=unit_id,
                values={
                    "unit_id": unit_id,
                    "assignee": None,
                    "state_reason": reason,
                    **POSTED_AGAIN,
                },
            )

    async def merge(
        self, case_id: int, *, into_code: str, actor: str, now: datetime
    ) -> Changed | Unchanged:
        """«Trùng»: merged into another case, which the citizen then follows."""
        target_id = parse_case_code(into_code)
        if target_id is None:
            return Unchanged("target_missing")
        if target_id == case_id:
            return Unchanged("same_case")
        async with self._tx() as s:
            target = await s.get(FeedbackRow, target_id)
            if target is None:
                return Unchanged("target_missing")
            if target.merged_into == case_id:
                return Unchanged("same_case")  # no cycles
            return await change_in(
                s,
                self._insert,
                case_id,
                kind=CaseEventKind.MERGED,
                actor=actor,
                now=now,
                allowed=ACTIVE,
                to_state=TicketState.DUPLICATE,
                notify=True,
                detail=target.code,
                values={"merged_into": target.id, "closed_at": now},
            )

    async def not_responsible(
        self, case_id: int, *, reason: str, actor: str, now: datetime
    ) -> Changed | Unchanged:
        """«Không thuộc thẩm quyền»: closed with the reason and where to go instead."""
        return await self._change(
            case_id,
            kind=CaseEventKind.NOT_RESPONSIBLE,
            actor=actor,
            now=now,
            allowed=ACTIVE,
            to_state=TicketState.NOT_RESPONSIBLE,
            notify=True,
            detail=reason,
            values={"state_reason": reason, "closed_at": now},
        )

    async def close(self, case_id: int, *, actor: str, now: datetime) -> Changed | Unchanged:
        """«Đóng»: the citizen is told, with the one-tap satisfaction question."""
        return await self._change(
            case_id,
            kind=CaseEventKind.CLOSED,
            actor=actor,
            now=now,
            allowed=ACTIVE,
            to_state=TicketState.CLOSED,
            notify=True,
            values={"closed_at": now},
        )

    # -- the citizen's side --------------------------------------------------------------------

    async def rate(
        self, case_id: int, subscriber_id: int, value: str, *, now: datetime
    ) -> Changed | Unchanged:
        """The citizen's satisfaction with a closed case (their own only). «Chưa hài lòng»
        within 7 days of closing reopens it for the unit (its card is posted again)."""
        async with self._tx() as s:
            row = await s.get(FeedbackRow, case_id, with_for_update=True)
            if row is None:
                return Unchanged("missing")
            if row.subscriber_id != subscriber_id:
                return Unchanged("not_theirs")
            if row.status != TicketState.CLOSED:
                return Unchanged("state", row.status)
            rated = await change_in(
                s,
                self._insert,
                case_id,
                kind=CaseEventKind.SATISFACTION,
                actor="citizen",
                now=now,
                allowed=frozenset({TicketState.CLOSED}),
                to_state=None,
                notify=False,
                detail=value,
                values={"satisfaction": value, "satisfaction_at": now},
            )
            if value != Satisfaction.UNSATISFIED or not isinstance(rated, Changed):
                return rated
            closed_at = row.closed_at
            if closed_at is None or now - closed_at > REOPEN_WINDOW:
                return Unchanged("late", row.status)
            return await change_in(
                s,
                self._insert,
                case_id,
                kind=CaseEventKind.REOPENED,
                actor="citizen",
                now=now,
                allowed=frozenset({TicketState.CLOSED}),
                to_state=TicketState.IN_PROGRESS,
                notify=True,
                detail=value,
                values={
                    "closed_at": None,
                    "reopened_at": now,
                    **POSTED_AGAIN,
                },
            )

    # -- staff queries (the staff side of #15: bot/dialog/flows/inbox.py, case_staff.py) ---------

    async def staff_access(self, case_id: int, platform: str, user_id: str) -> str:
        """Whether this person may act on this case now, read in one transaction: 'ok' (an
        admin; an editor who is a member of the case's unit, or the unit has no members: the
        default unit is every staff member's), 'not_staff', 'missing' or 'other_unit'."""
        from storage.models import StaffRow, UnitMemberRow
        from storage.staff import ADMIN, EDITOR

        q = select(StaffRow).where(StaffRow.platform == platform, StaffRow.user_id == user_id)
        async with self._tx() as s:
            staff = (await s.execute(q)).scalar_one_or_none()
            if staff is None or staff.role not in (ADMIN, EDITOR):
                return "not_staff"
            row = await s.get(FeedbackRow, case_id)
            if row is None:
                return "missing"
            if staff.role == ADMIN or row.unit_id is None:
                return "ok"
            members = select(UnitMemberRow.staff_id).where(UnitMemberRow.unit_id == row.unit_id)
            ids = set((await s.execute(members)).scalars())
            return "ok" if not ids or staff.id in ids else "other_unit"

    async def open_for_staff(
        self, platform: str, user_id: str, *, limit: int = 20
    ) -> tuple[list[Case], int]:
        """The open cases (OPEN_STATES) a staff member may act on — every unit's for an
        admin; for an editor, their units' and those of units without members — soonest due
        first (so overdue first), cases without a due time last; and how many there are."""
        from storage.models import StaffRow, UnitMemberRow
        from storage.staff import ADMIN, EDITOR

        who = select(StaffRow).where(StaffRow.platform == platform, StaffRow.user_id == user_id)
        async with self._tx() as s:
            staff = (await s.execute(who)).scalar_one_or_none()
            if staff is None or staff.role not in (ADMIN, EDITOR):
                return [], 0
            where: list[ColumnElement[bool]] = [FeedbackRow.status.in_(OPEN_STATES)]
            if staff.role != ADMIN:
                mine = select(UnitMemberRow.unit_id).where(UnitMemberRow.staff_id == staff.id)
                staffed = select(UnitMemberRow.unit_id)
                where.append(
                    FeedbackRow.unit_id.is_(None)
                    | FeedbackRow.unit_id.in_(mine)
                    | FeedbackRow.unit_id.not_in(staffed)
                )
            total = (await s.execute(select(func.count()).where(*where))).scalar_one()
            q = (
                select(FeedbackRow)
                .where(*where)
                .order_by(FeedbackRow.due_at.is_(None), FeedbackRow.due_at, FeedbackRow.id)
                .limit(limit)
            )
            return [_case(r) for r in (await s.execute(q)).scalars()], int(total)

    async def held_notices(self, subscriber_id: int) -> int:
        """How many notices and answers to this citizen are held (Zalo OA: outside the 7-day
        window, sent when they next write): the card tells staff the citizen is waiting."""
        q = select(func.count()).where(
            DeliveryRow.subscriber_id == subscriber_id,
            DeliveryRow.status == DeliveryStatus.HELD,
        )
        async with self._tx() as s:
            return int((await s.execute(q)).scalar_one())


__all__ = [
    "ACTIVE",
    "FINAL_STATES",
    "OPEN_STATES",
    "REOPEN_WINDOW",
    "CaseRepo",
    "Changed",
    "Unchanged",
    "change_in",
    "close_in",
    "queue_notice",
]
