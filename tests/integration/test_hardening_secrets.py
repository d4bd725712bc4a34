"""The bot token never leaves the HTTP layer in an error: not in a ChannelError's text, not in
its args or chained exceptions, not in a formatted traceback, not in `deliveries.last_error`,
not in `bantin run`'s start-up error line.

The stand-in below is a Bot API that answers badly, the way a broken proxy or a half-dead
server does: a body that is not JSON, a body cut short, a reset connection, an HTML error page
that quotes the request path (token included, as Express and many proxies do), a wrong content
type, a status line that is not HTTP. It speaks raw TCP so it can break the protocol itself,
and runs in its own thread so a `bantin` subprocess can use it too.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
import traceback
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.adapters.telegram.adapter import TelegramChannel, make_bot
from bot.app.roles import run_app
from bot.app.settings import Settings
from jobs.channel import ChannelError, Fatal, OutMessage
from jobs.route.fanout import queue_announcement
from jobs.send.deliverer import Deliverer
from storage.kinds import AnnouncementStatus
from storage.store import Store

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
SECRET_PART = TOKEN.split(":")[1]


def _answer(status: str, ctype: str, body: bytes, length: int | None = None) -> bytes:
    size = len(body) if length is None else length
    head = f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {size}\r\n"
    return head.encode() + b"Connection: close\r\n\r\n" + body


def respond(mode: str, path: str) -> bytes | None:
    """The bytes to send for `mode`; None means reset the connection."""
    if mode == "not_json":
        return _answer("200 OK", "application/json", f"oops {path}".encode())
    if mode == "truncated":
        return _answer("200 OK", "application/json", b'{"ok":true,"result":{"id"', length=500)
    if mode == "reset":
        return None
    if mode == "html_502":
        page = f"<html><h1>502 Bad Gateway</h1><p>Cannot POST {path}</p></html>"
        return _answer("502 Bad Gateway", "text/html", page.encode())
    if mode == "html_404":
        return _answer("404 Not Found", "text/html", f"Cannot POST {path}".encode())
    if mode == "wrong_type":
        return _answer("200 OK", "text/html", f"<html>{path}</html>".encode())
    if mode == "json_error_echo":
        body = f'{{"ok":false,"error_code":500,"description":"internal error at {path}"}}'
        return _answer("500 Internal Server Error", "application/json", body.encode())
    if mode == "bad_status_line":
        return f"HTTP/1.1 abc {path}\r\nContent-Length: 2\r\n\r\nhi".encode()
    raise AssertionError(mode)


MODES = [
    "not_json",
    "truncated",
    "reset",
    "html_502",
    "html_404",
    "wrong_type",
    "json_error_echo",
    "bad_status_line",
]


Responder = Callable[[str, str], "bytes | None"]


class BrokenBotApi:
    """A Bot API stand-in on 127.0.0.1 answering every request per `mode`, or with what
    `answer(path, request head)` returns (None: reset the connection)."""

    def __init__(self, mode: str, answer: Responder | None = None) -> None:
        self.mode = mode
        self.answer = answer
        self.paths: list[str] = []
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.port = 0

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        server.close()
        self._loop.run_until_complete(server.wait_closed())
        self._loop.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = await reader.read(65536)
            if not chunk:
                writer.close()
                return
            data += chunk
        head = data.split(b"\r\n\r\n", 1)[0].decode()
        path = head.split()[1]
        self.paths.append(path)
        if self.mode == "silent":  # never answers: the client's read timeout ends it
            await reader.read()
            return
        answer = self.answer(path, head) if self.answer else respond(self.mode, path)
        if answer is None:
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
            return
        writer.write(answer)
        try:
            await writer.drain()
        finally:
            writer.close()

    def __enter__(self) -> BrokenBotApi:
        self._thread.start()
        assert self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


def leaks(exc: BaseException) -> list[str]:
    """Where the token shows in `exc`: its text, args, chain, or formatted traceback."""
    found = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if SECRET_PART in str(current) or SECRET_PART in repr(current.args):
            found.append(f"{type(current).__name__}: {current}")
        for attr in ("description", "message"):
            if SECRET_PART in str(getattr(current, attr, "")):
                found.append(f"{type(current).__name__}.{attr}")
        current = current.__cause__ or current.__context__
    text = "".join(traceback.format_exception(exc, chain=True))
    if SECRET_PART in text:
        found.append("formatted traceback")
    return found


@pytest.fixture(params=MODES)
def broken(request: pytest.FixtureRequest) -> Iterator[BrokenBotApi]:
    with BrokenBotApi(request.param) as api:
        yield api


async def test_channel_errors_carry_no_token(broken: BrokenBotApi) -> None:
    """The outbox's path (AiohttpRequest.call) and python-telegram-bot's (getMe through
    BaseRequest.post): whatever the answer, the error says what failed without the token."""
    bot = make_bot(TOKEN, broken.api_url)
    await bot.request.initialize()
    try:
        channel = TelegramChannel(bot)
        with pytest.raises(ChannelError) as sent:
            await channel.send("42", OutMessage("Thông báo"))
        assert leaks(sent.value) == []
        assert sent.value.description
        with pytest.raises(Exception) as got_me:  # any error, as long as none names the token
            await bot.get_me()
        assert leaks(got_me.value) == []
    finally:
        await bot.request.shutdown()
    assert any(SECRET_PART in p for p in broken.paths)  # the token did go out, in the URL


async def test_a_timeout_chains_nothing() -> None:
    """aiohttp's timeouts can name the URL ("Connection timeout to host http://…/bot<token>/…"):
    the TimedOut that leaves the HTTP layer carries neither cause nor context."""
    with BrokenBotApi("silent") as api:
        bot = make_bot(TOKEN, api.api_url, read_timeout=0.3)
        await bot.request.initialize()
        try:
            with pytest.raises(ChannelError) as sent:
                await TelegramChannel(bot).send("42", OutMessage("Thông báo"))
        finally:
            await bot.request.shutdown()
    assert "timed out" in sent.value.description.lower()
    assert leaks(sent.value) == []
    timed_out = sent.value.__context__  # the adapter's `from None` keeps it, suppressed
    assert timed_out is not None and type(timed_out).__name__ == "TimedOut"
    assert timed_out.__cause__ is None and timed_out.__context__ is None  # aiohttp's is gone


def clock() -> datetime:
    return datetime.now(UTC)


@pytest.mark.parametrize("mode", ["html_502", "json_error_echo", "bad_status_line", "not_json"])
async def test_stored_delivery_error_has_no_token(store: Store, mode: str) -> None:
    await store.subscribers.subscribe("telegram", "101")
    ann = await store.announcements.create("Lịch tiếp dân", created_by="test")
    await store.announcements.transition(
        ann.id, frm=AnnouncementStatus.DRAFT, to=AnnouncementStatus.QUEUED, now=clock()
    )
    await queue_announcement(store, ann.id, now=clock())
    with BrokenBotApi(mode) as api:
        bot = make_bot(TOKEN, api.api_url)
        await bot.request.initialize()
        try:
            deliverer = Deliverer(
                store,
                {"telegram": TelegramChannel(bot)},  # type: ignore[dict-item]
                rate=50,
                concurrency=2,
                clock=clock,
            )
            assert await deliverer.run_batch() == 1
            await deliverer.drain()
        finally:
            await bot.request.shutdown()
    [row] = await store.deliveries.all()
    assert row.last_error
    assert SECRET_PART not in row.last_error


def _settings(tmp_path: Path, api_url: str) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp_path}/secrets.db",
        telegram_token=TOKEN,  # type: ignore[arg-type]
        telegram_api_url=api_url,
        quiet_hours="off",
    )


@pytest.mark.parametrize("mode", ["html_502", "html_404", "bad_status_line", "json_error_echo"])
async def test_run_start_up_error_has_no_token(tmp_path: Path, mode: str) -> None:
    """`bantin run` against a Bot API that answers getMe badly: one line, no token."""
    with BrokenBotApi(mode) as api:
        with pytest.raises(Fatal) as fatal:
            await asyncio.wait_for(run_app(_settings(tmp_path, api.api_url)), 60)
    assert "Telegram" in fatal.value.description
    assert SECRET_PART not in fatal.value.description
    assert SECRET_PART not in "".join(traceback.format_exception(fatal.value))


# -- Zalo: the Bot Platform's token sits in the URL too; the OA's tokens travel in headers ------

ZALO_TOKEN = "2244668800:zAlObOtSeCrEtToKeNvAlUe0123456789"
OA_ACCESS = "oa-access-SECRET-9f8e7d6c5b4a"
OA_REFRESH = "oa-refresh-SECRET-1a2b3c4d5e6f"
OA_KEY = "oa-app-key-SECRET-77aa88bb"


def _echo_json(body: str) -> bytes:
    return _answer("200 OK", "application/json", body.encode())


def _zalo_echo(path: str, head: str) -> bytes:
    """A Zalo Bot API that quotes the request path in its refusal."""
    body = f'{{"ok":false,"error_code":400,"description":"chat not found at {path}"}}'
    return _answer("400 Bad Request", "application/json", body.encode())


def _zalo_leaks(exc: BaseException, *secrets: str) -> list[str]:
    text = "".join(traceback.format_exception(exc, chain=True))
    parts = [text, str(exc), repr(exc.args), str(getattr(exc, "description", ""))]
    chained = exc.__cause__ or exc.__context__
    if chained is not None:
        parts += [str(chained), repr(chained.args), repr(vars(chained))]
    return [s for s in secrets if any(s in p for p in parts)]


@pytest.mark.parametrize("mode", ["echo", "reset", "not_json"])
async def test_zalo_bot_errors_carry_no_token(mode: str) -> None:
    from bot.adapters.zalo.bot_platform import ZaloBotClient

    answer: Responder = {
        "echo": _zalo_echo,
        "reset": lambda path, head: None,
        "not_json": lambda path, head: _answer("502 Bad Gateway", "text/html", path.encode()),
    }[mode]
    with BrokenBotApi(mode, answer) as api:
        client = ZaloBotClient(ZALO_TOKEN, api.api_url)
        try:
            with pytest.raises(ChannelError) as failed:
                await client.checked("sendMessage", {"chat_id": "u1", "text": "chào"})
        finally:
            await client.aclose()
        assert any(ZALO_TOKEN in p for p in api.paths)
    assert failed.value.description
    assert _zalo_leaks(failed.value, ZALO_TOKEN) == []


def _oa_echo(path: str, head: str) -> bytes:
    """A Zalo OA API that quotes the credentials it was given in its refusals."""
    if path.startswith("/v4/oa/access_token"):
        return _echo_json(
            f'{{"error":-14014,"error_name":"Invalid refresh_token {OA_REFRESH}",'
            f'"message":"key {OA_KEY}"}}'
        )
    return _echo_json(f'{{"error":-201,"message":"bad request, access_token={OA_ACCESS}"}}')


async def test_zalo_oa_errors_carry_no_token(store: Store) -> None:
    import httpx

    from bot.adapters.zalo.official_account import TokenKeeper, ZaloOAChannel

    repo = store.zalo
    with BrokenBotApi("oa", _oa_echo) as api:
        async with httpx.AsyncClient() as http:

            def keeper(app_id: str) -> TokenKeeper:
                return TokenKeeper(
                    repo, http, app_id=app_id, secret_key=OA_KEY, oauth_url=api.api_url, clock=clock
                )

            refusing = keeper("app-refresh")
            await refusing.seed(None, OA_REFRESH)  # no access token: the first use refreshes
            with pytest.raises(Fatal) as reauth:
                await refusing.access_token()
            assert _zalo_leaks(reauth.value, OA_REFRESH, OA_KEY) == []

            sending = keeper("app-send")
            await sending.seed(OA_ACCESS, OA_REFRESH)
            channel = ZaloOAChannel(sending, repo, http, api_url=api.api_url, clock=clock)
            with pytest.raises(ChannelError) as refused:
                await channel.verify()
            assert _zalo_leaks(refused.value, OA_ACCESS, OA_REFRESH, OA_KEY) == []
    tokens = await repo.tokens("app-refresh")
    assert tokens is not None and tokens.last_error
    assert not any(s in tokens.last_error for s in (OA_REFRESH, OA_KEY))
