"""FakeTelegram: a Telegram Bot API stand-in speaking real HTTP on 127.0.0.1.

Why a server and not a mock: the product talks to Telegram through python-telegram-bot (or its
own aiohttp request class) over HTTP, and the bugs worth catching live there: wrong encodings,
HTML Telegram refuses, callback data over 64 bytes, error bodies mapped to the wrong exception,
pacing. Pointing the real client at this server (``Bot(token, base_url=tg.api_url + "/bot")``)
exercises all of it without the internet.

The server runs aiohttp in its own thread with its own event loop, so it serves async tests
(whose loop it never shares) and apps started as subprocesses alike. All state lives behind one
``threading.Condition``; the server thread mutates it, tests read snapshots and wait on it.

It accepts what python-telegram-bot 22 sends (``application/x-www-form-urlencoded`` or
``multipart/form-data`` where every non-string value is a JSON string, e.g. ``chat_id=42``,
``reply_markup={"inline_keyboard":...}``, ``allow_paid_broadcast=true``), JSON bodies and query
strings, and answers with Bot API shaped JSON, errors included.
"""

from __future__ import annotations

import asyncio
import contextvars
import copy
import itertools
import json
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from aiohttp import web

from bench.support import max_in_window
from tests.fakes.telegram_html import (
    TelegramHtmlError,
    check_length,
    parse_telegram_html,
    utf16_len,
)

JSON = dict[str, Any]

_INT_FIELDS = frozenset(
    {
        "chat_id",
        "message_id",
        "offset",
        "limit",
        "timeout",
        "reply_to_message_id",
        "user_id",
        "message_thread_id",
        "cache_time",
        "from_chat_id",
        "max_connections",
    }
)
_JSON_FIELDS = frozenset(
    {
        "reply_markup",
        "reply_parameters",
        "link_preview_options",
        "allowed_updates",
        "commands",
        "scope",
        "entities",
        "caption_entities",
    }
)
_BOOL_FIELDS = frozenset(
    {
        "disable_web_page_preview",
        "disable_notification",
        "protect_content",
        "allow_paid_broadcast",
        "show_alert",
        "drop_pending_updates",
        "has_spoiler",
        "allow_sending_without_reply",
        "show_caption_above_media",
    }
)
_BUTTON_KINDS = frozenset(
    {
        "url",
        "callback_data",
        "web_app",
        "login_url",
        "switch_inline_query",
        "pay",
        "switch_inline_query_current_chat",
        "switch_inline_query_chosen_chat",
        "copy_text",
        "callback_game",
    }
)
# Without allowed_updates Telegram sends every update type except these.
_OPT_IN_UPDATE_TYPES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
_PATH = re.compile(r"^/bot([^/]+)/([A-Za-z]+)/?$")
_CONFLICT = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)
_DEFAULT_DESCRIPTIONS = {
    400: "Bad Request: chat not found",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: _CONFLICT,
    500: "Internal Server Error",
    502: "Bad Gateway",
    504: "Gateway Timeout",
}


_ARRIVAL: contextvars.ContextVar[float] = contextvars.ContextVar("arrival")


class ApiError(Exception):
    """A Bot API refusal: HTTP status, description and optional ResponseParameters."""

    def __init__(self, code: int, description: str, parameters: JSON | None = None) -> None:
        super().__init__(f"{code} {description}")
        self.code = code
        self.description = description
        self.parameters = parameters


def _bad(description: str) -> ApiError:
    return ApiError(400, f"Bad Request: {description}")


@dataclass
class SentMessage:
    """One accepted sendMessage/sendPhoto. ``text`` is the text or caption as sent (HTML source);
    ``plain_text`` is what the user sees after entity parsing."""

    method: str
    chat_id: int
    message_id: int
    text: str | None
    parse_mode: str | None
    reply_markup: JSON | None
    reply_to_message_id: int | None
    at: float
    params: JSON
    plain_text: str = ""
    caption: str | None = None
    photo: str | None = None

    @property
    def buttons(self) -> list[JSON]:
        """The inline keyboard's buttons, row after row (empty without one)."""
        rows = (self.reply_markup or {}).get("inline_keyboard") or []
        return [button for row in rows for button in row]

    @property
    def callback_data(self) -> list[str]:
        """callback_data of every inline button, in order."""
        return [b["callback_data"] for b in self.buttons if "callback_data" in b]


@dataclass
class Edit:
    """One accepted editMessageText / editMessageCaption / editMessageReplyMarkup."""

    method: str
    chat_id: int | None
    message_id: int | None
    text: str | None
    parse_mode: str | None
    reply_markup: JSON | None
    at: float
    params: JSON


@dataclass
class AnsweredCallback:
    """One accepted answerCallbackQuery."""

    callback_query_id: str
    text: str | None
    show_alert: bool
    url: str | None
    at: float
    params: JSON


@dataclass
class ApiCall:
    """Every request the server answered (failures included), for diagnostics and pacing."""

    method: str
    chat_id: int | str | None
    status: int
    description: str | None
    at: float
    params: JSON


@dataclass
class _Failure:
    chat_id: int | None
    method: str | None  # lower-cased; None matches every method but getUpdates
    code: int | None
    description: str
    parameters: JSON | None
    delay: float
    remaining: int | None  # None: forever

    def matches(self, method: str, chat_id: int | str | None) -> bool:
        if self.remaining is not None and self.remaining <= 0:
            return False
        if self.method is None and method == "getupdates":
            return False
        if self.method is not None and self.method != method:
            return False
        return self.chat_id is None or self.chat_id == chat_id


