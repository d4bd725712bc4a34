"""An update is acknowledged only once handled or kept as dead: Telegram long polling, the
Telegram webhook and the Zalo Bot intake retry a failing update a few times (one chat's later
updates wait, in order), then keep it with its content in `dead_updates`; when even that cannot
be written, Telegram is not told the update was handled. Real SQLite files whose failures come
from the database itself (triggers), FakeTelegram on loopback."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import text
from telegram import Bot

from bot.adapters.telegram.adapter import UpdatePoller, make_bot
from bot.adapters.telegram.webhook import SECRET_HEADER, TelegramWebhook
from bot.adapters.zalo.bot_platform import UpdateIntake
from bot.app.ops_http import bound_port, start_ops_server, stop_ops_server
from bot.dialog.events import Command, Event, Text
from storage.store import Store
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.zalo_bot_api import FakeZaloBot


def now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
async def bot(telegram_api: FakeTelegram) -> AsyncIterator[Bot]:
    b = make_bot(telegram_api.token, telegram_api.api_url)
    await b.initialize()
    yield b
    await b.shutdown()


async def refuse_subscribers_from(store: Store, chat_id: str) -> None:
    """The database itself refuses this chat's subscriber row (as a broken disk would)."""
    async with store.engine.begin() as conn:
        await conn.execute(
            text(
                "CREATE TRIGGER refuse_chat BEFORE INSERT ON subscribers "
                f"WHEN NEW.chat_id = '{chat_id}' "
                "BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END"
            )
        )


async def refuse_dead_updates(store: Store) -> None:
    async with store.engine.begin() as conn:
        await conn.execute(
            text(
                "CREATE TRIGGER refuse_dead BEFORE INSERT ON dead_updates "
                "BEGIN SELECT RAISE(ABORT, 'disk full'); END"
            )
        )


async def drop_triggers(store: Store) -> None:
    async with store.engine.begin() as conn:
        await conn.execute(text("DROP TRIGGER IF EXISTS refuse_chat"))
        await conn.execute(text("DROP TRIGGER IF EXISTS refuse_dead"))


def storing(store: Store, handled: list[str]) -> Callable[[Event], Awaitable[None]]:
    """A handle that stores the writer as a subscriber before noting the event (the dialog's
    first step for every message)."""

    async def handle(event: Event) -> None:
        assert isinstance(event, (Text, Command))
        await store.subscribers.subscribe(event.who.platform, event.who.chat_id)
        handled.append(event.text if isinstance(event, Text) else f"/{event.name}")

    return handle


