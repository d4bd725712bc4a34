"""The fake Bot API speaks what python-telegram-bot speaks, and fails the way Telegram fails.

Every test drives the real ``telegram.Bot`` over HTTP on loopback, so a passing test here means
the product's adapter can trust the fake: replies de-serialize, and each injected error arrives
as the exception type PTB raises against the real API.
"""

from __future__ import annotations

import asyncio
import datetime as dtm
import json
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from telegram import (
    Bot,
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    ReplyParameters,
    Update,
)
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import ApplicationBuilder, CallbackQueryHandler, CommandHandler, ContextTypes
from telegram.request import HTTPXRequest

from tests.fakes import netguard
from tests.fakes.procenv import subprocess_env
from tests.fakes.telegram_api import FakeTelegram

CHAT = 1001


def keyboard(*data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(f"Nút {d}", callback_data=d)] for d in data])


@pytest.fixture
async def bot(telegram_api: FakeTelegram) -> AsyncIterator[Bot]:
    """PTB's own Bot, pointed at the fake exactly as the product will be."""
    request = HTTPXRequest(read_timeout=2)
    async with Bot("123:TEST", base_url=telegram_api.api_url + "/bot", request=request) as client:
        yield client


def seconds(value: int | dtm.timedelta) -> float:
    """RetryAfter.retry_after is an int or a timedelta depending on PTB_TIMEDELTA."""
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


# -- happy paths ---------------------------------------------------------------------------------
async def test_get_me(bot: Bot) -> None:
    me = await bot.get_me()
    assert me.id == 123
    assert me.is_bot
    assert me.username == "bantin_test_bot"


async def test_send_message_with_html_and_inline_keyboard(
    bot: Bot, telegram_api: FakeTelegram
) -> None:
    message = await bot.send_message(
        CHAT,
        '<b>Hội nghị</b> công an &amp; <a href="https://chiemhoa.gov.vn/a?id=1&amp;p=2">đọc</a>',
        parse_mode="HTML",
        reply_markup=keyboard("fb:42"),
        link_preview_options=LinkPreviewOptions(is_disabled=True),
        allow_paid_broadcast=True,
    )
    assert message.message_id == 1
    assert message.chat.id == CHAT
    assert message.text == "Hội nghị công an & đọc"
    assert [e.type for e in message.entities] == ["bold", "text_link"]
    assert message.entities[1].url == "https://chiemhoa.gov.vn/a?id=1&p=2"
    assert message.reply_markup == keyboard("fb:42")

    [sent] = telegram_api.sent
    assert sent.method == "sendMessage"
    assert sent.chat_id == CHAT
    assert sent.text.startswith("<b>Hội nghị</b>")
    assert sent.plain_text == message.text
    assert sent.parse_mode == "HTML"
    assert sent.callback_data == ["fb:42"]
    assert sent.params["allow_paid_broadcast"] is True
    assert sent.params["link_preview_options"] == {"is_disabled": True}
    assert telegram_api.messages_to(CHAT) == [sent]
    assert telegram_api.messages_to(CHAT + 1) == []


async def test_message_ids_increase_per_chat(bot: Bot) -> None:
    ids = [(await bot.send_message(chat, "x")).message_id for chat in (1, 1, 2, 1, 2)]
    assert ids == [1, 2, 1, 3, 2]


