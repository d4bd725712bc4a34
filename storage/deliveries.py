"""The outbox: one row per (recipient, item); claimed with a lease before every send.

Statuses: pending → sending (leased) → sent | pending (retry) | dead (dead letter, retries
exhausted or refused) | blocked (the recipient is gone) | cancelled (unsubscribed, item gone).
A crash leaves rows in `sending`; once their lease expires they return to `pending`, so at
most the in-flight window can be sent twice and nothing is lost.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, and_, bindparam, func, literal, select, update

from storage.base import Repo
from storage.kinds import DeliveryStatus, OutboxKind
from storage.models import DeliveryRow, PreferenceRow, SubscriberRow
from storage.records import Delivery

# Kinds a citizen is owed whatever their news subscription (a staff answer to their feedback):
# unsubscribing, pausing or quiet hours never hold or cancel them; only the citizen's block
# stops one, and then staff are told (jobs/send/deliverer.py).
OWED_KINDS = frozenset({OutboxKind.ANSWER, OutboxKind.CASE_NOTICE, OutboxKind.CASE_REMINDER})
# The outbox's hot statements (claim, mark sent) run on the Core table: the ORM's bulk and
# RETURNING paths cost about 3x the CPU per row, which at 1,000 sends a second is a sixth of
# the deliverer's core (bench/broadcast.py).
_TABLE = cast(Table, DeliveryRow.__table__)
_RECORD_COLUMNS = [_TABLE.c[f.name] for f in fields(Delivery)]
# Built once: composing an UPDATE and its cache key per batch cost as much as running it.
_MARK_SENT = (
    update(_TABLE)
    .where(_TABLE.c.id == bindparam("row_id"))
    .values(
        status=DeliveryStatus.SENT,
        message_id=bindparam("mid"),
        sent_at=bindparam("now"),
        lease_until=None,
        last_error=None,
    )
)


def _delivery(row: DeliveryRow) -> Delivery:
    return Delivery(
        id=row.id,
        subscriber_id=row.subscriber_id,
        kind=row.kind,
        item_id=row.item_id,
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        lease_until=row.lease_until,
        message_id=row.message_id,
        last_error=row.last_error,
        created_at=row.created_at,
        sent_at=row.sent_at,
    )


class DeliveryRepo(Repo):
    async def enqueue_fanout(
        self, kind: str, item_id: int, *, now: datetime, only_all_news: bool = True
    ) -> int:
        """Queue an item to every active subscriber (in one INSERT … SELECT); returns how many.

        Creating the same (recipient, item) twice is a no-op thanks to the unique key.
        """
        q = select(
            SubscriberRow.id,
            literal(kind),
            literal(item_id),
            literal(DeliveryStatus.PENDING),
            literal(0),
            literal(now, DeliveryRow.next_attempt_at.type),
            literal(now, DeliveryRow.created_at.type),
        ).where(SubscriberRow.active.is_(True))
        if only_all_news:
            q = q.outerjoin(PreferenceRow, PreferenceRow.subscriber_id == SubscriberRow.id).where(
                (PreferenceRow.all_news.is_(None)) | (PreferenceRow.all_news.is_(True))
            )
        cols = [
            "subscriber_id",
            "kind",
            "item_id",
            "status",
            "attempts",
            "next_attempt_at",
            "created_at",
        ]
        stmt = (
            self._insert(DeliveryRow)
            .from_select(cols, q)
            .on_conflict_do_nothing(index_elements=["subscriber_id", "kind", "item_id"])
            .returning(DeliveryRow.id)
        )
        async with self._tx() as s:
            return len(list((await s.execute(stmt)).scalars()))

    async def enqueue_one(
        self, subscriber_id: int, kind: str, item_id: int, *, now: datetime
    ) -> bool:
        stmt = (
            self._insert(DeliveryRow)
            .values(
                subscriber_id=subscriber_id,
                kind=kind,
                item_id=item_id,
                status=DeliveryStatus.PENDING,
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=["subscriber_id", "kind", "item_id"])
            .returning(DeliveryRow.id)
        )
        async with self._tx() as s:
            return (await s.execute(stmt)).scalar_one_or_none() is not None

    async def enqueue_each(
        self, kind: str, item_id: int, due: list[tuple[int, datetime]], *, now: datetime
    ) -> int:
        """Queue one item to chosen subscribers, each at their own time (quiet hours); returns
        how many rows are new. Existing (recipient, item) rows are left alone."""
        if not due:
            return 0
        stmt = (
            self._insert(DeliveryRow)
            .on_conflict_do_nothing(index_elements=["subscriber_id", "kind", "item_id"])
            .returning(DeliveryRow.id)
        )
        rows = [
            {
                "subscriber_id": sid,
                "kind": kind,
                "item_id": item_id,
                "status": DeliveryStatus.PENDING,
                "attempts": 0,
                "next_attempt_at": at,
                "created_at": now,
            }
            for sid, at in due
        ]
        async with self._tx() as s:
            result = await s.execute(stmt, rows)
            return len(list(result.scalars()))

    async def defer(
        self, kind: str, item_id: int, subscriber_ids: list[int], *, until: datetime
    ) -> int:
        """Hold the pending rows of one item for these subscribers until `until`."""
        if not subscriber_ids:
            return 0
        stmt = (
            update(DeliveryRow)
            .where(
                DeliveryRow.kind == kind,
                DeliveryRow.item_id == item_id,
                DeliveryRow.status == DeliveryStatus.PENDING,
                DeliveryRow.subscriber_id.in_(subscriber_ids),
            )
            .values(next_attempt_at=until)
        )
        async with self._tx() as s:
            return int((await s.execute(stmt)).rowcount)  # type: ignore[attr-defined]

    async def claim_due(self, *, now: datetime, limit: int, lease_seconds: float) -> list[Delivery]:
        """Lease up to `limit` due rows in one statement.

        PostgreSQL: the inner SELECT … FOR UPDATE SKIP LOCKED lets several workers claim
        disjoint rows; SQLite renders no FOR UPDATE and serializes writers instead.
        """
        due = (
            select(DeliveryRow.id)
            .where(DeliveryRow.status == DeliveryStatus.PENDING, DeliveryRow.next_attempt_at <= now)
            .order_by(DeliveryRow.next_attempt_at, DeliveryRow.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .cte("due")
        )
        # A CTE, not `id IN (subquery)`: PostgreSQL may re-run an IN-subquery with LIMIT and
        # claim more rows than asked.
        stmt = (
            update(_TABLE)
            .where(_TABLE.c.id == due.c.id, _TABLE.c.status == DeliveryStatus.PENDING)
            .values(
                status=DeliveryStatus.SENDING, lease_until=now + timedelta(seconds=lease_seconds)
            )
            .returning(*_RECORD_COLUMNS)
        )
        async with self._tx() as s:
            rows = (await s.execute(stmt)).all()
        # Positional (the record's field order): a third of the CPU of reading by name.
        return sorted((Delivery(*r) for r in rows), key=lambda d: (d.next_attempt_at, d.id))

    async def mark_sent(self, delivery_id: int, *, message_id: str | None, now: datetime) -> None:
        await self._set(
            delivery_id,
            status=DeliveryStatus.SENT,
            message_id=message_id,
            sent_at=now,
            lease_until=None,
            last_error=None,
        )

    async def mark_sent_many(self, sent: list[tuple[int, str | None]], *, now: datetime) -> None:
        """Record many successful sends in one transaction (one UPDATE per row, executemany)."""
        if not sent:
            return
        params = [{"row_id": ident, "mid": mid, "now": now} for ident, mid in sent]
        async with self._tx() as s:
            await s.execute(_MARK_SENT, params)

    async def reschedule(
        self, delivery_id: int, *, at: datetime, error: str | None, count_attempt: bool
    ) -> None:
        values: dict[str, object] = dict(
            status=DeliveryStatus.PENDING, next_attempt_at=at, lease_until=None, last_error=error
        )
        if count_attempt:
            values["attempts"] = DeliveryRow.attempts + 1
        await self._set(delivery_id, **values)

    async def hand_back(self, delivery_ids: list[int], *, at: datetime) -> int:
        """Claimed rows that were not sent go back to pending, due `at`, with no attempt
        counted (one statement for a whole batch's rest)."""
        if not delivery_ids:
            return 0
        stmt = (
            update(_TABLE)
            .where(
                _TABLE.c.id.in_(bindparam("ids", expanding=True)),
                _TABLE.c.status == DeliveryStatus.SENDING,
            )
            .values(status=DeliveryStatus.PENDING, next_attempt_at=at, lease_until=None)
        )
        async with self._tx() as s:
            result = await s.execute(stmt, {"ids": delivery_ids})
            return int(result.rowcount)  # type: ignore[attr-defined]

    async def extend_lease(self, delivery_ids: list[int], *, until: datetime) -> None:
        """Keep claimed rows leased until `until` (a batch waiting for its turn in the shared
        schedule behind other workers' batches must not be claimed again meanwhile)."""
        if not delivery_ids:
            return
        stmt = (
            update(_TABLE)
            .where(
                _TABLE.c.id.in_(bindparam("ids", expanding=True)),
                _TABLE.c.status == DeliveryStatus.SENDING,
            )
            .values(lease_until=until)
        )
        async with self._tx() as s:
            await s.execute(stmt, {"ids": delivery_ids})

    async def mark_dead(self, delivery_id: int, *, error: str) -> None:
        await self._set(
            delivery_id,
            status=DeliveryStatus.DEAD,
            lease_until=None,
            last_error=error,
            attempts=DeliveryRow.attempts + 1,
        )

    async def cancel(self, delivery_id: int, *, reason: str) -> None:
        await self._set(
            delivery_id, status=DeliveryStatus.CANCELLED, lease_until=None, last_error=reason
        )

    async def mark_blocked(self, delivery_id: int, *, reason: str) -> None:
        await self._set(
            delivery_id, status=DeliveryStatus.BLOCKED, lease_until=None, last_error=reason
        )

    async def retry_dead(self, delivery_id: int | None, *, now: datetime) -> int:
        """Re-queue one dead letter (or all with None); returns how many."""
        stmt = (
            update(DeliveryRow)
            .where(DeliveryRow.status == DeliveryStatus.DEAD)
            .values(
                status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=now, lease_until=None
            )
        )
        if delivery_id is not None:
            stmt = stmt.where(DeliveryRow.id == delivery_id)
        async with self._tx() as s:
            return int((await s.execute(stmt)).rowcount)  # type: ignore[attr-defined]

    async def sent_since(self, kind: str, item_id: int, since: datetime) -> int:
        """Rows of one item sent after `since` (for a broadcast's current rate)."""
        q = select(func.count()).where(
            DeliveryRow.kind == kind,
            DeliveryRow.item_id == item_id,
            DeliveryRow.status == DeliveryStatus.SENT,
            DeliveryRow.sent_at >= since,
        )
        async with self._tx() as s:
            return int((await s.execute(q)).scalar_one())

    async def cancel_pending_for(self, subscriber_id: int, *, reason: str) -> int:
        """Cancel the news still queued for a subscriber who left; what they are owed (answers)
        stays queued and is tried anyway: only the platform's refusal stops it."""
        stmt = (
            update(DeliveryRow)
            .where(
                DeliveryRow.subscriber_id == subscriber_id,
                DeliveryRow.status == DeliveryStatus.PENDING,
                DeliveryRow.kind.not_in(OWED_KINDS),
            )
            .values(status=DeliveryStatus.CANCELLED, last_error=reason)
        )
        async with self._tx() as s:
            return int((await s.execute(stmt)).rowcount)  # type: ignore[attr-defined]

    async def release_expired(self, now: datetime) -> int:
        """Rows whose sender died mid-flight go back to pending."""
        stmt = (
            update(DeliveryRow)
            .where(DeliveryRow.status == DeliveryStatus.SENDING, DeliveryRow.lease_until < now)
            .values(status=DeliveryStatus.PENDING, lease_until=None)
        )
        async with self._tx() as s:
            return int((await s.execute(stmt)).rowcount)  # type: ignore[attr-defined]

    async def next_lease_expiry(self) -> datetime | None:
        """When the earliest lease of a row in flight runs out (a dead sender's rows come back
        then)."""
        q = (
            select(DeliveryRow.lease_until)
            .where(
                DeliveryRow.status == DeliveryStatus.SENDING, DeliveryRow.lease_until.is_not(None)
            )
            .order_by(DeliveryRow.lease_until)
            .limit(1)
        )
        async with self._tx() as s:
            return (await s.execute(q)).scalar_one_or_none()

    async def find_by_message(self, subscriber_id: int, message_id: str) -> Delivery | None:
        q = select(DeliveryRow).where(
            and_(DeliveryRow.subscriber_id == subscriber_id, DeliveryRow.message_id == message_id)
        )
        async with self._tx() as s:
            row = (await s.execute(q)).scalars().first()
            return _delivery(row) if row else None

    async def next_due_at(self) -> datetime | None:
        q = (
            select(DeliveryRow.next_attempt_at)
            .where(DeliveryRow.status == DeliveryStatus.PENDING)
            .order_by(DeliveryRow.next_attempt_at)
            .limit(1)
        )
        async with self._tx() as s:
            return (await s.execute(q)).scalar_one_or_none()

    async def counts(
        self, *, kind: str | None = None, item_id: int | None = None
    ) -> dict[str, int]:
        q = select(DeliveryRow.status, func.count()).group_by(DeliveryRow.status)
        if kind is not None:
            q = q.where(DeliveryRow.kind == kind)
        if item_id is not None:
            q = q.where(DeliveryRow.item_id == item_id)
        async with self._tx() as s:
            return {status: int(n) for status, n in (await s.execute(q)).all()}

    async def all(self, *, status: str | None = None, limit: int = 100) -> list[Delivery]:
        q = select(DeliveryRow).order_by(DeliveryRow.id).limit(limit)
        if status:
            q = q.where(DeliveryRow.status == status)
        async with self._tx() as s:
            return [_delivery(r) for r in (await s.execute(q)).scalars()]

    async def _set(self, delivery_id: int, **values: object) -> None:
        async with self._tx() as s:
            await s.execute(
                update(DeliveryRow).where(DeliveryRow.id == delivery_id).values(**values)
            )

    # -- the Zalo OA window: notices held until the citizen writes again (issue #15) -----------

    async def hold(self, delivery_id: int, *, reason: str) -> None:
        """An owed notice the platform's window refused: kept (held), not cancelled."""
        await self._set(
            delivery_id, status=DeliveryStatus.HELD, lease_until=None, last_error=reason
        )

    async def release_held(self, subscriber_id: int, now: datetime) -> int:
        """The citizen wrote: their held rows are due again now; returns how many."""
        async with self._tx() as s:
            done = await s.execute(
                update(DeliveryRow)
                .where(
                    DeliveryRow.subscriber_id == subscriber_id,
                    DeliveryRow.status == DeliveryStatus.HELD,
                )
                .values(status=DeliveryStatus.PENDING, next_attempt_at=now, lease_until=None)
            )
            return int(done.rowcount)  # type: ignore[attr-defined]


# Owed kinds a closed messaging window holds (status 'held') rather than cancels: the citizen's
# case notices and staff answers, sent by `release_held` when the citizen writes again.
HELD_KINDS = frozenset({OutboxKind.ANSWER, OutboxKind.CASE_NOTICE})
