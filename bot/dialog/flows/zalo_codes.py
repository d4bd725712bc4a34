"""Feedback by reply code, for platforms without buttons (Zalo): "PH 12" under each push.

The numbered menus (bot/dialog/menus.py, drawn by the Zalo adapter) print "Gửi phản hồi: trả lời
PH 12" where Telegram shows the button. The reply "PH 12" then does what pressing the button does
(the next text is the feedback, the state is stored), and "PH 12 <nội dung>" is the feedback at
once. Same storage and limits as the button: both file through bot/dialog/filing.py. It works on
any platform: a Telegram user typing the code is served too.
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace

from bot.dialog.context import MAX_ID, FlowContext, Outcome
from bot.dialog.events import Text
from bot.dialog.filing import WAITING_FEEDBACK, take
from bot.dialog.menus import FEEDBACK_CODE
from bot.dialog.routes import FlowRouter
from jobs.i18n import t
from storage.records import Subscriber

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


def router(ctx: FlowContext) -> FlowRouter:
    routes = FlowRouter("zalo_codes")

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
        return await take(ctx, replace(msg, text=text), sub, article_id)

    routes.text(by_code)
    return routes
