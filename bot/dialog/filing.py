"""Filing a citizen's feedback: the one way the dialog stores it.

The "Gửi phản hồi" button, a reply to a push and the "PH <id>" reply code (two flows:
bot/dialog/flows/feedback.py and zalo_codes.py) all end in `take`, so they share the waiting
state, the length check and the polite refusals. Over-long feedback is refused whole, never
stored cut; the ban and the rate limit are checked by storage in the insert's transaction
(`FeedbackRepo.file` / `file_reply`), so no path can skip them.
"""

from __future__ import annotations

import logging
import math

from bot.dialog.context import FlowContext, Outcome
from bot.dialog.events import Text, photo_of
from jobs.i18n import t
from storage.feedback import RateLimit, Refused
from storage.kinds import FeedbackRefusal
from storage.records import Subscriber

log = logging.getLogger(__name__)

FEEDBACK_MAX_CHARS = 4000
WAITING_FEEDBACK = "feedback"


def refusal_text(refused: Refused, lang: str, limit: RateLimit) -> str:
    """The polite words for a refusal (banned, over the limit)."""
    if refused.reason == FeedbackRefusal.BANNED:
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


async def take(ctx: FlowContext, msg: Text, sub: Subscriber, article_id: int | None) -> Outcome:
    """File `msg` as a new ticket under the context's rate limit, and clear the writer's step."""
    text, problem = checked_text(ctx, msg, sub)
    if problem is not None:
        return problem
    limit = ctx.feedback_limit
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
