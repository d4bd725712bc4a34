"""Inbound bursts: Telegram updates are handled side by side across chats, strictly in order
within one chat; replies do not hold the intake; the offset (long polling) and the 200
(webhook) come only once an update's work is stored; a crash in the middle of a burst loses no
update and answers none twice. Orderings and events, never timings: FakeTelegram on loopback,
real SQLite files, the real `bantin serve` process for the crash."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from telegram import Bot

from bot.adapters.intake import ChatLanes
from bot.adapters.telegram.adapter import UpdatePoller, make_bot
from bot.adapters.telegram.webhook import SECRET_HEADER, TelegramWebhook
from bot.app.ops_http import bound_port, start_ops_server, stop_ops_server
from bot.dialog.events import Command, Event, Text
from storage.store import Store
from tests.fakes.net import free_port
from tests.fakes.procenv import subprocess_env
from tests.fakes.telegram_api import FakeTelegram

BANTIN = Path(sys.executable).parent / "bantin"


@pytest.fixture
async def bot(telegram_api: FakeTelegram) -> AsyncIterator[Bot]:
    b = make_bot(telegram_api.token, telegram_api.api_url)
    await b.initialize()
    yield b
    await b.shutdown()


async def until(condition: Callable[[], object], timeout: float = 30.0) -> None:
    """Wait for a condition (the deadline only ends a test that would hang; nothing is timed)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met")
        await asyncio.sleep(0.01)


def words(event: Event) -> str:
    assert isinstance(event, (Text, Command))
    return event.text if isinstance(event, Text) else f"/{event.name}"


async def test_a_slow_chat_does_not_stop_another_and_keeps_its_own_order(
    telegram_api: FakeTelegram, bot: Bot
) -> None:
    """Chat A's first update is held; chat B's updates, even those sent later, are handled
    meanwhile; A's second waits for its first, and the offset stays before A's held update."""
    release = asyncio.Event()
    handled: list[tuple[str, str]] = []

    async def handle(event: Event) -> None:
        if event.who.chat_id == "1" and words(event) == "a1":
            await release.wait()
        handled.append((event.who.chat_id, words(event)))

    poller = UpdatePoller(bot, handle, timeout=1)
    stop = asyncio.Event()
    task = asyncio.create_task(poller.run(stop))
    try:
        telegram_api.user_sends(1, "a1")
        telegram_api.user_sends(2, "b1")
        await until(lambda: ("2", "b1") in handled)
        telegram_api.user_sends(1, "a2")  # behind a1, in its chat
        telegram_api.user_sends(2, "b2")  # a later batch: not stuck behind chat 1
        await until(lambda: ("2", "b2") in handled)
        assert [w for c, w in handled if c == "1"] == []
        assert telegram_api.pending_updates == 4  # nothing confirmed past a1
        release.set()
        await until(lambda: len(handled) == 4)
        await until(lambda: telegram_api.pending_updates == 0)  # all stored: confirmed
    finally:
        release.set()
        stop.set()
        await asyncio.wait_for(task, 10)
    assert [w for c, w in handled if c == "1"] == ["a1", "a2"]
    assert [w for c, w in handled if c == "2"] == ["b1", "b2"]


async def test_a_pending_reply_does_not_hold_the_intake(
    telegram_api: FakeTelegram, bot: Bot
) -> None:
    """The reply step of a chat's first update is still waiting (a slow platform, a 429) while
    that chat's next update is handled; the replies still go out in the chat's order."""
    release = asyncio.Event()
    handled: list[str] = []
    said: list[str] = []

    async def handle(event: Event) -> Callable[[], Awaitable[None]]:
        text = words(event)
        handled.append(text)

        async def reply() -> None:
            if text == "một":
                await release.wait()
            said.append(text)

        return reply

    poller = UpdatePoller(bot, handle, timeout=1)
    stop = asyncio.Event()
    task = asyncio.create_task(poller.run(stop))
    try:
        telegram_api.user_sends(5, "một")
        await until(lambda: handled == ["một"])
        telegram_api.user_sends(5, "hai")
        await until(lambda: handled == ["một", "hai"])
        assert said == []  # "hai" waits behind "một" in its chat's replies
        release.set()
        await until(lambda: said == ["một", "hai"])
    finally:
        release.set()
        stop.set()
        await asyncio.wait_for(task, 10)


