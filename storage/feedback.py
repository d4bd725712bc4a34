"""Citizens' feedback ("Gửi phản hồi"): the ticket number is the row id.

A ticket is open, answered or closed. Staff answers and the citizen's replies to them are
`feedback_messages` of the ticket: an answer reaches the citizen through the outbox (kind
'answer', item id = the message id), a citizen's reply is forwarded to the staff chat like the
first feedback. Bans live here too, in the database, so no restart lifts one.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, ScalarSelect, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.base import Repo
from storage.cases import close_in, followers_in, queue_notice
from storage.kinds import Author, CaseEventKind, FeedbackRefusal, OutboxKind, TicketState
from storage.models import (
    ArticleRow,
    CaseEventRow,
    CategoryRow,
    CitizenBanRow,
    FeedbackMessageRow,
    FeedbackRow,
    SubscriberRow,
    UnitRow,
    UserDialogStateRow,
    utcnow,
)
from storage.records import AnswerContext, Feedback, FeedbackMessage, case_code


@dataclass(frozen=True)
class RateLimit:
    """At most `count` feedback messages (new tickets and replies) per `seconds`."""

    count: int = 5
    seconds: int = 600


@dataclass(frozen=True)
class Refused:
    """Why a citizen's words were not stored."""

    reason: FeedbackRefusal


@dataclass(frozen=True)
class FeedbackExportRow:
    ticket: int
    created_at: datetime
    platform: str
    chat_id: str
    display_name: str | None
    article_id: int | None
    article_title: str | None
    article_link: str | None
    status: str
    text: str
    answered_at: datetime | None = None
    closed_at: datetime | None = None
    photo_file_id: str | None = None


_FEEDBACK_FIELDS = tuple(f.name for f in fields(Feedback))


def _feedback(row: FeedbackRow) -> Feedback:
    return Feedback(**{name: getattr(row, name) for name in _FEEDBACK_FIELDS})


def _message(row: FeedbackMessageRow) -> FeedbackMessage:
    return FeedbackMessage(
        id=row.id,
        feedback_id=row.feedback_id,
        author=row.author,
        staff_user=row.staff_user,
        text=row.text,
        created_at=row.created_at,
        photo_file_id=row.photo_file_id,
        forwarded_at=row.forwarded_at,
        forwarded_chat_id=row.forwarded_chat_id,
        forwarded_message_id=row.forwarded_message_id,
        forward_error=row.forward_error,
        delivery_error=row.delivery_error,
        delivery_noticed_at=row.delivery_noticed_at,
    )


