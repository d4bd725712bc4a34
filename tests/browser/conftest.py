"""Browser tests: the real `bantin run` (aiohttp, the console under /admin, the deliverer)
against the fake Bot API on 127.0.0.1, driven by headless Chromium through Playwright.

Debian's `chromium` package is used through `executable_path` (Playwright downloads nothing);
where no browser exists the tests are skipped with the reason shown (`-ra`). Screenshots go to
tests/browser/artifacts/ (not committed).
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bench.support import free_port
from bot.app.compose import App
from bot.app.roles import run_app
from bot.app.settings import Settings
from tests.fakes.telegram_api import FakeTelegram

ARTIFACTS = Path(__file__).parent / "artifacts"
ADMIN_ID = 5_000_001
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def chromium_path() -> str | None:
    for candidate in (
        os.environ.get("BANTIN_CHROMIUM"),
        shutil.which("chromium"),
        "/usr/bin/chromium",
    ):
        if candidate and Path(candidate).exists():
            return candidate
    return None


@dataclass
class Running:
    app: App
    base: str
    telegram: FakeTelegram


@pytest.fixture(autouse=True)
def _needs_chromium() -> None:
    """Skip before anything starts: a `bantin run` started for a test that then skips would
    be stopped the moment it came up."""
    if chromium_path() is None:
        pytest.skip("no Chromium found (apt-get install chromium): browser tests skipped")


@pytest.fixture
async def bantin(tmp_path: Path, telegram_api: FakeTelegram) -> AsyncIterator[Running]:
    """`bantin run` with a Telegram token (the fake Bot API), one admin, the console on a free
    loopback port."""
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=f"sqlite:///{tmp_path}/console.db",
        telegram_token=telegram_api.token,  # type: ignore[arg-type]
        telegram_api_url=telegram_api.api_url,
        admin_ids=[ADMIN_ID],
        listen=f"127.0.0.1:{free_port()}",
        quiet_hours="off",
    )
    started: asyncio.Future[App] = asyncio.get_running_loop().create_future()
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_app(settings, stop=stop, on_start=lambda app: started.set_result(app))
    )
    done, _ = await asyncio.wait({started, task}, timeout=60, return_when=asyncio.FIRST_COMPLETED)
    if started not in done:
        stop.set()
        raise RuntimeError(
            f"bantin run did not start: {task.exception() if task.done() else 'timeout'}"
        )
    app = started.result()
    base = await app.store.state.get("web.base_url")
    assert base is not None, "the console did not start"
    try:
        yield Running(app, base, telegram_api)
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    path = chromium_path()
    if path is None:
        pytest.skip("no Chromium found (apt-get install chromium): browser tests skipped")
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install -e '.[test]'): browser tests skipped")
    ARTIFACTS.mkdir(exist_ok=True)
    async with async_playwright() as pw:
        launched = await pw.chromium.launch(executable_path=path, args=CHROMIUM_ARGS, headless=True)
        try:
            yield launched
        finally:
            await launched.close()
