"""Forward citizens' feedback to the staff chat.

Feedback is stored first and forwarded after, by this job, until the staff chat has it:
a restart or a Telegram outage between the two loses nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from bot.channel import Channel, ChannelError, RateLimited
from bot.i18n import DEFAULT_LANGUAGE
from bot.render import render_feedback_card
from storage.store import Store

log = logging.getLogger(__name__)


async def forward_feedback(
    store: Store, channel: Channel, staff_chat_id: str, *, clock: Callable[[], datetime]
) -> int:
    """Send every not-yet-forwarded feedback card; returns how many were forwarded."""
    forwarded = 0
    for item in await store.feedback.unforwarded():
        subscriber = await store.subscribers.get_by_id(item.subscriber_id)
        article = await store.articles.get(item.article_id) if item.article_id else None
        card = render_feedback_card(
            item, subscriber, article, DEFAULT_LANGUAGE, channel.capabilities
        )
        try:
            message_id = await channel.send(staff_chat_id, card)
        except RateLimited as err:
            log.warning("staff chat rate limited", extra={"retry_after": err.retry_after})
            break
        except ChannelError as err:
            log.error(
                "feedback forward failed", extra={"ticket": item.id, "error": err.description}
            )
            break
        await store.feedback.mark_forwarded(item.id, message_id=message_id, now=clock())
        forwarded += 1
    return forwarded
