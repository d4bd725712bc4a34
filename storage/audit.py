"""The audit log: every staff action (broadcast, cancel, answer, close, ban, staff and feed
changes), from chat or from the CLI, with who did it and when. Rows are only ever added.

Staff read the log, so an address is stored without its user:password@ (a feed behind HTTP
basic auth is added with its credentials in the URL; those stay with the fetcher)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from storage.base import Repo
from storage.models import AuditRow, utcnow
from storage.records import AuditEntry
from storage.urls import without_userinfo

CLI_ACTOR = "cli"


def actor_of(platform: str, user_id: str) -> str:
    """The one spelling of a chat user in the log (and in created_by / banned_by columns)."""
    return f"{platform}:{user_id}"


def _entry(row: AuditRow) -> AuditEntry:
    return AuditEntry(
        id=row.id,
        at=row.at,
        actor=row.actor,
        action=row.action,
        target=row.target,
        detail=row.detail,
    )


class AuditRepo(Repo):
    async def record(
        self,
        actor: str,
        action: str,
        target: str | None = None,
        detail: str | None = None,
        *,
        now: datetime | None = None,
    ) -> AuditEntry:
        async with self._tx() as s:
            row = AuditRow(
                at=now or utcnow(),
                actor=actor[:100],
                action=action[:50],
                target=without_userinfo(target)[:100] if target else None,
                detail=without_userinfo(detail)[:2000] if detail else None,
            )
            s.add(row)
            await s.flush()
            return _entry(row)

    async def recent(
        self,
        *,
        limit: int = 50,
        since: datetime | None = None,
        actor: str | None = None,
        action: str | None = None,
    ) -> list[AuditEntry]:
        """Newest first; `action` matches a prefix ("feedback" finds every feedback action)."""
        q = select(AuditRow).order_by(AuditRow.id.desc()).limit(limit)
        if since is not None:
            q = q.where(AuditRow.at >= since)
        if actor is not None:
            q = q.where(AuditRow.actor == actor)
        if action is not None:
            q = q.where(AuditRow.action.startswith(action, autoescape=True))
        async with self._tx() as s:
            return [_entry(r) for r in (await s.execute(q)).scalars()]
