"""Dead updates: incoming updates whose handling failed every bounded retry.

Why a table and not a log line: the update is a citizen's words (feedback, a question); once a
poller has acknowledged it, the platform will not send it again, so it must be kept where an
operator can see it and act on it, and counted where `bantin stats` and /metrics can show it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from storage.base import Repo
from storage.models import DeadUpdateRow

MAX_ERROR = 2000


@dataclass(frozen=True)
class DeadUpdate:
    id: int
    platform: str
    chat_id: str | None
    update_id: str | None
    content: str  # JSON
    error: str
    attempts: int
    created_at: datetime


def _dead(row: DeadUpdateRow) -> DeadUpdate:
    return DeadUpdate(
        id=row.id,
        platform=row.platform,
        chat_id=row.chat_id,
        update_id=row.update_id,
        content=row.content,
        error=row.error,
        attempts=row.attempts,
        created_at=row.created_at,
    )


class DeadUpdateRepo(Repo):
    async def record(
        self,
        *,
        platform: str,
        chat_id: str | None,
        update_id: str | None,
        content: Any,
        error: str,
        attempts: int,
        now: datetime,
    ) -> int:
        """Keep one dead update; `content` is stored as JSON (a string is kept as is)."""
        raw = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)
        row = DeadUpdateRow(
            platform=platform,
            chat_id=chat_id[:100] if chat_id else None,
            update_id=update_id[:100] if update_id else None,
            content=raw,
            error=error[:MAX_ERROR],
            attempts=attempts,
            created_at=now,
        )
        async with self._tx() as s:
            s.add(row)
            await s.flush()
            return row.id

    async def recent(self, *, limit: int = 50) -> list[DeadUpdate]:
        q = select(DeadUpdateRow).order_by(DeadUpdateRow.id.desc()).limit(limit)
        async with self._tx() as s:
            return [_dead(r) for r in (await s.execute(q)).scalars()]

    async def count(self) -> int:
        async with self._tx() as s:
            return int(
                (await s.execute(select(func.count()).select_from(DeadUpdateRow))).scalar_one()
            )
