"""The feedback inbox for staff: the buttons under each card ("Trả lời", "Đã xử lý", "Chặn" /
"Bỏ chặn"), answers written as a reply to a card (or after "Trả lời"), and /inbox.

Callback data carries only the ticket number; who may act is read from the staff table at the
moment of every press and every answer, so forged data from a citizen changes nothing. An answer
goes to the citizen through the outbox (kind 'answer'): paced, retried, crash-safe.
"""

from __future__ import annotations

import logging

from bot.dialog.context import FlowContext, Outcome, parse_id
from bot.dialog.events import Command, Press, Text, Who
from bot.dialog.routes import FlowRouter
from jobs.channel import OutMessage
from jobs.i18n import t
from jobs.render.cards import render_inbox, render_ticket_card
from storage.audit import actor_of
from storage.kinds import OutboxKind, TicketState
from storage.records import Feedback, Subscriber

log = logging.getLogger(__name__)

ANSWERING = "answering"
ANSWER_MAX_CHARS = 3000  # leaves room in one message for the quote and the header
INBOX_LIMIT = 20


def router(ctx: FlowContext) -> FlowRouter:
    routes = FlowRouter("inbox")
    store = ctx.store

    async def card(ticket: Feedback, lang: str, who: Who) -> OutMessage:
        """The ticket's card as it should read now (status, ban button)."""
        sub = await store.subscribers.get_by_id(ticket.subscriber_id)
        article = await store.articles.get(ticket.article_id) if ticket.article_id else None
        banned = await store.feedback.is_banned(ticket.subscriber_id)
        caps = ctx.capabilities(who.platform)
        return render_ticket_card(ticket, sub, article, lang, caps, banned=banned)

    async def answer(who: Who, sub: Subscriber, ticket_id: int, text: str) -> Outcome:
        """Store the answer, queue it to the citizen, record who answered."""
        lang = sub.language
        text = text.strip()
        if not text:
            return Outcome([ctx.say(who, t("answer_empty", lang))])
        if len(text) > ANSWER_MAX_CHARS:
            too_long = t("answer_too_long", lang, length=len(text), limit=ANSWER_MAX_CHARS)
            return Outcome([ctx.say(who, too_long)])
        now = ctx.clock()
        actor = actor_of(who.platform, who.user_id)
        message = await store.feedback.add_answer(ticket_id, staff_user=actor, text=text, now=now)
        if message is None:
            return Outcome([ctx.say(who, t("ticket_missing", lang, ticket=ticket_id))])
        ticket = await store.feedback.get(ticket_id)
        assert ticket is not None
        await store.deliveries.enqueue_one(
            ticket.subscriber_id, OutboxKind.ANSWER, message.id, now=now
        )
        await store.audit.record(
            actor, "feedback.answer", f"feedback:{ticket_id}", text[:200], now=now
        )
        if sub.dialog_state == ANSWERING:
            await ctx.set_dialog(sub, who, None, None)
        log.info("feedback answered", extra={"ticket": ticket_id, "answer": message.id})
        done = t("answer_queued", lang, ticket=ticket_id)
        return Outcome([ctx.say(who, done)], wake_outbox=True)

    async def reply_to_card(msg: Text, sub: Subscriber) -> Outcome | None:
        """A reply to a feedback card in the chat it was posted to is an answer to it."""
        if not msg.reply_to:
            return None
        ticket = await store.feedback.ticket_by_card(msg.who.chat_id, msg.reply_to)
        if ticket is None:
            return None
        if not await ctx.is_staff(msg.who):
            log.warning("refused answer", extra={"user": msg.who.user_id, "ticket": ticket.id})
            return Outcome([ctx.say(msg.who, t("staff_only", sub.language))])
        return await answer(msg.who, sub, ticket.id, msg.text)

    async def answering(msg: Text, sub: Subscriber) -> Outcome | None:
        """After "Trả lời": the next text of the staff member who pressed it is the answer.

        The step is that member's own (`sub.dialog_*` is the writer's step in this chat), so two
        staff answering two tickets in one group each answer their own."""
        ticket_ref, _, user = (sub.dialog_ref or "").partition(":")
        ticket_id = parse_id(ticket_ref)
        if user != msg.who.user_id or ticket_id is None:
            return None  # a step that is not this member's (an older stored form)
        if not await ctx.is_staff(msg.who):
            await ctx.set_dialog(sub, msg.who, None, None)
            return Outcome([ctx.say(msg.who, t("staff_only", sub.language))])
        if msg.reply_to:  # a reply to another ticket's card answers that ticket instead
            replied = await store.feedback.ticket_by_card(msg.who.chat_id, msg.reply_to)
            if replied is not None and replied.id != ticket_id:
                return None
        return await answer(msg.who, sub, ticket_id, msg.text)

    async def press(event: Press, rest: str) -> Outcome:
        action, _, ident = rest.partition(":")
        sub = await ctx.subscriber(event.who)
        lang = sub.language
        ticket_id = parse_id(ident)
        if action not in ("r", "c", "b", "u") or ticket_id is None:
            return ctx.invalid_press(sub)
        if not await ctx.is_staff(event.who):
            log.warning(
                "refused staff button", extra={"user": event.who.user_id, "data": event.data}
            )
            return Outcome(toast=t("staff_only", lang))
        ticket = await store.feedback.get(ticket_id)
        if ticket is None:
            return Outcome(toast=t("ticket_missing", lang, ticket=ticket_id))
        actor = actor_of(event.who.platform, event.who.user_id)
        now = ctx.clock()
        target = f"feedback:{ticket.id}"
        if action == "r":
            ref = f"{ticket.id}:{event.who.user_id}"
            await ctx.set_dialog(sub, event.who, ANSWERING, ref)
            return Outcome([ctx.say(event.who, t("answer_prompt", lang, ticket=ticket.id))])
        if action == "c":
            if not await store.feedback.close(ticket.id, now=now):
                return Outcome(toast=t("ticket_already_closed", lang, ticket=ticket.id))
            await store.audit.record(actor, "feedback.close", target, now=now)
            note = t("ticket_closed", lang, ticket=ticket.id)
        elif action == "b":
            await store.feedback.ban(ticket.subscriber_id, by=actor, now=now, ticket=ticket.id)
            detail = f"subscriber:{ticket.subscriber_id}"
            await store.audit.record(actor, "citizen.ban", target, detail, now=now)
            note = t("citizen_banned", lang, ticket=ticket.id)
        else:
            await store.feedback.unban(ticket.subscriber_id)
            detail = f"subscriber:{ticket.subscriber_id}"
            await store.audit.record(actor, "citizen.unban", target, detail, now=now)
            note = t("citizen_unbanned", lang, ticket=ticket.id)
        fresh = await store.feedback.get(ticket.id) or ticket
        edit = await card(fresh, lang, event.who) if _is_card(event, fresh) else None
        return Outcome(edit=edit, toast=note)

    async def inbox(cmd: Command) -> Outcome:
        sub = await ctx.subscriber(cmd.who)
        lang = sub.language
        if not await ctx.is_staff(cmd.who):
            log.warning("refused staff command", extra={"user": cmd.who.user_id})
            return Outcome([ctx.say(cmd.who, t("staff_only", lang))])
        tickets = await store.feedback.by_status(TicketState.OPEN, limit=INBOX_LIMIT)
        total = (await store.feedback.count_by_status()).get(TicketState.OPEN, 0)
        rows = [(item, await store.subscribers.get_by_id(item.subscriber_id)) for item in tickets]
        return Outcome([render_inbox(rows, total, lang, ctx.capabilities(cmd.who.platform))])

    routes.command(inbox, "inbox")
    routes.press("ib", press)
    routes.state(ANSWERING, answering)
    routes.text(reply_to_card)
    return routes


def _is_card(event: Press, ticket: Feedback) -> bool:
    """Whether the pressed message is the ticket's first card (re-rendered in place); presses
    under /inbox lists or reply cards get a toast only, the list is not rewritten as a card."""
    return (
        event.message_id is not None
        and event.message_id == ticket.forwarded_message_id
        and event.who.chat_id == ticket.forwarded_chat_id
    )
