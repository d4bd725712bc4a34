"""Telegram webhook: updates pushed to `bantin serve` instead of fetched with getUpdates.

Why this shape:
- The secret header (`X-Telegram-Bot-Api-Secret-Token`, set with setWebhook) is compared in
  constant time before the body is even read: a request without it changes nothing.
- The dialog's work (everything it stores) is done before Telegram gets its 200, so a crash
  before the answer means Telegram sends the update again; replies to the user are sent after
  the answer, in order per chat, so Telegram is answered fast.
- Each update id is recorded once handled (storage's seen-ids table, shared by every serve
  process): Telegram's retry of an update that was in fact handled, perhaps by another replica
  behind the load balancer, is acknowledged and ignored. Recording after handling, not before,
  gives the same at-least-once promise as long polling (handlers are idempotent).
- An update whose handling fails is retried a few times, then kept as a dead update with its
  content (bot/adapters/intake.py) and acknowledged; only when even that cannot be stored does
  Telegram get a 500 and send it again.
- Reply steps run under jobs/ops/supervise.py's guard: a failure is logged with its traceback and
  counted, so /healthz shows replies that keep failing.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from contextlib import suppress
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from telegram import Bot, Update

from bot.adapters.intake import DeadLetters, UpdateGuard
from bot.adapters.telegram.adapter import PLATFORM, REPLIES_LOOP, to_event
from bot.dialog.events import Event
from jobs.ops.supervise import Loops, guarded

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY = 1_000_000  # a Telegram update is a few KB; anything near this is not one
PATH = "/telegram"

Handle = Callable[[Event], Awaitable[Callable[[], Awaitable[None]] | None]]
"""Does the dialog's work for one event; returns the reply step to run after the 200."""


class ChatQueues:
    """Run each chat's reply steps one after another, chats in parallel, none lost on stop.

    A step that fails is logged with its traceback and counted under `name` in `loops` (not
    retried: it may have said part of what it had to say)."""

    def __init__(self, *, loops: Loops | None = None, name: str = REPLIES_LOOP) -> None:
        self._tails: dict[str, asyncio.Task[None]] = {}
        self._loops = loops
        self._name = name
        if loops is not None:
            loops.register(name)

    def add(self, chat: str, step: Callable[[], Awaitable[None]]) -> None:
        previous = self._tails.get(chat)

        async def run() -> None:
            if previous is not None:
                with suppress(Exception, asyncio.CancelledError):
                    await previous
            try:
                await guarded(self._name, step, self._loops, extra={"chat": chat})
            finally:
                if self._tails.get(chat) is task:
                    del self._tails[chat]

        task = asyncio.create_task(run(), name=f"reply-{chat}")
        self._tails[chat] = task

    async def drain(self, timeout: float) -> None:
        tasks = list(self._tails.values())
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)


class TelegramWebhook:
    """The aiohttp handler for POST /telegram."""

    def __init__(
        self,
        bot: Bot,
        secret: str,
        handle: Handle,
        *,
        seen: Callable[[str], Awaitable[bool]],
        remember: Callable[[str], Awaitable[object]],
        replies: ChatQueues | None = None,
        dead: DeadLetters | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._bot = bot
        self._secret = secret.encode()
        self._handle = handle
        self._seen = seen
        self._remember = remember
        self.replies = replies or ChatQueues()
        self._locks: dict[str, asyncio.Lock] = {}
        self._guard = UpdateGuard(dead, platform=PLATFORM, clock=clock)

    async def __call__(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, self._secret):
            log.warning(
                "webhook rejected",
                extra={"platform": "telegram", "reason": "secret", "peer": request.remote},
            )
            return web.Response(status=401, text="unauthorized")
        if request.content_length is not None and request.content_length > MAX_BODY:
            return web.Response(status=413, text="too large")
        try:
            data = json.loads(await request.read())
            update = Update.de_json(_dict(data), self._bot)
        except Exception:
            log.warning("webhook rejected", extra={"platform": "telegram", "reason": "body"})
            return web.Response(status=400, text="not an update")
        if update is None or not isinstance(data, dict) or "update_id" not in data:
            return web.Response(status=400, text="not an update")
        key = str(update.update_id)
        if await self._seen(key):
            log.info("duplicate update ignored", extra={"update": update.update_id})
            return web.Response(text="ok")
        event = to_event(update)
        if event is None:
            await self._remember(key)
            return web.Response(text="ok")
        chat = event.who.chat_id
        lock = self._locks.setdefault(chat, asyncio.Lock())
        async with lock:  # one chat's updates in the order they arrive
            try:
                if await self._seen(key):  # a retry that waited for this chat's lock
                    return web.Response(text="ok")
                reply = await self._guard.run(
                    lambda: self._handle(event), chat_id=chat, update_id=key, content=lambda: data
                )
                await self._remember(key)  # handled, or kept as a dead update
            except Exception:
                log.exception("update not handled nor kept", extra={"update": update.update_id})
                return web.Response(status=500, text="failed")
        if not lock.locked():
            self._locks.pop(chat, None)
        if reply is not None:
            self.replies.add(chat, reply)
        return web.Response(text="ok")


def _dict(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError("update must be a JSON object")
    return value
