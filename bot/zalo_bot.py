"""Zalo Bot Platform adapter: a thin httpx client, our neutral types on top.

The platform is Telegram-like (`{url}/bot{token}/{method}`, `{"ok": ..., "result": ...}` or
`{"ok": false, "error_code": ..., "description": ...}`) but smaller: no inline buttons, no
editing, plain text of at most 2,000 characters, and getUpdates returns one update with no
offset (HTTP 408 when none came within the timeout). Without an offset nothing confirms an
update, so the same message can come again: every message id is recorded in storage and a
repeat is dropped, across restarts and processes.

Platform answers become bot.channel errors in one place (`translate`). The token sits in every
URL, so no URL and no httpx error text is ever logged or put into an error: only the method.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

import httpx
from aiohttp import web

from bot.channel import (
    PLAIN,
    Capabilities,
    ChannelError,
    Fatal,
    OutMessage,
    RateLimited,
    RecipientGone,
    Rejected,
    Transient,
)
from bot.events import Command, Event, Text, Who, parse_command
from bot.render import split_message
from jobs.sleep import sleep_or_stop
from storage.zalo import ZaloRepo

log = logging.getLogger(__name__)

PLATFORM = "zalo"
MAX_TEXT = 2000
SECRET_HEADER = "X-Bot-Api-Secret-Token"
MIN_POLL_INTERVAL = 1.0  # seconds between two getUpdates calls, whatever they answered
WEBHOOK_MAX_BODY = 1_000_000
_CHAT_TYPES = {"PRIVATE": "private", "GROUP": "group"}


_TOKEN_IN_URL = re.compile(r"/bot[^/\s\"']+/")


class _HideToken(logging.Filter):
    """httpx logs every request URL at INFO ("HTTP Request: POST https://.../bot<token>/..."):
    the token is masked in those records before any handler sees them."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.args = tuple(
                _TOKEN_IN_URL.sub("/bot<token>/", str(a)) if isinstance(a, (str, httpx.URL)) else a
                for a in (record.args if isinstance(record.args, tuple) else (record.args,))
            )
        if isinstance(record.msg, str):
            record.msg = _TOKEN_IN_URL.sub("/bot<token>/", record.msg)
        return True


def hide_token_in_http_logs() -> None:
    """Install the filter once on httpx's logger (idempotent)."""
    logger = logging.getLogger("httpx")
    if not any(isinstance(f, _HideToken) for f in logger.filters):
        logger.addFilter(_HideToken())


class ZaloApiError(Exception):
    """A refusal from the Bot API, before translation (never leaves this module)."""

    def __init__(self, method: str, code: int, description: str, retry_after: float | None) -> None:
        super().__init__(f"{method}: {code} {description}")
        self.method = method
        self.code = code
        self.description = description
        self.retry_after = retry_after


def translate(err: ZaloApiError) -> ChannelError:
    """Map a Bot API refusal to our typed errors (DESIGN convention 4)."""
    text = f"Zalo {err.method}: {err.code} {err.description}".strip()
    lowered = err.description.lower()
    if err.code == 401:
        return Fatal("Zalo rejected the bot token (401 Unauthorized)")
    if err.code == 429:
        return RateLimited(text, err.retry_after or 5.0, scope="global")
    if err.code == 403:
        return RecipientGone(text)
    if (
        err.code in (400, 404)
        and ("chat" in lowered or "user" in lowered)
        and ("not found" in lowered or "not exist" in lowered or "invalid" in lowered)
    ):
        return RecipientGone(text)
    if err.code == 400 and ("too long" in lowered or "length" in lowered):
        return Rejected(text, reason="too_long")
    if err.code == 400:
        return Rejected(text)
    return Transient(text)  # 408 on a send, 5xx, anything unexpected: try again later


