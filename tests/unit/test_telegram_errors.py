"""`AiohttpRequest.call` raises what python-telegram-bot's own `BaseRequest.post` raises.

The outbox's sendMessage skips `Bot.do_api_request` (bot/adapters/telegram/http.py `call`), so its
reading of error answers is ours: each answer below goes through PTB's public `post` (on a
request whose transport returns that answer) and through `raise_for`, and both must give the
same exception class, message and parameters, so `bot.adapters.telegram.adapter.translate` types
them alike.
"""

from __future__ import annotations

import asyncio
import json
import warnings
from typing import Any

import pytest
from telegram.error import ChatMigrated, RetryAfter, TelegramError
from telegram.request import BaseRequest, RequestData

from bot.adapters.telegram.adapter import translate
from bot.adapters.telegram.http import raise_for


class Canned(BaseRequest):
    """A transport that answers every request with one fixed (status, body)."""

    def __init__(self, code: int, payload: bytes) -> None:
        self.answer = (code, payload)

    @property
    def read_timeout(self) -> float | None:
        return 1.0

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def do_request(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        return self.answer


def body(description: str | None = None, **parameters: Any) -> bytes:
    data: dict[str, Any] = {"ok": False, "error_code": 0}
    if description is not None:
        data["description"] = description
    if parameters:
        data["parameters"] = parameters
    return json.dumps(data).encode()


ANSWERS = [
    (429, body("Too Many Requests: retry after 7", retry_after=7)),
    (400, body("Bad Request: group chat was upgraded", migrate_to_chat_id=-1001234)),
    (403, body("Forbidden: bot was blocked by the user")),
    (400, body("Bad Request: chat not found")),
    (400, body("Bad Request: can't parse entities: unsupported start tag")),
    (400, body("Bad Request: message is too long")),
    (401, body("Unauthorized")),
    (404, body("Not Found")),
    (409, body("Conflict: terminated by other getUpdates request")),
    (502, b"<html>Bad Gateway</html>"),
    (500, body()),
    (503, b""),
    (599, b"not json"),
    (400, body("Bad Request: odd", something=1)),
]


def ptb_error(code: int, payload: bytes) -> TelegramError:
    async def go() -> TelegramError:
        with pytest.raises(TelegramError) as caught:
            await Canned(code, payload).post("http://127.0.0.1:9/bot1:x/sendMessage", RequestData())
        return caught.value

    return asyncio.run(go())


def shape(err: TelegramError) -> tuple[object, ...]:
    extra: object = None
    if isinstance(err, RetryAfter):
        with warnings.catch_warnings():  # PTB 22 warns the type will become timedelta
            warnings.simplefilter("ignore")
            extra = err.retry_after
    if isinstance(err, ChatMigrated):
        extra = err.new_chat_id
    return type(err), err.message, extra


@pytest.mark.parametrize(("code", "payload"), ANSWERS)
def test_same_error_as_python_telegram_bot(code: int, payload: bytes) -> None:
    ours, theirs = raise_for(code, payload), ptb_error(code, payload)
    assert shape(ours) == shape(theirs)
    assert type(translate(ours)) is type(translate(theirs))