@dataclass
class _State:
    """Everything the server knows; guarded by FakeTelegram._cond."""

    sent: list[SentMessage] = field(default_factory=list)
    edits: list[Edit] = field(default_factory=list)
    answered: list[AnsweredCallback] = field(default_factory=list)
    calls: list[ApiCall] = field(default_factory=list)
    messages: dict[tuple[int, int], JSON] = field(default_factory=dict)
    next_message_id: dict[int, int] = field(default_factory=dict)
    chats: dict[int, JSON] = field(default_factory=dict)
    updates: list[JSON] = field(default_factory=list)
    next_update_id: int = 1
    allowed_updates: frozenset[str] | None = None  # None: all but _OPT_IN_UPDATE_TYPES
    poll_generation: int = 0
    callbacks: dict[str, bool] = field(default_factory=dict)  # id -> answered
    failures: list[_Failure] = field(default_factory=list)
    blocked: dict[int, str] = field(default_factory=dict)
    commands: dict[str, list[JSON]] = field(default_factory=dict)
    webhook_url: str = ""
    webhook_secret: str = ""


class FakeTelegram:
    """A Bot API server on 127.0.0.1:<random port>, run in a background thread.

    ``with FakeTelegram(token="123:TEST") as tg:`` then call ``{tg.api_url}/bot{token}/{method}``.
    ``latency`` delays every reply (seconds) to make benchmarks honest.
    ``strict_html`` also refuses raw ``>`` and bare ``&`` (see telegram_html).
    """

    def __init__(
        self,
        token: str = "123:TEST",
        *,
        latency: float = 0.0,
        bot_username: str = "bantin_test_bot",
        strict_html: bool = True,
    ) -> None:
        self.token = token
        self.latency = latency
        self.strict_html = strict_html
        bot_id = token.split(":", 1)[0]
        self.bot_user: JSON = {
            "id": int(bot_id) if bot_id.isdigit() else 123,
            "is_bot": True,
            "first_name": "Bản tin",
            "username": bot_username,
        }
        self._cond = threading.Condition(threading.RLock())
        self._state = _State()
        self._callback_ids = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._updates_event: asyncio.Event | None = None
        self._closing = False
        self.port = 0

    # -- lifecycle ---------------------------------------------------------------------------
    @property
    def api_url(self) -> str:
        """Base URL without the /bot<token> part, e.g. http://127.0.0.1:40123."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """What python-telegram-bot's Bot(base_url=...) wants: api_url + "/bot"."""
        return self.api_url + "/bot"

    def start(self) -> FakeTelegram:
        """Start serving; returns once the port accepts connections."""
        if self._thread is not None:
            raise RuntimeError("FakeTelegram already started")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        loop = asyncio.new_event_loop()
        self._loop = loop
        ready = threading.Event()
        errors: list[BaseException] = []

        async def boot() -> None:
            self._updates_event = asyncio.Event()
            app = web.Application(client_max_size=50 * 1024 * 1024)
            app.router.add_route("*", "/{tail:.*}", self._handle)
            self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
            await self._runner.setup()
            await web.SockSite(self._runner, sock).start()

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(boot())
            except BaseException as exc:  # pragma: no cover - surfaced to start()
                errors.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=run, name=f"FakeTelegram:{self.port}", daemon=True)
        self._thread.start()
        ready.wait(10)
        if errors:
            raise RuntimeError("FakeTelegram failed to start") from errors[0]
        return self

    def stop(self) -> None:
        """Stop serving: pending long polls return [], open connections are closed."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        self._closing = True

        async def shutdown() -> None:
            if self._updates_event is not None:
                self._updates_event.set()
            if self._runner is not None:
                await self._runner.cleanup()

        if loop.is_running():
            asyncio.run_coroutine_threadsafe(shutdown(), loop).result(10)
            loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        self._thread = self._loop = None

    def __enter__(self) -> FakeTelegram:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- test-side: reading what the bot did -------------------------------------------------
    @property
    def sent(self) -> list[SentMessage]:
        """Snapshot of accepted sendMessage/sendPhoto calls, oldest first."""
        with self._cond:
            return list(self._state.sent)

    @property
    def edits(self) -> list[Edit]:
        """Snapshot of accepted edits, oldest first."""
        with self._cond:
            return list(self._state.edits)

    @property
    def answered_callbacks(self) -> list[AnsweredCallback]:
        """Snapshot of accepted answerCallbackQuery calls."""
        with self._cond:
            return list(self._state.answered)

    @property
    def calls(self) -> list[ApiCall]:
        """Snapshot of every answered request, failures and getUpdates included."""
        with self._cond:
            return list(self._state.calls)

    @property
    def commands(self) -> dict[str, list[JSON]]:
        """setMyCommands results keyed by "<scope type>:<language_code>" (e.g. "default:")."""
        with self._cond:
            return copy.deepcopy(self._state.commands)

    @property
    def pending_updates(self) -> int:
        """Updates queued and not yet confirmed by a getUpdates offset."""
        with self._cond:
            return len(self._state.updates)

    @property
    def webhook(self) -> tuple[str, str]:
        """(url, secret_token) as the bot last set them with setWebhook."""
        with self._cond:
            return self._state.webhook_url, self._state.webhook_secret

    def take_updates(self) -> list[JSON]:
        """Remove and return every queued update: a test posts them to a webhook itself, as
        Telegram would once setWebhook is active."""
        with self._cond:
            taken, self._state.updates = self._state.updates, []
            return copy.deepcopy(taken)

    def messages_to(self, chat_id: int) -> list[SentMessage]:
        """Accepted sends to one chat, oldest first."""
        return [m for m in self.sent if m.chat_id == chat_id]

    def current_message(self, chat_id: int, message_id: int) -> JSON | None:
        """The message as Telegram holds it now (edits applied), Bot API shaped, or None."""
        with self._cond:
            return copy.deepcopy(self._state.messages.get((chat_id, message_id)))

    def wait_for(
        self, predicate: Callable[[SentMessage], bool], timeout: float = 10, *, since: int = 0
    ) -> SentMessage:
        """Block until a send in ``sent[since:]`` matches; fail with what was sent instead.

        Blocking: from an async test whose loop runs the app, use async_wait_for.
        """
        found: list[SentMessage] = []

        def check() -> bool:
            found.extend(m for m in self._state.sent[since:] if predicate(m))
            return bool(found)

        self._wait(check, timeout, "no sent message matched the predicate")
        return found[0]

    def wait_until_count(self, n: int, timeout: float = 10) -> list[SentMessage]:
        """Block until at least ``n`` messages were accepted; return them all."""
        self._wait(lambda: len(self._state.sent) >= n, timeout, f"fewer than {n} messages sent")
        return self.sent

    async def async_wait_for(
        self,
        predicate: Callable[[SentMessage], bool],
        timeout: float = 10,
        *,
        since: int = 0,
    ) -> SentMessage:
        """wait_for for async tests: polls without blocking the test's event loop."""
        deadline = time.monotonic() + timeout
        while True:
            for message in self.sent[since:]:
                if predicate(message):
                    return message
            if time.monotonic() >= deadline:
                raise AssertionError(self._describe("no sent message matched the predicate"))
            await asyncio.sleep(0.005)

    async def async_wait_until_count(self, n: int, timeout: float = 10) -> list[SentMessage]:
        """wait_until_count for async tests."""
        deadline = time.monotonic() + timeout
        while len(self.sent) < n:
            if time.monotonic() >= deadline:
                raise AssertionError(self._describe(f"fewer than {n} messages sent"))
            await asyncio.sleep(0.005)
        return self.sent

    def wait_until(self, condition: Callable[[], object], timeout: float = 10) -> None:
        """Block until ``condition()`` (which may read this fake's snapshots) is truthy."""
        self._wait(lambda: bool(condition()), timeout, "condition not met")

    async def async_wait_until(self, condition: Callable[[], object], timeout: float = 10) -> None:
        """wait_until for async tests, e.g. ``await tg.async_wait_until(lambda: tg.edits)``."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() >= deadline:
                raise AssertionError(self._describe("condition not met"))
            await asyncio.sleep(0.005)

    def max_sends_per_second(self, window: float = 1.0) -> int:
        """Most accepted sends inside any sliding ``window`` seconds, over all chats."""
        return max_in_window(sorted(m.at for m in self.sent), window)

    def max_sends_per_chat_per_second(self, window: float = 1.0) -> int:
        """Most accepted sends to one chat inside any sliding ``window`` seconds."""
        per_chat: dict[int, list[float]] = {}
        for m in self.sent:
            per_chat.setdefault(m.chat_id, []).append(m.at)
        return max((max_in_window(sorted(t), window) for t in per_chat.values()), default=0)

    # -- test-side: acting as users ----------------------------------------------------------
    def user_sends(
        self,
        chat_id: int,
        text: str,
        user_id: int | None = None,
        first_name: str = "Dân",
        reply_to_message_id: int | None = None,
        chat_type: str = "private",
        photo: str | None = None,
    ) -> int:
        """Queue a message update as Telegram would deliver it; return its update_id.

        A leading "/word" gets a bot_command entity; a reply carries the full replied message.
        With ``photo`` (a file id) the message is a photo and ``text`` its caption.
        """
        user = self._user(chat_id, user_id, first_name)
        with self._cond:
            chat = self._remember_chat(chat_id, chat_type, first_name)
            message: JSON = {
                "message_id": self._next_message_id(chat_id),
                "date": int(time.time()),
                "chat": chat,
                "from": user,
                "text": text,
            }
            if photo is not None:
                del message["text"]
                message["photo"] = _photo_sizes(photo)
                if text:
                    message["caption"] = text
            elif text.startswith("/"):
                command = text.split(maxsplit=1)[0]
                message["entities"] = [
                    {"type": "bot_command", "offset": 0, "length": utf16_len(command)}
                ]
            if reply_to_message_id is not None:
                replied = self._state.messages.get((chat_id, reply_to_message_id))
                if replied is None:
                    raise ValueError(f"no message {reply_to_message_id} in chat {chat_id}")
                message["reply_to_message"] = _without_reply(replied)
            self._state.messages[(chat_id, message["message_id"])] = message
            return self._queue("message", copy.deepcopy(message))

    def user_shares_location(
        self, chat_id: int, latitude: float, longitude: float, first_name: str = "Dân"
    ) -> int:
        """Queue a location message (the paperclip's «Location»); return its update_id."""
        user = self._user(chat_id, None, first_name)
        with self._cond:
            chat = self._remember_chat(chat_id, "private", first_name)
            message: JSON = {
                "message_id": self._next_message_id(chat_id),
                "date": int(time.time()),
                "chat": chat,
                "from": user,
                "location": {"latitude": latitude, "longitude": longitude},
            }
            self._state.messages[(chat_id, message["message_id"])] = message
            return self._queue("message", copy.deepcopy(message))

    def user_presses(
        self,
        chat_id: int,
        message_id: int,
        data: str,
        user_id: int | None = None,
        *,
        first_name: str = "Dân",
        check_button: bool = True,
    ) -> str:
        """Queue a callback_query for a button under one of our messages; return the query id.

        With check_button, ``data`` must belong to a button the message shows now (Telegram
        delivers nothing else); pass False to simulate a stale or forged press.
        """
        user = self._user(chat_id, user_id, first_name)
        with self._cond:
            message = self._state.messages.get((chat_id, message_id))
            if message is None or message.get("from", {}).get("id") != self.bot_user["id"]:
                raise ValueError(f"no message {message_id} from the bot in chat {chat_id}")
            rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
            shown = [b.get("callback_data") for row in rows for b in row]
            if check_button and data not in shown:
                raise ValueError(f"message {message_id} has no button {data!r}; has {shown}")
            query_id = f"{self.bot_user['id']}{next(self._callback_ids):08d}"
            self._state.callbacks[query_id] = False
            self._queue(
                "callback_query",
                {
                    "id": query_id,
                    "from": user,
                    "message": copy.deepcopy(message),
                    "chat_instance": str(abs(chat_id) * 7 + 1),
                    "data": data,
                },
            )
            return query_id

    def push_update(self, kind: str, payload: JSON) -> int:
        """Queue any other update (e.g. "edited_message"); returns its update_id."""
        with self._cond:
            return self._queue(kind, copy.deepcopy(payload))

    # -- test-side: breaking things ----------------------------------------------------------
    def fail(
        self,
        chat_id: int | None = None,
        method: str | None = "sendMessage",
        code: int | None = 429,
        retry_after: int = 3,
        description: str | None = None,
        times: int | None = 1,
        *,
        migrate_to_chat_id: int | None = None,
        delay: float = 0.0,
    ) -> None:
        """Make the next ``times`` matching calls fail (None: forever).

        code 429 → parameters.retry_after; 403 → "bot was blocked by the user" unless
        ``description`` says e.g. "Forbidden: user is deactivated"; 400 → "chat not found", or
        "group chat was upgraded..." with parameters.migrate_to_chat_id when migrate_to_chat_id is
        given; 5xx → "Bad Gateway" etc. ``delay`` holds the reply that long first (simulates a
        timeout: the client gives up while the server still works); with ``code=None`` the call
        then succeeds, as when Telegram delivers a message whose answer timed out.
        ``chat_id=None`` matches any chat; ``method=None`` any method except getUpdates.
        """
        parameters: JSON | None = None
        if code == 429:
            parameters = {"retry_after": retry_after}
            description = description or f"Too Many Requests: retry after {retry_after}"
        elif migrate_to_chat_id is not None:
            parameters = {"migrate_to_chat_id": migrate_to_chat_id}
            description = description or (
                "Bad Request: group chat was upgraded to a supergroup chat"
            )
        elif code is not None and description is None:
            description = _DEFAULT_DESCRIPTIONS.get(code) or HTTPStatus(code).phrase
        failure = _Failure(
            chat_id=chat_id,
            method=method.lower() if method else None,
            code=code,
            description=description or "",
            parameters=parameters,
            delay=delay,
            remaining=times,
        )
        with self._cond:
            self._state.failures.append(failure)

    def block(
        self,
        chat_id: int,
        description: str = "Forbidden: bot was blocked by the user",
        *,
        notify: bool = False,
    ) -> None:
        """Every later call about ``chat_id`` (but getChat) gets 403 ``description``.

        notify=True also queues the my_chat_member update Telegram sends when a user blocks.
        """
        with self._cond:
            self._state.blocked[chat_id] = description
            if notify:
                user = self._user(chat_id, None, "Dân")
                self._queue(
                    "my_chat_member",
                    {
                        "chat": self._remember_chat(chat_id, "private", "Dân"),
                        "from": user,
                        "date": int(time.time()),
                        "old_chat_member": {"status": "member", "user": self.bot_user},
                        "new_chat_member": {
                            "status": "kicked",
                            "user": self.bot_user,
                            "until_date": 0,
                        },
                    },
                )

    def unblock(self, chat_id: int) -> None:
        """Undo block()."""
        with self._cond:
            self._state.blocked.pop(chat_id, None)

    # -- internals: waiting and bookkeeping (call with self._cond held) ----------------------
    def _wait(self, check: Callable[[], bool], timeout: float, what: str) -> None:
        with self._cond:
            if not self._cond.wait_for(check, timeout):
                raise AssertionError(self._describe(what))

    def _describe(self, what: str) -> str:
        sent = self.sent
        lines = [f"{what} (timeout); {len(sent)} sent:"]
        lines += [f"  {m.method} chat={m.chat_id} #{m.message_id}: {m.text!r}" for m in sent[-20:]]
        failed = [c for c in self.calls if c.status != 200][-10:]
        lines += [
            f"  refused {c.method} chat={c.chat_id}: {c.status} {c.description}" for c in failed
        ]
        return "\n".join(lines)

    def _user(self, chat_id: int, user_id: int | None, first_name: str) -> JSON:
        uid = user_id if user_id is not None else (chat_id if chat_id > 0 else 4242)
        return {"id": uid, "is_bot": False, "first_name": first_name, "language_code": "vi"}

    def _remember_chat(self, chat_id: int, chat_type: str, first_name: str) -> JSON:
        chat = self._state.chats.get(chat_id)
        if chat is None:
            chat = {"id": chat_id, "type": chat_type}
            if chat_type == "private":
                chat["first_name"] = first_name
            else:
                chat["title"] = "Nhóm thử nghiệm"
            self._state.chats[chat_id] = chat
        return dict(chat)

    def _chat(self, chat_id: int) -> JSON:
        known = self._state.chats.get(chat_id)
        if known is not None:
            return dict(known)
        if chat_id > 0:
            return {"id": chat_id, "type": "private", "first_name": "Dân"}
        kind = "supergroup" if chat_id < -1_000_000_000_000 else "group"
        return {"id": chat_id, "type": kind, "title": "Nhóm thử nghiệm"}

    def _next_message_id(self, chat_id: int) -> int:
        value = self._state.next_message_id.get(chat_id, 0) + 1
        self._state.next_message_id[chat_id] = value
        return value

    def _queue(self, kind: str, payload: JSON) -> int:
        update_id = self._state.next_update_id
        self._state.next_update_id += 1
        self._state.updates.append({"update_id": update_id, kind: payload})
        self._cond.notify_all()
        loop, event = self._loop, self._updates_event
        if loop is not None and event is not None and not loop.is_closed():
            loop.call_soon_threadsafe(event.set)
        return update_id

    def _record(self, method: str, params: JSON, status: int, description: str | None) -> None:
        chat_id = params.get("chat_id")
        call = ApiCall(method, chat_id, status, description, time.monotonic(), params)
        with self._cond:
            self._state.calls.append(call)
            self._cond.notify_all()

    # -- HTTP layer (server thread) ----------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.Response:
        match = _PATH.match(request.path)
        if match is None:
            return _error(ApiError(404, "Not Found"))
        if match.group(1) != self.token:
            return _error(ApiError(401, "Unauthorized"))
        name = match.group(2)
        method = name.lower()
        # Sends are timed at arrival, as Telegram counts them, not when the reply leaves.
        _ARRIVAL.set(time.monotonic())
        params: JSON = {}
        try:
            params = await _read_params(request)
            if self.latency:
                await asyncio.sleep(self.latency)
            handler = getattr(self, f"_m_{method}", None)
            if handler is None and method != "getupdates":
                raise ApiError(404, "Not Found")
            failure = self._take_failure(method, params.get("chat_id"))
            if failure is not None:
                if failure.delay:
                    await asyncio.sleep(failure.delay)
                if failure.code is not None:
                    raise ApiError(failure.code, failure.description, failure.parameters)
            if method == "getupdates":
                result = await self._get_updates(params)
            else:
                assert handler is not None
                with self._cond:
                    self._check_blocked(method, params)
                    result = handler(params)
                    self._cond.notify_all()
        except ApiError as err:
            self._record(name, params, err.code, err.description)
            return _error(err)
        self._record(name, params, 200, None)
        return web.json_response({"ok": True, "result": result})

    def _allowed(self, update: JSON) -> bool:
        kind = _kind(update)
        allowed = self._state.allowed_updates
        return kind not in _OPT_IN_UPDATE_TYPES if allowed is None else kind in allowed

    def _take_failure(self, method: str, chat_id: int | str | None) -> _Failure | None:
        with self._cond:
            for failure in self._state.failures:
                if failure.matches(method, chat_id):
                    if failure.remaining is not None:
                        failure.remaining -= 1
                    return failure
        return None

    def _check_blocked(self, method: str, params: JSON) -> None:
        chat_id = params.get("chat_id")
        if method != "getchat" and chat_id in self._state.blocked:
            raise ApiError(403, self._state.blocked[chat_id])

    async def _get_updates(self, params: JSON) -> list[JSON]:
        """Long polling: confirm by offset, then wait up to ``timeout`` s for something new."""
        assert self._updates_event is not None
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        timeout = max(float(params.get("timeout") or 0), 0.0)
        with self._cond:
            state = self._state
            if state.webhook_url:
                raise ApiError(
                    409,
                    "Conflict: can't use getUpdates method while webhook is active; "
                    "use deleteWebhook to delete the webhook first",
                )
            state.poll_generation += 1
            generation = state.poll_generation
            self._updates_event.set()  # older polls wake up and learn they were replaced
            allowed = params.get("allowed_updates")
            if allowed is not None:
                state.allowed_updates = frozenset(allowed) or None
            offset = params.get("offset")
            if offset is not None:
                offset = int(offset)
                if offset < 0:
                    state.updates = state.updates[offset:]
                else:
                    state.updates = [u for u in state.updates if u["update_id"] >= offset]
                self._cond.notify_all()
        await asyncio.sleep(0)  # let replaced polls run before clearing the event
        deadline = time.monotonic() + timeout
        while True:
            with self._cond:
                if generation != self._state.poll_generation:
                    raise ApiError(409, _CONFLICT)
                kept = [u for u in self._state.updates if self._allowed(u)]
                self._state.updates = kept
                remaining = deadline - time.monotonic()
                if kept or self._closing or remaining <= 0:
                    return kept[:limit]  # queued updates are never mutated
                self._updates_event.clear()
            try:
                await asyncio.wait_for(self._updates_event.wait(), remaining)
            except TimeoutError:
                pass

    # -- Bot API methods (server thread, self._cond held) ------------------------------------
    def _m_getme(self, params: JSON) -> JSON:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    def _m_sendmessage(self, params: JSON) -> JSON:
        chat_id = self._chat_id(params)
        text = params.get("text")
        if not isinstance(text, str) or not text:
            raise _bad("message text is empty")
        plain, entities = self._parse(text, params.get("parse_mode"), params.get("entities"))
        _checked(check_length, plain)
        return self._store_send("sendMessage", chat_id, params, text, plain, entities)

    def _m_sendphoto(self, params: JSON) -> JSON:
        chat_id = self._chat_id(params)
        photo = params.get("photo")
        if isinstance(photo, web.FileField):
            photo = f"upload:{photo.filename}"
        if not isinstance(photo, str) or not photo:
            raise _bad("there is no photo in the request")
        caption = params.get("caption") or ""
        entities = params.get("caption_entities")
        plain, entities = self._parse(caption, params.get("parse_mode"), entities)
        _checked(check_length, plain, caption=True)
        return self._store_send("sendPhoto", chat_id, params, caption, plain, entities, photo)

    def _m_editmessagetext(self, params: JSON) -> JSON | bool:
        text = params.get("text")
        if not isinstance(text, str) or not text:
            raise _bad("message text is empty")
        plain, entities = self._parse(text, params.get("parse_mode"), params.get("entities"))
        _checked(check_length, plain)
        return self._edit("editMessageText", params, text, {"text": plain, "entities": entities})

    def _m_editmessagecaption(self, params: JSON) -> JSON | bool:
        caption = params.get("caption") or ""
        entities = params.get("caption_entities")
        plain, entities = self._parse(caption, params.get("parse_mode"), entities)
        _checked(check_length, plain, caption=True)
        changes = {"caption": plain, "caption_entities": entities}
        return self._edit("editMessageCaption", params, caption, changes)

    def _m_editmessagereplymarkup(self, params: JSON) -> JSON | bool:
        return self._edit("editMessageReplyMarkup", params, None, {})

    def _m_answercallbackquery(self, params: JSON) -> bool:
        query_id = str(params.get("callback_query_id") or "")
        if self._state.callbacks.get(query_id, True):
            raise _bad("query is too old and response timeout expired or query ID is invalid")
        if len(str(params.get("text") or "")) > 200:
            raise _bad("MESSAGE_TOO_LONG")
        self._state.callbacks[query_id] = True
        self._state.answered.append(
            AnsweredCallback(
                callback_query_id=query_id,
                text=params.get("text"),
                show_alert=bool(params.get("show_alert")),
                url=params.get("url"),
                at=time.monotonic(),
                params=params,
            )
        )
        return True

    def _m_setmycommands(self, params: JSON) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise _bad('parameter "commands" is required')
        for command in commands:
            name = command.get("command", "") if isinstance(command, dict) else ""
            desc = command.get("description", "") if isinstance(command, dict) else ""
            if not re.fullmatch(r"[a-z0-9_]{1,32}", name) or not 1 <= len(desc) <= 256:
                raise _bad("BOT_COMMAND_INVALID")
        self._state.commands[_commands_key(params)] = commands
        return True

    def _m_getmycommands(self, params: JSON) -> list[JSON]:
        return self._state.commands.get(_commands_key(params), [])

    def _m_deletemycommands(self, params: JSON) -> bool:
        self._state.commands.pop(_commands_key(params), None)
        return True

    def _m_setwebhook(self, params: JSON) -> bool:
        self._state.webhook_url = str(params.get("url") or "")
        self._state.webhook_secret = str(params.get("secret_token") or "")
        self._wake_pollers()
        return True

    def _m_deletewebhook(self, params: JSON) -> bool:
        self._state.webhook_url = ""
        if params.get("drop_pending_updates"):
            self._state.updates.clear()
        return True

    def _m_getwebhookinfo(self, params: JSON) -> JSON:
        return {
            "url": self._state.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._state.updates),
        }

    def _m_getchat(self, params: JSON) -> JSON:
        chat = self._chat(self._chat_id(params))
        return {
            **chat,
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }

    def _m_sendchataction(self, params: JSON) -> bool:
        self._chat_id(params)
        return True

    # -- method helpers ----------------------------------------------------------------------
    def _wake_pollers(self) -> None:
        self._state.poll_generation += 1
        if self._updates_event is not None:
            self._updates_event.set()

    def _chat_id(self, params: JSON) -> int:
        chat_id = params.get("chat_id")
        if chat_id is None or chat_id == "":
            raise _bad("chat_id is empty")
        if not isinstance(chat_id, int):
            raise _bad("chat not found")
        return chat_id

    def _parse(self, text: str, parse_mode: Any, entities: Any) -> tuple[str, list[JSON]]:
        mode = str(parse_mode or "").lower()
        if mode == "html":
            parsed = _checked(parse_telegram_html, text, strict=self.strict_html)
            return parsed.text, parsed.entities
        if mode in ("", "markdown", "markdownv2"):
            return text, list(entities or [])  # Markdown is passed through unchecked
        raise _bad(f"unsupported parse_mode {parse_mode}")

    def _store_send(
        self,
        method: str,
        chat_id: int,
        params: JSON,
        source: str,
        plain: str,
        entities: list[JSON],
        photo: str | None = None,
    ) -> JSON:
        markup = _check_markup(params.get("reply_markup"))
        reply_to = self._reply_target(chat_id, params)
        message: JSON = {
            "message_id": self._next_message_id(chat_id),
            "date": int(time.time()),
            "chat": self._chat(chat_id),
            "from": dict(self.bot_user),
        }
        if photo is None:
            message["text"] = plain
            if entities:
                message["entities"] = entities
        else:
            message["photo"] = _photo_sizes(photo)
            if plain:
                message["caption"] = plain
            if entities:
                message["caption_entities"] = entities
        if markup is not None and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        if reply_to is not None:
            message["reply_to_message"] = _without_reply(reply_to)
        self._state.messages[(chat_id, message["message_id"])] = message
        self._state.sent.append(
            SentMessage(
                method=method,
                chat_id=chat_id,
                message_id=message["message_id"],
                text=source,
                parse_mode=params.get("parse_mode"),
                reply_markup=markup,
                reply_to_message_id=reply_to["message_id"] if reply_to else None,
                at=_ARRIVAL.get(time.monotonic()),
                params=params,
                plain_text=plain,
                caption=source if photo is not None else None,
                photo=photo,
            )
        )
        return message  # stored messages are never mutated in place: edits replace them

    def _reply_target(self, chat_id: int, params: JSON) -> JSON | None:
        reply = params.get("reply_parameters")
        if isinstance(reply, dict):
            target_chat = reply.get("chat_id", chat_id)
            message_id = reply.get("message_id")
            allow_missing = bool(reply.get("allow_sending_without_reply"))
        elif params.get("reply_to_message_id") is not None:
            target_chat = chat_id
            message_id = params["reply_to_message_id"]
            allow_missing = bool(params.get("allow_sending_without_reply"))
        else:
            return None
        found = None
        if isinstance(target_chat, int) and isinstance(message_id, int):
            found = self._state.messages.get((target_chat, message_id))
        if found is None and not allow_missing:
            raise _bad("message to be replied not found")
        return found

    def _edit(self, method: str, params: JSON, source: str | None, changes: JSON) -> JSON | bool:
        markup = _check_markup(params.get("reply_markup"))
        record = Edit(
            method=method,
            chat_id=params.get("chat_id"),
            message_id=params.get("message_id"),
            text=source,
            parse_mode=params.get("parse_mode"),
            reply_markup=markup,
            at=time.monotonic(),
            params=params,
        )
        if params.get("inline_message_id"):
            self._state.edits.append(record)
            return True
        chat_id = self._chat_id(params)
        message = self._state.messages.get((chat_id, params.get("message_id") or 0))
        if message is None:
            raise _bad("message to edit not found")
        if message.get("from", {}).get("id") != self.bot_user["id"]:
            raise _bad("message can't be edited")
        if "text" in changes and "text" not in message:
            raise _bad("there is no text in the message to edit")
        if "caption" in changes and "photo" not in message:
            raise _bad("there is no caption in the message to edit")
        updated = dict(message)
        for key, value in changes.items():
            if value:
                updated[key] = value
            else:
                updated.pop(key, None)
        # Like Telegram: an edit without reply_markup removes the inline keyboard.
        if markup is not None and "inline_keyboard" in markup and markup["inline_keyboard"]:
            updated["reply_markup"] = markup
        else:
            updated.pop("reply_markup", None)
        if _content(updated) == _content(message):
            raise _bad(
                "message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message"
            )
        updated["edit_date"] = int(time.time())
        self._state.messages[(chat_id, message["message_id"])] = updated
        self._state.edits.append(record)
        return updated


