"""FakeZaloBot: a Zalo Bot Platform stand-in speaking real HTTP on 127.0.0.1.

Reply shapes follow the platform's documentation: `{"ok": true, "result": ...}`, errors as
`{"ok": false, "error_code": N, "description": "..."}` with the same HTTP status. getUpdates
answers ONE update, has no offset, and answers HTTP 408 "Request timeout" when nothing came
within `timeout` seconds. `replay_next()` makes the next getUpdates deliver the last update
again, as an offset-less API may; `repeat_every_update()` makes every update come twice.
With a webhook set, a user's message is POSTed to it with the X-Bot-Api-Secret-Token header
instead (and getUpdates is refused).

Like FakeTelegram it runs aiohttp in its own thread and loop; tests read snapshots.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from aiohttp import web

JSON = dict[str, Any]
_PATH = re.compile(r"^/bot([^/]+)/([A-Za-z]+)/?$")
MAX_TEXT = 2000


@dataclass
class ZaloSent:
    method: str
    chat_id: str
    message_id: str
    text: str
    photo: str | None
    at: float


@dataclass
class _Failure:
    chat_id: str | None
    method: str
    code: int
    description: str
    remaining: int


@dataclass
class _State:
    sent: list[ZaloSent] = field(default_factory=list)
    updates: list[JSON] = field(default_factory=list)
    delivered: list[JSON] = field(default_factory=list)
    replays: int = 0
    repeat_each: bool = False
    repeat_owed: bool = False  # the last delivered update is due once more
    polls: list[float] = field(default_factory=list)
    failures: list[_Failure] = field(default_factory=list)
    blocked: set[str] = field(default_factory=set)
    webhook_url: str = ""
    webhook_secret: str = ""
    webhook_posts: list[int] = field(default_factory=list)


class ApiError(Exception):
    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


class FakeZaloBot:
    """`with FakeZaloBot(token="12345:SECRET") as zb:` then `{zb.api_url}/bot{token}/{method}`."""

    def __init__(self, token: str = "1459232241454765289:ZALOTEST") -> None:
        self.token = token
        self._cond = threading.Condition(threading.RLock())
        self._state = _State()
        self._ids = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._wake: asyncio.Event | None = None
        self.port = 0

    # -- lifecycle ---------------------------------------------------------------------------
    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeZaloBot:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        loop = asyncio.new_event_loop()
        self._loop = loop
        ready = threading.Event()

        async def boot() -> None:
            self._wake = asyncio.Event()
            app = web.Application()
            app.router.add_route("*", "/{tail:.*}", self._handle)
            self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
            await self._runner.setup()
            await web.SockSite(self._runner, sock).start()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(boot())
            ready.set()
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=run, name=f"FakeZaloBot:{self.port}", daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return

        async def shutdown() -> None:
            if self._wake is not None:
                self._wake.set()
            if self._runner is not None:
                await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        self._thread = self._loop = None

    def __enter__(self) -> FakeZaloBot:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- test side: reading ------------------------------------------------------------------
    @property
    def sent(self) -> list[ZaloSent]:
        with self._cond:
            return list(self._state.sent)

    @property
    def polls(self) -> list[float]:
        """monotonic times at which getUpdates calls arrived."""
        with self._cond:
            return list(self._state.polls)

    @property
    def pending_updates(self) -> int:
        with self._cond:
            return len(self._state.updates)

    def messages_to(self, chat_id: str) -> list[ZaloSent]:
        return [m for m in self.sent if m.chat_id == chat_id]

    async def async_wait_for(
        self, predicate: Callable[[ZaloSent], bool], timeout: float = 10, *, since: int = 0
    ) -> ZaloSent:
        deadline = time.monotonic() + timeout
        while True:
            for message in self.sent[since:]:
                if predicate(message):
                    return message
            if time.monotonic() >= deadline:
                shown = "\n".join(f"  {m.chat_id}: {m.text!r}" for m in self.sent[-15:])
                raise AssertionError(f"no Zalo message matched; sent:\n{shown}")
            await asyncio.sleep(0.01)

    async def async_wait_until(self, condition: Callable[[], object], timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() >= deadline:
                raise AssertionError("condition not met")
            await asyncio.sleep(0.01)

    # -- test side: acting as users ------------------------------------------------------------
    def update_for(self, chat_id: str, text: str, name: str = "Dân") -> JSON:
        """A message.text.received update as the platform shapes it (ids are hex strings)."""
        return {
            "event_name": "message.text.received",
            "message": {
                "chat": {"id": chat_id, "chat_type": "PRIVATE"},
                "text": text,
                "message_id": secrets.token_hex(10),
                "date": int(time.time() * 1000),
                "from": {"id": chat_id, "display_name": name, "is_bot": False},
            },
        }

    def user_sends(self, chat_id: str, text: str, name: str = "Dân") -> str:
        """Queue a user's message for getUpdates (no webhook set); returns its message_id."""
        update = self.update_for(chat_id, text, name)
        with self._cond:
            self._state.updates.append(update)
        self._poke()
        return str(update["message"]["message_id"])

    async def user_sends_to_webhook(
        self, chat_id: str, text: str, *, secret: str | None = None, name: str = "Dân"
    ) -> int:
        """POST a message to the webhook set with setWebhook (from the test's loop); returns
        the HTTP status the bot answered. `secret` overrides the header (to test refusal)."""
        with self._cond:
            url, real = self._state.webhook_url, self._state.webhook_secret
        body = {"ok": True, "result": self.update_for(chat_id, text, name)}
        async with httpx.AsyncClient() as client:
            response = await client.post(
                url, json=body, headers={"X-Bot-Api-Secret-Token": secret or real}
            )
        with self._cond:
            self._state.webhook_posts.append(response.status_code)
        return response.status_code

    def replay_next(self, times: int = 1) -> None:
        """The next `times` getUpdates calls deliver the last delivered update again."""
        with self._cond:
            self._state.replays += times
        self._poke()

    def repeat_every_update(self, on: bool = True) -> None:
        """Every update is delivered twice (the getUpdates after it answers it again)."""
        with self._cond:
            self._state.repeat_each = on
        self._poke()

    def fail(
        self,
        method: str = "sendMessage",
        code: int = 429,
        description: str = "",
        *,
        chat_id: str | None = None,
        times: int = 1,
    ) -> None:
        text = description or {
            400: "Bad Request",
            401: "Unauthorized",
            403: "Forbidden",
            429: "Too Many Requests",
            500: "Internal Server Error",
        }.get(code, "Error")
        with self._cond:
            self._state.failures.append(_Failure(chat_id, method.lower(), code, text, times))

    def block(self, chat_id: str) -> None:
        with self._cond:
            self._state.blocked.add(chat_id)

    # -- HTTP ----------------------------------------------------------------------------------
    def _poke(self) -> None:
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            loop.call_soon_threadsafe(wake.set)

    async def _handle(self, request: web.Request) -> web.Response:
        match = _PATH.match(request.path)
        if match is None:
            return _error(404, "Not Found")
        if match.group(1) != self.token:
            return _error(401, "Unauthorized")
        method = match.group(2).lower()
        try:
            params: JSON = dict(request.query)
            if request.body_exists:
                if request.content_type == "application/json":
                    params.update(await request.json())
                else:
                    params.update(await request.post())
            with self._cond:
                for failure in self._state.failures:
                    if (
                        failure.remaining > 0
                        and failure.method == method
                        and (failure.chat_id is None or failure.chat_id == params.get("chat_id"))
                    ):
                        failure.remaining -= 1
                        raise ApiError(failure.code, failure.description)
            if method == "getupdates":
                return _ok(await self._get_updates(params))
            handler = getattr(self, f"_m_{method}", None)
            if handler is None:
                raise ApiError(404, "Not Found: method not found")
            with self._cond:
                result = handler(params)
                self._cond.notify_all()
            return _ok(result)
        except ApiError as err:
            return _error(err.code, err.description)

    async def _get_updates(self, params: JSON) -> JSON:
        assert self._wake is not None
        try:
            timeout = float(params.get("timeout") or 30)
        except ValueError:
            raise ApiError(400, "Bad Request: invalid timeout") from None
        with self._cond:
            self._state.polls.append(time.monotonic())
            if self._state.webhook_url:
                raise ApiError(400, "Bad Request: webhook is set, use deleteWebhook first")
        deadline = time.monotonic() + timeout
        while True:
            with self._cond:
                state = self._state
                if state.replays and state.delivered:
                    state.replays -= 1
                    return state.delivered[-1]
                if state.repeat_owed and state.delivered:
                    state.repeat_owed = False
                    return state.delivered[-1]
                if state.updates:
                    update = state.updates.pop(0)
                    state.delivered.append(update)
                    state.repeat_owed = state.repeat_each
                    return update
                self._wake.clear()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ApiError(408, "Request timeout")
            try:
                await asyncio.wait_for(self._wake.wait(), remaining)
            except TimeoutError:
                pass

    def _m_getme(self, params: JSON) -> JSON:
        return {
            "id": self.token.split(":")[0],
            "account_name": "bot.bantin",
            "account_type": "BASIC",
            "can_join_groups": False,
        }

    def _chat(self, params: JSON) -> str:
        chat_id = params.get("chat_id")
        if not isinstance(chat_id, str) or not chat_id:
            raise ApiError(400, "Bad Request: chat_id is required")
        if chat_id in self._state.blocked:
            raise ApiError(403, "Forbidden: user has blocked the bot")
        return chat_id

    def _store(self, method: str, chat_id: str, text: str, photo: str | None) -> JSON:
        message_id = f"{next(self._ids):020x}"
        self._state.sent.append(
            ZaloSent(method, chat_id, message_id, text, photo, time.monotonic())
        )
        return {"message_id": message_id, "date": int(time.time() * 1000)}

    def _m_sendmessage(self, params: JSON) -> JSON:
        chat_id = self._chat(params)
        text = params.get("text")
        if not isinstance(text, str) or not text:
            raise ApiError(400, "Bad Request: text is required")
        if len(text) > MAX_TEXT:
            raise ApiError(400, "Bad Request: text is too long (1-2000 characters)")
        return self._store("sendMessage", chat_id, text, None)

    def _m_sendphoto(self, params: JSON) -> JSON:
        chat_id = self._chat(params)
        photo = params.get("photo")
        if not isinstance(photo, str) or not photo:
            raise ApiError(400, "Bad Request: photo is required")
        caption = params.get("caption") or ""
        if len(caption) > MAX_TEXT:
            raise ApiError(400, "Bad Request: caption is too long (1-2000 characters)")
        return self._store("sendPhoto", chat_id, caption, photo)

    def _m_setwebhook(self, params: JSON) -> JSON:
        url, secret = params.get("url"), params.get("secret_token")
        if not isinstance(url, str) or not url:
            raise ApiError(400, "Bad Request: url is required")
        if not isinstance(secret, str) or not 8 <= len(secret) <= 256:
            raise ApiError(400, "Bad Request: secret_token must be 8-256 characters")
        self._state.webhook_url, self._state.webhook_secret = url, secret
        return {"url": url, "updated_at": int(time.time() * 1000)}

    def _m_deletewebhook(self, params: JSON) -> JSON:
        self._state.webhook_url = self._state.webhook_secret = ""
        return {"url": "", "updated_at": int(time.time() * 1000)}

    def _m_getwebhookinfo(self, params: JSON) -> JSON:
        return {"url": self._state.webhook_url, "updated_at": int(time.time() * 1000)}


