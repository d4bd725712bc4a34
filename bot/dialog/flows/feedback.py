"""Citizens' feedback ("Gửi phản hồi"): the button then text, or a reply to a push.

The waiting state is stored, so a restart between the press and the text loses nothing;
over-long feedback is refused whole with a clear message, never stored cut. A reply to a staff
answer joins that answer's ticket instead of opening a new one. Banned citizens and citizens over
the rate limit are told so politely and nothing is stored: storage checks both in the same
transaction as the insert (`FeedbackRepo.file` / `file_reply`), so no path — button, reply,
"PH <id>" code, a future one — can skip them, and a restart lifts neither.
"""

from __future__ import annotations

import logging

from bot.dialog.context import FlowContext, Outcome, parse_id
from bot.dialog.events import Press, Text, photo_of
from bot.dialog.filing import (
    FEEDBACK_MAX_CHARS,
    WAITING_FEEDBACK,
    checked_text,
    refusal_text,
    take,
)
from bot.dialog.routes import FlowRouter
from jobs.i18n import t
from storage.feedback import Refused
from storage.kinds import OutboxKind
from storage.records import Subscriber

log = logging.getLogger(__name__)

__all__ = ["FEEDBACK_MAX_CHARS", "WAITING_FEEDBACK", "router"]


def router(ctx: FlowContext) -> FlowRouter:
    routes = FlowRouter("feedback")
    rate = ctx.feedback_limit

    async def press(event: Press, rest: str) -> Outcome:
        sub = await ctx.subscriber(event.who)
        article_id = parse_id(rest)
        if article_id is None:
            return ctx.invalid_press(sub)
        article = await ctx.store.articles.get(article_id)
        if article is None:
            return Outcome(toast=t("article_gone", sub.language))
        if await ctx.store.feedback.is_banned(sub.id):  # the limit is applied to the text
            return Outcome([ctx.say(event.who, t("feedback_banned", sub.language))])
        await ctx.set_dialog(sub, event.who, WAITING_FEEDBACK, str(article_id))
        prompt = t("feedback_prompt", sub.language, title=article.title[:200])
        return Outcome([ctx.say(event.who, prompt)])

    async def waiting(msg: Text, sub: Subscriber) -> Outcome:
        return await take(ctx, msg, sub, parse_id(sub.dialog_ref or ""))

    async def reply_to_push(msg: Text, sub: Subscriber) -> Outcome | None:
        if not msg.reply_to:
            return None
        replied = await ctx.store.deliveries.find_by_message(sub.id, msg.reply_to)
        if replied is None:
            return None
        if replied.kind == OutboxKind.ANSWER:
            return await follow_up(msg, sub, replied.item_id)
        article_id = replied.item_id if replied.kind == OutboxKind.ARTICLE else None
        return await take(ctx, msg, sub, article_id)

    async def follow_up(msg: Text, sub: Subscriber, answer_id: int) -> Outcome | None:
        """The citizen replied to a staff answer: the message joins that ticket."""
        answer = await ctx.store.feedback.message(answer_id)
        if answer is None:
            return None
        own = await ctx.store.feedback.get(answer.feedback_id)
        if own is None or own.subscriber_id != sub.id:
            return None
        # A case merged into another: the citizen's words go to the case it follows.
        ticket = await ctx.store.cases.followed(own.id) or own
        text, problem = checked_text(ctx, msg, sub)
        if problem is not None:
            return problem
        now, photo = ctx.clock(), photo_of(msg)
        reply = await ctx.store.feedback.file_reply(
            ticket.id,
            sub.id,
            text,
            limit=rate,
            now=now,
            photo_file_id=photo,
            via=own.id if ticket.id != own.id else None,
        )
        if reply is None:
            return None
        if isinstance(reply, Refused):
            log.info("feedback refused", extra={"subscriber": sub.id, "reason": reply.reason})
            return Outcome([ctx.say(msg.who, refusal_text(reply, sub.language, rate))])
        if photo:
            await ctx.store.photos.record(
                ticket.id, msg.who.platform, photo, message_id=reply.id, now=now
            )
        log.info("feedback reply stored", extra={"ticket": ticket.id, "subscriber": sub.id})
        thanks = t("cz_followup_thanks", sub.language, ticket=ticket.id, code=ticket.shown_code)
        return Outcome([ctx.say(msg.who, thanks)], wake_feedback=True)

    routes.press("fb", press)
    routes.state(WAITING_FEEDBACK, waiting)
    routes.text(reply_to_push)
    return routes