class FeedbackRepo(Repo):
    async def add(
        self,
        subscriber_id: int,
        article_id: int | None,
        text: str,
        *,
        photo_file_id: str | None = None,
        now: datetime | None = None,
    ) -> Feedback:
        """Store a ticket unchecked: for imports and tests. The dialog files citizens' words
        through `file`, which applies the ban and the rate limit."""
        async with self._tx() as s:
            row = FeedbackRow(
                subscriber_id=subscriber_id,
                article_id=article_id,
                text=text,
                status=TicketState.NEW,
                created_at=now or utcnow(),
                photo_file_id=photo_file_id,
            )
            return await _opened(s, row)

    async def file(
        self,
        subscriber_id: int,
        article_id: int | None,
        text: str,
        *,
        limit: RateLimit,
        now: datetime,
        photo_file_id: str | None = None,
        intake: CaseIntake | None = None,
        step_of: str | None = None,
    ) -> Feedback | Refused:
        """A citizen's new case, unless they are banned or over the rate limit.

        `step_of`: the writer (user id in the chat) whose waiting step this message answers;
        the step ends in the case's own transaction, so a crash between the two can never
        leave them waiting, to have their next message filed as another case.

        Every chat path files feedback through here (never `add`), so the ban and the limit
        are checked in the same transaction as the insert and no path can skip them. An
        article that is gone is dropped from the case rather than refusing the words. The case
        gets its public code, its unit (the category's, else the default unit), its due time
        (worked out by the caller from the working-time calendar) and a 'created' history line
        in the same transaction.
        """
        intake = intake or CaseIntake()
        async with self._tx() as s:
            refused = await self._refusal(s, subscriber_id, limit, now)
            if refused is not None:
                return refused
            if article_id is not None and await s.get(ArticleRow, article_id) is None:
                article_id = None
            category = await s.get(CategoryRow, intake.category_id) if intake.category_id else None
            unit_id = intake.unit_id or (category.unit_id if category else None)
            row = FeedbackRow(
                subscriber_id=subscriber_id,
                article_id=article_id,
                text=text,
                status=TicketState.NEW,
                created_at=now,
                photo_file_id=photo_file_id,
                category_id=category.id if category else None,
                unit_id=unit_id,
                due_at=intake.due_at,
                priority=intake.priority,
                place_lat=intake.place_lat,
                place_lon=intake.place_lon,
                place_label=intake.place_label,
            )
            filed = await _opened(s, row)
            if step_of is not None:
                await s.execute(
                    delete(UserDialogStateRow).where(
                        UserDialogStateRow.subscriber_id == subscriber_id,
                        UserDialogStateRow.user_id == step_of,
                    )
                )
            return filed

    async def file_reply(
        self,
        ticket_id: int,
        subscriber_id: int,
        text: str,
        *,
        limit: RateLimit,
        now: datetime,
        photo_file_id: str | None = None,
        via: int | None = None,
    ) -> FeedbackMessage | Refused | None:
        """A citizen's reply to an answer on their own ticket, under the same ban and rate
        limit as `file`; None when the ticket is gone or is not theirs. `via`: their own case
        merged into this one (the citizen follows the case it was merged into)."""
        async with self._tx() as s:
            ticket = await s.get(FeedbackRow, ticket_id, with_for_update=True)
            theirs = ticket is not None and ticket.subscriber_id == subscriber_id
            if ticket is not None and not theirs and via is not None:
                source = await s.get(FeedbackRow, via)
                mine = source is not None and source.subscriber_id == subscriber_id
                theirs = mine and source is not None and source.merged_into is not None
            if ticket is None or not theirs:
                return None
            refused = await self._refusal(s, subscriber_id, limit, now)
            if refused is not None:
                return refused
            row = FeedbackMessageRow(
                feedback_id=ticket_id,
                created_at=now,
                author=Author.CITIZEN,
                text=text,
                photo_file_id=photo_file_id,
                staff_user=f"via:{via}" if via and via != ticket_id else None,  # merged-in writer
            )
            s.add(row)
            await _citizen_wrote(s, ticket, now)
            await s.flush()
            return _message(row)

    async def _refusal(
        self, s: AsyncSession, subscriber_id: int, limit: RateLimit, now: datetime
    ) -> Refused | None:
        """The ban and the rate limit, read after the citizen's row is locked, so two messages
        at once cannot both pass the limit; the ban and both counts in one statement (every
        filing pays for each: bench/README.md, inbound feedback)."""
        await self._lock_citizen(s, subscriber_id)
        since = now - timedelta(seconds=limit.seconds)
        tickets, replies = _recent_counts(subscriber_id, since)
        banned = (
            select(CitizenBanRow.subscriber_id)
            .where(CitizenBanRow.subscriber_id == subscriber_id)
            .exists()
        )
        q = select(banned.label("banned"), tickets.label("tickets"), replies.label("replies"))
        found = (await s.execute(q)).one()
        if found.banned:
            return Refused(FeedbackRefusal.BANNED)
        if int(found.tickets) + int(found.replies) >= limit.count:
            return Refused(FeedbackRefusal.RATE_LIMITED)
        return None

    async def _lock_citizen(self, s: AsyncSession, subscriber_id: int) -> None:
        """Hold the citizen's messages one at a time until this transaction ends. The reads
        after it must be statements of their own: on PostgreSQL a statement that waited for the
        lock still reads with the snapshot it began with."""
        if self._dialect == "sqlite":
            # SQLite has no row locks, and its driver begins a transaction only at the first
            # write, so reads before one ran outside any (messages at once all passed the
            # limit). A no-op write takes the database's write lock; the others wait for it.
            await s.execute(
                update(SubscriberRow)
                .where(SubscriberRow.id == subscriber_id)
                .values(language=SubscriberRow.language)
            )
            return
        await s.execute(
            select(SubscriberRow.id).where(SubscriberRow.id == subscriber_id).with_for_update()
        )

    async def get(self, feedback_id: int) -> Feedback | None:
        async with self._tx() as s:
            row = await s.get(FeedbackRow, feedback_id)
            return _feedback(row) if row else None

    async def unforwarded(self, limit: int = 100) -> list[Feedback]:
        q = (
            select(FeedbackRow)
            .where(FeedbackRow.forwarded_at.is_(None))
            .order_by(FeedbackRow.id)
            .limit(limit)
        )
        async with self._tx() as s:
            return [_feedback(r) for r in (await s.execute(q)).scalars()]

    async def mark_forwarded(
        self,
        feedback_id: int,
        *,
        message_id: str | None,
        now: datetime,
        chat_id: str | None = None,
    ) -> None:
        async with self._tx() as s:
            await s.execute(
                update(FeedbackRow)
                .where(FeedbackRow.id == feedback_id)
                .values(
                    forwarded_at=now, forwarded_message_id=message_id, forwarded_chat_id=chat_id
                )
            )

    async def export_rows(self, since: datetime | None = None) -> list[FeedbackExportRow]:
        q = (
            select(FeedbackRow, SubscriberRow, ArticleRow)
            .join(SubscriberRow, SubscriberRow.id == FeedbackRow.subscriber_id)
            .outerjoin(ArticleRow, ArticleRow.id == FeedbackRow.article_id)
            .order_by(FeedbackRow.id)
        )
        if since is not None:
            q = q.where(FeedbackRow.created_at >= since)
        async with self._tx() as s:
            return [
                FeedbackExportRow(
                    ticket=f.id,
                    created_at=f.created_at,
                    platform=sub.platform,
                    chat_id=sub.chat_id,
                    display_name=sub.display_name,
                    article_id=f.article_id,
                    article_title=art.title if art else None,
                    article_link=art.link if art else None,
                    status=f.status,
                    text=f.text,
                    answered_at=f.answered_at,
                    closed_at=f.closed_at,
                    photo_file_id=f.photo_file_id,
                )
                for f, sub, art in (await s.execute(q)).all()
            ]

    async def count(self) -> int:
        async with self._tx() as s:
            q = select(func.count()).select_from(FeedbackRow)
            return int((await s.execute(q)).scalar_one())

    # -- tickets, answers, replies, bans, rate limit ----------------------------------------------

    async def ticket_by_card(self, chat_id: str, message_id: str) -> Feedback | None:
        """The ticket whose card (first feedback or a citizen's later reply) is that message of
        that chat: message ids are per chat, so both must match."""
        first = select(FeedbackRow.id).where(
            FeedbackRow.forwarded_chat_id == chat_id,
            FeedbackRow.forwarded_message_id == message_id,
        )
        later = select(FeedbackMessageRow.feedback_id).where(
            FeedbackMessageRow.forwarded_chat_id == chat_id,
            FeedbackMessageRow.forwarded_message_id == message_id,
        )
        q = select(FeedbackRow).where(or_(FeedbackRow.id.in_(first), FeedbackRow.id.in_(later)))
        async with self._tx() as s:
            row = (await s.execute(q.limit(1))).scalar_one_or_none()
            return _feedback(row) if row else None

    async def by_status(self, status: str, *, limit: int = 20) -> list[Feedback]:
        """Tickets in one status, oldest first (the inbox is worked through in order)."""
        q = select(FeedbackRow).where(FeedbackRow.status == status)
        async with self._tx() as s:
            rows = (await s.execute(q.order_by(FeedbackRow.id).limit(limit))).scalars()
            return [_feedback(r) for r in rows]

    async def count_by_status(self) -> dict[str, int]:
        q = select(FeedbackRow.status, func.count()).group_by(FeedbackRow.status)
        async with self._tx() as s:
            return {status: int(n) for status, n in (await s.execute(q)).all()}

    async def add_answer(
        self, ticket_id: int, *, staff_user: str, text: str, now: datetime
    ) -> FeedbackMessage | None:
        """Store a staff answer and mark the ticket answered; None if the ticket is gone."""
        return await self._append(
            ticket_id,
            TicketState.ANSWERED,
            now,
            author=Author.STAFF,
            staff_user=staff_user,
            text=text,
        )

    async def add_citizen_reply(
        self, ticket_id: int, text: str, *, now: datetime, photo_file_id: str | None = None
    ) -> FeedbackMessage | None:
        """A citizen's reply to an answer joins its ticket and opens it again for staff."""
        return await self._append(
            ticket_id,
            TicketState.IN_PROGRESS,
            now,
            author=Author.CITIZEN,
            text=text,
            photo_file_id=photo_file_id,
        )

    async def _append(
        self, ticket_id: int, status: str, now: datetime, **fields: object
    ) -> FeedbackMessage | None:
        """Add one message to a ticket and move the ticket to `status`, in one transaction."""
        async with self._tx() as s:
            ticket = await s.get(FeedbackRow, ticket_id, with_for_update=True)
            if ticket is None:
                return None
            row = FeedbackMessageRow(feedback_id=ticket_id, created_at=now, **fields)
            s.add(row)
            before = ticket.status
            if status == TicketState.ANSWERED:
                ticket.status = status
                ticket.answered_at = now
                ticket.first_answered_at = ticket.first_answered_at or now
                ticket.delivery_error = None  # a new answer is on its way
                ticket.closed_at = None
                ticket.updated_at = now
                event = CaseEventRow(
                    case_id=ticket.id,
                    at=now,
                    actor=str(fields.get("staff_user") or "staff"),
                    kind=CaseEventKind.ANSWERED,
                    from_state=before,
                    to_state=status,
                )
                s.add(event)
                await s.flush()
                # The answer goes to its citizen in the same transaction as it is stored (a
                # crash cannot keep one without the other); citizens whose cases were merged
                # into this one are told it was answered, without another citizen's words.
                await queue_notice(
                    s, self._insert, ticket.subscriber_id, row.id, now, kind=OutboxKind.ANSWER
                )
                for follower in await followers_in(s, ticket.id, ticket.subscriber_id):
                    await queue_notice(s, self._insert, follower, event.id, now)
            else:
                await _citizen_wrote(s, ticket, now)
            await s.flush()
            return _message(row)

    async def close(self, ticket_id: int, *, now: datetime, actor: str = "staff") -> bool:
        """Any state but closed → closed, once (a second press changes nothing); the citizen
        is told through the outbox (storage/cases.py)."""
        async with self._tx() as s:
            return await close_in(s, self._insert, ticket_id, actor=actor, now=now)

    async def messages(self, ticket_id: int) -> list[FeedbackMessage]:
        q = (
            select(FeedbackMessageRow)
            .where(FeedbackMessageRow.feedback_id == ticket_id)
            .order_by(FeedbackMessageRow.id)
        )
        async with self._tx() as s:
            return [_message(r) for r in (await s.execute(q)).scalars()]

    async def message(self, message_id: int) -> FeedbackMessage | None:
        async with self._tx() as s:
            row = await s.get(FeedbackMessageRow, message_id)
            return _message(row) if row else None

    async def answer_context(self, answer_id: int) -> AnswerContext | None:
        """The answer, its ticket, and the citizen's words it answers: their latest reply before
        it, or the first feedback."""
        async with self._tx() as s:
            answer = await s.get(FeedbackMessageRow, answer_id)
            if answer is None or answer.author != Author.STAFF:
                return None
            ticket = await s.get(FeedbackRow, answer.feedback_id)
            if ticket is None:
                return None
            q = (
                select(FeedbackMessageRow.text)
                .where(
                    FeedbackMessageRow.feedback_id == ticket.id,
                    FeedbackMessageRow.author == Author.CITIZEN,
                    FeedbackMessageRow.id < answer.id,
                )
                .order_by(FeedbackMessageRow.id.desc())
                .limit(1)
            )
            quoted = (await s.execute(q)).scalar_one_or_none() or ticket.text
            return AnswerContext(answer=_message(answer), ticket=_feedback(ticket), quoted=quoted)

    async def unforwarded_replies(self, limit: int = 100) -> list[FeedbackMessage]:
        q = (
            select(FeedbackMessageRow)
            .where(
                FeedbackMessageRow.author == Author.CITIZEN,
                FeedbackMessageRow.forwarded_at.is_(None),
            )
            .order_by(FeedbackMessageRow.id)
            .limit(limit)
        )
        async with self._tx() as s:
            return [_message(r) for r in (await s.execute(q)).scalars()]

    async def mark_reply_forwarded(
        self, message_id: int, *, chat_id: str, card_message_id: str | None, now: datetime
    ) -> None:
        async with self._tx() as s:
            await s.execute(
                update(FeedbackMessageRow)
                .where(FeedbackMessageRow.id == message_id)
                .values(
                    forwarded_at=now,
                    forwarded_chat_id=chat_id,
                    forwarded_message_id=card_message_id,
                )
            )

    async def recent_count(self, subscriber_id: int, since: datetime) -> int:
        """What the citizen sent since `since`: new tickets and replies (the rate limit)."""
        async with self._tx() as s:
            return await self._recent(s, subscriber_id, since)

    async def _recent(self, s: AsyncSession, subscriber_id: int, since: datetime) -> int:
        tickets, replies = _recent_counts(subscriber_id, since)
        found = (await s.execute(select(tickets.label("tickets"), replies.label("replies")))).one()
        return int(found.tickets) + int(found.replies)

    async def ban(
        self, subscriber_id: int, *, by: str, now: datetime, ticket: int | None = None
    ) -> bool:
        """True when the citizen was not banned before (a second press changes nothing)."""
        stmt = (
            self._insert(CitizenBanRow)
            .values(subscriber_id=subscriber_id, banned_by=by, banned_at=now, ticket=ticket)
            .on_conflict_do_nothing(index_elements=["subscriber_id"])
            .returning(CitizenBanRow.subscriber_id)
        )
        async with self._tx() as s:
            return (await s.execute(stmt)).scalar_one_or_none() is not None

    async def unban(self, subscriber_id: int) -> bool:
        async with self._tx() as s:
            row = await s.get(CitizenBanRow, subscriber_id)
            if row is None:
                return False
            await s.delete(row)
            return True

    async def is_banned(self, subscriber_id: int) -> bool:
        async with self._tx() as s:
            return await s.get(CitizenBanRow, subscriber_id) is not None

    # -- dead letters: cards the staff chat refused, answers the citizen could not get -----------

    async def mark_forward_dead(self, feedback_id: int, *, error: str, now: datetime) -> None:
        """The staff chat refused this ticket's card for good: set it aside (forwarded_at set,
        no message id) with its error, so it blocks no later card and staff can be shown it."""
        async with self._tx() as s:
            await s.execute(
                update(FeedbackRow)
                .where(FeedbackRow.id == feedback_id)
                .values(forwarded_at=now, forward_error=error[:500])
            )

    async def mark_reply_forward_dead(self, message_id: int, *, error: str, now: datetime) -> None:
        async with self._tx() as s:
            await s.execute(
                update(FeedbackMessageRow)
                .where(FeedbackMessageRow.id == message_id)
                .values(forwarded_at=now, forward_error=error[:500])
            )

    async def dead_cards(self, limit: int = 100) -> list[Feedback]:
        """Tickets whose card the staff chat refused, newest first (for operators)."""
        q = select(FeedbackRow).where(_card_refused()).order_by(FeedbackRow.id.desc()).limit(limit)
        async with self._tx() as s:
            return [_feedback(r) for r in (await s.execute(q)).scalars()]

    async def dead_card_count(self) -> int:
        """How many tickets have a card the staff chat refused (`bantin stats`)."""
        q = select(func.count()).select_from(FeedbackRow).where(_card_refused())
        async with self._tx() as s:
            return int((await s.execute(q)).scalar_one())

    async def mark_answer_undelivered(self, answer_id: int, *, reason: str) -> Feedback | None:
        """An answer that can never reach its citizen (they blocked the bot, the platform's
        window closed): recorded on the answer and its ticket, and an answered ticket is open
        again, so staff are not left believing the citizen has it. The forwarder tells the staff
        chat (undelivered_unnoticed)."""
        async with self._tx() as s:
            answer = await s.get(FeedbackMessageRow, answer_id)
            if answer is None or answer.author != Author.STAFF:
                return None
            answer.delivery_error = reason[:500]
            ticket = await s.get(FeedbackRow, answer.feedback_id, with_for_update=True)
            if ticket is None:
                return None
            ticket.delivery_error = reason[:500]
            if ticket.status == TicketState.ANSWERED:
                ticket.status = TicketState.IN_PROGRESS
            await s.flush()
            return _feedback(ticket)

    async def undelivered_unnoticed(self, limit: int = 100) -> list[FeedbackMessage]:
        """Answers that could not be delivered and that staff were not yet told about."""
        q = (
            select(FeedbackMessageRow)
            .where(
                FeedbackMessageRow.author == Author.STAFF,
                FeedbackMessageRow.delivery_error.is_not(None),
                FeedbackMessageRow.delivery_noticed_at.is_(None),
            )
            .order_by(FeedbackMessageRow.id)
            .limit(limit)
        )
        async with self._tx() as s:
            return [_message(r) for r in (await s.execute(q)).scalars()]

    async def mark_delivery_noticed(self, answer_id: int, *, now: datetime) -> None:
        async with self._tx() as s:
            await s.execute(
                update(FeedbackMessageRow)
                .where(FeedbackMessageRow.id == answer_id)
                .values(delivery_noticed_at=now)
            )


