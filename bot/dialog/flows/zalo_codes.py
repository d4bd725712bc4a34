"""Feedback by reply code, for platforms without buttons (Zalo): "PH 12" under each push.

bot/dialog/menus.py prints "Gửi phản hồi: trả lời PH 12" where Telegram shows the button. The reply
"PH 12" then does what pressing the button does (the next text is the feedback, the state is
stored), and "PH 12 <nội dung>" is the feedback at once. Same storage and limits as
bot/dialog/flows/feedback.py. It works on any platform: a Telegram user typing the code is served
too.
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from typing import TYPE_CHECKING

from bot.dialog.events import Text
from bot.dialog.flows.base import MAX_ID, Outcome
from bot.dialog.flows.feedback import WAITING_FEEDBACK, take
from bot.dialog.menus import FEEDBACK_CODE
from jobs.i18n import t
from storage.records import Subscriber

if TYPE_CHECKING:
    from bot.dialog.router import Dialog

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
        article = await ctx.store.articles.get(article_id) if article_id <= MAX_ID else None
        if article is None:
            return Outcome([ctx.say(msg.who, t("article_gone", sub.language))])
        if not text:
            if await ctx.store.feedback.is_banned(sub.id):  # as the button: limit on the text
                return Outcome([ctx.say(msg.who, t("feedback_banned", sub.language))])
            await ctx.set_dialog(sub, msg.who, WAITING_FEEDBACK, str(article_id))
            prompt = t("feedback_prompt", sub.language, title=article.title[:200])
            return Outcome([ctx.say(msg.who, prompt)])
        # The words after the code are the feedback: filed exactly as the button's would be.
        return await take(ctx, dialog.feedback_limit, replace(msg, text=text), sub, article_id)

    dialog.text(by_code)
