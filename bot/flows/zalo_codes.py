"""Feedback by reply code, for platforms without buttons (Zalo): "PH 12" under each push.

bot/menus.py prints "Gửi phản hồi: trả lời PH 12" where Telegram shows the button. The reply
"PH 12" then does what pressing the button does (the next text is the feedback, the state is
stored), and "PH 12 <nội dung>" is the feedback at once. Same storage and limits as
bot/flows/feedback.py. It works on any platform: a Telegram user typing the code is served too.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

from bot.events import Text
from bot.flows.base import Outcome
from bot.flows.feedback import FEEDBACK_MAX_CHARS, WAITING_FEEDBACK
from bot.i18n import t
from bot.menus import FEEDBACK_CODE
from storage.records import Subscriber

if TYPE_CHECKING:
    from bot.dialog import Dialog

log = logging.getLogger(__name__)

_CODE = re.compile(
    rf"^\s*{FEEDBACK_CODE}\s*#?\s*(\d{{1,9}})(?:\s*[:.,-]?\s+(.*))?\s*$",
    re.IGNORECASE | re.DOTALL,
)


def parse_code(text: str) -> tuple[int, str] | None:
    """ "PH 12" → (12, ""); "ph12: Cầu hỏng" → (12, "Cầu hỏng"); anything else → None."""
    match = _CODE.match(text)
    if match is None:
        return None
    return int(match.group(1)), (match.group(2) or "").strip()


def register(dialog: Dialog) -> None:
    ctx = dialog.ctx

    async def by_code(msg: Text, sub: Subscriber) -> Outcome | None:
        parsed = parse_code(msg.text)
        if parsed is None:
            return None
        article_id, text = parsed
        article = await ctx.store.articles.get(article_id)
        if article is None:
            return Outcome([ctx.say(msg.who, t("article_gone", sub.language))])
        if not text:
            await ctx.store.subscribers.set_dialog(sub.id, WAITING_FEEDBACK, str(article_id))
            prompt = t("feedback_prompt", sub.language, title=article.title[:200])
            return Outcome([ctx.say(msg.who, prompt)])
        if len(text) > FEEDBACK_MAX_CHARS:
            too_long = t(
                "feedback_too_long", sub.language, length=len(text), limit=FEEDBACK_MAX_CHARS
            )
            return Outcome([ctx.say(msg.who, too_long)])
        item = await ctx.store.feedback.add(sub.id, article_id, text)
        await ctx.store.subscribers.set_dialog(sub.id, None, None)
        log.info("feedback stored by code", extra={"ticket": item.id, "subscriber": sub.id})
        thanks = t("feedback_thanks", sub.language, ticket=item.id)
        return Outcome([ctx.say(msg.who, thanks)], wake_feedback=True)

    dialog.text(by_code)
