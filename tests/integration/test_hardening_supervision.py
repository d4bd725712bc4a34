"""Every long-running loop is supervised: the Zalo long poll survives the repeats Zalo sends,
each loop of `bantin run` comes back after its body raised, reply steps are guarded, and
/healthz names a loop that keeps dying. Real app, fake platforms on loopback, SQLite files."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.adapters.telegram.adapter import UpdatePoller
from bot.adapters.telegram.webhook import ChatQueues
from bot.adapters.zalo.bot_platform import ZaloBotPoller
from bot.app import health
from bot.app.compose import App
from bot.app.ops_http import bound_port, ops_app, start_ops_server, stop_ops_server
from bot.app.roles import run_app
from bot.app.settings import Settings
from jobs.ops.supervise import Loops, supervised
from jobs.send.deliverer import Deliverer
from storage.store import Store
from tests.fakes.net import free_port
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.zalo_bot_api import FakeZaloBot


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[App]:
    stop = asyncio.Event()
    started: asyncio.Future[App] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(run_app(settings, stop=stop, on_start=started.set_result))
    try:
        yield await asyncio.wait_for(started, 30)
    finally:
        stop.set()
        with suppress(asyncio.CancelledError):
            assert await asyncio.wait_for(task, 30) == 0


async def until(condition: Callable[[], Awaitable[bool]], timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met")
        await asyncio.sleep(0.05)


def raise_once(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str) -> list[int]:
    """Replace `owner.name` (a coroutine function) by one that raises on its first call and
    behaves as before afterwards; returns the list of calls (one entry per call)."""
    original = getattr(owner, name)
    calls: list[int] = []

    async def first_time_broken(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError(f"{name} broke")
        return await original(*args, **kwargs)

    monkeypatch.setattr(owner, name, first_time_broken)
    return calls


async def test_zalo_long_poll_keeps_answering_when_every_update_comes_twice(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)  # as in production: the repeat's INFO line is written
    with FakeZaloBot() as zb:
        zb.repeat_every_update()
        settings = Settings(
            database_url=f"sqlite:///{tmp_path}/zalo.db",
            quiet_hours="off",
            zalo_bot_token=zb.token,  # type: ignore[arg-type]
            zalo_api_url=zb.api_url,
        )
        async with running(settings) as app:
            zb.user_sends("c1", "/start")
            await zb.async_wait_for(lambda m: m.chat_id == "c1", timeout=30)
            polls = len(zb.polls)
            await zb.async_wait_until(lambda: len(zb.polls) >= polls + 2, timeout=30)  # repeat
            answered = len(zb.sent)
            zb.user_sends("c1", "/help")
            await zb.async_wait_for(lambda m: m.chat_id == "c1", since=answered, timeout=30)
            restarts = {s.name: s.restarts for s in app.loops.snapshot()}
    assert restarts["zalo-updates"] == 0  # the repeat was dropped, not survived
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_each_loop_comes_back_after_its_body_raised(
    tmp_path: Path,
    telegram_api: FakeTelegram,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    tg = telegram_api
    broken = {
        "telegram-updates": raise_once(monkeypatch, UpdatePoller, "run"),
        "zalo-updates": raise_once(monkeypatch, ZaloBotPoller, "run"),
        "deliverer": raise_once(monkeypatch, Deliverer, "run_forever"),
        "job:heartbeat": raise_once(monkeypatch, health, "beat"),
    }
    port = free_port()
    with FakeZaloBot() as zb:
        settings = Settings(
            database_url=f"sqlite:///{tmp_path}/loops.db",
            quiet_hours="off",
            telegram_token=tg.token,  # type: ignore[arg-type]
            telegram_api_url=tg.api_url,
            zalo_bot_token=zb.token,  # type: ignore[arg-type]
            zalo_api_url=zb.api_url,
            leader_retry=1.0,  # the heartbeat job runs every second
            metrics_port=port,
        )
        async with running(settings) as app:
            # Each update loop crashed once and was restarted: citizens are answered.
            tg.user_sends(501, "/start")
            zb.user_sends("z1", "/start")
            await tg.async_wait_for(lambda m: m.chat_id == 501, timeout=30)
            await zb.async_wait_for(lambda m: m.chat_id == "z1", timeout=30)

            async def all_back() -> bool:
                beat = await app.store.state.get(health.HEARTBEAT_KEY)
                return beat is not None and all(len(c) >= 2 for c in broken.values())

            await until(all_back)
            restarts = {s.name: s.restarts for s in app.loops.snapshot()}
            async with (
                aiohttp.ClientSession() as session,
                session.get(f"http://127.0.0.1:{port}/healthz") as response,
            ):
                shown = await response.json()
    for name in broken:
        assert restarts[name] == 1, name
    crashed = [r for r in caplog.records if r.getMessage().startswith(("loop crashed", "job"))]
    assert {getattr(r, "loop", None) for r in crashed} >= set(broken)
    assert all(r.exc_info is not None for r in crashed)  # the traceback is in the log
    assert set(shown["checks"]["loops"]["loops"]) >= set(broken)  # /healthz sees every loop


async def test_a_failing_reply_step_is_logged_counted_and_the_chat_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    loops = Loops()
    queues = ChatQueues(loops=loops)
    said: list[str] = []

    async def broken() -> None:
        raise ConnectionError("staff chat went away")

    async def fine() -> None:
        said.append("next")

    queues.add("42", broken)
    queues.add("42", fine)
    await queues.drain(10)
    assert said == ["next"]
    (replies,) = [s for s in loops.snapshot() if s.name == "telegram-replies"]
    assert replies.crashes == 1
    assert any(r.exc_info is not None for r in caplog.records if r.levelno >= logging.ERROR)


async def test_healthz_names_a_loop_that_keeps_dying(store: Store) -> None:
    loops = Loops(base_delay=0.01, max_delay=0.02)
    stop = asyncio.Event()

    async def dies(stop: asyncio.Event) -> None:
        raise RuntimeError("broken for good")

    task = asyncio.create_task(supervised("flaky", dies, stop, loops=loops))
    runner = await start_ops_server(
        "127.0.0.1:0",
        ops_app(
            store,
            clock=lambda: datetime.now(UTC),
            max_heartbeat_age=None,
            max_outbox_lag=None,
            loops=loops,
        ),
    )
    try:

        async def crashing() -> bool:
            return any(s.crashing for s in loops.snapshot())

        await until(crashing)
        url = f"http://127.0.0.1:{bound_port(runner)}/healthz"
        async with aiohttp.ClientSession() as session, session.get(url) as response:
            status, body = response.status, await response.json()
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
        await stop_ops_server(runner)
    assert status == 503
    assert "loop flaky: crashing" in body["reasons"]
    assert "broken for good" not in str(body)  # the error text stays in the log


async def test_the_scheduler_role_comes_back_after_its_leader_loop_raised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database error while taking the scheduler lock used to end `bantin scheduler`'s
    leadership loop, and with it the process: now the loop is restarted and takes the lock."""
    from bot.app.roles import run_scheduler
    from jobs.ops.leader import LEADER_STATE_KEY, Leadership

    calls = raise_once(monkeypatch, Leadership, "acquire")
    settings = Settings(database_url=f"sqlite:///{tmp_path}/leader.db", quiet_hours="off")
    stop = asyncio.Event()
    started: asyncio.Future[App] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(run_scheduler(settings, stop=stop, on_start=started.set_result))
    try:
        app = await asyncio.wait_for(started, 30)

        async def leading() -> bool:
            return await app.store.state.get(LEADER_STATE_KEY) is not None

        await until(leading)
        restarts = {s.name: s.restarts for s in app.loops.snapshot()}
    finally:
        stop.set()
        assert await asyncio.wait_for(task, 30) == 0
    assert len(calls) >= 2
    assert restarts["scheduler-leader"] == 1
