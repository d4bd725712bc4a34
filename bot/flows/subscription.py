"""Subscribing and leaving: /start, /stop, /help, /huy (/cancel)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot.events import Command
from bot.flows.base import Outcome
from bot.i18n import t

if TYPE_CHECKING:
    from bot.dialog import Dialog

log = logging.getLogger(__name__)


def register(dialog: Dialog) -> None:
    ctx = dialog.ctx

    async def start(cmd: Command) -> Outcome:
        sub, newly = await ctx.store.subscribers.subscribe(
            cmd.who.platform,
            cmd.who.chat_id,
            chat_type=cmd.who.chat_type,
            display_name=cmd.who.display_name,
        )
        lang = sub.language
        if not newly:
            return Outcome([ctx.say(cmd.who, t("welcome_back", lang))])
        name = cmd.who.display_name or t("anonymous", lang)
        portal = ctx.portal_name or t("portal_default", lang)
        log.info("subscribed", extra={"platform": sub.platform, "subscriber": sub.id})
        return Outcome([ctx.say(cmd.who, t("welcome_new", lang, name=name, portal=portal))])

    async def stop(cmd: Command) -> Outcome:
        sub = await ctx.subscriber(cmd.who)
        if not await ctx.store.subscribers.deactivate(sub.id, "unsubscribed"):
            return Outcome([ctx.say(cmd.who, t("not_subscribed", sub.language))])
        await ctx.store.deliveries.cancel_pending_for(sub.id, reason="unsubscribed")
        log.info("unsubscribed", extra={"platform": sub.platform, "subscriber": sub.id})
        return Outcome([ctx.say(cmd.who, t("stopped", sub.language))])

    async def help_(cmd: Command) -> Outcome:
        sub = await ctx.subscriber(cmd.who)
        text = t("help", sub.language)
        if await ctx.is_staff(cmd.who):
            text += t("help_staff", sub.language)
        return Outcome([ctx.say(cmd.who, text)])

    async def cancel(cmd: Command) -> Outcome:
        sub = await ctx.subscriber(cmd.who)
        if sub.dialog_state is None:
            return Outcome([ctx.say(cmd.who, t("nothing_to_cancel", sub.language))])
        await ctx.store.subscribers.set_dialog(sub.id, None, None)
        return Outcome([ctx.say(cmd.who, t("cancelled", sub.language))])

    dialog.command(start, "start")
    dialog.command(stop, "stop")
    dialog.command(help_, "help")
    dialog.command(cancel, "huy", "cancel")