async def until(condition: Callable[[], object], timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met")
        await asyncio.sleep(0.02)


async def test_a_failing_update_is_retried_and_the_chat_keeps_its_order(
    telegram_api: FakeTelegram, bot: Bot, store: Store
) -> None:
    handled: list[str] = []
    failed_once: list[str] = []

    async def handle(event: Event) -> None:
        assert isinstance(event, Text)
        if event.text == "một" and not failed_once:
            failed_once.append(event.text)
            raise ConnectionError("database went away")  # e.g. storing the feedback failed
        handled.append(event.text)

    poller = UpdatePoller(bot, handle, timeout=1, first_pause=0.01)
    stop = asyncio.Event()
    task = asyncio.create_task(poller.run(stop))
    try:
        for word in ("một", "hai", "ba"):
            telegram_api.user_sends(70, word)
        await until(lambda: len(handled) == 3)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
    assert handled == ["một", "hai", "ba"]
    assert await store.dead_updates.count() == 0


async def test_an_update_that_keeps_failing_is_kept_dead_with_its_content(
    telegram_api: FakeTelegram, bot: Bot, store: Store
) -> None:
    await refuse_subscribers_from(store, "777")
    handled: list[str] = []
    poller = UpdatePoller(
        bot, storing(store, handled), timeout=1, first_pause=0.01, dead=store.dead_updates
    )
    stop = asyncio.Event()
    task = asyncio.create_task(poller.run(stop))
    try:
        telegram_api.user_sends(777, "Đèn đường hỏng ở thôn 3")
        telegram_api.user_sends(778, "Xin chào")
        await until(lambda: "Xin chào" in handled)

        for _ in range(1500):  # until it is kept as dead (30 s at most)
            if await store.dead_updates.count():
                break
            await asyncio.sleep(0.02)
        else:
            raise AssertionError("the failing update was never kept")
        await drop_triggers(store)
        telegram_api.user_sends(777, "Cảm ơn")  # the chat is not stuck behind its dead update
        await until(lambda: "Cảm ơn" in handled)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
    (dead,) = await store.dead_updates.recent()
    assert (dead.platform, dead.chat_id, dead.attempts) == ("telegram", "777", 3)
    assert json.loads(dead.content)["message"]["text"] == "Đèn đường hỏng ở thôn 3"
    assert "disk I/O error" in dead.error
    assert "Đèn đường hỏng ở thôn 3" not in handled  # not handled twice once dead


async def test_an_update_neither_handled_nor_kept_is_not_acknowledged(
    telegram_api: FakeTelegram, bot: Bot, store: Store
) -> None:
    await refuse_subscribers_from(store, "777")
    await refuse_dead_updates(store)
    handled: list[str] = []
    poller = UpdatePoller(
        bot, storing(store, handled), timeout=1, first_pause=0.01, dead=store.dead_updates
    )
    telegram_api.user_sends(777, "Ống nước vỡ")
    with pytest.raises(Exception, match="disk full"):  # the loop's supervisor restarts it
        await asyncio.wait_for(poller.run(asyncio.Event()), 30)

    await drop_triggers(store)  # the database is back
    stop = asyncio.Event()
    task = asyncio.create_task(poller.run(stop))
    try:
        await until(lambda: "Ống nước vỡ" in handled)  # Telegram sent it again
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


async def test_the_zalo_intake_keeps_a_failing_message_dead_with_its_content(
    store: Store,
) -> None:
    await refuse_subscribers_from(store, "z77")
    handled: list[str] = []
    intake = UpdateIntake(
        store.zalo,
        storing(store, handled),
        clock=now,
        dead=store.dead_updates,
        first_pause=0.01,
    )
    update = FakeZaloBot().update_for("z77", "Cầu tràn ngập nước")
    await intake.take(update)
    (dead,) = await store.dead_updates.recent()
    assert (dead.platform, dead.chat_id, dead.attempts) == ("zalo", "z77", 3)
    assert json.loads(dead.content) == update
    assert handled == []


async def test_the_telegram_webhook_keeps_a_failing_update_dead_and_says_ok(
    telegram_api: FakeTelegram, bot: Bot, store: Store
) -> None:
    await refuse_subscribers_from(store, "779")
    handled: list[str] = []
    seen: set[str] = set()
    handle = storing(store, handled)

    async def take(event: Event) -> None:
        await handle(event)

    async def was_seen(key: str) -> bool:
        return key in seen

    async def remember(key: str) -> None:
        seen.add(key)

    hook = TelegramWebhook(
        bot, "s3cret", take, seen=was_seen, remember=remember, dead=store.dead_updates
    )
    app = web.Application()
    app.router.add_post("/telegram", hook.__call__)
    runner = await start_ops_server("127.0.0.1:0", app)
    update = {
        "update_id": 9001,
        "message": {
            "message_id": 5,
            "date": 1764800000,
            "chat": {"id": 779, "type": "private", "first_name": "Dân"},
            "from": {"id": 779, "is_bot": False, "first_name": "Dân"},
            "text": "Rác chưa được thu gom",
        },
    }
    try:
        url = f"http://127.0.0.1:{bound_port(runner)}/telegram"
        async with (
            aiohttp.ClientSession() as session,
            session.post(url, json=update, headers={SECRET_HEADER: "s3cret"}) as response,
        ):
            status = response.status
    finally:
        await stop_ops_server(runner)
    assert status == 200 and "9001" in seen
    (dead,) = await store.dead_updates.recent()
    assert (dead.platform, dead.chat_id, dead.update_id) == ("telegram", "779", "9001")
    assert json.loads(dead.content)["message"]["text"] == "Rác chưa được thu gom"
