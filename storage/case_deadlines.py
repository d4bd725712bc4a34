"""Deadline reminders and escalations of open cases, each claimed once.

The scheduler's deadline job (jobs/cases/deadlines.py) decides WHEN (working time); this module
makes sending each notice happen at most once, whatever restarts or how many schedulers run:
a case is claimed with a conditional UPDATE (`reminded_at IS NULL`, `escalated_at IS NULL`) in
the same transaction that writes the history line (`case_events`, kind 'reminder' or
'escalation') and the outbox rows (kind 'case_reminder', item_id = the event) for the staff
chats. Two schedulers racing for one case: the second UPDATE finds the column set (PostgreSQL
re-checks the WHERE after the first commits; SQLite writes one at a time) and does nothing. A
crash before the commit leaves nothing behind; after it, the outbox sends.

Only open states count (new, accepted, in progress): an answered or closed case owes nothing.
A transfer or a reopening clears both columns (storage/cases.py), so the new holder is
reminded again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.base import Repo
from storage.cases import queue_notice
from storage.kinds import OPEN_STATES, CaseEventKind, OutboxKind
from storage.models import CaseEventRow, FeedbackRow, SubscriberRow
from storage.records import CaseEvent

Chat = tuple[str, str]  # (platform, chat_id)
SYSTEM_ACTOR = "system"
BATCH = 200


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


class DeadlineRepo(Repo):
    async def remind(
        self,
        *,
        now: datetime,
        due_before: datetime,
        chats: Mapping[int, Sequence[Chat]],
        fallback: Sequence[Chat],
        limit: int = BATCH,
    ) -> list[CaseEvent]:
        """Claim and queue a reminder for each open case due after `now` and at or before
        `due_before`, to its unit's chats (`chats[unit_id]`, else `fallback`). A case with
        nobody to tell is left unclaimed (it is told once a chat is set)."""
        q = (
            select(FeedbackRow.id)
            .where(
                FeedbackRow.status.in_(OPEN_STATES),
                FeedbackRow.reminded_at.is_(None),
                FeedbackRow.due_at.is_not(None),
                FeedbackRow.due_at > now,
                FeedbackRow.due_at <= due_before,
            )
            .order_by(FeedbackRow.due_at, FeedbackRow.id)
            .limit(limit)
        )
        done: list[CaseEvent] = []
        async with self._tx() as s:
            candidates = [(int(i)) for i in (await s.execute(q)).scalars()]
        for case_id in candidates:
            event = await self._claim(
                case_id,
                column=FeedbackRow.reminded_at,
                due_limit=due_before,
                kind=CaseEventKind.REMINDER,
                now=now,
                chats=chats,
                fallback=fallback,
            )
            if event is not None:
                done.append(event)
        return done

    async def escalate(
        self, *, now: datetime, chats: Sequence[Chat], limit: int = BATCH
    ) -> list[CaseEvent]:
        """Claim and queue an escalation for each open case past its due time, to the admins'
        chats (`chats`: the default unit's or the configured staff chats)."""
        if not chats:
            return []
        q = (
            select(FeedbackRow.id)
            .where(
                FeedbackRow.status.in_(OPEN_STATES),
                FeedbackRow.escalated_at.is_(None),
                FeedbackRow.due_at.is_not(None),
                FeedbackRow.due_at <= now,
            )
            .order_by(FeedbackRow.due_at, FeedbackRow.id)
            .limit(limit)
        )
        async with self._tx() as s:
            candidates = [int(i) for i in (await s.execute(q)).scalars()]
        done: list[CaseEvent] = []
        for case_id in candidates:
            event = await self._claim(
                case_id,
                column=FeedbackRow.escalated_at,
                due_limit=now,
                kind=CaseEventKind.ESCALATION,
                now=now,
                chats={},
                fallback=chats,
            )
            if event is not None:
                done.append(event)
        return done

    async def _claim(
        self,
        case_id: int,
        *,
        column: object,
        due_limit: datetime,
        kind: str,
        now: datetime,
        chats: Mapping[int, Sequence[Chat]],
        fallback: Sequence[Chat],
    ) -> CaseEvent | None:
        """One case in one transaction: the conditional UPDATE, the event, the outbox rows."""
        async with self._tx() as s:
            row = await s.get(FeedbackRow, case_id)
            if row is None:
                return None
            targets = list(chats.get(row.unit_id, fallback) if row.unit_id else fallback)
            if not targets:
                return None
            claimed = await s.execute(
                update(FeedbackRow)
                .where(
                    FeedbackRow.id == case_id,
                    column.is_(None),  # type: ignore[attr-defined]
                    FeedbackRow.status.in_(OPEN_STATES),
                    FeedbackRow.due_at <= due_limit,
                )
                .values({column.key: now})  # type: ignore[attr-defined]
                .execution_options(synchronize_session=False)
            )
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                return None  # another scheduler (or an earlier run) has it
            await s.refresh(row)
            event = CaseEventRow(
                case_id=case_id,
                at=now,
                actor=SYSTEM_ACTOR,
                kind=kind,
                from_state=row.status,
                to_state=row.status,
                unit_id=row.unit_id,
                detail=row.due_at.isoformat() if row.due_at else None,
            )
            s.add(event)
            await s.flush()
            for platform, chat_id in dict.fromkeys(targets):  # each chat once
                recipient = await self._chat_row(s, platform, chat_id, now)
                await queue_notice(
                    s, self._insert, recipient, event.id, now, kind=OutboxKind.CASE_REMINDER
                )
            return _event(event)

    async def _chat_row(self, s: AsyncSession, platform: str, chat_id: str, now: datetime) -> int:
        """The subscriber row the outbox addresses a staff chat by (created, inactive: it gets
        no news, only what is addressed to it)."""
        await s.execute(
            self._insert(SubscriberRow)
            .values(
                platform=platform,
                chat_id=chat_id,
                chat_type="group",
                language="vi",
                active=False,
                created_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing(index_elements=["platform", "chat_id"])
        )
        q = select(SubscriberRow.id).where(
            SubscriberRow.platform == platform, SubscriberRow.chat_id == chat_id
        )
        return int((await s.execute(q)).scalar_one())
