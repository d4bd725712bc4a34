"""The case inbox for staff: the first row of buttons under each card ("Trả lời", "Đã xử lý",
"Chặn" / "Bỏ chặn": callback data ib:r|c|b|u:<id>, the same on cards sent before cases
existed), answers written as a reply to a card (or after "Trả lời", which also offers the
unit's canned answers), and /inbox: the open cases of the staff member's units, soonest due
first.

Callback data carries only the case number; who may act — the role, and the unit (an editor
acts on cases of their units, or of a unit without members) — is read from the database at
the moment of every press and every answer (CaseRepo.staff_access), so forged data from a
citizen changes nothing. An answer goes to the citizen through the outbox (kind 'answer'):
paced, retried, crash-safe. The other case actions are bot/dialog/flows/case_staff.py's.
"""

from __future__ import annotations

import logging

from bot.dialog.context import FlowContext, Outcome, parse_id
from bot.dialog.events import Command, Press, Text, Who
from bot.dialog.routes import FlowRouter
from jobs.channel import OutMessage
from jobs.i18n import t
from jobs.render.cards import render_answer_prompt, render_inbox
from jobs.staff import casework
from storage.audit import actor_of
from storage.cases import Changed
from storage.records import Feedback, Subscriber

log = logging.getLogger(__name__)

ANSWERING = "answering"
ANSWER_MAX_CHARS = casework.ANSWER_MAX_CHARS
INBOX_LIMIT = 20


def router(ctx: FlowContext) -> FlowRouter:
    routes = FlowRouter("inbox")
    store = ctx.store

    async def refused(who: Who, case_id: int, lang: str) -> str | None:
        """Why this person may not act on this case now; None when they may."""
        why = await casework.refusal(store, who.platform, who.user_id, case_id, lang)
        if why is not None:
            log.warning("refused case action", extra={"user": who.user_id, "ticket": case_id})
        return why

    async def answer(who: Who, sub: Subscriber, ticket_id: int, text: str) -> Outcome:
        """Store the answer, queue it to the citizen, record who answered."""
        lang = sub.language
        text = text.strip()
        if not text:
            return Outcome([ctx.say(who, t("answer_empty", lang))])
        if len(text) > ANSWER_MAX_CHARS:
            too_long = t("answer_too_long", lang, length=len(text), limit=ANSWER_MAX_CHARS)
            return Outcome([ctx.say(who, too_long)])
        actor = actor_of(who.platform, who.user_id)
        now = ctx.clock()
        message = await casework.answer(store, ticket_id, actor=actor, text=text, now=now)
        if message is None:
            return Outcome([ctx.say(who, t("ticket_missing", lang, ticket=ticket_id))])
        if sub.dialog_state == ANSWERING:
            await ctx.set_dialog(sub, who, None, None)
        log.info("feedback answered", extra={"ticket": ticket_id, "answer": message.id})
        done = t("answer_queued", lang, ticket=ticket_id)
        return Outcome([ctx.say(who, done)], wake_outbox=True)

    async def reply_to_card(msg: Text, sub: Subscriber) -> Outcome | None:
        """A reply to a case card in the chat it was posted to is an answer to it."""
        if not msg.reply_to:
            return None
        ticket = await store.feedback.ticket_by_card(msg.who.chat_id, msg.reply_to)
        if ticket is None:
            return None
        why = await refused(msg.who, ticket.id, sub.language)
        if why is not None:
            return Outcome([ctx.say(msg.who, why)])
        return await answer(msg.who, sub, ticket.id, msg.text)

    async def answering(msg: Text, sub: Subscriber) -> Outcome | None:
        """After "Trả lời": the next text of the staff member who pressed it is the answer.

        The step is that member's own (`sub.dialog_*` is the writer's step in this chat), so two
        staff answering two tickets in one group each answer their own."""
        ticket_ref, _, user = (sub.dialog_ref or "").partition(":")
        ticket_id = parse_id(ticket_ref)
        if user != msg.who.user_id or ticket_id is None:
            return None  # a step that is not this member's (an older stored form)
        if casework.parse_command(msg.text) is not None:
            return None  # a typed command ("PA00042 dong") is a command, not the answer
        why = await refused(msg.who, ticket_id, sub.language)
        if why is not None:
            await ctx.set_dialog(sub, msg.who, None, None)
            return Outcome([ctx.say(msg.who, why)])
        if msg.reply_to:  # a reply to another ticket's card answers that ticket instead
            replied = await store.feedback.ticket_by_card(msg.who.chat_id, msg.reply_to)
            if replied is not None and replied.id != ticket_id:
                return None
        return await answer(msg.who, sub, ticket_id, msg.text)

    async def card_edit(event: Press, before: Feedback, lang: str) -> OutMessage | None:
        return await casework.edited_card(
            store,
            before,
            chat_id=event.who.chat_id,
            message_id=event.message_id,
            platform=event.who.platform,
            caps=ctx.capabilities(event.who.platform),
            lang=lang,
            now=ctx.clock(),
        )

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
        why = await refused(event.who, ticket_id, lang)
        if why is not None:
            return Outcome(toast=why)
        ticket = await store.feedback.get(ticket_id)
        if ticket is None:
            return Outcome(toast=t("ticket_missing", lang, ticket=ticket_id))
        actor = actor_of(event.who.platform, event.who.user_id)
        now = ctx.clock()
        if action == "r":
            ref = f"{ticket.id}:{event.who.user_id}"
            await ctx.set_dialog(sub, event.who, ANSWERING, ref)
            canned = await casework.canned_for(store, ticket, lang)
            caps = ctx.capabilities(event.who.platform)
            return Outcome([render_answer_prompt(ticket, canned, lang, caps)])
        if action == "c":
            done = await casework.act(store, "close", ticket.id, actor=actor, now=now)
            if not isinstance(done, Changed):
                return Outcome(toast=t("ticket_already_closed", lang, ticket=ticket.id))
            note = t("ticket_closed", lang, ticket=ticket.id)
        else:
            await casework.ban(store, ticket, actor=actor, now=now, on=action == "b")
            key = "citizen_banned" if action == "b" else "citizen_unbanned"
            note = t(key, lang, ticket=ticket.id)
        edit = await card_edit(event, ticket, lang)
        return Outcome(edit=edit, toast=note, wake_outbox=action == "c")

    async def inbox(cmd: Command) -> Outcome:
        sub = await ctx.subscriber(cmd.who)
        lang = sub.language
        if not await ctx.is_staff(cmd.who):
            log.warning("refused staff command", extra={"user": cmd.who.user_id})
            return Outcome([ctx.say(cmd.who, t("staff_only", lang))])
        cases, total = await store.cases.open_for_staff(
            cmd.who.platform, cmd.who.user_id, limit=INBOX_LIMIT
        )
        rows = [(item, await store.subscribers.get_by_id(item.subscriber_id)) for item in cases]
        caps = ctx.capabilities(cmd.who.platform)
        return Outcome([render_inbox(rows, total, lang, caps, now=ctx.clock())])

    routes.command(inbox, "inbox")
    routes.press("ib", press)
    routes.state(ANSWERING, answering)
    routes.text(reply_to_card)
    return routes
