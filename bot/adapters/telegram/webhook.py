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
  gives the same at-least-once promise as long polling (handlers are idempotent). The checks
  and the records of a burst are batched (bot/adapters/intake.py SeenMarks): the requests in
  flight share one query each way instead of a transaction per update.
- At most `parallel` updates are handled at once (the rest wait for a turn, their
  connections open), so a burst of Telegram's 100 connections does not take every database
  connection; replies wait in bounded per-chat lanes (ChatQueues), never holding the answer.
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
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from telegram import Bot, Update

from bot.adapters.intake import ChatLanes, DeadLetters, SeenLog, SeenMarks, UpdateGuard
from bot.adapters.telegram.adapter import (
    PARALLEL,
    PLATFORM,
    REPLIES_LOOP,
    REPLY_PARALLEL,
    SEEN_KIND,
    to_event,
)
from bot.dialog.events import Event
from jobs.ops.supervise import Loops, guarded

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY = 1_000_000  # a Telegram update is a few KB; anything near this is not one
PATH = "/telegram"
RECENT = 10_000  # handled update ids this process remembers (see _remember_recent)

Handle = Callable[[Event], Awaitable[Callable[[], Awaitable[None]] | None]]
"""Does the dialog's work for one event; returns the reply step to run after the 200."""


class ChatQueues:
    """Run each chat's reply steps one after another, chats in parallel (at most `parallel`
    steps at once: the pacer sets the rate, this bounds the tasks and connections), none lost
    on stop.

    A step that fails is logged with its traceback and counted under `name` in `loops` (not
    retried: it may have said part of what it had to say)."""

    def __init__(
        self,
        *,
        loops: Loops | None = None,
        name: str = REPLIES_LOOP,
        parallel: int = REPLY_PARALLEL,
    ) -> None:
        self._lanes = ChatLanes(parallel, name=name)
        self._loops = loops
        self._name = name
        if loops is not None:
            loops.register(name)

    @property
    def lanes(self) -> ChatLanes:
        return self._lanes

    def add(self, chat: str, step: Callable[[], Awaitable[None]]) -> None:
        async def run() -> None:
            await guarded(self._name, step, self._loops, extra={"chat": chat})

        self._lanes.add(chat, run)

    async def drain(self, timeout: float) -> None:
        await self._lanes.drain(timeout)


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
        seen_log: SeenLog | None = None,
        parallel: int | None = PARALLEL,
    ) -> None:
        """`seen_log`, when given, records handled ids in batches (intake.SeenMarks) instead of
        one `remember` per update; `parallel` bounds the updates handled at once (requests
        beyond it wait their turn; None: as many as Telegram sends)."""
        self._bot = bot
        self._secret = secret.encode()
        self._handle = handle
        self._seen = seen
        self._remember = remember
        self._marks = SeenMarks(seen_log, SEEN_KIND, clock=clock) if seen_log is not None else None
        self.replies = replies or ChatQueues()
        self._locks: dict[str, asyncio.Lock] = {}
        self._recent: set[str] = set()
        self._recent_order: deque[str] = deque()
        self._gate = asyncio.Semaphore(parallel) if parallel else None
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
        if self._gate is None:
            return await self._take(update, data)
        async with self._gate:
            return await self._take(update, data)

    async def _was_seen(self, key: str) -> bool:
        if self._marks is not None:
            return await self._marks.seen(key)
        return await self._seen(key)

    async def _take(self, update: Update, data: dict[str, Any]) -> web.Response:
        key = str(update.update_id)
        if await self._was_seen(key):
            log.info("duplicate update ignored", extra={"update": update.update_id})
            return web.Response(text="ok")
        event = to_event(update)
        if event is None:
            await self._mark(key)
            return web.Response(text="ok")
        chat = event.who.chat_id
        lock = self._locks.setdefault(chat, asyncio.Lock())
        waited = lock.locked()
        try:
            async with lock:  # one chat's updates in the order they arrive
                if key in self._recent or (waited and await self._was_seen(key)):
                    return web.Response(text="ok")  # a retry that came while this one ran
                reply = await self._guard.run(
                    lambda: self._handle(event), chat_id=chat, update_id=key, content=lambda: data
                )
                await self._mark(key)  # handled, or kept as a dead update
                self._remember_recent(key)
        except Exception:
            log.exception("update not handled nor kept", extra={"update": update.update_id})
            return web.Response(status=500, text="failed")
        finally:
            if not lock.locked() and self._locks.get(chat) is lock:
                self._locks.pop(chat, None)
        if reply is not None:
            self.replies.add(chat, reply)
        return web.Response(text="ok")

    def _remember_recent(self, key: str) -> None:
        """This process's recently handled ids: a retry that read "not seen" before the first
        delivery was recorded, and reaches the chat's lock after it, is still recognised."""
        self._recent.add(key)
        self._recent_order.append(key)
        if len(self._recent_order) > RECENT:
            self._recent.discard(self._recent_order.popleft())

    async def _mark(self, key: str) -> None:
        if self._marks is not None:
            await self._marks.mark(key)
        else:
            await self._remember(key)


def _dict(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError("update must be a JSON object")
    return value
