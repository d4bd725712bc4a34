"""Zalo Bot Platform adapter: a thin httpx client, our neutral types on top.

The platform is Telegram-like (`{url}/bot{token}/{method}`, `{"ok": ..., "result": ...}` or
`{"ok": false, "error_code": ..., "description": ...}`) but smaller: no inline buttons, no
editing, plain text of at most 2,000 characters, and getUpdates returns one update with no
offset (HTTP 408 when none came within the timeout). Without an offset nothing confirms an
update, so the same message can come again: every message id is recorded in storage and a
repeat is dropped, across restarts and processes.

Platform answers become jobs.channel errors in one place (`translate`). The token sits in every
URL, so no URL and no httpx error text is ever logged or put into an error: only the method.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hmac
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

import httpx
from aiohttp import web

from bot.adapters.intake import DeadLetters, UpdateGuard
from bot.adapters.zalo.files import ZaloPhotos
from bot.app.logs import redact
from bot.dialog.events import Command, Event, Place, Text, Who, parse_command
from jobs.channel import (
    PLAIN,
    Capabilities,
    ChannelError,
    Fatal,
    OutMessage,
    RateLimited,
    RecipientGone,
    Rejected,
    Transient,
    usable_photo,
    without_foreign_photo,
)
from jobs.render.markup import split_message
from jobs.sleep import sleep_or_stop
from storage.kinds import RejectReason
from storage.zalo import ZaloRepo

if TYPE_CHECKING:
    from bot.adapters.telegram.webhook import ChatQueues
    from jobs.ops.supervise import Loops

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
    """Map a Bot API refusal to our typed errors (docs/ARCHITECTURE.md)."""
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
        return Rejected(text, reason=RejectReason.TOO_LONG)
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
        failure: Transient | None = None
        try:
            if timeout is None:
                response = await self._http.post(url, json=params)
            else:
                response = await self._http.post(url, json=params, timeout=timeout)
        except httpx.TimeoutException:
            failure = Transient(f"Zalo {method}: timed out")
        except httpx.HTTPError as err:
            failure = Transient(f"Zalo {method}: {type(err).__name__}")
        if failure is not None:  # raised here, not in the handler: httpx's error (its request
            raise failure  # holds the URL, token included) stays out of __context__ too
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
            redact(str(body.get("description") or response.reason_phrase or ""), [self._token]),
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
        """Send (in parts when longer than 2,000 characters); the first part's message id.

        Only a photo Zalo can fetch is sent (a public URL); another platform's file id becomes
        a note in the text (jobs.channel.without_foreign_photo)."""
        message = without_foreign_photo(message, self.platform)
        photo = usable_photo(message, self.platform)
        parts = split_message(replace(message, buttons=(), markup=PLAIN), MAX_TEXT)
        first: str | None = None
        for i, part in enumerate(parts):
            if i == 0 and photo:
                params: dict[str, Any] = {"chat_id": chat_id, "photo": photo}
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

    photos = ZaloPhotos()  # where photo URLs may be fetched from (BANTIN_ZALO_PHOTO_HOSTS)

    async def download(self, file_ref: str, *, max_bytes: int, timeout: float = 30.0) -> bytes:
        """A photo a user sent, by the URL its event carried (bot/adapters/zalo/files.py)."""
        return await self.photos.download(file_ref, max_bytes=max_bytes, timeout=timeout)

    async def edit(self, chat_id: str, message_id: str, message: OutMessage) -> None:
        raise Rejected("Zalo Bot Platform cannot edit a sent message")

    async def answer_press(self, press_id: str, text: str | None = None) -> None:
        return None  # no buttons, so no presses to answer (bot/adapters/zalo/menus.py sends toasts)

    async def aclose(self) -> None:
        await self.client.aclose()


def to_event(update: dict[str, Any]) -> Event | None:
    """A Zalo update (getUpdates result or webhook body) as a neutral event; None otherwise."""
    message = update.get("message")
    if not isinstance(message, dict):
        return None
    event_name = str(update.get("event_name") or "message.text.received")
    text = message.get("text")
    photo, place = media_of(event_name, message)  # a photo or a place: text is the caption
    if photo or place:
        text = str(message.get("caption") or "")
    elif event_name != "message.text.received" or not isinstance(text, str) or not text:
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
    if photo or place:
        return Text(who=who, text=text, message_id=message_id, photo=photo, place=place)
    parsed = parse_command(text.strip())
    if parsed is not None:
        return Command(who=who, name=parsed[0], args=parsed[1], message_id=message_id)
    return Text(who=who, text=text, message_id=message_id)


def media_of(event_name: str, message: dict[str, Any]) -> tuple[str | None, Place | None]:
    """The photo URL of an image event, the place of a location event (issue #15)."""
    if event_name == "message.image.received":
        photo = message.get("photo") or message.get("photo_url")
        return (photo if isinstance(photo, str) and photo else None), None
    if event_name == "message.location.received":
        return None, place_of(message.get("location"))
    return None, None


def place_of(value: object) -> Place | None:
    """{"latitude": …, "longitude": …} (Zalo's coordinates) as a Place; None if malformed."""
    data = _dict(value)
    try:
        lat, lon = float(data["latitude"]), float(data["longitude"])
    except (KeyError, TypeError, ValueError):
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    label = data.get("address") or data.get("name")
    return Place(lat, lon, str(label)[:300] if label else None)


class UpdateIntake:
    """Dedupe then handle, one chat's messages in order (polling and webhook share it).

    A message whose handling fails is retried a few times, then kept with its content as a
    dead update (bot/adapters/intake.py): its id is already recorded as seen, so nothing would bring
    it back, and a log line alone would lose a citizen's words."""

    def __init__(
        self,
        repo: ZaloRepo,
        handle: Callable[[Event], Awaitable[None]],
        *,
        clock: Callable[[], datetime],
        platform: str = PLATFORM,
        dead: DeadLetters | None = None,
        attempts: int | None = None,
        first_pause: float | None = None,
    ) -> None:
        self._repo = repo
        self._handle = handle
        self._clock = clock
        self._platform = platform
        self._locks: dict[str, asyncio.Lock] = {}
        self._guard = UpdateGuard(
            dead, platform=platform, clock=clock, attempts=attempts, first_pause=first_pause
        )

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
            log.info("repeated Zalo update dropped", extra={"message_id": message_id})
            return None
        return event

    async def handle(self, event: Event, raw: dict[str, Any] | None = None) -> None:
        """Handle `event` (retried, then kept as dead: see the class docstring). Raises only
        when a failing message could not even be kept (the database is down)."""
        lock = self._locks.setdefault(event.who.chat_id, asyncio.Lock())
        async with lock:
            await self._guard.run(
                lambda: self._handle(event),
                chat_id=event.who.chat_id,
                update_id=getattr(event, "message_id", None),
                content=lambda: raw if raw is not None else _event_content(event),
            )
        if not lock.locked() and len(self._locks) > 1000:
            self._locks.pop(event.who.chat_id, None)

    async def take(self, update: dict[str, Any]) -> None:
        event = await self.accept(update)
        if event is not None:
            await self.handle(event, update)


def _event_content(event: Event) -> dict[str, Any]:
    """What a dead update keeps when the raw update is not at hand: the event's fields."""
    content = dataclasses.asdict(event)
    content["kind"] = type(event).__name__
    return content


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


Step = Callable[[], Awaitable[None]]
"""The replies of one handled event, run after the webhook's answer (App.take returns one)."""

Take = Callable[[Event], Awaitable[Step | None]]
"""Does the dialog's work for one event (all of it stored) and returns its reply step."""

REPLY_DRAIN_SECONDS = 15.0  # at stop: how long queued replies may take to go out


async def read_bounded(request: web.Request, limit: int) -> bytes | None:
    """The request body, or None when it is longer than `limit` bytes.

    Content-Length is checked first; a chunked body has none, so the body is read in chunks
    and reading stops at the limit: a huge or endless body never costs more than `limit`."""
    if request.content_length is not None and request.content_length > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_any():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def reply_queues(loops: Loops | None = None, name: str = "zalo-replies") -> ChatQueues:
    """Per-chat reply queues (the Telegram webhook's kind: in order per chat, drainable); a
    failing reply step is counted under `name` in `loops`, so /healthz sees it."""
    from bot.adapters.telegram.webhook import ChatQueues

    return ChatQueues(loops=loops, name=name)


def deferring(take: Take, replies: ChatQueues) -> Callable[[Event], Awaitable[None]]:
    """A handle for a webhook: the dialog's work is done when it returns, its replies are
    queued on `replies` to go out after the webhook has answered (and are drained at stop).

    Polling has no answer to hurry, so it keeps the plain handle (work and replies at once)."""

    async def handle(event: Event) -> None:
        step = await take(event)
        if step is not None:
            replies.add(event.who.chat_id, step)

    return handle


async def drain_webhooks(handlers: Iterable[object], timeout: float) -> None:
    """At stop, after the server took its last request: wait for the replies each webhook
    handler still has queued (handlers without a `drain` have none)."""
    drains = [getattr(h, "drain", None) for h in handlers]
    waits = [d(timeout) for d in drains if callable(d)]
    if waits:
        await asyncio.gather(*waits, return_exceptions=True)


class ZaloBotWebhook:
    """The aiohttp handler for Zalo's webhook calls (POST /zalo/bot).

    The secret header is compared in constant time before the body is read, and the body is
    read only up to WEBHOOK_MAX_BODY. A new message is handled before Zalo gets its 200: once
    Zalo has its answer, the message's work is stored, so a stop (or crash) after it loses
    nothing. With a `deferring` handle the replies go out after the answer, from `replies`,
    which the server's shutdown drains (`drain`)."""

    def __init__(
        self, secret: str, intake: UpdateIntake, *, replies: ChatQueues | None = None
    ) -> None:
        self._expected = secret.encode()
        self._intake = intake
        self.replies = replies if replies is not None else reply_queues()

    async def __call__(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, self._expected):
            log.warning("Zalo webhook refused: bad secret token")
            return web.json_response({"ok": False, "description": "Forbidden"}, status=403)
        body = await read_bounded(request, WEBHOOK_MAX_BODY)
        if body is None:
            log.warning("Zalo webhook refused: body too large")
            return web.json_response({"ok": False, "description": "Too large"}, status=413)
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
            log.warning("Zalo webhook refused: not JSON")
            return web.json_response({"ok": False, "description": "Bad JSON"}, status=400)
        update = data.get("result", data) if isinstance(data, dict) else None
        if isinstance(update, dict):
            await self._intake.take(update)  # deduplicated, then handled, before the 200
        return web.json_response({"ok": True})

    async def drain(self, timeout: float) -> None:
        """Wait (at most `timeout` seconds) for the replies still queued."""
        await self.replies.drain(timeout)


def webhook_handler(
    secret: str, intake: UpdateIntake, *, replies: ChatQueues | None = None
) -> ZaloBotWebhook:
    """The handler for POST /zalo/bot (see ZaloBotWebhook)."""
    return ZaloBotWebhook(secret, intake, replies=replies)


async def start_webhook_server(
    listen: str, routes: Mapping[str, Callable[[web.Request], Awaitable[web.Response]]]
) -> web.AppRunner:
    """Serve the webhook handlers (POST only) on `host:port`; returns the runner to clean up.

    The runner's cleanup stops listening, lets requests in flight finish (their work stored)
    and then drains the replies the handlers queued (`drain_webhooks`), before the caller
    closes the channels those replies go out on."""
    from bot.app.ops_http import mount_routes, start_ops_server

    app = web.Application(client_max_size=WEBHOOK_MAX_BODY)
    mount_routes(app, dict(routes))  # type: ignore[arg-type]
    handlers = list(routes.values())

    async def drain(_: web.Application) -> None:
        await drain_webhooks(handlers, REPLY_DRAIN_SECONDS)

    app.on_cleanup.append(drain)
    return await start_ops_server(listen, app)


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