class ZaloBotClient:
    """The HTTP calls, with the token kept out of every error and log line."""

    def __init__(
        self,
        token: str,
        api_url: str,
        *,
        http: httpx.AsyncClient | None = None,
        timeout: float = 20.0,
    ) -> None:
        hide_token_in_http_logs()
        self._token = token
        self._base = api_url.rstrip("/")
        self._http = http or httpx.AsyncClient(
            timeout=httpx.Timeout(timeout, connect=10.0),
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=16),
        )

    def __repr__(self) -> str:
        return f"ZaloBotClient({self._base!r})"  # no token

    async def call(
        self, method: str, params: dict[str, Any], *, timeout: float | None = None
    ) -> Any:
        """POST one method; the result, or ZaloApiError / Transient."""
        url = f"{self._base}/bot{self._token}/{method}"
        try:
            if timeout is None:
                response = await self._http.post(url, json=params)
            else:
                response = await self._http.post(url, json=params, timeout=timeout)
        except httpx.TimeoutException:
            raise Transient(f"Zalo {method}: timed out") from None
        except httpx.HTTPError as err:
            raise Transient(f"Zalo {method}: {type(err).__name__}") from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            if response.status_code == 408:
                raise ZaloApiError(method, 408, "Request timeout", None)
            raise Transient(f"Zalo {method}: HTTP {response.status_code}, not JSON")
        if body.get("ok") is True:
            return body.get("result")
        code = body.get("error_code")
        parameters = _dict(body.get("parameters"))
        retry = parameters.get("retry_after") if parameters else None
        raise ZaloApiError(
            method,
            int(code) if isinstance(code, int) else response.status_code,
            str(body.get("description") or response.reason_phrase or ""),
            float(retry) if isinstance(retry, (int, float)) else None,
        )

    async def checked(self, method: str, params: dict[str, Any]) -> Any:
        try:
            return await self.call(method, params)
        except ZaloApiError as err:
            raise translate(err) from None

    async def get_me(self) -> dict[str, Any]:
        me = await self.checked("getMe", {})
        return me if isinstance(me, dict) else {}

    async def get_updates(self, timeout: int) -> list[dict[str, Any]]:
        """Long poll; [] when Zalo answers 408 (nothing came within `timeout`)."""
        try:
            result = await self.call(
                "getUpdates", {"timeout": str(timeout)}, timeout=timeout + 10.0
            )
        except ZaloApiError as err:
            if err.code == 408:
                return []
            raise translate(err) from None
        if isinstance(result, list):
            return [u for u in result if isinstance(u, dict)]
        return [result] if isinstance(result, dict) else []

    async def set_webhook(self, url: str, secret: str) -> None:
        await self.checked("setWebhook", {"url": url, "secret_token": secret})

    async def delete_webhook(self) -> None:
        await self.checked("deleteWebhook", {})

    async def aclose(self) -> None:
        await self._http.aclose()


class ZaloBotChannel:
    """The Channel: plain text split at 2,000 characters, photos with their caption."""

    platform = PLATFORM
    capabilities = Capabilities(
        markup=PLAIN, max_text=MAX_TEXT, max_caption=MAX_TEXT, buttons=False
    )

    def __init__(self, client: ZaloBotClient) -> None:
        self.client = client

    async def send(self, chat_id: str, message: OutMessage) -> str:
        """Send (in parts when longer than 2,000 characters); the first part's message id."""
        parts = split_message(replace(message, buttons=(), markup=PLAIN), MAX_TEXT)
        first: str | None = None
        for i, part in enumerate(parts):
            if i == 0 and message.photo_url:
                params: dict[str, Any] = {"chat_id": chat_id, "photo": message.photo_url}
                if part.text.strip():
                    params["caption"] = part.text
                result = await self.client.checked("sendPhoto", params)
            else:
                result = await self.client.checked(
                    "sendMessage", {"chat_id": chat_id, "text": part.text}
                )
            sent = str(result.get("message_id", "")) if isinstance(result, dict) else ""
            first = first or sent
        return first or ""

    async def edit(self, chat_id: str, message_id: str, message: OutMessage) -> None:
        raise Rejected("Zalo Bot Platform cannot edit a sent message")

    async def answer_press(self, press_id: str, text: str | None = None) -> None:
        return None  # no buttons, so no presses to answer (bot/menus.py sends toasts)

    async def aclose(self) -> None:
        await self.client.aclose()


def to_event(update: dict[str, Any]) -> Event | None:
    """A Zalo update (getUpdates result or webhook body) as a neutral event; None otherwise."""
    message = update.get("message")
    if not isinstance(message, dict):
        return None
    event_name = str(update.get("event_name") or "message.text.received")
    text = message.get("text")
    if event_name != "message.text.received" or not isinstance(text, str) or not text:
        return None
    chat = _dict(message.get("chat"))
    sender = _dict(message.get("from"))
    chat_id = str(chat.get("id") or sender.get("id") or "")
    if not chat_id:
        return None
    name = sender.get("display_name") or sender.get("first_name") or sender.get("name")
    who = Who(
        platform=PLATFORM,
        chat_id=chat_id,
        user_id=str(sender.get("id") or chat_id),
        chat_type=_CHAT_TYPES.get(str(chat.get("chat_type") or "PRIVATE").upper(), "private"),
        display_name=str(name) if name else None,
    )
    message_id = str(message.get("message_id") or "") or None
    parsed = parse_command(text.strip())
    if parsed is not None:
        return Command(who=who, name=parsed[0], args=parsed[1], message_id=message_id)
    return Text(who=who, text=text, message_id=message_id)