# -- module helpers --------------------------------------------------------------------------
async def _read_params(request: web.Request) -> JSON:
    """Collect parameters from the query string and a form, multipart or JSON body."""
    raw: JSON = dict(request.query)
    if request.body_exists:
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError as exc:
                raise _bad("can't parse JSON object") from exc
            if not isinstance(body, dict):
                raise _bad("JSON object expected")
            raw.update(body)
        elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            raw.update(await request.post())
    return {key: _coerce(key, value) for key, value in raw.items()}


def _coerce(key: str, value: Any) -> Any:
    """Turn form strings into the types the Bot API documents (JSON-serialized values)."""
    if not isinstance(value, str):
        return value
    if key in _JSON_FIELDS:
        try:
            return json.loads(value)
        except ValueError as exc:
            raise _bad(f"can't parse {key} JSON object") from exc
    if key in _INT_FIELDS:
        try:
            return int(value)
        except ValueError:
            if key == "chat_id":
                return value  # "@channelusername"
            raise _bad(f"invalid {key} specified") from None
    if key in _BOOL_FIELDS:
        return value.lower() in ("true", "1")
    return value


def _checked(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run a telegram_html check, turning its refusal into a 400 answer."""
    try:
        return function(*args, **kwargs)
    except TelegramHtmlError as err:
        raise ApiError(400, err.description) from None


def _check_markup(markup: Any) -> JSON | None:
    """Validate reply_markup like Telegram: buttons need an action, callback_data 1-64 bytes."""
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise _bad("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" not in markup:
        return markup  # ReplyKeyboardMarkup, ReplyKeyboardRemove, ForceReply
    rows = markup["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise _bad('field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays')
    if sum(len(row) for row in rows) > 100:
        raise _bad("reply markup is too long")
    for button in itertools.chain.from_iterable(rows):
        if not isinstance(button, dict) or not isinstance(button.get("text"), str):
            raise _bad('can\'t parse inline keyboard button: Field "text" must be of type String')
        kinds = _BUTTON_KINDS & button.keys()
        if not kinds:
            raise _bad(
                "can't parse inline keyboard button: Text buttons are unallowed in the inline "
                "keyboard"
            )
        if "callback_data" in button:
            data = button["callback_data"]
            if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= 64:
                raise _bad("BUTTON_DATA_INVALID")
        if "url" in button:
            url = button["url"]
            if not isinstance(url, str) or not re.match(r"^(https?|tg)://[^\s]+$", url):
                raise _bad(f"inline keyboard button URL '{url}' is invalid: Wrong HTTP URL")
    return markup


def _error(err: ApiError) -> web.Response:
    body: JSON = {"ok": False, "error_code": err.code, "description": err.description}
    if err.parameters:
        body["parameters"] = err.parameters
    return web.json_response(body, status=err.code)


def _kind(update: JSON) -> str:
    return next(key for key in update if key != "update_id")


def _without_reply(message: JSON) -> JSON:
    """Telegram nests one level only: a replied message comes without its own reply."""
    return {k: copy.deepcopy(v) for k, v in message.items() if k != "reply_to_message"}


def _content(message: JSON) -> tuple[Any, ...]:
    keys = ("text", "entities", "caption", "caption_entities", "reply_markup")
    return tuple(json.dumps(message.get(k), sort_keys=True) for k in keys)


def _commands_key(params: JSON) -> str:
    scope = params.get("scope") or {}
    scope_type = scope.get("type", "default") if isinstance(scope, dict) else "default"
    return f"{scope_type}:{params.get('language_code') or ''}"


def _photo_sizes(photo: str) -> list[JSON]:
    unique = f"{abs(hash(photo)) % 10**10:010d}"
    return [
        {
            "file_id": f"AgAD{unique}s",
            "file_unique_id": f"s{unique}",
            "width": 90,
            "height": 60,
            "file_size": 1200,
        },
        {
            "file_id": f"AgAD{unique}m",
            "file_unique_id": f"m{unique}",
            "width": 800,
            "height": 533,
            "file_size": 48000,
        },
    ]


# -- files: getFile, the file download URL, photo uploads (media, issue #15) -----------------
# Appended as functions bound onto FakeTelegram so the class above stays as it was.
_FILE_PATH = re.compile(r"^/file/bot([^/]+)/(.+)$")


def _files(self: FakeTelegram) -> dict[str, JSON]:
    """file_id -> {"path", "data", "failures"} (created on first use)."""
    return self.__dict__.setdefault("_files_state", {})


def put_file(self: FakeTelegram, file_id: str, data: bytes, *, failures: int = 0) -> str:
    """Make `file_id` downloadable (getFile, then GET /file/bot<token>/<path>); the first
    `failures` downloads answer 500. Returns the file's path."""
    with self._cond:
        files = _files(self)
        path = f"photos/file_{len(files) + 1}.jpg"
        files[file_id] = {"path": path, "data": data, "failures": failures}
        return path


def file_downloads(self: FakeTelegram) -> int:
    """How many file downloads were answered with the file."""
    with self._cond:
        return int(self.__dict__.get("_file_downloads", 0))


def uploads(self: FakeTelegram) -> list[tuple[int | str, bytes, str]]:
    """Photos uploaded with sendPhoto as multipart: (chat_id, bytes, filename)."""
    with self._cond:
        return list(self.__dict__.get("_uploads", []))


def _m_getfile(self: FakeTelegram, params: JSON) -> JSON:
    file_id = params.get("file_id")
    entry = _files(self).get(str(file_id or ""))
    if entry is None:
        raise _bad("invalid file_id")
    return {
        "file_id": file_id,
        "file_unique_id": f"u{abs(hash(file_id)) % 10**8}",
        "file_size": len(entry["data"]),
        "file_path": entry["path"],
    }


_plain_sendphoto = FakeTelegram._m_sendphoto
_plain_handle = FakeTelegram._handle


def _m_sendphoto_recording(self: FakeTelegram, params: JSON) -> JSON:
    photo = params.get("photo")
    if isinstance(photo, web.FileField):
        data = photo.file.read()
        photo.file.seek(0)
        self.__dict__.setdefault("_uploads", []).append(
            (params.get("chat_id"), data, photo.filename)
        )
    return _plain_sendphoto(self, params)


async def _handle_with_files(self: FakeTelegram, request: web.Request) -> web.Response:
    match = _FILE_PATH.match(request.path)
    if match is None:
        return await _plain_handle(self, request)
    if match.group(1) != self.token:
        return _error(ApiError(401, "Unauthorized"))
    with self._cond:
        entry = next((e for e in _files(self).values() if e["path"] == match.group(2)), None)
        if entry is not None and entry["failures"] > 0:
            entry["failures"] -= 1
            return web.Response(status=500, text="Internal Server Error")
        if entry is not None:
            self.__dict__["_file_downloads"] = self.__dict__.get("_file_downloads", 0) + 1
    if entry is None:
        return web.Response(status=404, text="Not Found")
    return web.Response(body=entry["data"], content_type="application/octet-stream")


FakeTelegram.put_file = put_file  # type: ignore[attr-defined]
FakeTelegram.file_downloads = property(file_downloads)  # type: ignore[attr-defined]
FakeTelegram.uploads = property(uploads)  # type: ignore[attr-defined]
FakeTelegram._m_getfile = _m_getfile  # type: ignore[attr-defined]
FakeTelegram._m_sendphoto = _m_sendphoto_recording  # type: ignore[method-assign]
FakeTelegram._handle = _handle_with_files  # type: ignore[method-assign]