@dataclass(frozen=True)
class CaseIntake:
    """What the guided step adds to a citizen's words: the category (its unit routes the
    case unless `unit_id` says otherwise), the due time in working time, a place."""

    category_id: int | None = None
    unit_id: int | None = None
    due_at: datetime | None = None
    priority: str = "normal"
    place_lat: float | None = None
    place_lon: float | None = None
    place_label: str | None = None


def _recent_counts(
    subscriber_id: int, since: datetime
) -> tuple[ScalarSelect[int], ScalarSelect[int]]:
    """What the citizen sent since `since` (the rate limit): their new cases and their
    replies, as scalar subqueries for one statement."""
    tickets = (
        select(func.count())
        .select_from(FeedbackRow)
        .where(FeedbackRow.subscriber_id == subscriber_id, FeedbackRow.created_at >= since)
        .scalar_subquery()
    )
    replies = (
        select(func.count())
        .select_from(FeedbackMessageRow)
        .join(FeedbackRow, FeedbackRow.id == FeedbackMessageRow.feedback_id)
        .where(
            FeedbackRow.subscriber_id == subscriber_id,
            FeedbackMessageRow.author == Author.CITIZEN,
            FeedbackMessageRow.created_at >= since,
        )
        .scalar_subquery()
    )
    return tickets, replies