class UpdateIntake:
    """Dedupe then handle, one chat's messages in order (polling and webhook share it)."""

    def __init__(
        self,
        repo: ZaloRepo,
        handle: Callable[[Event], Awaitable[None]],
        *,
        clock: Callable[[], datetime],
        platform: str = PLATFORM,
    ) -> None:
        self._repo = repo
        self._handle = handle
        self._clock = clock
        self._platform = platform
        self._locks: dict[str, asyncio.Lock] = {}

    async def accept(self, update: dict[str, Any]) -> Event | None:
        """The event if this update is new; None for a repeat or a kind bantin ignores.

        The id is recorded before handling (claim first): a repeat arriving while the first is
        still being handled is dropped, and a crash mid-handling loses that one message, as
        Zalo's own offset-less delivery would."""
        event = to_event(update)
        if event is None:
            return None
        message_id = getattr(event, "message_id", None)
        if message_id and not await self._repo.mark_seen(self._platform, message_id, self._clock()):
            log.info("repeated Zalo update dropped", extra={"message": message_id})
            return None
        return event

    async def handle(self, event: Event) -> None:
        lock = self._locks.setdefault(event.who.chat_id, asyncio.Lock())
        async with lock:
            try:
                await self._handle(event)
            except Exception:
                log.exception("Zalo update handling failed", extra={"chat": event.who.chat_id})
        if not lock.locked() and len(self._locks) > 1000:
            self._locks.pop(event.who.chat_id, None)

    async def take(self, update: dict[str, Any]) -> None:
        event = await self.accept(update)
        if event is not None:
            await self.handle(event)


class ZaloBotPoller:
    """getUpdates in a loop, at least MIN_POLL_INTERVAL apart (Zalo asks for it)."""

    def __init__(
        self,
        client: ZaloBotClient,
        intake: UpdateIntake,
        *,
        timeout: int = 30,
        min_interval: float = MIN_POLL_INTERVAL,
    ) -> None:
        self._client = client
        self._intake = intake
        self._timeout = timeout
        self._min_interval = min_interval

    async def prepare(self) -> dict[str, Any]:
        """Check the token (Fatal when refused) and drop a webhook that would block polling."""
        me = await self._client.get_me()
        try:
            await self._client.delete_webhook()
        except ChannelError as err:
            log.warning("Zalo deleteWebhook failed", extra={"error": err.description})
        return me

    async def run(self, stop: asyncio.Event) -> None:
        failures = 0
        while not stop.is_set():
            started = time.monotonic()
            try:
                updates = await self._client.get_updates(self._timeout)
                failures = 0
            except Fatal:
                raise
            except RateLimited as err:
                await sleep_or_stop(stop, err.retry_after)
                continue
            except ChannelError as err:
                failures += 1
                log.warning("Zalo getUpdates failed", extra={"error": err.description})
                await sleep_or_stop(stop, min(30.0, 2.0**failures))
                continue
            for update in updates:
                await self._intake.take(update)
            rest = self._min_interval - (time.monotonic() - started)
            if rest > 0:
                await sleep_or_stop(stop, rest)


def webhook_handler(
    secret: str, intake: UpdateIntake
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """The aiohttp handler for Zalo's webhook calls.

    The secret header is compared in constant time before the body is read; a new message is
    recorded (deduplicated) before the 200 answer, then handled in the background so Zalo
    gets its answer at once."""
    expected = secret.encode()
    tasks: set[asyncio.Task[None]] = set()

    async def handle(request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, expected):
            log.warning("Zalo webhook refused: bad secret token")
            return web.json_response({"ok": False, "description": "Forbidden"}, status=403)
        if (request.content_length or 0) > WEBHOOK_MAX_BODY:
            return web.json_response({"ok": False}, status=413)
        try:
            data = json.loads(await request.read())
        except ValueError:
            return web.json_response({"ok": False, "description": "Bad JSON"}, status=400)
        update = data.get("result", data) if isinstance(data, dict) else None
        if isinstance(update, dict):
            event = await intake.accept(update)
            if event is not None:
                task = asyncio.create_task(intake.handle(event))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        return web.json_response({"ok": True})

    return handle


async def start_webhook_server(
    listen: str, routes: dict[str, Callable[[web.Request], Awaitable[web.Response]]]
) -> web.AppRunner:
    """Serve the webhook handlers (POST only) on `host:port`; returns the runner to clean up."""
    from bot.ops_http import mount_routes, start_ops_server

    app = web.Application(client_max_size=WEBHOOK_MAX_BODY)
    mount_routes(app, routes)  # type: ignore[arg-type]
    return await start_ops_server(listen, app)


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
