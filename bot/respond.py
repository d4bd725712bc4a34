"""Carry out a dialog Outcome on a channel: replies, the edit of a pressed message, the toast.

Interactive replies go straight to the platform (a person is waiting for them); what must
never be lost (pushes, announcements, answers) goes through the outbox instead.
"""

from __future__ import annotations

import logging

from bot.channel import Channel, ChannelError
from bot.dialog import Outcome
from bot.events import Event, Press

log = logging.getLogger(__name__)


async def carry_out(channel: Channel, event: Event, outcome: Outcome) -> None:
    chat_id = event.who.chat_id
    try:
        if isinstance(event, Press) and event.press_id is not None:
            await channel.answer_press(event.press_id, outcome.toast)
        if outcome.edit is not None and isinstance(event, Press) and event.message_id:
            await channel.edit(chat_id, event.message_id, outcome.edit)
        for reply in outcome.replies:
            await channel.send(chat_id, reply)
    except ChannelError as err:
        log.warning("reply failed", extra={"chat": chat_id, "error": err.description})