async def test_lanes_run_chats_side_by_side_within_their_bound() -> None:
    """At most `limit` items run at once; one chat's items never overlap or reorder."""
    lanes = ChatLanes(2)
    gate = asyncio.Event()
    running: set[str] = set()
    most = 0
    order: dict[str, list[int]] = {}

    def item(chat: str, n: int) -> Callable[[], Awaitable[None]]:
        async def work() -> None:
            nonlocal most
            assert chat not in running  # never two of one chat at once
            running.add(chat)
            most = max(most, len(running))
            await gate.wait()
            order.setdefault(chat, []).append(n)
            running.discard(chat)

        return work

    for n in range(3):
        for chat in ("a", "b", "c"):
            lanes.add(chat, item(chat, n))
    await until(lambda: len(running) == 2)
    gate.set()
    await lanes.join()
    assert most == 2
    assert order == {"a": [0, 1, 2], "b": [0, 1, 2], "c": [0, 1, 2]}


async def test_the_webhook_answers_only_after_the_work_is_stored(
    telegram_api: FakeTelegram, bot: Bot, store: Store
) -> None:
    """The 200 waits for the handler's work and the handled id; a retry of a handled update is
    acknowledged without handling it again, and its reply goes out once."""
    release = asyncio.Event()
    handled: list[str] = []
    said: list[str] = []

    async def handle(event: Event) -> Callable[[], Awaitable[None]]:
        await release.wait()
        await store.subscribers.subscribe(event.who.platform, event.who.chat_id)
        handled.append(words(event))

        async def reply() -> None:
            said.append(words(event))

        return reply

    async def was_seen(key: str) -> bool:
        return await store.zalo.was_seen("telegram-update", key)

    async def remember(key: str) -> None:
        await store.zalo.mark_seen("telegram-update", key, datetime.now(UTC))

    hook = TelegramWebhook(
        bot, "s3cret", handle, seen=was_seen, remember=remember, seen_log=store.zalo
    )
    app = web.Application()
    app.router.add_post("/telegram", hook)
    runner = await start_ops_server("127.0.0.1:0", app)
    url = f"http://127.0.0.1:{bound_port(runner)}/telegram"
    telegram_api.user_sends(42, "/start")
    (update,) = telegram_api.take_updates()
    try:
        async with aiohttp.ClientSession() as http:

            async def post() -> int:
                async with http.post(url, json=update, headers={SECRET_HEADER: "s3cret"}) as r:
                    return r.status

            answer = asyncio.create_task(post())
            await asyncio.sleep(0.2)  # give the request every chance to be answered early
            assert not answer.done()  # the work is not stored: no answer yet
            release.set()
            assert await answer == 200
            # answered: the work and the handled id are stored already
            assert (await store.subscribers.counts())["active"] == 1
            assert await store.zalo.was_seen("telegram-update", str(update["update_id"]))
            assert await post() == 200  # Telegram's retry
            await hook.replies.drain(10)
    finally:
        release.set()
        await stop_ops_server(runner)
    assert handled == ["/start"]
    assert said == ["/start"]


def _serve(tmp_path: Path, tg: FakeTelegram) -> subprocess.Popen[bytes]:
    env = subprocess_env(
        BANTIN_DATABASE_URL=f"sqlite:///{tmp_path}/crash.db",
        BANTIN_TELEGRAM_TOKEN=tg.token,
        BANTIN_TELEGRAM_API_URL=tg.api_url,
        BANTIN_QUIET_HOURS="off",
        BANTIN_SEND_RATE=1000,
        BANTIN_PAID_BROADCAST="true",
        BANTIN_LISTEN=f"127.0.0.1:{free_port()}",
        BANTIN_TELEGRAM_WEBHOOK_URL=None,
        BANTIN_TELEGRAM_WEBHOOK_SECRET=None,
        BANTIN_LOG_LEVEL="WARNING",
    )
    log = open(tmp_path / "serve.log", "ab")
    # Not the repository: its .env is the developer's.
    return subprocess.Popen([str(BANTIN), "serve"], cwd=tmp_path, env=env, stdout=log, stderr=log)