async def test_malformed_html_is_refused_like_telegram(
    bot: Bot, telegram_api: FakeTelegram
) -> None:
    with pytest.raises(BadRequest, match=r'(?i)can\'t parse entities: unsupported start tag "p"'):
        await bot.send_message(CHAT, "<p>Tin</p>", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_message(CHAT, "5 > 3", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(CHAT, "a" * 4097)
    assert telegram_api.sent == []
    assert [c.status for c in telegram_api.calls if c.method == "sendMessage"] == [400] * 3


async def test_callback_data_over_64_bytes_is_refused(bot: Bot) -> None:
    await bot.send_message(CHAT, "ok", reply_markup=keyboard("đ" * 32))  # 64 bytes
    with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
        await bot.send_message(CHAT, "x", reply_markup=keyboard("đ" * 32 + "a"))


async def test_send_photo_by_url_and_upload(bot: Bot, telegram_api: FakeTelegram) -> None:
    message = await bot.send_photo(
        CHAT, "https://portal.example/anh.jpg", caption="<i>Toàn cảnh</i>", parse_mode="HTML"
    )
    assert message.caption == "Toàn cảnh"
    assert message.photo
    await bot.send_photo(CHAT, b"\x89PNG\r\n\x1a\n fake", caption="tải lên")
    assert telegram_api.sent[0].photo == "https://portal.example/anh.jpg"
    assert (telegram_api.sent[1].photo or "").startswith("upload:")  # multipart upload
    assert telegram_api.sent[1].caption == "tải lên"
    with pytest.raises(BadRequest, match=r"(?i)caption is too long"):
        await bot.send_photo(CHAT, "https://portal.example/anh.jpg", caption="a" * 1025)


async def test_reply_parameters(bot: Bot, telegram_api: FakeTelegram) -> None:
    first = await bot.send_message(CHAT, "gốc")
    reply = await bot.send_message(
        CHAT, "trả lời", reply_parameters=ReplyParameters(first.message_id)
    )
    assert reply.reply_to_message is not None
    assert reply.reply_to_message.text == "gốc"
    assert telegram_api.sent[1].reply_to_message_id == first.message_id
    with pytest.raises(BadRequest, match=r"(?i)Message to be replied not found"):
        await bot.send_message(CHAT, "x", reply_parameters=ReplyParameters(999))


async def test_long_poll_delivers_a_user_message_and_a_button_press(
    bot: Bot, telegram_api: FakeTelegram
) -> None:
    ours = await bot.send_message(CHAT, "Tin mới", reply_markup=keyboard("fb:7"))
    poll = asyncio.create_task(bot.get_updates(timeout=5, allowed_updates=["message"]))
    await asyncio.sleep(0.2)
    assert not poll.done()  # really waiting
    started = time.monotonic()
    first_id = telegram_api.user_sends(CHAT, "/start abc", first_name="Lan")
    updates = await poll
    assert time.monotonic() - started < 1
    [update] = updates
    assert update.update_id == first_id
    assert update.message.text == "/start abc"
    assert update.message.from_user.first_name == "Lan"
    assert update.message.entities[0].type == "bot_command"
    assert update.message.entities[0].length == len("/start")
    assert update.message.message_id == ours.message_id + 1  # one counter per chat

    press_id = telegram_api.user_presses(CHAT, ours.message_id, "fb:7")
    updates = await bot.get_updates(
        offset=first_id + 1, timeout=5, allowed_updates=["message", "callback_query"]
    )
    [update] = updates
    query = update.callback_query
    assert query.id == press_id
    assert query.data == "fb:7"
    assert query.message.message_id == ours.message_id
    assert query.message.reply_markup == keyboard("fb:7")
    assert await query.answer("Đã nhận")
    assert telegram_api.answered_callbacks[0].text == "Đã nhận"
    with pytest.raises(BadRequest, match=r"(?i)Query is too old"):
        await bot.answer_callback_query(press_id)

    assert await bot.get_updates(offset=update.update_id + 1, timeout=0) == ()
    assert telegram_api.pending_updates == 0


async def test_updates_stay_until_confirmed_and_long_poll_times_out(
    bot: Bot, telegram_api: FakeTelegram
) -> None:
    telegram_api.user_sends(CHAT, "một")
    telegram_api.user_sends(CHAT, "hai")
    assert [u.message.text for u in await bot.get_updates(limit=1)] == ["một"]
    again = await bot.get_updates()
    assert [u.message.text for u in again] == ["một", "hai"]
    started = time.monotonic()
    assert await bot.get_updates(offset=again[-1].update_id + 1, timeout=1) == ()
    assert 0.9 <= time.monotonic() - started < 2


async def test_user_reply_carries_the_replied_message(bot: Bot, telegram_api: FakeTelegram) -> None:
    prompt = await bot.send_message(CHAT, "Nhập phản hồi của bạn:")
    telegram_api.user_sends(CHAT, "Đường hỏng", reply_to_message_id=prompt.message_id)
    [update] = await bot.get_updates()
    replied = update.message.reply_to_message
    assert replied is not None
    assert replied.message_id == prompt.message_id
    assert replied.text == "Nhập phản hồi của bạn:"
    assert replied.from_user.is_bot


async def test_group_message(bot: Bot, telegram_api: FakeTelegram) -> None:
    telegram_api.user_sends(-5005, "/help@bantin_test_bot", user_id=77, chat_type="group")
    [update] = await bot.get_updates()
    assert update.message.chat.type == "group"
    assert update.message.from_user.id == 77
    assert update.message.entities[0].length == len("/help@bantin_test_bot")


async def test_edits(bot: Bot, telegram_api: FakeTelegram) -> None:
    message = await bot.send_message(CHAT, "Đang gửi", reply_markup=keyboard("a"))
    edited = await bot.edit_message_text(
        "<b>Đã gửi</b>", CHAT, message.message_id, parse_mode="HTML", reply_markup=keyboard("b")
    )
    assert edited.text == "Đã gửi"
    assert edited.edit_date is not None
    with pytest.raises(BadRequest, match=r"(?i)Message is not modified"):
        await bot.edit_message_text(
            "<b>Đã gửi</b>", CHAT, message.message_id, parse_mode="HTML", reply_markup=keyboard("b")
        )
    await bot.edit_message_reply_markup(CHAT, message.message_id, reply_markup=None)
    current = telegram_api.current_message(CHAT, message.message_id)
    assert current is not None
    assert "reply_markup" not in current
    assert [e.method for e in telegram_api.edits] == ["editMessageText", "editMessageReplyMarkup"]
    with pytest.raises(BadRequest, match=r"(?i)Message to edit not found"):
        await bot.edit_message_text("x", CHAT, 999)


async def test_commands_webhook_chat_and_chat_action(bot: Bot, telegram_api: FakeTelegram) -> None:
    commands = [BotCommand("start", "Bắt đầu"), BotCommand("help", "Trợ giúp")]
    assert await bot.set_my_commands(commands)
    assert [c.command for c in await bot.get_my_commands()] == ["start", "help"]
    assert telegram_api.commands["default:"][0] == {"command": "start", "description": "Bắt đầu"}
    with pytest.raises(BadRequest):
        await bot.set_my_commands([BotCommand("Start", "viết hoa")])
    assert await bot.delete_webhook(drop_pending_updates=True)
    chat = await bot.get_chat(CHAT)
    assert chat.id == CHAT
    assert chat.type == "private"
    assert await bot.send_chat_action(CHAT, "typing")


async def test_ptb_application_polls_and_answers(telegram_api: FakeTelegram) -> None:
    """The shape of an e2e test: PTB's Application long-polls the fake and replies."""

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_html(
            "<b>Chào mừng!</b>", reply_markup=keyboard("sub:all")
        )

    async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.callback_query is not None
        await update.callback_query.answer("Đã đăng ký")
        await update.callback_query.edit_message_text("Đã đăng ký ✅")

    app = ApplicationBuilder().token("123:TEST").base_url(telegram_api.api_url + "/bot").build()
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(pressed))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=dtm.timedelta(seconds=5))
        telegram_api.user_sends(CHAT, "/start")
        welcome = await telegram_api.async_wait_for(lambda m: m.chat_id == CHAT, timeout=5)
        assert welcome.plain_text == "Chào mừng!"
        telegram_api.user_presses(CHAT, welcome.message_id, "sub:all")
        await telegram_api.async_wait_until(lambda: bool(telegram_api.edits), timeout=5)
        await app.updater.stop()
        await app.stop()
    assert telegram_api.edits[0].text == "Đã đăng ký ✅"
    assert telegram_api.answered_callbacks[0].text == "Đã đăng ký"
    assert telegram_api.pending_updates == 0


