"""Forward citizens' feedback to the staff chat.

Feedback is stored first and forwarded after, by this job, until the staff chat has it:
a restart or a Telegram outage between the two loses nothing. Each card carries the ticket's
buttons (Trả lời, Đã xử lý, Chặn) and any photo, and remembers which message of which chat it
became, so a staff reply to it is an answer to that ticket. A citizen's reply to an answer is
forwarded the same way, as a card of the same ticket.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from bot.channel import Channel, ChannelError, OutMessage, RateLimited
from bot.i18n import DEFAULT_LANGUAGE
from bot.render import render_ticket_card
from storage.store import Store

log = logging.getLogger(__name__)


async def forward_feedback(
    store: Store, channel: Channel, staff_chat_id: str, *, clock: Callable[[], datetime]
) -> int:
    """Send every not-yet-forwarded feedback card and reply card; returns how many."""
    forwarded = 0
    for item in await store.feedback.unforwarded():
        subscriber = await store.subscribers.get_by_id(item.subscriber_id)
        article = await store.articles.get(item.article_id) if item.article_id else None
        banned = await store.feedback.is_banned(item.subscriber_id)
        card = render_ticket_card(
            item, subscriber, article, DEFAULT_LANGUAGE, channel.capabilities, banned=banned
        )
        message_id = await _send(channel, staff_chat_id, card, item.id)
        if message_id is None:
            return forwarded
        await store.feedback.mark_forwarded(
            item.id, message_id=message_id, now=clock(), chat_id=staff_chat_id
        )
        forwarded += 1
    for reply in await store.feedback.unforwarded_replies():
        ticket = await store.feedback.get(reply.feedback_id)
        if ticket is None:
            continue
        subscriber = await store.subscribers.get_by_id(ticket.subscriber_id)
        banned = await store.feedback.is_banned(ticket.subscriber_id)
        card = render_ticket_card(
            ticket,
            subscriber,
            None,
            DEFAULT_LANGUAGE,
            channel.capabilities,
            banned=banned,
            reply=reply,
        )
        message_id = await _send(channel, staff_chat_id, card, ticket.id)
        if message_id is None:
            return forwarded
        await store.feedback.mark_reply_forwarded(
            reply.id, chat_id=staff_chat_id, card_message_id=message_id, now=clock()
        )
        forwarded += 1
    return forwarded


async def _send(channel: Channel, chat_id: str, card: OutMessage, ticket: int) -> str | None:
    """Send one card; None means stop this round (tried again on the next run)."""
    try:
        return await channel.send(chat_id, card)
    except RateLimited as err:
        log.warning("staff chat rate limited", extra={"retry_after": err.retry_after})
    except ChannelError as err:
        log.error("feedback forward failed", extra={"ticket": ticket, "error": err.description})
    return None
