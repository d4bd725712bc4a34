"""Shared plumbing for repositories: sessions stay in here, records go out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker


class Repo:
    """A repository owns short transactions; callers never see a session."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], dialect: str) -> None:
        self._sessions = sessions
        self._dialect = dialect

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[AsyncSession]:
        async with self._sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def _once(self) -> AsyncIterator[AsyncConnection | AsyncSession]:
        """Where to run work that is one statement: on PostgreSQL a connection on which it
        commits by itself (no BEGIN and COMMIT round trips: 1.1 -> 0.7 ms of CPU for a small
        read, bench/inbound.py), elsewhere a short transaction as `_tx` (on SQLite, switching
        a connection to autocommit costs more than the commit it saves)."""
        if self._dialect != "postgresql":
            async with self._tx() as session:
                yield session
            return
        engine: AsyncEngine = self._sessions.kw["bind"]
        async with engine.connect() as conn:
            yield await conn.execution_options(isolation_level="AUTOCOMMIT")

    def _insert(self, table: Any) -> Any:
        """A dialect INSERT that supports ON CONFLICT (SQLite and PostgreSQL both do)."""
        if self._dialect == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)
