"""Subscribers: one row per (platform, chat), with a small persistent dialog state."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import cast

from sqlalchemy import Table, and_, case, delete, func, literal, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.base import Repo
from storage.kinds import DigestMode
from storage.models import PreferenceRow, SubscriberRow, UserDialogStateRow, utcnow
from storage.records import Subscriber

log = logging.getLogger(__name__)


def _subscriber(row: SubscriberRow) -> Subscriber:
    return Subscriber(
        id=row.id,
        platform=row.platform,
        chat_id=row.chat_id,
        chat_type=row.chat_type,
        display_name=row.display_name,
        language=row.language,
        active=row.active,
        dialog_state=row.dialog_state,
        dialog_ref=row.dialog_ref,
        created_at=row.created_at,
        consent_at=row.consent_at,
        phone=row.phone,
        erased_at=row.erased_at,
    )


# The record's fields in order, as columns: rows become records positionally, a third of the
# CPU of reading each field by name (the deliverer reads 1,000 subscribers a second).
_RECORD_COLUMNS = [SubscriberRow.__table__.c[f.name] for f in fields(Subscriber)]
_FIELDS = len(_RECORD_COLUMNS)
_SUBSCRIBERS = cast(Table, SubscriberRow.__table__)
_PREFERENCES = cast(Table, PreferenceRow.__table__)
_STEPS = cast(Table, UserDialogStateRow.__table__)
_DIGEST_TIMES = _PREFERENCES.c.digest_times.default.arg  # type: ignore[union-attr]


START_BATCH = 100  # /start written together at most (bounded statement size)


class _Alone(Exception):
    """A batch of one: written by the single-row path."""


@dataclass
class _Start:
    platform: str
    chat_id: str
    chat_type: str
    display_name: str | None
    language: str
    future: asyncio.Future[tuple[Subscriber, bool]]


class SubscriberRepo(Repo):
    def __init__(self, sessions: async_sessionmaker[AsyncSession], dialect: str) -> None:
        super().__init__(sessions, dialect)
        self._starts: list[_Start] = []
        self._starter: asyncio.Task[None] | None = None

    async def get(self, platform: str, chat_id: str) -> Subscriber | None:
        q = select(SubscriberRow).where(
            SubscriberRow.platform == platform, SubscriberRow.chat_id == chat_id
        )
        async with self._tx() as s:
            row = (await s.execute(q)).scalar_one_or_none()
            return _subscriber(row) if row else None

    async def get_by_id(self, subscriber_id: int) -> Subscriber | None:
        async with self._tx() as s:
            row = await s.get(SubscriberRow, subscriber_id)
            return _subscriber(row) if row else None

    async def get_many(self, ids: list[int]) -> dict[int, Subscriber]:
        """Many subscribers by id (the deliverer's batch): Core rows, not ORM objects, which
        cost about twice the CPU per row for nothing the caller uses."""
        if not ids:
            return {}
        table = _SUBSCRIBERS
        q = select(*_RECORD_COLUMNS).where(table.c.id.in_(set(ids)))
        async with self._tx() as s:
            rows = (await s.execute(q)).all()
        return {r[0]: Subscriber(*r) for r in rows}  # positional: the record's field order

    async def ensure(
        self,
        platform: str,
        chat_id: str,
        *,
        chat_type: str = "private",
        display_name: str | None = None,
        language: str = "vi",
        active: bool = False,
    ) -> Subscriber:
        """The chat's row, created (inactive unless asked) when the chat is first seen.

        Feedback and replies need a row even for chats that never subscribed.
        """
        values = dict(
            platform=platform,
            chat_id=chat_id,
            chat_type=chat_type,
            display_name=display_name,
            language=language,
            active=active,
            created_at=utcnow(),
            updated_at=utcnow(),
        )
        stmt = (
            self._insert(SubscriberRow)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["platform", "chat_id"])
        )
        async with self._tx() as s:
            await s.execute(stmt)
            q = select(SubscriberRow).where(
                SubscriberRow.platform == platform, SubscriberRow.chat_id == chat_id
            )
            row = (await s.execute(q)).scalar_one()
            if display_name and row.display_name != display_name and row.erased_at is None:
                row.display_name = display_name
            return _subscriber(row)

    async def subscribe(
        self,
        platform: str,
        chat_id: str,
        *,
        chat_type: str = "private",
        display_name: str | None = None,
        language: str = "vi",
    ) -> tuple[Subscriber, bool]:
        """Activate the chat; returns (subscriber, newly_active).

        A burst of /start (a QR code on a poster) is written together: the calls that arrive
        while one write runs go into the next, one transaction with one multi-row upsert and
        one insert of preferences for all of them (group commit), instead of a transaction
        each; a lone /start is written at once. If a shared write fails, each of its calls is
        written again on its own, so one refused row fails only its own update."""
        future: asyncio.Future[tuple[Subscriber, bool]] = asyncio.get_running_loop().create_future()
        self._starts.append(_Start(platform, chat_id, chat_type, display_name, language, future))
        if self._starter is None or self._starter.done():
            self._starter = asyncio.create_task(self._write_starts(), name="subscribe-batch")
        return await asyncio.shield(future)

    async def _write_starts(self) -> None:
        while self._starts:
            batch: list[_Start] = []
            later: list[_Start] = []
            keys: set[tuple[str, str]] = set()
            for item in self._starts:  # one row once per statement (PostgreSQL insists)
                key = (item.platform, item.chat_id)
                if key in keys or len(batch) >= START_BATCH:
                    later.append(item)
                else:
                    keys.add(key)
                    batch.append(item)
            self._starts = later
            try:
                if len(batch) == 1:
                    raise _Alone
                results = await self._subscribe_many(batch)
            except asyncio.CancelledError:  # the loop is ending: nothing waits any more
                for item in [*batch, *self._starts]:
                    item.future.cancel()
                self._starts = []
                raise
            except Exception as exc:
                if not isinstance(exc, _Alone):
                    log.warning("batched /start failed; writing one by one", exc_info=True)
                for item in batch:
                    try:
                        result = await self._subscribe_one(
                            item.platform,
                            item.chat_id,
                            chat_type=item.chat_type,
                            display_name=item.display_name,
                            language=item.language,
                        )
                    except asyncio.CancelledError:
                        for pending in [*batch, *self._starts]:
                            pending.future.cancel()
                        self._starts = []
                        raise
                    except Exception as one:
                        if not item.future.done():
                            item.future.set_exception(one)
                    else:
                        if not item.future.done():
                            item.future.set_result(result)
                continue
            for item, result in zip(batch, results, strict=True):
                if not item.future.done():
                    item.future.set_result(result)

    async def _subscribe_many(self, batch: list[_Start]) -> list[tuple[Subscriber, bool]]:
        """Several /start in one transaction: a multi-row upsert returning the rows it
        activated, one read for the chats that were active already, one insert of the new
        subscribers' preferences."""
        now = utcnow()
        table = _SUBSCRIBERS
        rows = [
            {
                "platform": i.platform,
                "chat_id": i.chat_id,
                "chat_type": i.chat_type,
                "display_name": i.display_name,
                "language": i.language,
                "active": True,
                "created_at": now,
                "updated_at": now,
            }
            for i in batch
        ]
        insert = self._insert(table).values(rows)
        upsert = insert.on_conflict_do_update(
            index_elements=["platform", "chat_id"],
            set_={
                "active": True,
                "deactivated_reason": None,
                "updated_at": now,
                "display_name": case(  # not after /xoadulieu erased it (storage/privacy.py)
                    (
                        table.c.erased_at.is_(None),
                        func.coalesce(insert.excluded.display_name, table.c.display_name),
                    ),
                    else_=table.c.display_name,
                ),
            },
            where=table.c.active.is_(False),
        ).returning(*_RECORD_COLUMNS)
        async with self._tx() as s:
            activated = {(r[1], r[2]): Subscriber(*r) for r in (await s.execute(upsert)).all()}
            if activated:
                prefs = [
                    {
                        "subscriber_id": sub.id,
                        "all_news": True,
                        "mode": str(DigestMode.INSTANT),
                        "link_preview": False,
                        "digest_times": _DIGEST_TIMES,
                    }
                    for sub in activated.values()
                ]
                await s.execute(
                    self._insert(_PREFERENCES)
                    .values(prefs)
                    .on_conflict_do_nothing(index_elements=["subscriber_id"])
                )
            known: dict[tuple[str, str], Subscriber] = {}
            rest = [i for i in batch if (i.platform, i.chat_id) not in activated]
            for platform in {i.platform for i in rest}:
                ids = [i.chat_id for i in rest if i.platform == platform]
                q = select(*_RECORD_COLUMNS).where(
                    table.c.platform == platform, table.c.chat_id.in_(ids)
                )
                for r in (await s.execute(q)).all():
                    known[(r[1], r[2])] = Subscriber(*r)
            out: list[tuple[Subscriber, bool]] = []
            for item in batch:
                key = (item.platform, item.chat_id)
                if key in activated:
                    out.append((activated[key], True))
                    continue
                sub = known[key]
                name = item.display_name
                if name and sub.display_name != name and sub.erased_at is None:
                    await s.execute(
                        update(table)
                        .where(table.c.id == sub.id)
                        .values(display_name=item.display_name, updated_at=now)
                    )
                    sub = replace(sub, display_name=item.display_name)
                out.append((sub, False))
        return out

    async def _subscribe_one(
        self,
        platform: str,
        chat_id: str,
        *,
        chat_type: str = "private",
        display_name: str | None = None,
        language: str = "vi",
    ) -> tuple[Subscriber, bool]:
        """One /start in one short transaction: a single upsert inserts the chat active or
        activates its inactive row and returns it only then (an active row is left alone and
        not returned), and a new subscriber's preferences are created with it. A chat that was
        active already costs one more read."""
        now = utcnow()
        table = _SUBSCRIBERS
        changed: dict[str, object] = {"active": True, "deactivated_reason": None}
        changed["updated_at"] = now
        if display_name:  # not after /xoadulieu erased it (storage/privacy.py)
            changed["display_name"] = case(
                (table.c.erased_at.is_(None), display_name), else_=table.c.display_name
            )
        upsert = (
            self._insert(table)
            .values(
                platform=platform,
                chat_id=chat_id,
                chat_type=chat_type,
                display_name=display_name,
                language=language,
                active=True,
                created_at=now,
                updated_at=now,
            )
            .on_conflict_do_update(
                index_elements=["platform", "chat_id"],
                set_=changed,
                where=table.c.active.is_(False),
            )
            .returning(*_RECORD_COLUMNS)
        )
        if self._dialect == "postgresql":
            # One statement: the preferences are inserted by a CTE over the upsert's row.
            activated = upsert.cte("activated")
            prefs = (
                postgresql.insert(_PREFERENCES)
                .from_select(
                    ["subscriber_id", "all_news", "mode", "link_preview", "digest_times"],
                    select(
                        activated.c.id,
                        literal(True),
                        literal(str(DigestMode.INSTANT)),
                        literal(False),
                        literal(_DIGEST_TIMES),
                    ),
                )
                .on_conflict_do_nothing(index_elements=["subscriber_id"])
                .cte("prefs")
            )
            both = select(*(activated.c[c.name] for c in _RECORD_COLUMNS)).add_cte(prefs)
            async with self._once() as c:
                row = (await c.execute(both)).first()
            if row is not None:
                return Subscriber(*row), True
            return await self._already_active(platform, chat_id, display_name, now), False
        async with self._tx() as s:
            row = (await s.execute(upsert)).first()
            if row is not None:
                sub = Subscriber(*row)
                await s.execute(
                    self._insert(_PREFERENCES)
                    .values(
                        subscriber_id=sub.id,
                        all_news=True,
                        mode=DigestMode.INSTANT,
                        link_preview=False,
                    )
                    .on_conflict_do_nothing(index_elements=["subscriber_id"])
                )
                return sub, True
        return await self._already_active(platform, chat_id, display_name, now), False

    async def _already_active(
        self, platform: str, chat_id: str, display_name: str | None, now: datetime
    ) -> Subscriber:
        """/start from a chat that is subscribed: its row, with a changed display name kept."""
        table = _SUBSCRIBERS
        q = select(*_RECORD_COLUMNS).where(table.c.platform == platform, table.c.chat_id == chat_id)
        async with self._tx() as s:
            sub = Subscriber(*(await s.execute(q)).one())
            if display_name and sub.display_name != display_name and sub.erased_at is None:
                await s.execute(
                    update(table)
                    .where(table.c.id == sub.id)
                    .values(display_name=display_name, updated_at=now)
                )
                sub = replace(sub, display_name=display_name)
        return sub

    async def with_dialog(
        self,
        platform: str,
        chat_id: str,
        user: str,
        *,
        chat_type: str = "private",
        display_name: str | None = None,
    ) -> Subscriber:
        """The chat's row with `user`'s step in it (`dialog_state`/`dialog_ref`), created
        inactive the first time the chat is seen: one read for a known chat (every text and
        press of a burst), instead of an upsert, a read and another read for the step."""
        table = _SUBSCRIBERS
        step = _STEPS
        joined = table.outerjoin(
            step, and_(step.c.subscriber_id == table.c.id, step.c.user_id == user)
        )
        q = (
            select(*_RECORD_COLUMNS, step.c.state, step.c.ref)
            .select_from(joined)
            .where(table.c.platform == platform, table.c.chat_id == chat_id)
        )
        async with self._once() as c:
            row = (await c.execute(q)).first()
        renamed = display_name and row is not None and row.display_name != display_name
        if row is not None and not (renamed and row.erased_at is None):
            sub = Subscriber(*row[:_FIELDS])
        else:
            sub = await self.ensure(
                platform, chat_id, chat_type=chat_type, display_name=display_name
            )
        state, ref = (row[_FIELDS], row[_FIELDS + 1]) if row is not None else (None, None)
        return replace(sub, dialog_state=state, dialog_ref=ref)

    async def deactivate(self, subscriber_id: int, reason: str) -> bool:
        """Mark inactive; returns whether it was active."""
        async with self._tx() as s:
            res = await s.execute(
                update(SubscriberRow)
                .where(SubscriberRow.id == subscriber_id, SubscriberRow.active.is_(True))
                .values(active=False, deactivated_reason=reason[:300], updated_at=utcnow())
            )
            return bool(res.rowcount)  # type: ignore[attr-defined]

    async def move_chat(self, subscriber_id: int, new_chat_id: str) -> None:
        """A group became a supergroup: the same subscriber under its new chat id."""
        async with self._tx() as s:
            await s.execute(
                update(SubscriberRow)
                .where(SubscriberRow.id == subscriber_id)
                .values(chat_id=new_chat_id, updated_at=utcnow())
            )

    async def set_dialog(
        self, subscriber_id: int, state: str | None, ref: str | None, *, user: str
    ) -> None:
        """Set (or with None clear) one person's step in this chat; other members' steps in a
        group are untouched."""
        key = (
            UserDialogStateRow.subscriber_id == subscriber_id,
            UserDialogStateRow.user_id == user,
        )
        async with self._tx() as s:
            if state is None:
                await s.execute(delete(UserDialogStateRow).where(*key))
                return
            values = {"state": state, "ref": ref, "updated_at": utcnow()}
            stmt = (
                self._insert(UserDialogStateRow)
                .values(subscriber_id=subscriber_id, user_id=user, **values)
                .on_conflict_do_update(index_elements=["subscriber_id", "user_id"], set_=values)
            )
            await s.execute(stmt)

    async def dialog_of(self, subscriber_id: int, user: str) -> tuple[str | None, str | None]:
        """(state, ref) of one person's step in this chat, (None, None) when they have none."""
        q = select(UserDialogStateRow.state, UserDialogStateRow.ref).where(
            UserDialogStateRow.subscriber_id == subscriber_id,
            UserDialogStateRow.user_id == user,
        )
        async with self._tx() as s:
            row = (await s.execute(q)).first()
        return (row[0], row[1]) if row is not None else (None, None)

    async def counts(self) -> dict[str, int]:
        q = select(SubscriberRow.active, func.count()).group_by(SubscriberRow.active)
        async with self._tx() as s:
            got = {bool(a): int(n) for a, n in (await s.execute(q)).all()}
        return {"active": got.get(True, 0), "inactive": got.get(False, 0)}

    async def touch(self, subscriber_id: int, now: datetime) -> None:
        async with self._tx() as s:
            await s.execute(
                update(SubscriberRow)
                .where(SubscriberRow.id == subscriber_id)
                .values(updated_at=now)
            )