# -- injected failures ---------------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_retry_after(bot: Bot, telegram_api: FakeTelegram) -> None:
    telegram_api.fail(chat_id=CHAT, code=429, retry_after=7)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(CHAT, "x")
    assert seconds(caught.value.retry_after) == 7
    await bot.send_message(CHAT, "x")  # times=1: the next one goes through
    assert len(telegram_api.sent) == 1


@pytest.mark.parametrize(
    ("description", "kwargs"),
    [
        ("Forbidden: bot was blocked by the user", {}),
        ("Forbidden: user is deactivated", {"description": "Forbidden: user is deactivated"}),
    ],
)
async def test_forbidden(
    bot: Bot, telegram_api: FakeTelegram, description: str, kwargs: dict[str, Any]
) -> None:
    telegram_api.fail(chat_id=CHAT, code=403, **kwargs)
    with pytest.raises(Forbidden) as caught:
        await bot.send_message(CHAT, "x")
    assert caught.value.message == description


async def test_failure_matches_only_its_chat_and_method(
    bot: Bot, telegram_api: FakeTelegram
) -> None:
    telegram_api.fail(chat_id=CHAT, code=403, times=None)
    await bot.send_message(CHAT + 1, "other chat")
    await bot.send_photo(CHAT, "https://portal.example/a.jpg")  # other method
    for _ in range(2):
        with pytest.raises(Forbidden):
            await bot.send_message(CHAT, "x")


