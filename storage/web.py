"""The web console's storage: one-time sign-in links, browser sessions, and the read-only
queries its pages need (subscriber search and history, dashboard series, the audit log by page).

Only hashes of link and session tokens are stored: a copy of the database signs nobody in.
Consuming a link and checking a session are single statements, so a link used twice at the same
moment signs in once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select, update

from storage.base import Repo
from storage.models import (
    AuditRow,
    CitizenBanRow,
    DeliveryRow,
    FeedRow,
    SubscriberRow,
    SubscriberTopicRow,
    TopicRow,
    WebLoginTokenRow,
    WebSessionRow,
)
from storage.records import AuditEntry, Subscriber
from storage.urls import shown_url


@dataclass(frozen=True)
class WebSession:
    id: int
    platform: str
    user_id: str
    role: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True)
class SubscriberRow_:
    """One line of the subscriber list: the subscriber and whether their feedback is refused."""

    subscriber: Subscriber
    banned: bool


@dataclass(frozen=True)
class HistoryLine:
    id: int
    kind: str
    item_id: int
    status: str
    attempts: int
    created_at: datetime
    sent_at: datetime | None
    last_error: str | None


def _session(row: WebSessionRow) -> WebSession:
    return WebSession(
        id=row.id,
        platform=row.platform,
        user_id=row.user_id,
        role=row.role,
        created_at=row.created_at,
        last_seen_at=row.last_seen_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
    )


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
    )


class WebRepo(Repo):
    # -- one-time sign-in links -----------------------------------------------------------------

    async def add_login_token(
        self, token_hash: str, platform: str, user_id: str, *, now: datetime, ttl: timedelta
    ) -> None:
        async with self._tx() as s:
            s.add(
                WebLoginTokenRow(
                    token_hash=token_hash,
                    platform=platform,
                    user_id=user_id,
                    created_at=now,
                    expires_at=now + ttl,
                )
            )

    async def use_login_token(self, token_hash: str, *, now: datetime) -> tuple[str, str] | None:
        """Mark the link used if it is unused and unexpired, in one UPDATE; its (platform,
        user_id) then, else None (unknown, expired or already used)."""
        async with self._tx() as s:
            res = await s.execute(
                update(WebLoginTokenRow)
                .where(
                    WebLoginTokenRow.token_hash == token_hash,
                    WebLoginTokenRow.used_at.is_(None),
                    WebLoginTokenRow.expires_at > now,
                )
                .values(used_at=now)
            )
            if not res.rowcount:  # type: ignore[attr-defined]
                return None
            q = select(WebLoginTokenRow.platform, WebLoginTokenRow.user_id).where(
                WebLoginTokenRow.token_hash == token_hash
            )
            row = (await s.execute(q)).one()
            return str(row[0]), str(row[1])

    async def purge(self, now: datetime, *, keep: timedelta = timedelta(days=7)) -> None:
        """Forget links and sessions that ended more than `keep` ago (run at each sign-in)."""
        before = now - keep
        async with self._tx() as s:
            await s.execute(delete(WebLoginTokenRow).where(WebLoginTokenRow.expires_at < before))
            await s.execute(delete(WebSessionRow).where(WebSessionRow.expires_at < before))

    # -- sessions ---------------------------------------------------------------------------------

    async def add_session(
        self,
        token_hash: str,
        platform: str,
        user_id: str,
        role: str,
        *,
        now: datetime,
        lifetime: timedelta,
    ) -> WebSession:
        async with self._tx() as s:
            row = WebSessionRow(
                token_hash=token_hash,
                platform=platform,
                user_id=user_id,
                role=role,
                created_at=now,
                last_seen_at=now,
                expires_at=now + lifetime,
            )
            s.add(row)
            await s.flush()
            return _session(row)

    async def session(self, token_hash: str) -> WebSession | None:
        q = select(WebSessionRow).where(WebSessionRow.token_hash == token_hash)
        async with self._tx() as s:
            row = (await s.execute(q)).scalar_one_or_none()
            return _session(row) if row else None

    async def touch(self, session_id: int, now: datetime) -> None:
        async with self._tx() as s:
            await s.execute(
                update(WebSessionRow).where(WebSessionRow.id == session_id).values(last_seen_at=now)
            )

    async def revoke(self, session_id: int, now: datetime) -> None:
        async with self._tx() as s:
            await s.execute(
                update(WebSessionRow)
                .where(WebSessionRow.id == session_id, WebSessionRow.revoked_at.is_(None))
                .values(revoked_at=now)
            )

    async def revoke_all(self, platform: str, user_id: str, now: datetime) -> int:
        """End every open session of one staff member (removed or role changed)."""
        async with self._tx() as s:
            res = await s.execute(
                update(WebSessionRow)
                .where(
                    WebSessionRow.platform == platform,
                    WebSessionRow.user_id == user_id,
                    WebSessionRow.revoked_at.is_(None),
                )
                .values(revoked_at=now)
            )
            return int(res.rowcount)  # type: ignore[attr-defined]

    # -- subscribers ------------------------------------------------------------------------------

    async def find_subscribers(
        self, query: str = "", *, limit: int = 50, after_id: int = 0
    ) -> list[SubscriberRow_]:
        """Subscribers whose name contains `query`, or whose chat id or id is `query`; keyset
        paginated by id."""
        banned = (
            select(CitizenBanRow.subscriber_id)
            .where(CitizenBanRow.subscriber_id == SubscriberRow.id)
            .exists()
        )
        q = (
            select(SubscriberRow, banned)
            .where(SubscriberRow.id > after_id)
            .order_by(SubscriberRow.id)
            .limit(limit)
        )
        query = query.strip()
        if query:
            like = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            matches = [
                SubscriberRow.display_name.ilike(like, escape="\\"),
                SubscriberRow.chat_id == query,
            ]
            if query.isdigit() and len(query) < 10:
                matches.append(SubscriberRow.id == int(query))
            q = q.where(or_(*matches))
        async with self._tx() as s:
            return [
                SubscriberRow_(_subscriber(row), bool(b)) for row, b in (await s.execute(q)).all()
            ]

    async def subscriber_counts(self) -> dict[tuple[str, bool], int]:
        q = select(SubscriberRow.platform, SubscriberRow.active, func.count()).group_by(
            SubscriberRow.platform, SubscriberRow.active
        )
        async with self._tx() as s:
            return {(str(p), bool(a)): int(n) for p, a, n in (await s.execute(q)).all()}

    async def history(self, subscriber_id: int, *, limit: int = 50) -> list[HistoryLine]:
        q = (
            select(DeliveryRow)
            .where(DeliveryRow.subscriber_id == subscriber_id)
            .order_by(DeliveryRow.id.desc())
            .limit(limit)
        )
        async with self._tx() as s:
            return [
                HistoryLine(
                    r.id,
                    r.kind,
                    r.item_id,
                    r.status,
                    r.attempts,
                    r.created_at,
                    r.sent_at,
                    r.last_error,
                )
                for r in (await s.execute(q)).scalars()
            ]

    # -- dashboard --------------------------------------------------------------------------------

    async def new_subscribers_by_day(self, since: datetime) -> list[tuple[str, str, int]]:
        """(day, platform, subscribers who arrived that day and still receive news) since
        `since`."""
        day = func.date(SubscriberRow.created_at)
        q = (
            select(day, SubscriberRow.platform, func.count())
            .where(SubscriberRow.created_at >= since, SubscriberRow.active.is_(True))
            .group_by(day, SubscriberRow.platform)
            .order_by(day)
        )
        async with self._tx() as s:
            return [(str(d), str(p), int(n)) for d, p, n in (await s.execute(q)).all()]

    async def active_before(self, since: datetime) -> dict[str, int]:
        """Subscribers still receiving news who arrived before `since`, by platform (where the
        dashboard's running totals start)."""
        q = (
            select(SubscriberRow.platform, func.count())
            .where(SubscriberRow.created_at < since, SubscriberRow.active.is_(True))
            .group_by(SubscriberRow.platform)
        )
        async with self._tx() as s:
            return {str(p): int(n) for p, n in (await s.execute(q)).all()}

    async def deliveries_by_day(self, since: datetime) -> list[tuple[str, str, int]]:
        """(day, status, outbox rows created that day) since `since`."""
        day = func.date(DeliveryRow.created_at)
        q = (
            select(day, DeliveryRow.status, func.count())
            .where(DeliveryRow.created_at >= since)
            .group_by(day, DeliveryRow.status)
            .order_by(day)
        )
        async with self._tx() as s:
            return [(str(d), str(st), int(n)) for d, st, n in (await s.execute(q)).all()]

    async def topic_counts(self) -> list[tuple[str, int]]:
        """Active subscribers following each topic, by topic name (most followed first)."""
        q = (
            select(TopicRow.name, func.count(SubscriberTopicRow.subscriber_id))
            .join(SubscriberTopicRow, SubscriberTopicRow.topic_id == TopicRow.id)
            .join(SubscriberRow, SubscriberRow.id == SubscriberTopicRow.subscriber_id)
            .where(SubscriberRow.active.is_(True))
            .group_by(TopicRow.name)
            .order_by(func.count(SubscriberTopicRow.subscriber_id).desc())
            .limit(50)
        )
        async with self._tx() as s:
            return [(str(n), int(c)) for n, c in (await s.execute(q)).all()]

    async def failing_feeds(self) -> list[tuple[int, str, str | None, int]]:
        q = (
            select(FeedRow.id, FeedRow.name, FeedRow.url, FeedRow.consecutive_errors)
            .where(FeedRow.consecutive_errors > 0)
            .order_by(FeedRow.consecutive_errors.desc())
            .limit(50)
        )
        async with self._tx() as s:
            return [
                (int(i), shown_url(str(u)), n, int(c)) for i, n, u, c in (await s.execute(q)).all()
            ]

    # -- the audit log ----------------------------------------------------------------------------

    async def audit_page(
        self,
        *,
        actor: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        before_id: int | None = None,
        limit: int = 100,
    ) -> list[AuditEntry]:
        """Newest first, keyset paginated (`before_id`); `action` is a prefix."""
        q = select(AuditRow).order_by(AuditRow.id.desc()).limit(limit)
        if actor:
            q = q.where(AuditRow.actor == actor)
        if action:
            q = q.where(AuditRow.action.startswith(action, autoescape=True))
        if since is not None:
            q = q.where(AuditRow.at >= since)
        if until is not None:
            q = q.where(AuditRow.at < until)
        if before_id is not None:
            q = q.where(AuditRow.id < before_id)
        async with self._tx() as s:
            return [
                AuditEntry(
                    id=r.id,
                    at=r.at,
                    actor=r.actor,
                    action=r.action,
                    target=r.target,
                    detail=r.detail,
                )
                for r in (await s.execute(q)).scalars()
            ]