async def default_unit_id(s: AsyncSession) -> int:
    """The default unit (today's staff chat), created if a database has none."""
    q = select(UnitRow.id).where(UnitRow.is_default.is_(True)).order_by(UnitRow.id).limit(1)
    found = (await s.execute(q)).scalar_one_or_none()
    if found is not None:
        return int(found)
    row = UnitRow(name="Mặc định", is_default=True, created_at=utcnow())
    s.add(row)
    await s.flush()
    return row.id


async def _opened(s: AsyncSession, row: FeedbackRow) -> Feedback:
    """Insert a new case with its code, unit and 'created' history line."""
    if row.unit_id is None:
        row.unit_id = await default_unit_id(s)
    row.updated_at = row.created_at
    s.add(row)
    await s.flush()
    row.code = case_code(row.id)
    s.add(
        CaseEventRow(
            case_id=row.id,
            at=row.created_at,
            actor="citizen",
            kind=CaseEventKind.CREATED,
            to_state=TicketState.NEW,
            unit_id=row.unit_id,
        )
    )
    await s.flush()
    return _feedback(row)


async def _citizen_wrote(s: AsyncSession, ticket: FeedbackRow, now: datetime) -> None:
    """The citizen wrote again on their case: an answered case is back in progress for staff
    (a closed one too: they have more to say); new and accepted cases keep their state."""
    before = ticket.status
    if before in (TicketState.ANSWERED, TicketState.CLOSED):
        ticket.status = TicketState.IN_PROGRESS
        ticket.closed_at = None
    ticket.updated_at = now
    s.add(
        CaseEventRow(
            case_id=ticket.id,
            at=now,
            actor="citizen",
            kind=CaseEventKind.CITIZEN_WROTE,
            from_state=before,
            to_state=ticket.status,
        )
    )


def _card_refused() -> ColumnElement[bool]:
    """A ticket whose card, or the card of a later message on it, the staff chat refused."""
    later = select(FeedbackMessageRow.feedback_id).where(
        FeedbackMessageRow.forward_error.is_not(None)
    )
    return or_(FeedbackRow.forward_error.is_not(None), FeedbackRow.id.in_(later))