async def test_block_is_permanent(bot: Bot, telegram_api: FakeTelegram) -> None:
    telegram_api.block(CHAT, notify=True)
    for _ in range(2):
        with pytest.raises(Forbidden, match="bot was blocked by the user"):
            await bot.send_message(CHAT, "x")
    [update] = await bot.get_updates()
    assert update.my_chat_member.new_chat_member.status == "kicked"
    telegram_api.unblock(CHAT)
    await bot.send_message(CHAT, "x")


async def test_chat_not_found(bot: Bot, telegram_api: FakeTelegram) -> None:
    telegram_api.fail(code=400)
    with pytest.raises(BadRequest, match=r"(?i)Chat not found"):
        await bot.send_message(CHAT, "x")


async def test_chat_migrated(bot: Bot, telegram_api: FakeTelegram) -> None:
    telegram_api.fail(chat_id=-5005, code=400, migrate_to_chat_id=-1005005)
    with pytest.raises(ChatMigrated) as caught:
        await bot.send_message(-5005, "x")
    assert caught.value.new_chat_id == -1005005


async def test_bad_gateway_is_a_network_error_not_a_bad_request(
    bot: Bot, telegram_api: FakeTelegram
) -> None:
    telegram_api.fail(code=502)
    with pytest.raises(NetworkError) as caught:
        await bot.send_message(CHAT, "x")
    assert not isinstance(caught.value, BadRequest)
    assert caught.value.message == "Bad Gateway"


async def test_delay_times_out_but_the_message_may_still_arrive(
    bot: Bot, telegram_api: FakeTelegram
) -> None:
    telegram_api.fail(code=None, delay=0.5)
    with pytest.raises(TimedOut):
        await bot.send_message(CHAT, "x", read_timeout=0.1)
    sent = await telegram_api.async_wait_for(lambda m: m.text == "x", timeout=5)
    assert sent.chat_id == CHAT  # delivered although the client gave up: at-least-once


async def test_wrong_token_and_unknown_method(telegram_api: FakeTelegram) -> None:
    wrong = Bot("999:WRONG", base_url=telegram_api.api_url + "/bot")
    with pytest.raises(InvalidToken, match="rejected by the server"):
        await wrong.initialize()  # initialize() calls getMe
    with pytest.raises(InvalidToken, match="Unauthorized"):
        await wrong.get_me()
    await wrong.shutdown()
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{telegram_api.api_url}/bot123:TEST/fooBar") as response:
            assert response.status == 404
            assert await response.json() == {
                "ok": False,
                "error_code": 404,
                "description": "Not Found",
            }
        async with http.post(f"{telegram_api.api_url}/bot1:X/getMe") as response:
            assert response.status == 401
            assert (await response.json())["description"] == "Unauthorized"


async def test_json_bodies_are_accepted(telegram_api: FakeTelegram) -> None:
    body = {
        "chat_id": str(CHAT),
        "text": "<b>json</b>",
        "parse_mode": "HTML",
        "reply_markup": {"inline_keyboard": [[{"text": "a", "callback_data": "b"}]]},
    }
    async with aiohttp.ClientSession() as http:
        url = f"{telegram_api.api_url}/bot123:TEST/sendMessage"
        async with http.post(url, json=body) as response:
            answer = await response.json()
    assert answer["ok"] is True
    assert answer["result"]["text"] == "json"
    assert telegram_api.sent[0].callback_data == ["b"]


async def test_concurrent_get_updates_conflict(bot: Bot, telegram_api: FakeTelegram) -> None:
    """Two pollers (e.g. two app instances) conflict, as on Telegram: the older one gets 409."""
    first = asyncio.create_task(bot.get_updates(timeout=3))
    await asyncio.sleep(0.1)
    async with Bot("123:TEST", base_url=telegram_api.api_url + "/bot") as other:
        assert await other.get_updates(timeout=0) == ()
    with pytest.raises(Conflict, match="terminated by other getUpdates request"):
        await first


