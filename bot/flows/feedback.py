"""Citizens' feedback ("Gửi phản hồi"): the button then text, or a reply to a push.

The waiting state is stored, so a restart between the press and the text loses nothing;
over-long feedback is refused whole with a clear message, never stored cut.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot.events import Press, Text
from bot.flows.base import Outcome
from bot.i18n import t
from storage.records import Subscriber

if TYPE_CHECKING:
    from bot.dialog import Dialog

log = logging.getLogger(__name__)

FEEDBACK_MAX_CHARS = 4000
WAITING_FEEDBACK = "feedback"


def register(dialog: Dialog) -> None:
    ctx = dialog.ctx

    async def press(event: Press, rest: str) -> Outcome:
        sub = await ctx.subscriber(event.who)
        if not rest.isdigit():
            return Outcome()
        article = await ctx.store.articles.get(int(rest))
        if article is None:
            return Outcome(toast=t("article_gone", sub.language))
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
        return await take(msg, sub, replied.item_id if replied.kind == "article" else None)

    async def take(msg: Text, sub: Subscriber, article_id: int | None) -> Outcome:
        text = msg.text.strip()
        if not text:
            return Outcome([ctx.say(msg.who, t("feedback_empty", sub.language))])
        if len(text) > FEEDBACK_MAX_CHARS:
            too_long = t(
                "feedback_too_long", sub.language, length=len(text), limit=FEEDBACK_MAX_CHARS
            )
            return Outcome([ctx.say(msg.who, too_long)])
        if article_id is not None and await ctx.store.articles.get(article_id) is None:
            article_id = None
        item = await ctx.store.feedback.add(sub.id, article_id, text)
        await ctx.store.subscribers.set_dialog(sub.id, None, None)
        log.info("feedback stored", extra={"ticket": item.id, "subscriber": sub.id})
        thanks = t("feedback_thanks", sub.language, ticket=item.id)
        return Outcome([ctx.say(msg.who, thanks)], wake_feedback=True)

    dialog.press("fb", press)
    dialog.state(WAITING_FEEDBACK, waiting)
    dialog.text(reply_to_push)
