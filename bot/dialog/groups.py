"""Groups and channels: only the chat's administrators subscribe it or change its settings.

Who is an administrator is asked of the platform at the moment of the action (Telegram's
getChatMember), never taken from the update: the composition root installs the platform's check
with `bot.dialog.router.install_admin_check`. A private chat always manages itself. Without a
check for the platform, only bantin staff may manage a group — refusing is the safe default.
Every flow that changes a chat's subscription or settings asks `may_manage` first.
"""

from __future__ import annotations

import logging

from bot.dialog.context import FlowContext, Outcome
from bot.dialog.events import Command, Event
from jobs.i18n import t

log = logging.getLogger(__name__)

SHARED = ("group", "supergroup", "channel")


async def may_manage(ctx: FlowContext, event: Event) -> bool:
    """Whether this event's sender may subscribe the chat or change its settings."""
    who = event.who
    if who.chat_type not in SHARED:
        return True
    if who.chat_type == "channel" and isinstance(event, Command):
        return True  # only a channel's administrators can post in it
    check = ctx.admin_checks.get(who.platform)
    if check is not None:
        try:
            if await check(who.chat_id, who.user_id):
                return True
        except Exception:  # the platform could not say: refuse, and say why in the log
            log.warning("admin check failed", extra={"chat": who.chat_id})
    return await ctx.is_staff(who)


async def refusal(ctx: FlowContext, event: Event) -> Outcome:
    """The polite no for a group member who is not an administrator."""
    sub = await ctx.subscriber(event.who)
    text = t("group_admin_only", sub.language)
    if isinstance(event, Command):
        return Outcome([ctx.say(event.who, text)])
    return Outcome(toast=text)
