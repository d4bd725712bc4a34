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
import math
from typing import TYPE_CHECKING

from bot.dialog.events import Event, Press, Text
from bot.dialog.flows.base import FlowContext, Outcome, parse_id
from jobs.i18n import t
from storage.feedback import ANSWER_KIND, BANNED, RateLimit, Refused
from storage.records import Subscriber

if TYPE_CHECKING:
    from bot.dialog.router import Dialog

log = logging.getLogger(__name__)

FEEDBACK_MAX_CHARS = 4000
WAITING_FEEDBACK = "feedback"


DEFAULT_RATE_LIMIT = RateLimit()
__all__ = [
    "DEFAULT_RATE_LIMIT",
    "FEEDBACK_MAX_CHARS",
    "WAITING_FEEDBACK",
    "RateLimit",
    "checked_text",
    "photo_of",
    "refusal_text",
    "take",
]


def photo_of(event: Event) -> str | None:
    """The platform file id of a photo the event carries, if the adapter passes one.

    bot.dialog.events.Text has no photo field yet; an adapter that adds `photo: str | None` to it
    gets photos stored (as file ids, nothing downloaded) without a change here.
    """
    photo = getattr(event, "photo", None)
    return photo if isinstance(photo, str) and photo else None


def refusal_text(refused: Refused, lang: str, limit: RateLimit) -> str:
    """The polite words for a refusal (banned, over the limit)."""
    if refused.reason == BANNED:
        return t("feedback_banned", lang)
    minutes = max(1, math.ceil(limit.seconds / 60))
    return t("feedback_rate_limited", lang, minutes=minutes)


def checked_text(ctx: FlowContext, msg: Text, sub: Subscriber) -> tuple[str, Outcome | None]:
    """The feedback's text, or the reason it cannot be taken (empty, too long)."""
    text = msg.text.strip()
    if not text and photo_of(msg) is None:
        return text, Outcome([ctx.say(msg.who, t("feedback_empty", sub.language))])
    if len(text) > FEEDBACK_MAX_CHARS:
        too_long = t("feedback_too_long", sub.language, length=len(text), limit=FEEDBACK_MAX_CHARS)
        return text, Outcome([ctx.say(msg.who, too_long)])
    return text, None


async def take(
    ctx: FlowContext, limit: RateLimit, msg: Text, sub: Subscriber, article_id: int | None
) -> Outcome:
    """File `msg` as a new ticket: the one way the dialog stores a citizen's feedback (the
    button, a reply to a push, the "PH <id>" code all end here). The ban and the rate limit are
    checked by storage in the insert's transaction."""
    text, problem = checked_text(ctx, msg, sub)
    if problem is not None:
        return problem
    filed = await ctx.store.feedback.file(
        sub.id, article_id, text, limit=limit, now=ctx.clock(), photo_file_id=photo_of(msg)
    )
    await ctx.set_dialog(sub, msg.who, None, None)
    if isinstance(filed, Refused):
        log.info("feedback refused", extra={"subscriber": sub.id, "reason": filed.reason})
        return Outcome([ctx.say(msg.who, refusal_text(filed, sub.language, limit))])
    log.info("feedback stored", extra={"ticket": filed.id, "subscriber": sub.id})
    thanks = t("feedback_thanks", sub.language, ticket=filed.id)
    return Outcome([ctx.say(msg.who, thanks)], wake_feedback=True)


def register(dialog: Dialog, limit: RateLimit | None = None) -> None:
    ctx = dialog.ctx
    rate = limit or dialog.feedback_limit

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
        return await take(ctx, rate, msg, sub, parse_id(sub.dialog_ref or ""))

    async def reply_to_push(msg: Text, sub: Subscriber) -> Outcome | None:
        if not msg.reply_to:
            return None
        replied = await ctx.store.deliveries.find_by_message(sub.id, msg.reply_to)
        if replied is None:
            return None
        if replied.kind == ANSWER_KIND:
            return await follow_up(msg, sub, replied.item_id)
        return await take(
            ctx, rate, msg, sub, replied.item_id if replied.kind == "article" else None
        )

    async def follow_up(msg: Text, sub: Subscriber, answer_id: int) -> Outcome | None:
        """The citizen replied to a staff answer: the message joins that ticket."""
        answer = await ctx.store.feedback.message(answer_id)
        if answer is None:
            return None
        ticket = await ctx.store.feedback.get(answer.feedback_id)
        if ticket is None or ticket.subscriber_id != sub.id:
            return None
        text, problem = checked_text(ctx, msg, sub)
        if problem is not None:
            return problem
        reply = await ctx.store.feedback.file_reply(
            ticket.id,
            sub.id,
            text,
            limit=rate,
            now=ctx.clock(),
            photo_file_id=photo_of(msg),
        )
        if reply is None:
            return None
        if isinstance(reply, Refused):
            log.info("feedback refused", extra={"subscriber": sub.id, "reason": reply.reason})
            return Outcome([ctx.say(msg.who, refusal_text(reply, sub.language, rate))])
        log.info("feedback reply stored", extra={"ticket": ticket.id, "subscriber": sub.id})
        thanks = t("feedback_reply_thanks", sub.language, ticket=ticket.id)
        return Outcome([ctx.say(msg.who, thanks)], wake_feedback=True)

    dialog.press("fb", press)
    dialog.state(WAITING_FEEDBACK, waiting)
    dialog.text(reply_to_push)
