"""/web (or /dangnhap): a staff member asks for a one-time sign-in link to the web console.

Staff only (the role read from storage now); a citizen gets the usual staff_only answer. The
link is sent only in a private chat, never in a group where others would read it; it is valid
10 minutes, used once and bound to the asker (bot/web/links.py). Links point where the running
console said it is reached (BANTIN_PUBLIC_URL, else its listen address).
"""

from __future__ import annotations

import logging
from dataclasses import replace

from bot.dialog.context import FlowContext, Outcome
from bot.dialog.events import Command
from bot.dialog.routes import FlowRouter
from bot.web.links import BASE_URL_KEY, LOGIN_TTL, issue_login_link
from jobs.i18n import t
from storage.audit import actor_of

log = logging.getLogger(__name__)


def router(ctx: FlowContext) -> FlowRouter:
    routes = FlowRouter("weblogin")
    store = ctx.store

    async def web_link(cmd: Command) -> Outcome:
        sub = await ctx.subscriber(cmd.who)
        lang = sub.language
        if not await ctx.is_staff(cmd.who):
            log.warning("refused staff command", extra={"user": cmd.who.user_id})
            return Outcome([ctx.say(cmd.who, t("staff_only", lang))])
        if cmd.who.chat_type != "private":
            return Outcome([ctx.say(cmd.who, t("web_login_private_only", lang))])
        base = await store.state.get(BASE_URL_KEY)
        if not base:
            return Outcome([ctx.say(cmd.who, t("web_login_no_console", lang))])
        now = ctx.clock()
        url = await issue_login_link(store, cmd.who.platform, cmd.who.user_id, base=base, now=now)
        actor = actor_of(cmd.who.platform, cmd.who.user_id)
        await store.audit.record(actor, "web.link", actor, now=now)
        minutes = int(LOGIN_TTL.total_seconds() // 60)
        message = ctx.say(cmd.who, t("web_login_link", lang, url=url, minutes=minutes))
        return Outcome([replace(message, link_preview=False)])

    routes.command(web_link, "web", "dangnhap")
    return routes
