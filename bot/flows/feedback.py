"""Citizens' feedback ("Gửi phản hồi"): the button then text, or a reply to a push.

The waiting state is stored, so a restart between the press and the text loses nothing;
over-long feedback is refused whole with a clear message, never stored cut. A reply to a staff
answer joins that answer's ticket instead of opening a new one. Banned citizens and citizens over
the rate limit are told so politely and nothing is stored; both checks read the database, so a
restart lifts neither.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from bot.events import Event, Press, Text
from bot.flows.base import Outcome
from bot.i18n import t
from storage.feedback import ANSWER_KIND
from storage.records import Subscriber

if TYPE_CHECKING:
    from bot.dialog import Dialog

log = logging.getLogger(__name__)

FEEDBACK_MAX_CHARS = 4000
WAITING_FEEDBACK = "feedback"


@dataclass(frozen=True)
class RateLimit:
    """At most `count` feedback messages (new tickets and replies) per `seconds`."""

    count: int = 5
    seconds: int = 600


DEFAULT_RATE_LIMIT = RateLimit()


def photo_of(event: Event) -> str | None:
    """The platform file id of a photo the event carries, if the adapter passes one.

    bot.events.Text has no photo field yet; an adapter that adds `photo: str | None` to it gets
    photos stored (as file ids, nothing downloaded) without a change here.
    """
    photo = getattr(event, "photo", None)
    return photo if isinstance(photo, str) and photo else None


def register(dialog: Dialog, limit: RateLimit | None = None) -> None:
    ctx = dialog.ctx
    limit = limit or dialog.feedback_limit

    async def refusal(sub: Subscriber) -> str | None:
        """Why this citizen may not send feedback now (banned, over the limit), or None."""
        if await ctx.store.feedback.is_banned(sub.id):
            return t("feedback_banned", sub.language)
        now = ctx.clock()
        window = timedelta(seconds=limit.seconds)
        if await ctx.store.feedback.recent_count(sub.id, now - window) >= limit.count:
            minutes = max(1, math.ceil(limit.seconds / 60))
            return t("feedback_rate_limited", sub.language, minutes=minutes)
        return None

    async def press(event: Press, rest: str) -> Outcome:
        sub = await ctx.subscriber(event.who)
        if not rest.isdigit():
            return Outcome()
        article = await ctx.store.articles.get(int(rest))
        if article is None:
            return Outcome(toast=t("article_gone", sub.language))
        if await ctx.store.feedback.is_banned(sub.id):
            return Outcome([ctx.say(event.who, t("feedback_banned", sub.language))])
        await ctx.store.subscribers.set_dialog(sub.id, WAITING_FEEDBACK, rest)
        prompt = t("feedback_prompt", sub.language, title=article.title[:200])
        return Outcome([ctx.say(event.who, prompt)])

    async def waiting(msg: Text, sub: Subscriber) -> Outcome:
        ref = sub.dialog_ref or ""
        return await take(msg, sub, int(ref) if ref.isdigit() else None)

    async def reply_to_push(msg: Text, sub: Subscriber) -> Outcome | None:
        if not msg.reply_to:
            return None
        replied = await ctx.store.deliveries.find_by_message(sub.id, msg.reply_to)
        if replied is None:
            return None
        if replied.kind == ANSWER_KIND:
            return await follow_up(msg, sub, replied.item_id)
        return await take(msg, sub, replied.item_id if replied.kind == "article" else None)

    def checked_text(msg: Text, sub: Subscriber) -> tuple[str, Outcome | None]:
        text = msg.text.strip()
        if not text and photo_of(msg) is None:
            return text, Outcome([ctx.say(msg.who, t("feedback_empty", sub.language))])
        if len(text) > FEEDBACK_MAX_CHARS:
            too_long = t(
                "feedback_too_long", sub.language, length=len(text), limit=FEEDBACK_MAX_CHARS
            )
            return text, Outcome([ctx.say(msg.who, too_long)])
        return text, None

    async def take(msg: Text, sub: Subscriber, article_id: int | None) -> Outcome:
        text, problem = checked_text(msg, sub)
        if problem is not None:
            return problem
        refused = await refusal(sub)
        if refused is not None:
            await ctx.store.subscribers.set_dialog(sub.id, None, None)
            return Outcome([ctx.say(msg.who, refused)])
        if article_id is not None and await ctx.store.articles.get(article_id) is None:
            article_id = None
        item = await ctx.store.feedback.add(
            sub.id, article_id, text, photo_file_id=photo_of(msg), now=ctx.clock()
        )
        await ctx.store.subscribers.set_dialog(sub.id, None, None)
        log.info("feedback stored", extra={"ticket": item.id, "subscriber": sub.id})
        thanks = t("feedback_thanks", sub.language, ticket=item.id)
        return Outcome([ctx.say(msg.who, thanks)], wake_feedback=True)

    async def follow_up(msg: Text, sub: Subscriber, answer_id: int) -> Outcome | None:
        """The citizen replied to a staff answer: the message joins that ticket."""
        answer = await ctx.store.feedback.message(answer_id)
        if answer is None:
            return None
        ticket = await ctx.store.feedback.get(answer.feedback_id)
        if ticket is None or ticket.subscriber_id != sub.id:
            return None
        text, problem = checked_text(msg, sub)
        if problem is not None:
            return problem
        refused = await refusal(sub)
        if refused is not None:
            return Outcome([ctx.say(msg.who, refused)])
        reply = await ctx.store.feedback.add_citizen_reply(
            ticket.id, text, now=ctx.clock(), photo_file_id=photo_of(msg)
        )
        if reply is None:
            return None
        log.info("feedback reply stored", extra={"ticket": ticket.id, "subscriber": sub.id})
        thanks = t("feedback_reply_thanks", sub.language, ticket=ticket.id)
        return Outcome([ctx.say(msg.who, thanks)], wake_feedback=True)

    dialog.press("fb", press)
    dialog.state(WAITING_FEEDBACK, waiting)
    dialog.text(reply_to_push)
