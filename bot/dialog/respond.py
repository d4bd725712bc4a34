"""Carry out a dialog Outcome on a channel: replies, the edit of a pressed message, the toast.

Interactive replies go straight to the platform (a person is waiting for them) but share the
outbox's pacer, so a burst of thousands of /start never floods Telegram; a 429 on a reply is
waited out and the reply sent again. What must never be lost (pushes, announcements, answers)
goes through the outbox instead.
"""

from __future__ import annotations

import asyncio
import logging
import time

from bot.dialog.context import Outcome
from bot.dialog.events import Event, Press
from jobs.channel import Channel, ChannelError, OutMessage, RateLimited
from jobs.send.pacing import Pacer

log = logging.getLogger(__name__)

REPLY_ATTEMPTS = 4


async def paced_send(
    channel: Channel,
    chat_id: str,
    message: OutMessage,
    pacer: Pacer | None,
    *,
    platform: str = "",
    chat_type: str = "private",
) -> str:
    """Send within the shared rate; wait out a 429 and try again a few times. The 429 pauses
    this chat or everyone by the deliverer's rule (Pacer.rate_limited)."""
    for attempt in range(REPLY_ATTEMPTS):
        if pacer is not None:
            delay = pacer.global_delay(time.monotonic())
            while delay > 0:
                await asyncio.sleep(delay)
                delay = pacer.global_delay(time.monotonic())
            pacer.take_global(time.monotonic())
        try:
            return await channel.send(chat_id, message)
        except RateLimited as err:
            if pacer is not None:
                pacer.rate_limited(
                    f"{platform}:{chat_id}",
                    chat_type,
                    err.retry_after,
                    time.monotonic(),
                    scope=err.scope,
                )
            if attempt == REPLY_ATTEMPTS - 1:
                raise
            await asyncio.sleep(err.retry_after)
    raise AssertionError("unreachable")


async def carry_out(
    channel: Channel, event: Event, outcome: Outcome, pacer: Pacer | None = None
) -> None:
    chat_id = event.who.chat_id
    try:
        if isinstance(event, Press) and event.press_id is not None:
            await channel.answer_press(event.press_id, outcome.toast)
        if outcome.edit is not None and isinstance(event, Press) and event.message_id:
            await channel.edit(chat_id, event.message_id, outcome.edit)
        for reply in outcome.replies:
            await paced_send(
                channel,
                chat_id,
                reply,
                pacer,
                platform=event.who.platform,
                chat_type=event.who.chat_type,
            )
    except ChannelError as err:
        log.warning("reply failed", extra={"chat": chat_id, "error": err.description})