async def test_latency_and_send_rate_counters() -> None:
    with FakeTelegram(latency=0.05) as slow:
        async with Bot("123:TEST", base_url=slow.api_url + "/bot") as client:
            started = time.monotonic()
            await client.send_message(1, "x")
            assert time.monotonic() - started >= 0.05
            await asyncio.gather(*(client.send_message(chat, "y") for chat in (1, 2, 3, 1)))
    assert slow.max_sends_per_second() == 5
    assert slow.max_sends_per_chat_per_second() == 3
    assert slow.max_sends_per_second(window=0.001) <= 4


# -- test-side API from plain threads (apps started as subprocesses use it this way) -------------
def test_wait_for_from_a_synchronous_test(telegram_api: FakeTelegram) -> None:
    url = f"{telegram_api.api_url}/bot123:TEST/sendMessage"

    def app() -> None:
        time.sleep(0.1)
        for n in range(3):
            data = urllib.parse.urlencode({"chat_id": CHAT, "text": f"tin {n}"}).encode()
            urllib.request.urlopen(url, data, timeout=5).close()

    worker = threading.Thread(target=app)
    worker.start()
    assert telegram_api.wait_for(lambda m: m.text == "tin 1", timeout=5).message_id == 2
    assert len(telegram_api.wait_until_count(3, timeout=5)) == 3
    worker.join()
    with pytest.raises(AssertionError, match="tin 2"):  # the failure lists what was sent
        telegram_api.wait_for(lambda m: m.text == "never", timeout=0.1)


def test_form_errors_reach_plain_http_clients(telegram_api: FakeTelegram) -> None:
    data = urllib.parse.urlencode({"chat_id": CHAT, "text": "a<b"}).encode()
    data += b"&parse_mode=HTML"
    url = f"{telegram_api.api_url}/bot123:TEST/sendMessage"
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(url, data, timeout=5)
    body = json.loads(caught.value.read())
    assert caught.value.code == 400
    assert body["description"].startswith("Bad Request: can't parse entities")


# -- the internet guard --------------------------------------------------------------------------
def test_guard_refuses_the_internet() -> None:
    with pytest.raises(RuntimeError, match=r"test tried to reach the internet: 8\.8\.8\.8"):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.connect(("8.8.8.8", 53))
    with pytest.raises(RuntimeError, match=r"example\.com"):
        socket.getaddrinfo("example.com", 443)
    with pytest.raises(RuntimeError, match=r"1\.1\.1\.1"):
        socket.create_connection(("1.1.1.1", 443), timeout=1)
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
        with pytest.raises(RuntimeError, match="2001:4860:4860::8888"):
            sock.connect_ex(("2001:4860:4860::8888", 53))
    assert netguard.take_violations() == [
        "8.8.8.8",
        "example.com",
        "1.1.1.1",
        "2001:4860:4860::8888",
    ]


def test_guard_allows_loopback(telegram_api: FakeTelegram) -> None:
    assert socket.getaddrinfo("localhost", telegram_api.port)
    for host in ("127.0.0.1", "localhost"):
        socket.create_connection((host, telegram_api.port), timeout=1).close()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        with pytest.raises(OSError):  # refused by the OS, not by the guard
            sock.connect("/nonexistent/socket")
    assert netguard.take_violations() == []


def test_guard_reaches_subprocesses(telegram_api: FakeTelegram) -> None:
    url = f"{telegram_api.api_url}/bot123:TEST/getMe"
    code = (
        "import socket, urllib.request\n"
        f"urllib.request.urlopen({url!r}, timeout=5).close()\n"
        "try:\n"
        "    socket.create_connection(('93.184.216.34', 80), timeout=1)\n"
        "except RuntimeError as exc:\n"
        "    print('refused:', exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert "refused: test tried to reach the internet: 93.184.216.34" in done.stdout
    unguarded = subprocess.run(
        [sys.executable, "-c", "import socket; print(socket.getaddrinfo.__module__)"],
        env=subprocess_env(BANTIN_NETGUARD=None),
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert unguarded.stdout.strip() == "socket"
