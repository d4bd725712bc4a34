"""The bot never answers in a Telegram channel: a channel's posts are not events, and nothing the
dialog says about a channel (its subscription when the bot is made administrator) is posted
into it. The whole app against FakeTelegram on loopback, and the adapter on its own."""

from __future__ import annotations

import asyncio
import time
from contextlib import suppress
from pathlib import Path
from typing import Any

import pytest
from telegram import Bot, Update

from bot.adapters.telegram.adapter import to_event
from bot.app.compose import App
from bot.app.roles import run_app
from bot.app.settings import Settings
from tests.fakes.telegram_api import FakeTelegram

CHANNEL = -1001234567890
CITIZEN = 601


def channel_post(text: str, message_id: int = 7) -> dict[str, Any]:
    return {
        "message_id": message_id,
        "date": int(time.time()),
        "chat": {"id": CHANNEL, "type": "channel", "title": "Tin xã Yên Lập"},
        "sender_chat": {"id": CHANNEL, "type": "channel", "title": "Tin xã Yên Lập"},
        "text": text,
    }


def promoted(bot_user: dict[str, Any]) -> dict[str, Any]:
    """The my_chat_member update Telegram sends when a channel's owner makes the bot admin."""
    rights = {
        name: True
        for name in (
            "can_be_edited",
            "can_manage_chat",
            "can_delete_messages",
            "can_manage_video_chats",
            "can_restrict_members",
            "can_promote_members",
            "can_change_info",
            "can_invite_users",
            "can_post_messages",
            "can_edit_messages",
            "can_post_stories",
            "can_edit_stories",
            "can_delete_stories",
        )
    }
    return {
        "chat": {"id": CHANNEL, "type": "channel", "title": "Tin xã Yên Lập"},
        "from": {"id": 900, "is_bot": False, "first_name": "Chủ kênh"},
        "date": int(time.time()),
        "old_chat_member": {"status": "left", "user": bot_user},
        "new_chat_member": {
            "status": "administrator",
            "user": bot_user,
            "is_anonymous": False,
            **rights,
        },
    }


@pytest.mark.parametrize("kind", ["channel_post", "edited_channel_post"])
def test_a_channel_post_is_no_event(kind: str) -> None:
    bot = Bot("123:TEST")
    for text in ("Thông báo lịch cắt điện", "/start"):
        update = Update.de_json({"update_id": 1, kind: channel_post(text)}, bot)
        assert update is not None and to_event(update) is None


async def test_nothing_is_said_in_a_channel(tmp_path: Path, telegram_api: FakeTelegram) -> None:
    tg = telegram_api
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/channel.db",
        quiet_hours="off",
        telegram_token=tg.token,  # type: ignore[arg-type]
        telegram_api_url=tg.api_url,
    )
    stop = asyncio.Event()
    started: asyncio.Future[App] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(run_app(settings, stop=stop, on_start=started.set_result))
    try:
        app = await asyncio.wait_for(started, 30)
        tg.push_update("my_chat_member", promoted(tg.bot_user))
        tg.push_update("channel_post", channel_post("Thông báo lịch cắt điện"))
        tg.push_update("channel_post", channel_post("/start", message_id=8))
        tg.push_update("edited_channel_post", channel_post("Thông báo (sửa)"))
        # A citizen after them: once answered, every update before was handled too.
        tg.user_sends(CITIZEN, "/start")
        await tg.async_wait_for(lambda m: m.chat_id == CITIZEN, timeout=30)
        await tg.async_wait_until(lambda: tg.pending_updates == 0, timeout=30)
        channel = await app.store.subscribers.get("telegram", str(CHANNEL))
    finally:
        stop.set()
        with suppress(asyncio.CancelledError):
            assert await asyncio.wait_for(task, 30) == 0
    assert [
        c for c in tg.calls if str(c.chat_id) == str(CHANNEL) and c.method == "sendMessage"
    ] == []
    assert channel is not None and channel.active  # made admin: subscribed, silently
