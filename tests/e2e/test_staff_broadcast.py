"""The guided /broadcast end to end through the fake Bot API: compose → no photo → everyone →
now → normal → preview → confirm → every subscriber receives it; /broadcasts lists it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import suppress

from bot.app.compose import App
from bot.app.roles import run_app
from bot.app.settings import Settings
from tests.fakes.telegram_api import FakeTelegram, SentMessage, _photo_sizes

ADMIN = 900
CITIZENS = (501, 502)


async def _with_app(
    tmp_path: object, tg: FakeTelegram, walk: Callable[[App], Awaitable[None]]
) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/bw.db",
        telegram_token=tg.token,  # type: ignore[arg-type]
        telegram_api_url=tg.api_url,
        admin_ids=[ADMIN],
        poll_interval=3600,
        send_rate=30,
        quiet_hours="off",  # the test may run in the evening, Vietnam time
    )
    stop = asyncio.Event()
    started: asyncio.Future[App] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(run_app(settings, stop=stop, on_start=started.set_result))
    try:
        await walk(await asyncio.wait_for(started, 20))
    finally:
        stop.set()
        with suppress(asyncio.CancelledError):
            assert await asyncio.wait_for(task, 30) == 0


def _data(message: SentMessage) -> list[str]:
    rows = (message.reply_markup or {}).get("inline_keyboard", [])
    return [b["callback_data"] for row in rows for b in row]


async def _guided(
    tg: FakeTelegram, text: str, photo: str | None = None
) -> tuple[SentMessage, list[SentMessage]]:
    """Walk the composer as the admin (sending `photo` at the photo step instead of skipping
    it); returns the exact preview and what citizens got."""
    for chat in CITIZENS:
        tg.user_sends(chat, "/start")
        await tg.async_wait_for(lambda m, c=chat: m.chat_id == c)
    tg.user_sends(ADMIN, "/broadcast")
    await tg.async_wait_for(lambda m: m.chat_id == ADMIN and "bước 1/5" in m.plain_text)
    tg.user_sends(ADMIN, text)
    step = await tg.async_wait_for(lambda m: m.chat_id == ADMIN and "bw:skip:" in str(_data(m)))
    for prefix in ("bw:skip:", "bw:aud:", "bw:now:", "bw:urg:"):
        if prefix == "bw:skip:" and photo is not None:
            tg.user_sends(ADMIN, "", photo=photo)
            step = await tg.async_wait_for(
                lambda m: m.chat_id == ADMIN and any(d.startswith("bw:aud:") for d in _data(m))
            )
            continue
        data = next(d for d in _data(step) if d.startswith(prefix))
        if prefix == "bw:urg:":
            data = data[: data.rindex(":")] + ":0"
        tg.user_presses(ADMIN, step.message_id, data, user_id=ADMIN)
        following = {"bw:skip:": "bw:aud:", "bw:aud:": "bw:now:", "bw:now:": "bw:urg:"}
        want = following.get(prefix, "bw:ok:")
        step = await tg.async_wait_for(
            lambda m, w=want: m.chat_id == ADMIN and any(d.startswith(w) for d in _data(m))
        )
    exact = next(m for m in tg.messages_to(ADMIN) if m.message_id == step.message_id - 1)
    assert "2 người" in step.plain_text
    ok = next(d for d in _data(step) if d.startswith("bw:ok:"))
    tg.user_presses(ADMIN, step.message_id, ok, user_id=ADMIN)
    got = [
        await tg.async_wait_for(
            lambda m, c=chat: m.chat_id == c and "THÔNG BÁO" in m.plain_text.upper(), timeout=15
        )
        for chat in CITIZENS
    ]
    return exact, got


async def test_guided_broadcast_reaches_everyone(
    tmp_path: object, telegram_api: FakeTelegram
) -> None:
    tg = telegram_api

    async def walk(app: App) -> None:
        exact, got = await _guided(tg, "Lịch tiêm chủng <thứ 7> & Chủ nhật")
        assert all("<thứ 7> & Chủ nhật" in m.plain_text for m in got)
        assert exact.plain_text == got[0].plain_text
        tg.user_sends(ADMIN, "/broadcasts")
        listing = await tg.async_wait_for(
            lambda m: m.chat_id == ADMIN and "Thông báo gần đây" in m.plain_text
        )
        assert "Lịch tiêm chủng" in listing.plain_text
        assert [e.action for e in await app.store.audit.recent()] == ["broadcast.queue"]

    await _with_app(tmp_path, tg, walk)


async def test_staff_formatting_reaches_recipients(
    tmp_path: object, telegram_api: FakeTelegram
) -> None:
    tg = telegram_api

    async def walk(app: App) -> None:
        exact, got = await _guided(tg, "Họp *khẩn* lúc _8 giờ_")
        assert "Họp khẩn lúc 8 giờ" in exact.plain_text
        assert got[0].plain_text == exact.plain_text

    await _with_app(tmp_path, tg, walk)


async def test_guided_broadcast_with_a_photo(tmp_path: object, telegram_api: FakeTelegram) -> None:
    """The optional photo of the composer reaches every recipient as that photo (file id)."""
    tg = telegram_api

    async def walk(app: App) -> None:
        _, got = await _guided(tg, "Ngày hội hiến máu", photo="poster")
        expected = _photo_sizes("poster")[-1]["file_id"]
        assert all(m.method == "sendPhoto" and m.photo == expected for m in got)

    await _with_app(tmp_path, tg, walk)