async def test_a_crash_mid_burst_loses_nothing_and_answers_nothing_twice(
    tmp_path: Path, telegram_api: FakeTelegram
) -> None:
    """`bantin serve` (long polling) is killed with SIGKILL while a burst of /start is being
    answered, then started again: every chat is subscribed (no update lost) and no chat got
    two answers (handled ids are recorded before replies go out, and a redelivered update
    that was handled is skipped)."""
    tg = telegram_api
    chats = list(range(9000, 9600))
    for chat in chats:
        tg.user_sends(chat, "/start")
    proc = _serve(tmp_path, tg)
    try:
        await until(lambda: len(tg.sent) >= 20, timeout=60)
        proc.send_signal(signal.SIGKILL)  # a crash: no stop, no drain, nothing flushed
        proc.wait(10)
        assert tg.pending_updates > 0  # the burst was cut in the middle
    finally:
        if proc.poll() is None:
            proc.kill()
    proc = _serve(tmp_path, tg)
    try:
        await until(lambda: tg.pending_updates == 0, timeout=60)
        store = Store.open(f"sqlite:///{tmp_path}/crash.db")
        try:

            async def subscribed() -> int:
                return (await store.subscribers.counts())["active"]

            for _ in range(600):
                if await subscribed() == len(chats):
                    break
                await asyncio.sleep(0.05)
            assert await subscribed() == len(chats)  # nothing lost
        finally:
            await store.aclose()
    finally:
        proc.send_signal(signal.SIGINT)  # a clean stop: the replies promised are sent
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
    answers: dict[int, int] = {}
    for message in tg.sent:
        answers[message.chat_id] = answers.get(message.chat_id, 0) + 1
    assert max(answers.values()) == 1, {c: n for c, n in answers.items() if n > 1}
    assert sum(answers.values()) > 20  # the restarted process answered too


async def test_start_is_one_upsert_that_tells_new_from_returning(any_store: Store) -> None:
    """/start's storage on both databases: new, again (welcome back, a new display name
    kept), after /stop (newly active again); preferences made once; the step of the person
    read with the chat in one query."""
    subs = any_store.subscribers
    first, newly = await subs.subscribe("telegram", "77", display_name="Lan")
    assert newly and first.active and first.display_name == "Lan"
    again, newly = await subs.subscribe("telegram", "77", display_name="Lan Anh")
    assert not newly and again.id == first.id and again.display_name == "Lan Anh"
    assert await subs.deactivate(first.id, "unsubscribed")
    back, newly = await subs.subscribe("telegram", "77")
    assert newly and back.id == first.id and back.display_name == "Lan Anh"
    prefs = await any_store.preferences.get(first.id)
    assert prefs.all_news
    await subs.set_dialog(first.id, "feedback", "12", user="501")
    mine = await subs.with_dialog("telegram", "77", "501")
    other = await subs.with_dialog("telegram", "77", "502")
    assert (mine.id, mine.dialog_state, mine.dialog_ref) == (first.id, "feedback", "12")
    assert (other.id, other.dialog_state) == (first.id, None)
    new = await subs.with_dialog("telegram", "78", "78", display_name="Hà")
    assert not new.active and new.display_name == "Hà"


async def test_a_burst_of_start_is_written_together_and_each_gets_its_own_answer(
    any_store: Store,
) -> None:
    """Concurrent /start share transactions (group commit) yet each call learns whether its
    chat is newly subscribed, a chat twice in the burst included."""
    subs = any_store.subscribers
    await subs.subscribe("telegram", "100", display_name="Cũ")  # active before the burst
    chats = [str(100 + i) for i in range(40)] + ["105", "106"]
    got = await asyncio.gather(*(subs.subscribe("telegram", c, display_name="Mới") for c in chats))
    newly = {c: n for c, (_, n) in zip(chats, got, strict=True) if c not in ("105", "106")}
    assert newly.pop("100") is False
    assert all(newly.values())
    assert sorted(n for c, (_, n) in zip(chats, got, strict=True) if c in ("105", "106")) == [
        False,
        False,
        True,
        True,
    ]
    ids = {c: s.id for c, (s, _) in zip(chats, got, strict=True)}
    assert len(set(ids.values())) == 40
    assert (await subs.counts())["active"] == 40
    prefs = await any_store.preferences.get_many(list(ids.values()))
    assert len(prefs) == 40 and all(p.all_news for p in prefs.values())


async def test_one_refused_start_in_a_burst_fails_only_itself(store: Store) -> None:
    """The database refuses one chat's row: that /start fails (its update is retried, then
    kept dead), the others written with it are subscribed."""
    from sqlalchemy import text

    async with store.engine.begin() as conn:
        await conn.execute(
            text(
                "CREATE TRIGGER refuse_chat BEFORE INSERT ON subscribers "
                "WHEN NEW.chat_id = '207' BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END"
            )
        )
    chats = [str(200 + i) for i in range(10)]
    got = await asyncio.gather(
        *(store.subscribers.subscribe("telegram", c) for c in chats), return_exceptions=True
    )
    failed = [c for c, g in zip(chats, got, strict=True) if isinstance(g, BaseException)]
    assert failed == ["207"]
    assert (await store.subscribers.counts())["active"] == 9
