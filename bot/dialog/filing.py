"""Filing a citizen's feedback: the one way the dialog stores it (`take`, `file_case`).

The "Gửi phản hồi" button, a reply to a push and the "PH <id>" reply code (two flows:
bot/dialog/flows/feedback.py and zalo_codes.py) all end in `take`, so they share the waiting
state, the length check and the polite refusals. Over-long feedback is refused whole, never
stored cut; the ban and the rate limit are checked by storage in the insert's transaction
(`FeedbackRepo.file` / `file_reply`), so no path can skip them. Every case gets its due
time in working days (jobs/cases/intake.py), its photos as case_photos rows, and a reply with
its code and due date.
"""

from __future__ import annotations

import logging
import math

from bot.dialog.context import FlowContext, Outcome
from bot.dialog.events import Press, Text, photo_of
from jobs.cases.intake import case_intake, local_date
from jobs.i18n import t
from storage.feedback import RateLimit, Refused
from storage.kinds import FeedbackRefusal
from storage.records import Case, Subscriber

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
    """File `msg` as a new case («không rõ»: the default unit) under the context's rate limit,
    and clear the writer's step. The guided step (/guiphananh) files through `file_case`."""
    text, problem = checked_text(ctx, msg, sub)
    if problem is not None:
        return problem
    photo = photo_of(msg)
    outcome = await file_case(
        ctx, msg, sub, text, article_id=article_id, photos=[photo] if photo else [], ends_step=True
    )
    if not outcome.wake_feedback:  # refused: the step ends all the same
        await ctx.set_dialog(sub, msg.who, None, None)
    return outcome


async def file_case(
    ctx: FlowContext,
    msg: Text | Press,
    sub: Subscriber,
    text: str,
    *,
    article_id: int | None = None,
    category_id: int | None = None,
    photos: list[str] | None = None,
    place: tuple[float, float, str | None] | None = None,
    ends_step: bool = False,
) -> Outcome:
    """The one way the dialog files a case: its due time in working days (jobs/cases/intake),
    its photos as case_photos rows, and the reply that carries its code and due date. With
    `ends_step` the writer's waiting step ends in the case's own transaction."""
    limit, now, photos = ctx.feedback_limit, ctx.clock(), photos or []
    intake = await case_intake(
        ctx.store, now=now, category_id=category_id, calendar=ctx.calendar, place=place
    )
    filed = await ctx.store.feedback.file(
        sub.id,
        article_id,
        text,
        limit=limit,
        now=now,
        photo_file_id=photos[0] if photos else None,
        intake=intake,
        step_of=msg.who.user_id if ends_step else None,
    )
    if isinstance(filed, Refused):
        log.info("feedback refused", extra={"subscriber": sub.id, "reason": filed.reason})
        return Outcome([ctx.say(msg.who, refusal_text(filed, sub.language, limit))])
    for ref in photos:
        await ctx.store.photos.record(filed.id, msg.who.platform, ref, now=now)
    log.info("feedback stored", extra={"ticket": filed.id, "subscriber": sub.id})
    return Outcome([ctx.say(msg.who, received_text(filed, sub.language))], wake_feedback=True)


def received_text(case: Case, lang: str) -> str:
    """The immediate answer to a filed case: its number, its code, the date an answer is due
    (later changes reach the citizen through the outbox: jobs/render/case_notices.py)."""
    due = local_date(case.due_at)
    return t("cz_received", lang, ticket=case.id, code=case.shown_code, due=due)
