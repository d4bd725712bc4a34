"""`bantin serve` with a Telegram webhook, in-process against the fake Bot API: the set-up the
webhook tests share (the app, its address, the fake, and a `post` that signs like Telegram)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bot.adapters.telegram.webhook import SECRET_HEADER
from bot.app.compose import App
from bot.app.roles import run_serve
from bot.app.settings import Settings
from tests.fakes.net import free_port
from tests.fakes.telegram_api import FakeTelegram

SECRET = "s3cret-Token_value"


@dataclass
class Served:
    app: App
    url: str
    tg: FakeTelegram

    async def post(self, update: Any, secret: str | None = SECRET) -> httpx.Response:
        headers = {SECRET_HEADER: secret} if secret is not None else {}
        async with httpx.AsyncClient() as client:
            return await client.post(self.url + "/telegram", json=update, headers=headers)

    async def subscribers(self) -> int:
        return (await self.app.store.subscribers.counts()).get("active", 0)


@asynccontextmanager
async def serving(tmp_path: Path, telegram_api: FakeTelegram) -> AsyncIterator[Served]:
    """`bantin serve` on a free loopback port until the block ends (then stopped cleanly)."""
    port = free_port()
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/serve.db",
        quiet_hours="off",
        telegram_token=telegram_api.token,  # type: ignore[arg-type]
        telegram_api_url=telegram_api.api_url,
        telegram_webhook_url="https://bantin.example.vn/telegram",
        telegram_webhook_secret=SECRET,  # type: ignore[arg-type]
        listen=f"127.0.0.1:{port}",
    )
    stop = asyncio.Event()
    started: asyncio.Future[App] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(run_serve(settings, stop=stop, on_start=started.set_result))
    try:
        app = await asyncio.wait_for(started, 30)
        yield Served(app, f"http://127.0.0.1:{port}", telegram_api)
    finally:
        stop.set()
        assert await asyncio.wait_for(task, 30) == 0
