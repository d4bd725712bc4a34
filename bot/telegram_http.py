"""python-telegram-bot's HTTP layer on aiohttp.

Measured on this kind of machine (DESIGN.md): PTB on its default httpx transport tops out near
280 sendMessage/s at concurrency 100, while the same bot on an aiohttp-based BaseRequest
reaches about 3,700/s. The outbox and large broadcasts need the latter; the wire format stays
python-telegram-bot's own (form fields, JSON-encoded complex values, multipart for uploads).
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

from jobs.pacing import on_wire


def _wire_trace() -> aiohttp.TraceConfig:
    """Tell the pacer when a request's body is written to the socket (jobs.pacing.on_wire):
    its one-second window then counts what actually left, not what was handed to the client
    tens of milliseconds earlier on a busy CPU (measured: 87 % → 92 % of 1000/s, never above).
    The body chunk, not the headers: aiohttp buffers the headers and writes them with it."""

    async def on_chunk(_session: object, _ctx: object, _params: object) -> None:
        on_wire(time.monotonic())

    trace = aiohttp.TraceConfig()
    trace.on_request_chunk_sent.append(on_chunk)  # type: ignore[arg-type]
    trace.freeze()
    return trace


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

    @property
    def read_timeout(self) -> float | None:
        return self._read

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self._pool_size, limit_per_host=self._pool_size, ttl_dns_cache=300
            )
            self._session = aiohttp.ClientSession(
                connector=connector, trace_configs=[_wire_trace()]
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
        if self._session is None or self._session.closed:
            raise RuntimeError("AiohttpRequest is not initialized")
        read = self._read if isinstance(read_timeout, DefaultValue) else read_timeout
        connect = self._connect if isinstance(connect_timeout, DefaultValue) else connect_timeout
        pool = self._pool if isinstance(pool_timeout, DefaultValue) else pool_timeout
        write = self._write if isinstance(write_timeout, DefaultValue) else write_timeout
        # aiohttp has no separate write timeout: the whole request gets read + write + pool,
        # which stays under the outbox lease (60 s) so a slow send never outlives its claim.
        total = None if read is None else read + (write or 0) + (pool or 0)
        timeout = aiohttp.ClientTimeout(
            total=total, connect=pool, sock_connect=connect, sock_read=read
        )
        body: Any = None
        headers = {"User-Agent": self.USER_AGENT}
        if request_data is not None:
            fields = request_data.json_parameters
            files = request_data.multipart_data
            if files:
                form = aiohttp.FormData()
                for key, value in fields.items():
                    form.add_field(key, value)
                for name, spec in files.items():
                    filename, content, mimetype = spec if len(spec) == 3 else (*spec, None)
                    form.add_field(name, content, filename=filename, content_type=mimetype)
                body = form
            else:
                # JSON is cheaper to build than a form and the Bot API takes either.
                body = json.dumps(request_data.parameters, ensure_ascii=False).encode()
                headers = {**headers, "Content-Type": "application/json"}
        try:
            async with self._session.request(
                method,
                url,
                data=body,
                timeout=timeout,
                headers=headers,
            ) as response:
                return response.status, await response.read()
        except TimeoutError as err:
            raise TimedOut from err
        except asyncio.CancelledError:
            raise
        except aiohttp.ClientError as err:
            raise NetworkError(f"aiohttp.{type(err).__name__}: {err}") from err