def _ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result})


def _error(code: int, description: str) -> web.Response:
    body = {"ok": False, "error_code": code, "description": description}
    return web.Response(text=json.dumps(body), status=code, content_type="application/json")


# -- photo URLs (media, issue #15) -----------------------------------------------------------


class FakeZaloCdn:
    """Zalo's photo CDN stand-in on 127.0.0.1: `put(name, data)` returns the photo's URL, as a
    Zalo event (Bot Platform or OA) would carry it. `failures` makes the first downloads of
    that photo answer 500; `downloads` counts the answered ones.

    `with FakeZaloCdn() as cdn:`; its `host` ("127.0.0.1:<port>") goes in both
    BANTIN_ZALO_PHOTO_HOSTS and BANTIN_ALLOW_PRIVATE_HOSTS (it is loopback)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._photos: dict[str, list[Any]] = {}  # name -> [data, failures left]
        self.downloads = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def put(self, name: str, data: bytes, *, failures: int = 0) -> str:
        with self._lock:
            self._photos[name] = [data, failures]
        return f"http://{self.host}/photos/{name}"

    async def _serve(self, request: web.Request) -> web.Response:
        with self._lock:
            entry = self._photos.get(request.match_info["name"])
            if entry is not None and entry[1] > 0:
                entry[1] -= 1
                return web.Response(status=500, text="Internal Server Error")
            if entry is not None:
                self.downloads += 1
        if entry is None:
            return web.Response(status=404, text="Not Found")
        return web.Response(body=entry[0], content_type="image/jpeg")

    def start(self) -> FakeZaloCdn:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        loop = asyncio.new_event_loop()
        self._loop = loop
        ready = threading.Event()

        async def boot() -> None:
            app = web.Application()
            app.router.add_get("/photos/{name}", self._serve)
            self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
            await self._runner.setup()
            await web.SockSite(self._runner, sock).start()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(boot())
            ready.set()
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=run, name=f"FakeZaloCdn:{self.port}", daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return

        async def shutdown() -> None:
            if self._runner is not None:
                await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        self._thread = self._loop = None

    def __enter__(self) -> FakeZaloCdn:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
