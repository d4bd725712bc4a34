"""The console's case queue: filters, diacritic-free search and keyset pages.

Why keyset pages (no OFFSET): a page deep in 100,000 cases costs as much as the first one,
and a case filed while staff page through does not shift the rows under them. The cursor is
the last row's sort key, opaque to the browser ("<id>" newest first; "<due>:<id>" soonest
due first).

Search folds both sides the same way ("Đường", "duong" and "ĐƯỜNG" find the same cases): on
PostgreSQL through `bantin_fold` (an IMMUTABLE SQL function, migration 0018) under a GIN
index on to_tsvector('simple', bantin_fold(text)), every word matched as a prefix; on SQLite
through a Python function of the same name registered on the connection, every word matched
as the start of a word. A typed code (PA00042, pa42, #42) finds that case (`case_id`; the
console searches by code or by words, never both at once: an OR would defeat the index).

Who sees what is decided here too, read in the same transaction as the page: an admin every
case; an editor the cases of their units and of units without members (the rule of
CaseRepo.staff_access, which checks each action).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, literal_column, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.base import Repo
from storage.kinds import OPEN_STATES
from storage.models import FeedbackRow, StaffRow, SubscriberRow, UnitMemberRow
from storage.records import Case

PAGE_MAX = 200
WORDS_MAX = 8
NEWEST, DUE = "newest", "due"
_WORD = re.compile(r"[a-z0-9]+")


def fold(text: str) -> str:
    """Lower case without diacritics, words separated by single spaces and the text framed by
    spaces (" duong sat "), so a word's start is ' ' + word: SQLite's side of the search."""
    lowered = unicodedata.normalize("NFC", text).lower().replace("đ", "d")
    plain = "".join(
        c for c in unicodedata.normalize("NFD", lowered) if not unicodedata.combining(c)
    )
    return " " + " ".join(_WORD.findall(plain)) + " "


def search_words(query: str) -> tuple[str, ...]:
    """The folded words of what staff typed (at most WORDS_MAX), ASCII letters and digits."""
    return tuple(fold(query).split())[:WORDS_MAX]


@dataclass(frozen=True)
class QueueFilter:
    """What the queue shows. Empty fields filter nothing."""

    states: frozenset[str] = frozenset()
    unit_id: int | None = None
    category_id: int | None = None
    overdue: bool = False  # open and past its due time
    assignee: str | None = None  # "platform:user_id" ("assigned to me")
    since: datetime | None = None  # created at or after
    until: datetime | None = None  # created before
    words: tuple[str, ...] = ()  # folded (search_words)
    case_id: int | None = None  # a code typed into the search box
    sort: str = NEWEST


@dataclass(frozen=True)
class QueueRow:
    case: Case
    citizen: str | None  # display name
    platform: str


@dataclass(frozen=True)
class QueuePage:
    rows: list[QueueRow]
    next_cursor: str | None  # None: the last page
    total: int
    overdue_ids: frozenset[int] = field(default_factory=frozenset)


def _cursor_of(sort: str, case: Case) -> str:
    if sort == DUE:
        due = "n" if case.due_at is None else str(int(case.due_at.timestamp() * 1_000_000))
        return f"{due}:{case.id}"
    return str(case.id)


def _after(sort: str, cursor: str | None) -> ColumnElement[bool] | None:
    """The keyset condition for rows after `cursor`; None for the first page or a cursor that
    is not one of ours (the first page again, never an error)."""
    if not cursor or len(cursor) > 40:
        return None
    f = FeedbackRow
    if sort == DUE:
        due, _, ident = cursor.partition(":")
        if not ident.isdigit():
            return None
        last = int(ident)
        if due == "n":
            return and_(f.due_at.is_(None), f.id > last)
        if not due.isdigit():
            return None
        at = datetime.fromtimestamp(int(due) / 1_000_000, UTC)
        return or_(
            f.due_at > at,
            and_(f.due_at == at, f.id > last),
            f.due_at.is_(None),
        )
    if not cursor.isdigit():
        return None
    return f.id < int(cursor)


class CaseQueueRepo(Repo):
    """The queue's reads; every state change goes through storage/cases.py."""

    async def page(
        self,
        flt: QueueFilter,
        *,
        now: datetime,
        viewer: tuple[str, str] | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> QueuePage:
        """One page of cases under `flt`, seen by `viewer` ((platform, user_id): an editor
        sees only their units' cases; None: everything, for the CLI and tests)."""
        limit = max(1, min(limit, PAGE_MAX))
        f = FeedbackRow
        async with self._tx() as s:
            where = await self._where(s, flt, now, viewer)
            if where is None:
                return QueuePage([], None, 0)
            if flt.words and self._dialect == "sqlite":
                await _register_fold(s)
            total = int(
                (await s.execute(select(func.count()).select_from(f).where(*where))).scalar_one()
            )
            after = _after(flt.sort, cursor)
            q = select(f).where(*where, *([after] if after is not None else []))
            if flt.sort == DUE:
                q = q.order_by(f.due_at.asc().nulls_last(), f.id)
            else:
                q = q.order_by(f.id.desc())
            found = list((await s.execute(q.limit(limit + 1))).scalars())
            # who wrote, for the page's rows only (a join before the LIMIT would look up
            # every matching case's citizen: 12,000 lookups for a common word)
            wanted = {r.subscriber_id for r in found[:limit]}
            names: dict[int, tuple[str | None, str]] = {}
            if wanted:
                people = select(
                    SubscriberRow.id, SubscriberRow.display_name, SubscriberRow.platform
                ).where(SubscriberRow.id.in_(wanted))
                names = {i: (n, p) for i, n, p in (await s.execute(people)).all()}
        from storage.feedback import _feedback  # one converter for the one table

        out = [
            QueueRow(_feedback(r), *names.get(r.subscriber_id, (None, "?"))) for r in found[:limit]
        ]
        more = len(found) > limit
        overdue = frozenset(
            r.case.id
            for r in out
            if r.case.status in OPEN_STATES and r.case.due_at is not None and r.case.due_at < now
        )
        return QueuePage(
            out,
            _cursor_of(flt.sort, out[-1].case) if more and out else None,
            total,
            overdue,
        )

    async def opened_by_day(self, since: datetime) -> list[tuple[str, int, int]]:
        """(day in UTC, unit id (0: none), cases filed that day) since `since`: the
        dashboard's chart (the month's table comes from storage/case_reports.py)."""
        f = FeedbackRow
        day = func.date(f.created_at)
        unit = func.coalesce(f.unit_id, 0)
        q = (
            select(day, unit, func.count())
            .where(f.created_at >= since)
            .group_by(day, unit)
            .order_by(day)
        )
        async with self._tx() as s:
            return [(str(d), int(u), int(n)) for d, u, n in (await s.execute(q)).all()]

    async def _where(
        self,
        s: AsyncSession,
        flt: QueueFilter,
        now: datetime,
        viewer: tuple[str, str] | None,
    ) -> list[ColumnElement[bool]] | None:
        f = FeedbackRow
        where: list[ColumnElement[bool]] = []
        if viewer is not None:
            from storage.staff import ADMIN, EDITOR

            who = select(StaffRow).where(
                StaffRow.platform == viewer[0], StaffRow.user_id == viewer[1]
            )
            staff = (await s.execute(who)).scalar_one_or_none()
            if staff is None or staff.role not in (ADMIN, EDITOR):
                return None
            if staff.role != ADMIN:
                mine = select(UnitMemberRow.unit_id).where(UnitMemberRow.staff_id == staff.id)
                staffed = select(UnitMemberRow.unit_id)
                where.append(f.unit_id.is_(None) | f.unit_id.in_(mine) | f.unit_id.not_in(staffed))
        states = flt.states
        if flt.overdue:  # one IN list, the partial index's own (ix_feedback_open_due)
            states = states & OPEN_STATES if states else OPEN_STATES
            if not states:
                return None
        if states:
            where.append(f.status.in_(sorted(states)))
        if flt.unit_id is not None:
            where.append(f.unit_id == flt.unit_id)
        if flt.category_id is not None:
            where.append(f.category_id == flt.category_id)
        if flt.overdue:
            where.append(f.due_at < now)
        if flt.assignee is not None:
            where.append(f.assignee == flt.assignee)
        if flt.since is not None:
            where.append(f.created_at >= flt.since)
        if flt.until is not None:
            where.append(f.created_at < flt.until)
        matched = self._matches(flt.words)
        if matched is not None:
            where.append(matched)
        if flt.case_id is not None:
            where.append(f.id == flt.case_id)
        return where

    def _matches(self, words: tuple[str, ...]) -> ColumnElement[bool] | None:
        terms = [w for w in words if w.isascii() and w.isalnum()][:WORDS_MAX]
        if not terms:
            return None
        folded = func.bantin_fold(FeedbackRow.text)
        if self._dialect == "postgresql":
            vector = func.to_tsvector(literal_column("'simple'"), folded)
            query = func.to_tsquery(literal_column("'simple'"), " & ".join(f"{w}:*" for w in terms))
            return vector.bool_op("@@")(query)
        return and_(*(folded.contains(f" {w}", autoescape=True) for w in terms))


async def _register_fold(s: AsyncSession) -> None:
    """SQLite: `bantin_fold` on this connection (cheap; a pooled connection may be new)."""

    def register(sync_conn: Any) -> None:
        raw = sync_conn.connection.dbapi_connection
        raw.create_function("bantin_fold", 1, _fold_or_none, deterministic=True)

    await (await s.connection()).run_sync(register)


def _fold_or_none(value: str | None) -> str | None:
    return None if value is None else fold(value)
