"""A stop during a Zalo webhook call loses nothing: the whole app (`bantin run`, and `bantin
serve` for the OA) against FakeZaloBot / FakeZaloOA on loopback and a real SQLite file.

The stop is what SIGTERM does (bot.app.runner.stop_on_signals sets the stop event) and comes while
the event's work is still under way: the dialog and the sends are slowed down (as by a busy
database and a slow platform) and the stop is set the moment the dialog starts. Whatever
Zalo was answered 200 for must have its work stored and its reply sent by the time the
process's run function returns.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import suppress
from pathlib import Path

import pytest

from bot.app.compose import App
from bot.app.roles import run_app, run_serve
from bot.app.settings import Settings
from bot.dialog.events import Event
from jobs.channel import OutMessage
from storage.store import Store
from tests.fakes.net import free_port
from tests.fakes.zalo_bot_api import FakeZaloBot
from tests.fakes.zalo_oa_api import FakeZaloOA

SECRET = "s3cret-webhook-token"
SLOW = 1.0  # seconds the dialog takes: the stop arrives in the middle of it


@pytest.fixture
def zalo() -> Iterator[FakeZaloBot]:
    with FakeZaloBot() as fake:
        yield fake


@pytest.fixture
def oa() -> Iterator[FakeZaloOA]:
    with FakeZaloOA() as fake:
        yield fake


Role = Callable[..., Awaitable[int]]


async def _stopped_mid_event(
    settings: Settings,
    send: Callable[[], Awaitable[int]],
    monkeypatch: pytest.MonkeyPatch,
    role: Role = run_app,
) -> int:
    """Run the app (`bantin run`, or `role`), deliver one webhook event, stop as soon as the
    dialog starts on it; the HTTP status Zalo got. The role has returned (everything closed)
    when this returns."""
    stop = asyncio.Event()
    started: asyncio.Future[App] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(role(settings, stop=stop, on_start=started.set_result))
    try:
        app = await asyncio.wait_for(started, 30)
        working = asyncio.Event()
        dialog_handle = app.dialog.handle

        async def slow_handle(event: Event) -> object:
            working.set()
            await asyncio.sleep(SLOW)
            return await dialog_handle(event)

        monkeypatch.setattr(app.dialog, "handle", slow_handle)
        for channel in app.channels.values():  # replies are slow too: the stop waits for them
            monkeypatch.setattr(channel, "send", _slowed(channel.send))
        post = asyncio.create_task(send())
        await asyncio.wait_for(working.wait(), 15)
        stop.set()  # what SIGTERM does
        assert await asyncio.wait_for(task, 60) == 0
        return await asyncio.wait_for(post, 15)
    finally:
        stop.set()
        with suppress(BaseException):
            await asyncio.wait_for(task, 60)


def _slowed(send: Callable[[str, OutMessage], Awaitable[str]]) -> object:
    async def slow_send(chat_id: str, message: OutMessage) -> str:
        await asyncio.sleep(SLOW)
        return await send(chat_id, message)

    return slow_send


async def _subscribed(db: Path, platform: str, chat: str) -> bool:
    store = Store.open(f"sqlite:///{db}")
    try:
        sub = await store.subscribers.get(platform, chat)
        return sub is not None and sub.active
    finally:
        await store.aclose()


async def test_zalo_bot_webhook_event_is_handled_and_answered_despite_a_stop(
    zalo: FakeZaloBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    db = tmp_path / "zalo.db"
    settings = Settings(
        database_url=f"sqlite:///{db}",
        quiet_hours="off",
        zalo_bot_token=zalo.token,  # type: ignore[arg-type]
        zalo_api_url=zalo.api_url,
        zalo_webhook_url=f"http://127.0.0.1:{port}/zalo/bot",
        zalo_webhook_secret=SECRET,  # type: ignore[arg-type]
        zalo_webhook_listen=f"127.0.0.1:{port}",
        poll_interval=3600,
    )
    status = await _stopped_mid_event(
        settings, lambda: zalo.user_sends_to_webhook("c1", "/start"), monkeypatch
    )
    assert status == 200
    assert await _subscribed(db, "zalo", "c1")  # the work was stored
    [welcome] = zalo.messages_to("c1")  # and the reply went out before the channel closed
    assert "đăng ký" in welcome.text


@pytest.mark.parametrize("role", [run_app, run_serve], ids=["run", "serve"])
async def test_zalo_oa_webhook_event_is_handled_and_answered_despite_a_stop(
    oa: FakeZaloOA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, role: Role
) -> None:
    port = free_port()
    db = tmp_path / "oa.db"
    access, refresh = oa.authorize()
    settings = Settings(
        database_url=f"sqlite:///{db}",
        quiet_hours="off",
        zalo_oa_app_id=oa.app_id,
        zalo_oa_secret_key=oa.secret_key,  # type: ignore[arg-type]
        zalo_oa_webhook_secret=oa.oa_secret,  # type: ignore[arg-type]
        zalo_oa_access_token=access,  # type: ignore[arg-type]
        zalo_oa_refresh_token=refresh,  # type: ignore[arg-type]
        zalo_oa_api_url=oa.url,
        zalo_oa_oauth_url=oa.url,
        zalo_webhook_listen=f"127.0.0.1:{port}",  # bantin run
        listen=f"127.0.0.1:{port}",  # bantin serve
        poll_interval=3600,
    )
    url = f"http://127.0.0.1:{port}/zalo/oa"
    status = await _stopped_mid_event(
        settings, lambda: oa.send_event(url, oa.text_event("u1", "/start")), monkeypatch, role
    )
    assert status == 200
    assert await _subscribed(db, "zalo_oa", "u1")
    assert [m.user_id for m in oa.sent] == ["u1"]
    assert "đăng ký" in oa.sent[0].text
