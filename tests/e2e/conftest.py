"""End-to-end fixtures: the installed `bantin` console script run as a subprocess.

Every run gets the internet guard (tests/fakes/procenv.py), a SQLite file in the test's tmp_path,
no Telegram token (console mode), no other BANTIN_* variable from the developer's shell, stdin
that is not a TTY, the tmp_path as working directory (so no stray .env is read), and a timeout.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import pytest

from storage.store import Store
from tests.fakes.procenv import subprocess_env

T = TypeVar("T")

BANTIN = shutil.which("bantin", path=str(Path(sys.executable).parent))
TIMEOUT = 60.0  # generous: a cold start on a busy 2-core CI machine takes a few seconds


def _clean_env(**extra: str | Path | None) -> dict[str, str]:
    """subprocess_env without the developer's BANTIN_* settings, plus `extra`. Feeds are served
    from loopback (tests/fakes/feed_server.py), which the address rules allow only by name."""
    inherited = {k: None for k in os.environ if k.startswith("BANTIN_") and k != "BANTIN_NETGUARD"}
    loopback = {"BANTIN_ALLOW_PRIVATE_HOSTS": "127.0.0.1"}
    return subprocess_env(**{**inherited, "BANTIN_TELEGRAM_TOKEN": None, **loopback, **extra})


@dataclass
class Bantin:
    """Runs `bantin ARGS` against one SQLite file; call it like a function."""

    cwd: Path
    db_path: Path
    env_extra: dict[str, str | Path | None] = field(default_factory=dict)

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.db_path}"

    @property
    def executable(self) -> str:
        assert BANTIN, "the bantin console script is not installed next to this Python"
        return BANTIN

    def env(self, **extra: str | Path | None) -> dict[str, str]:
        return _clean_env(**{"BANTIN_DATABASE_URL": self.db_url, **self.env_extra, **extra})

    def __call__(
        self,
        *args: str,
        timeout: float = TIMEOUT,
        env: dict[str, str | Path | None] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.executable, *args],
            cwd=self.cwd,
            env=self.env(**(env or {})),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=timeout,
            check=False,
        )

    def parallel(self, *commands: tuple[str, ...]) -> list[subprocess.CompletedProcess[str]]:
        """Run independent read-only commands at once (each costs ~1 s of interpreter start)."""
        with ThreadPoolExecutor(max_workers=len(commands)) as pool:
            return list(pool.map(lambda args: self(*args), commands))

    def popen(self, *args: str, stderr: Path) -> subprocess.Popen[str]:
        """Start a long-running command; stderr goes to a file so a full pipe never blocks it."""
        with stderr.open("w", encoding="utf-8") as err:
            return subprocess.Popen(
                [self.executable, *args],
                cwd=self.cwd,
                env=self.env(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
                encoding="utf-8",
                bufsize=1,
            )

    def with_store(self, work: Callable[[Store], Awaitable[T]]) -> T:
        """Run `work` on a migrated Store over the same file (to seed or inspect), then close."""

        async def go() -> T:
            store = Store.open(self.db_url)
            try:
                await store.migrate()
                return await work(store)
            finally:
                await store.aclose()

        return asyncio.run(go())


@pytest.fixture
def bantin(tmp_path: Path) -> Bantin:
    if BANTIN is None:
        pytest.fail("`bantin` console script not found next to sys.executable; pip install -e .")
    return Bantin(cwd=tmp_path, db_path=tmp_path / "bantin.db")
