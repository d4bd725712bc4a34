"""Shared plumbing for repositories: sessions stay in here, records go out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker


class Repo:
    """A repository owns short transactions; callers never see a session."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], dialect: str) -> None:
        self._sessions = sessions
        self._dialect = dialect

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[AsyncSession]:
        async with self._sessions() as session, session.begin():
            yield session

    def _insert(self, table: Any) -> Any:
        """A dialect INSERT that supports ON CONFLICT (SQLite and PostgreSQL both do)."""
        if self._dialect == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)
