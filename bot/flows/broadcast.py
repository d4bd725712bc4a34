"""Staff announcements: /broadcast <text> → preview (Gửi / Hủy) → queued through the outbox.

Authorization comes from storage at every step: a citizen who forges the confirm button's
callback data is refused and nothing changes; a double tap queues once.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot.events import Command, Press
from bot.flows.base import Outcome
from bot.i18n import t
from bot.render import announcement_limit, render_broadcast_preview
from jobs.fanout import queue_announcement
from storage.announcements import CANCELLED, DRAFT, QUEUED

if TYPE_CHECKING:
    from bot.dialog import Dialog

log = logging.getLogger(__name__)


def register(dialog: Dialog) -> None:
    ctx = dialog.ctx

    async def compose(cmd: Command) -> Outcome:
        sub = await ctx.subscriber(cmd.who)
        lang = sub.language
        if not await ctx.is_staff(cmd.who):
            log.warning("refused staff command", extra={"user": cmd.who.user_id})
            return Outcome([ctx.say(cmd.who, t("staff_only", lang))])
        text = cmd.args.strip()
        if not text:
            return Outcome([ctx.say(cmd.who, t("broadcast_usage", lang))])
        caps = ctx.capabilities(cmd.who.platform)
        limit = announcement_limit(caps)
        if len(text) > limit:
            too_long = t("broadcast_too_long", lang, length=len(text), limit=limit)
            return Outcome([ctx.say(cmd.who, too_long)])
        draft = await ctx.store.announcements.create(
            text,
            created_by=f"{cmd.who.platform}:{cmd.who.user_id}",
            origin_platform=cmd.who.platform,
            origin_chat_id=cmd.who.chat_id,
        )
        recipients = (await ctx.store.subscribers.counts())["active"]
        return Outcome([render_broadcast_preview(draft, recipients, lang, caps)])

    async def press(event: Press, rest: str) -> Outcome:
        action, _, ident = rest.partition(":")
        if action not in ("ok", "no") or not ident.isdigit():
            return Outcome()
        announcement_id = int(ident)
        sub = await ctx.subscriber(event.who)
        lang = sub.language
        if not await ctx.is_staff(event.who):
            log.warning(
                "refused staff button", extra={"user": event.who.user_id, "data": event.data}
            )
            return Outcome(toast=t("staff_only", lang))
        store, now = ctx.store, ctx.clock()
        if action == "no":
            if await store.announcements.transition(
                announcement_id, frm=DRAFT, to=CANCELLED, now=now
            ):
                done = t("broadcast_cancelled", lang, id=announcement_id)
                return Outcome(edit=ctx.say(event.who, done))
            return Outcome(toast=t("broadcast_already", lang, id=announcement_id))
        if not await store.announcements.transition(announcement_id, frm=DRAFT, to=QUEUED, now=now):
            return Outcome(toast=t("broadcast_already", lang, id=announcement_id))
        count = await queue_announcement(store, announcement_id, now=now)
        if event.message_id:  # the preview becomes the broadcast's progress message
            await store.announcements.set_progress_message(announcement_id, event.message_id)
        log.info("broadcast queued", extra={"announcement": announcement_id, "recipients": count})
        done = t("broadcast_queued", lang, id=announcement_id, count=count)
        return Outcome(edit=ctx.say(event.who, done), toast=done, wake_outbox=True)

    dialog.command(compose, "broadcast")
    dialog.press("bc", press)
