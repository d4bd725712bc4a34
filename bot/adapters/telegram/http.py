"""python-telegram-bot's HTTP layer on aiohttp.

Why: PTB on its default httpx transport sends an order of magnitude fewer messages a second
than the same bot on an aiohttp-based BaseRequest (bench/README.md), and the outbox and large
broadcasts need the latter; the wire format stays
python-telegram-bot's own (form fields, JSON-encoded complex values, multipart for uploads).

The bot token sits in every request URL (`…/bot<token>/<method>`), and aiohttp's errors name
that URL (connection timeouts, invalid URLs, malformed answers), as may a proxy's error page
("Cannot POST /bot<token>/sendMessage"). No error text leaves this module with the token in
it: transport errors are rebuilt with a scrubbed message and no chained original, error
bodies are scrubbed before python-telegram-bot quotes them, and a body that is not JSON is
refused without being logged. bot/app/logs.py scrubs log lines as a second net.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Iterable
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote, urlsplit

import aiohttp
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.request import BaseRequest, RequestData

from bot.app.logs import REDACTED, redact
from jobs.send.pacing import on_wire


class WireRequest(aiohttp.ClientRequest):
    """Tell the pacer when a request's body has been written to the socket (pacing.on_wire):
    its one-second window then counts what actually left, not what was handed to the client
    earlier on a busy CPU, so the achieved rate comes closer to the limit, never above it
    (bench/README.md).

    aiohttp buffers the headers and writes them with the body, in `write_bytes` (a task that
    inherits the sender's context, so the pacer's slot). The moment is taken once the write
    has returned: taken before it, another thread holding the GIL (the SQLite driver's) could
    hold the write back by a few ms after the stamp, and the window would count the send as
    earlier than it reached the platform (bench/broadcast.py saw one more than the rate in one
    second at the server). Late is safe: until started, a slot counts as sending at every moment.
    An aiohttp trace could report a chunk too, but any trace makes aiohttp build and await
    eight signal objects per request, CPU on every send (bench/README.md)."""

    async def write_bytes(self, *args: Any, **kwargs: Any) -> None:
        try:
            await super().write_bytes(*args, **kwargs)
        finally:
            on_wire(time.monotonic())


_HEADERS_JSON = {"Content-Type": "application/json"}
_TOKEN_BYTES = re.compile(rb"(?<![A-Za-z0-9])(bot)?\d{5,}:[A-Za-z0-9_-]{20,}")
INVALID_RESPONSE = "Invalid server response"


def url_secrets(url: str) -> tuple[str, ...]:
    """What in a Bot API URL is secret: the token (the path segment after `bot`, as in
    `…/bot<token>/getMe` and `…/file/bot<token>/<path>`) and any user:password. Only computed
    when an error is being described, never per send."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ()
    found = [seg[3:] for seg in parts.path.split("/") if seg.startswith("bot") and len(seg) > 3]
    found = [s for s in found if ":" in s] or found  # a token is `<bot id>:<secret>`
    found += [unquote(s) for s in found if "%" in s]
    found += [v for v in (parts.username, parts.password) if v]
    return tuple(found)


def scrub(text: str, secrets: Iterable[str]) -> str:
    """`text` without the given secrets or anything shaped like a bot token."""
    return redact(text, secrets)


def scrub_bytes(payload: bytes, secrets: Iterable[str]) -> bytes:
    """An answer's body without the given secrets or anything shaped like a bot token."""
    for secret in secrets:
        if secret:
            payload = payload.replace(secret.encode(), REDACTED.encode())
    return _TOKEN_BYTES.sub(REDACTED.encode(), payload)


def parse_json(payload: bytes) -> Any:
    """The JSON of an answer, or TelegramError("Invalid server response").

    Unlike python-telegram-bot's `BaseRequest.parse_json_payload` the body is not logged and
    the decoder's error (which holds the whole body) is not chained: a proxy's page may quote
    the request URL, token included."""
    try:
        return json.loads(payload.decode("utf-8", "replace"))
    except ValueError:
        pass
    raise TelegramError(INVALID_RESPONSE)


def raise_for(code: int, payload: bytes) -> TelegramError:
    """The error python-telegram-bot's `BaseRequest.post` raises for a non-2xx answer (same
    classes, same choice: a migration or retry_after first, then by status), for `call`.
    tests/unit/test_telegram_errors.py holds both paths to the same results."""
    try:
        message = f"{HTTPStatus(code).phrase} ({code})"
    except ValueError:
        message = f"Unknown HTTPError ({code})"
    try:
        data = parse_json(payload)
    except TelegramError:
        message += f". Parsing the server response {payload!r} failed"
        data = {}
    if isinstance(data, dict) and data:
        message = data.get("description") or message
        parameters = data.get("parameters")
        if parameters:
            if parameters.get("migrate_to_chat_id"):
                return ChatMigrated(parameters["migrate_to_chat_id"])
            if parameters.get("retry_after"):
                return RetryAfter(parameters["retry_after"])
            message += f". The server response contained unknown parameters: {parameters}"
    if code == HTTPStatus.FORBIDDEN:
        return Forbidden(message)
    if code in (HTTPStatus.NOT_FOUND, HTTPStatus.UNAUTHORIZED):
        return InvalidToken(message)
    if code == HTTPStatus.BAD_REQUEST:
        return BadRequest(message)
    if code == HTTPStatus.CONFLICT:
        return Conflict(message)
    return NetworkError(message)


class AiohttpRequest(BaseRequest):
    def __init__(
        self,
        *,
        pool_size: int = 100,
        connect_timeout: float = 10.0,
        read_timeout: float = 20.0,
        write_timeout: float = 20.0,
        pool_timeout: float = 5.0,
    ) -> None:
        self._pool_size = pool_size
        self._connect = connect_timeout
        self._read = read_timeout
        self._write = write_timeout
        self._pool = pool_timeout
        self._session: aiohttp.ClientSession | None = None
        self._timeouts: dict[tuple[float | None, ...], aiohttp.ClientTimeout] = {}

    @property
    def read_timeout(self) -> float | None:
        return self._read

    @staticmethod
    def parse_json_payload(payload: bytes) -> Any:
        """python-telegram-bot's hook for reading a 2xx answer: see `parse_json`."""
        return parse_json(payload)

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self._pool_size, limit_per_host=self._pool_size, ttl_dns_cache=300
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                request_class=WireRequest,
                headers={"User-Agent": self.USER_AGENT},
            )

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        read = self._read if isinstance(read_timeout, DefaultValue) else read_timeout
        connect = self._connect if isinstance(connect_timeout, DefaultValue) else connect_timeout
        pool = self._pool if isinstance(pool_timeout, DefaultValue) else pool_timeout
        write = self._write if isinstance(write_timeout, DefaultValue) else write_timeout
        # aiohttp has no separate write timeout: the whole request gets read + write + pool,
        # which stays under the outbox lease (60 s) so a slow send never outlives its claim.
        timeout = self._timeout(read, write, connect, pool)
        body: Any = None
        headers = None
        if request_data is not None:
            files = request_data.multipart_data
            if files:
                form = aiohttp.FormData()
                for key, value in request_data.json_parameters.items():
                    form.add_field(key, value)
                for name, spec in files.items():
                    filename, content, mimetype = spec if len(spec) == 3 else (*spec, None)
                    form.add_field(name, content, filename=filename, content_type=mimetype)
                body = form
            else:
                # JSON is cheaper to build than a form and the Bot API takes either.
                body = json.dumps(request_data.parameters, ensure_ascii=False).encode()
                headers = _HEADERS_JSON
        return await self._exchange(method, url, body, headers, timeout)

    async def call(
        self, url: str, params: dict[str, Any], *, read_timeout: float | None = None
    ) -> Any:
        """POST one Bot API method with `params` as a JSON body; its `result`, or the same
        TelegramError python-telegram-bot raises for that answer (`raise_for`).

        The outbox's path: `Bot.do_api_request` wraps every parameter in a RequestParameter
        and checks it for files, dates and Telegram objects first, CPU on every send that plain
        dicts of str, int and bool do not need (bench/README.md). `read_timeout` (default the
        request's own) lets a long poll wait longer than a send."""
        body = json.dumps(params, ensure_ascii=False).encode()
        read = self._read if read_timeout is None else read_timeout
        timeout = self._timeout(read, self._write, self._connect, self._pool)
        code, payload = await self._exchange("POST", url, body, _HEADERS_JSON, timeout)
        if 200 <= code <= 299:
            data = parse_json(payload)
            if not isinstance(data, dict) or "result" not in data:
                raise NetworkError(INVALID_RESPONSE)
            return data["result"]
        raise raise_for(code, payload)

    async def _exchange(
        self,
        method: str,
        url: str,
        body: Any,
        headers: dict[str, str] | None,
        timeout: aiohttp.ClientTimeout,
    ) -> tuple[int, bytes]:
        """(status, body); a non-2xx body comes back scrubbed of the URL's secrets, since
        python-telegram-bot quotes it in its error. A transport failure becomes TimedOut or
        NetworkError with a scrubbed message, raised outside the handler so that neither
        __cause__ nor __context__ holds aiohttp's error (whose text and request_info name the
        URL)."""
        if self._session is None or self._session.closed:
            raise RuntimeError("AiohttpRequest is not initialized")
        failure: TelegramError
        try:
            async with self._session.request(
                method, url, data=body, timeout=timeout, headers=headers
            ) as response:
                status, payload = response.status, await response.read()
            if not 200 <= status <= 299:
                payload = scrub_bytes(payload, url_secrets(url))
            return status, payload
        except asyncio.CancelledError:
            raise
        except TimeoutError:  # aiohttp's connection timeout names the URL: never chained
            failure = TimedOut()
        except Exception as err:  # any failure: described, scrubbed, never chained
            text = f"aiohttp.{type(err).__name__}: {err}"
            failure = NetworkError(scrub(text, url_secrets(url)))
        raise failure

    def _timeout(
        self, read: float | None, write: float | None, connect: float | None, pool: float | None
    ) -> aiohttp.ClientTimeout:
        """One ClientTimeout per combination (a frozen object, built once, not per send)."""
        key = (read, write, connect, pool)
        timeout = self._timeouts.get(key)
        if timeout is None:
            total = None if read is None else read + (write or 0) + (pool or 0)
            timeout = aiohttp.ClientTimeout(
                total=total, connect=pool, sock_connect=connect, sock_read=read
            )
            if len(self._timeouts) < 64:
                self._timeouts[key] = timeout
        return timeout
