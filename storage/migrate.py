"""Run Alembic migrations on an async engine, from the app at start and from the CLI."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head_revision() -> str | None:
    """The newest revision(s); several joined by "+" while branches are open."""
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    return "+".join(sorted(heads)) or None


async def upgrade(engine: AsyncEngine, revision: str = "heads") -> None:
    """Bring the schema to `revision`; a no-op when it is already there."""

    def _run(conn: Connection) -> None:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)

    async with engine.begin() as conn:
        await conn.run_sync(_run)


async def current_revision(engine: AsyncEngine) -> str | None:
    def _get(conn: Connection) -> str | None:
        heads = MigrationContext.configure(conn).get_current_heads()
        return "+".join(sorted(heads)) or None

    async with engine.connect() as conn:
        return await conn.run_sync(_get)
