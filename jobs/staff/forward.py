"""Forward citizens' feedback to the staff chat.

Feedback is stored first and forwarded after, by this job, until the staff chat has it:
a restart or a Telegram outage between the two loses nothing. Each card carries the ticket's
buttons (Trả lời, Đã xử lý, Chặn) and any photo, and remembers which message of which chat it
became, so a staff reply to it is an answer to that ticket. A citizen's reply to an answer is
forwarded the same way, as a card of the same ticket.

No card can stop the others: a card the staff chat refuses for good (after a plain-text try)
becomes a dead letter, marked on its ticket with the error and announced to staff in a short
notice, and the next card goes on. A staff group that Telegram moved to a supergroup is
followed: the new id is stored (the setting is only the first value) and used from then on.
This job also tells staff about answers that could not reach their citizen.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from jobs.channel import (
    Channel,
    ChannelError,
    ChatMoved,
    OutMessage,
    RateLimited,
    Rejected,
)
from jobs.i18n import DEFAULT_LANGUAGE, t
from jobs.render.cards import render_ticket_card
from jobs.render.markup import plain
from jobs.send.deliverer import as_plain
from storage.records import Feedback
from storage.store import Store

log = logging.getLogger(__name__)

SETTING_OF = {"telegram": "BANTIN_STAFF_CHAT_ID", "zalo": "BANTIN_ZALO_STAFF_CHAT_ID"}


def _moved_key(platform: str, configured: str) -> str:
    # Keyed by the configured id: an operator who sets a new staff chat is not overridden.
    return f"staff_chat_moved:{platform}:{configured}"


async def current_staff_chat(store: Store, platform: str, configured: str) -> str:
    """The staff chat to post to: where the configured one moved (a group upgraded to a
    supergroup), else the configured one."""
    return await store.state.get(_moved_key(platform, configured)) or configured


@dataclass(frozen=True)
class Dead:
    """The staff chat refused this message for good; `error` says why."""

    error: str


class StaffChat:
    """Sends to the staff chat, following a move and falling back to plain text."""

    def __init__(self, store: Store, channel: Channel, configured: str, chat: str) -> None:
        self.store = store
        self.channel = channel
        self.configured = configured
        self.chat = chat

    async def send(self, message: OutMessage, ticket: int) -> str | Dead | None:
        """The message id; Dead when refused for good; None: stop this round (rate limit,
        outage, the bot removed from the chat), tried again on the next run."""
        fallback = False
        for _ in range(4):
            try:
                return await self.channel.send(self.chat, message)
            except ChatMoved as err:
                await self._moved(err.new_chat_id)
            except RateLimited as err:
                log.warning("staff chat rate limited", extra={"retry_after": err.retry_after})
                return None
            except Rejected as err:
                if fallback:
                    log.error(
                        "feedback card refused by the staff chat",
                        extra={"ticket": ticket, "error": err.description},
                    )
                    return Dead(err.description)
                # Markup, the photo or a reply target the chat cannot use: the words alone.
                log.warning(
                    "staff card rejected; trying plain text",
                    extra={"ticket": ticket, "error": err.description},
                )
                message = replace(
                    as_plain(message), photo_url=None, photo_platform=None, reply_to=None
                )
                fallback = True
            except ChannelError as err:
                log.error(
                    "feedback forward failed", extra={"ticket": ticket, "error": err.description}
                )
                return None
        return None

    async def _moved(self, new_chat: str) -> None:
        old, self.chat = self.chat, new_chat
        await self.store.state.set(_moved_key(self.channel.platform, self.configured), new_chat)
        log.warning(
            "staff chat moved; posting to the new chat from now on, update the setting",
            extra={
                "old_chat": old,
                "new_chat": new_chat,
                "setting": SETTING_OF.get(self.channel.platform, "staff chat id"),
            },
        )

    async def notice(self, text: str, ticket: int, reply_to: str | None = None) -> bool:
        """A short plain note to staff; False when it must be tried again later."""
        message = replace(plain(text, self.channel.capabilities), reply_to=reply_to)
        return await self.send(message, ticket) is not None


async def forward_feedback(
    store: Store, channel: Channel, staff_chat_id: str, *, clock: Callable[[], datetime]
) -> int:
    """Send every not-yet-forwarded feedback card and reply card, then tell staff about
    undelivered answers; returns how many cards were posted."""
    chat = await current_staff_chat(store, channel.platform, staff_chat_id)
    staff = StaffChat(store, channel, staff_chat_id, chat)
    forwarded = 0
    for item in await store.feedback.unforwarded():
        subscriber = await store.subscribers.get_by_id(item.subscriber_id)
        article = await store.articles.get(item.article_id) if item.article_id else None
        banned = await store.feedback.is_banned(item.subscriber_id)
        card = render_ticket_card(
            item, subscriber, article, DEFAULT_LANGUAGE, channel.capabilities, banned=banned
        )
        sent = await staff.send(card, item.id)
        if sent is None:
            return forwarded
        if isinstance(sent, Dead):
            await store.feedback.mark_forward_dead(item.id, error=sent.error, now=clock())
            await _dead_notice(staff, item.id, sent.error)
            continue
        await store.feedback.mark_forwarded(
            item.id, message_id=sent, now=clock(), chat_id=staff.chat
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
        sent = await staff.send(card, ticket.id)
        if sent is None:
            return forwarded
        if isinstance(sent, Dead):
            await store.feedback.mark_reply_forward_dead(reply.id, error=sent.error, now=clock())
            await _dead_notice(staff, ticket.id, sent.error)
            continue
        await store.feedback.mark_reply_forwarded(
            reply.id, chat_id=staff.chat, card_message_id=sent, now=clock()
        )
        forwarded += 1
    await tell_undelivered(store, staff, clock=clock)
    return forwarded


async def _dead_notice(staff: StaffChat, ticket: int, error: str) -> None:
    """Staff learn of a card they will never see; the ticket stays in /inbox."""
    text = t("owed_card_dead_notice", DEFAULT_LANGUAGE, ticket=ticket, error=error[:200])
    if not await staff.notice(text, ticket):
        log.error("dead card notice not sent", extra={"ticket": ticket})


async def tell_undelivered(
    store: Store, staff: StaffChat, *, clock: Callable[[], datetime]
) -> None:
    """For each answer that could not reach its citizen: a notice under the ticket's card and
    the card itself updated (status, the undelivered line) where the platform can edit."""
    for answer in await store.feedback.undelivered_unnoticed():
        ticket = await store.feedback.get(answer.feedback_id)
        if ticket is None:
            await store.feedback.mark_delivery_noticed(answer.id, now=clock())
            continue
        text = t(
            "owed_answer_undelivered_notice",
            DEFAULT_LANGUAGE,
            ticket=ticket.id,
            error=(answer.delivery_error or "")[:200],
        )
        here = ticket.forwarded_chat_id == staff.chat and ticket.forwarded_message_id
        reply_to = ticket.forwarded_message_id if here else None
        if not await staff.notice(text, ticket.id, reply_to):
            return  # the staff chat is unreachable now: told on the next run
        await store.feedback.mark_delivery_noticed(answer.id, now=clock())
        if here:
            await _refresh_card(store, staff, ticket)


async def _refresh_card(store: Store, staff: StaffChat, ticket: Feedback) -> None:
    assert ticket.forwarded_message_id is not None
    subscriber = await store.subscribers.get_by_id(ticket.subscriber_id)
    article = await store.articles.get(ticket.article_id) if ticket.article_id else None
    banned = await store.feedback.is_banned(ticket.subscriber_id)
    card = render_ticket_card(
        ticket, subscriber, article, DEFAULT_LANGUAGE, staff.channel.capabilities, banned=banned
    )
    try:
        await staff.channel.edit(staff.chat, ticket.forwarded_message_id, card)
    except ChannelError as err:  # Zalo cannot edit; the notice above already told staff
        log.info("ticket card not updated", extra={"ticket": ticket.id, "error": err.description})
