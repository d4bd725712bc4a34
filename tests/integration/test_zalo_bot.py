"""The Zalo Bot adapter against FakeZaloBot on loopback, with a real SQLite file: polling
without offset (408, replays, one second apart), the webhook secret, sends and their errors,
and numbered menus in place of buttons."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import httpx
import pytest

from bot.adapters.zalo.bot_platform import (
    UpdateIntake,
    ZaloBotChannel,
    ZaloBotClient,
    ZaloBotPoller,
    start_webhook_server,
    webhook_handler,
)
from bot.adapters.zalo.menus import MenuChannel
from bot.dialog.events import Event, Press, Text
from jobs.channel import PLAIN, Button, Fatal, OutMessage, RecipientGone
from storage.store import Store
from tests.fakes.net import free_port
from tests.fakes.zalo_bot_api import FakeZaloBot


def now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
def zalo() -> Iterator[FakeZaloBot]:
    with FakeZaloBot() as fake:
        yield fake


@pytest.fixture
async def client(zalo: FakeZaloBot) -> AsyncIterator[ZaloBotClient]:
    c = ZaloBotClient(zalo.token, zalo.api_url)
    yield c
    await c.aclose()


async def test_polling_dedupes_replays_and_waits_a_second(
    zalo: FakeZaloBot, client: ZaloBotClient, store: Store
) -> None:
    got: list[Event] = []

    async def handle(event: Event) -> None:
        got.append(event)

    poller = ZaloBotPoller(client, UpdateIntake(store.zalo, handle, clock=now), timeout=1)
    assert (await poller.prepare())["account_name"] == "bot.bantin"
    stop = asyncio.Event()
    task = asyncio.create_task(poller.run(stop))
    try:
        zalo.user_sends("c1", "/start")
        zalo.user_sends("c1", "Xin chào")
        await _until(lambda: len(got) == 2)
        zalo.replay_next(2)  # no offset: the platform may deliver the last update again
        await _until(lambda: len(zalo.polls) >= 5, timeout=8)  # includes 408 "no update"
        assert len(got) == 2 and isinstance(got[1], Text) and got[1].text == "Xin chào"
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
    gaps = [b - a for a, b in zip(zalo.polls, zalo.polls[1:], strict=False)]
    assert min(gaps) >= 0.95  # at least one second between polls, whatever they answered

    # A restart (new intake, same database) still knows the ids it handled.
    again: list[Event] = []

    async def handle_again(event: Event) -> None:
        again.append(event)

    intake = UpdateIntake(store.zalo, handle_again, clock=now)
    zalo.replay_next(1)
    for update in await client.get_updates(1):
        await intake.take(update)
    assert again == []


async def test_webhook_checks_the_secret_before_the_body(
    zalo: FakeZaloBot, client: ZaloBotClient, store: Store
) -> None:
    got: list[Event] = []

    async def handle(event: Event) -> None:
        got.append(event)

    secret = "s3cret-webhook-token"
    intake = UpdateIntake(store.zalo, handle, clock=now)
    port = free_port()
    runner = await start_webhook_server(
        f"127.0.0.1:{port}", {"/zalo/bot": webhook_handler(secret, intake)}
    )
    try:
        await client.set_webhook(f"http://127.0.0.1:{port}/zalo/bot", secret)
        assert await zalo.user_sends_to_webhook("c1", "Giả mạo", secret="wrong-secret!") == 403
        async with httpx.AsyncClient() as raw:  # no header at all, junk body
            assert (
                await raw.post(f"http://127.0.0.1:{port}/zalo/bot", content=b"{")
            ).status_code == 403
        assert await zalo.user_sends_to_webhook("c1", "Xin chào") == 200
        await _until(lambda: len(got) == 1)
        assert isinstance(got[0], Text) and got[0].text == "Xin chào"
        with pytest.raises(Exception, match="webhook is set"):
            await client.call("getUpdates", {"timeout": "1"})
    finally:
        await runner.cleanup()


async def test_send_splits_at_2000_and_maps_errors(
    zalo: FakeZaloBot, client: ZaloBotClient, caplog: pytest.LogCaptureFixture
) -> None:
    channel = ZaloBotChannel(client)
    long = "\n\n".join(f"Đoạn {i}: " + "chữ " * 120 for i in range(12))  # ~5,900 characters
    first = await channel.send("c1", OutMessage(long, markup=PLAIN))
    parts = zalo.messages_to("c1")
    assert len(parts) >= 3 and all(len(p.text) <= 2000 for p in parts)
    assert first == parts[0].message_id
    await channel.send(
        "c1", OutMessage("Ảnh hội nghị", markup=PLAIN, photo_url="https://p.example/a.jpg")
    )
    assert zalo.sent[-1].method == "sendPhoto" and zalo.sent[-1].text == "Ảnh hội nghị"

    zalo.block("c2")
    with pytest.raises(RecipientGone):
        await channel.send("c2", OutMessage("x", markup=PLAIN))
    caplog.set_level(logging.DEBUG)
    bad = ZaloBotClient("999:WRONG-TOKEN", zalo.api_url)
    try:
        with pytest.raises(Fatal) as err:
            await ZaloBotChannel(bad).send("c1", OutMessage("x", markup=PLAIN))
        assert "WRONG-TOKEN" not in err.value.description
    finally:
        await bad.aclose()
    dead = ZaloBotClient(zalo.token, "http://127.0.0.1:9")  # nothing listens: network error
    try:
        with pytest.raises(Exception) as err2:
            await ZaloBotChannel(dead).send("c1", OutMessage("x", markup=PLAIN))
        assert zalo.token not in str(err2.value)
    finally:
        await dead.aclose()
    assert zalo.token not in caplog.text and "WRONG-TOKEN" not in caplog.text


async def test_numbered_menu_becomes_a_press(
    zalo: FakeZaloBot, client: ZaloBotClient, store: Store
) -> None:
    repo = store.zalo
    menu = MenuChannel(ZaloBotChannel(client), repo, clock=now, edit_gap=0.3)
    assert menu.capabilities.buttons and menu.capabilities.max_text < 2000
    preview = OutMessage(
        "Xem trước", markup=PLAIN, buttons=((Button("Gửi", "bc:ok:7"), Button("Hủy", "bc:no:7")),)
    )
    mid = await menu.send("admin", preview)
    assert zalo.sent[-1].text.endswith("1. Gửi\n2. Hủy")
    from bot.dialog.events import Who

    who = Who("zalo", "admin", "admin")
    assert await menu.resolve(Text(who, "3")) == Text(who, "3")  # out of range: just text
    pressed = await menu.resolve(Text(who, "1"))
    assert isinstance(pressed, Press) and pressed.data == "bc:ok:7" and pressed.message_id == mid
    assert isinstance(await menu.resolve(Text(who, "1")), Text)  # a double answer presses once

    # Toast then edit with the same words: one message. Edits of one message are coalesced,
    # and the latest text always arrives.
    count = len(zalo.sent)
    assert pressed.press_id is not None
    await menu.answer_press(pressed.press_id, "Đã xếp hàng")
    await menu.edit("admin", mid, OutMessage("Đã xếp hàng", markup=PLAIN))
    assert len(zalo.sent) == count + 1
    for i in range(5):
        await menu.edit("admin", mid, OutMessage(f"Tiến độ {i}", markup=PLAIN))
    await asyncio.sleep(0.5)
    texts = [m.text for m in zalo.sent[count + 1 :]]
    assert texts == ["Tiến độ 0", "Tiến độ 4"]
    await menu.aclose()


async def _until(condition: object, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met"
        await asyncio.sleep(0.01)
