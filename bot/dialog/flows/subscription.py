"""Subscribing and leaving: /start (onboarding, deep links), /stop, /help, /huy (/cancel).

A new subscriber gets everything by default, so the welcome's first button is all they need;
the others open topic and source choice. `https://t.me/<bot>?start=<code>` arrives as
"/start <code>": t<topic id> or s<feed id> subscribes straight to that topic or source.
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace

from bot.dialog.context import FlowContext, Outcome, parse_id
from bot.dialog.events import Command
from bot.dialog.groups import may_manage, refusal
from bot.dialog.routes import FlowRouter
from bot.dialog.screens import typed
from jobs.channel import Button
from jobs.i18n import t
from jobs.render.callbacks import settings_data

log = logging.getLogger(__name__)

_CODE = re.compile(r"^([ts])(\w{1,12})$")


def deep_link_code(topic: int | None = None, feed: int | None = None) -> str:
    """The start parameter for a topic or a source (Telegram allows [A-Za-z0-9_-]{1,64})."""
    return f"t{topic}" if topic is not None else f"s{feed}"


def router(ctx: FlowContext) -> FlowRouter:
    routes = FlowRouter("subscription")

    async def deep_link(cmd: Command, code: str, lang: str, sub_id: int) -> str:
        match = _CODE.match(code)
        ident = parse_id(match.group(2)) if match is not None else None
        if match is None or ident is None:
            return t("deeplink_bad", lang)
        if match.group(1) == "t":
            topic = await ctx.store.topics.get(ident)
            if topic is None:
                return t("deeplink_bad", lang)
            await ctx.store.preferences.choose(sub_id, topic=ident, on=True)
            return t("deeplink_topic", lang, name=topic.name)
        feed = await ctx.store.feeds.get(ident)
        if feed is None:
            return t("deeplink_bad", lang)
        await ctx.store.preferences.choose(sub_id, feed=ident, on=True)
        return t("deeplink_feed", lang, name=feed.label)

    async def start(cmd: Command) -> Outcome:
        if not await may_manage(ctx, cmd):
            return await refusal(ctx, cmd)
        sub, newly = await ctx.store.subscribers.subscribe(
            cmd.who.platform,
            cmd.who.chat_id,
            chat_type=cmd.who.chat_type,
            display_name=cmd.who.display_name,
        )
        lang = sub.language
        code = cmd.args.strip()
        if newly:
            log.info("subscribed", extra={"platform": sub.platform, "subscriber": sub.id})
        if code:
            text = await deep_link(cmd, code, lang, sub.id)
            if newly:
                name = cmd.who.display_name or t("anonymous", lang)
                portal = ctx.portal_name or t("portal_default", lang)
                welcome = typed("welcome_new", ctx.capabilities(cmd.who.platform))
                text = t(welcome, lang, name=name, portal=portal) + "\n\n" + text
            return Outcome([ctx.say(cmd.who, text + "\n" + t("settings_hint", lang))])
        if not newly:
            return Outcome([ctx.say(cmd.who, t("welcome_back", lang))])
        name = cmd.who.display_name or t("anonymous", lang)
        portal = ctx.portal_name or t("portal_default", lang)
        caps = ctx.capabilities(cmd.who.platform)  # Zalo: say what to type (#15)
        text = t(typed("welcome_new", caps), lang, name=name, portal=portal)
        text += "\n\n" + t(typed("onboard", caps), lang)
        message = ctx.say(cmd.who, text)
        if ctx.capabilities(cmd.who.platform).buttons:
            message = replace(
                message,
                buttons=(
                    (Button(t("btn_onboard_all", lang), settings_data("ok")),),
                    (
                        Button(t("btn_topics", lang), settings_data("topics")),
                        Button(t("btn_feeds", lang), settings_data("feeds")),
                    ),
                ),
            )
        return Outcome([message])

    async def stop(cmd: Command) -> Outcome:
        if not await may_manage(ctx, cmd):
            return await refusal(ctx, cmd)
        sub = await ctx.subscriber(cmd.who)
        if not await ctx.store.subscribers.deactivate(sub.id, "unsubscribed"):
            return Outcome([ctx.say(cmd.who, t("not_subscribed", sub.language))])
        await ctx.store.deliveries.cancel_pending_for(sub.id, reason="unsubscribed")
        log.info("unsubscribed", extra={"platform": sub.platform, "subscriber": sub.id})
        return Outcome([ctx.say(cmd.who, t("stopped", sub.language))])

    async def help_(cmd: Command) -> Outcome:
        sub = await ctx.subscriber(cmd.who)
        text = t(typed("help", ctx.capabilities(cmd.who.platform)), sub.language)
        text += t("help_subscriber", sub.language) + t("cz_help_cases", sub.language)
        if await ctx.is_staff(cmd.who):
            text += t("help_staff", sub.language) + t("cs_help", sub.language)
        return Outcome([ctx.say(cmd.who, text)])

    async def cancel(cmd: Command) -> Outcome:
        sub = await ctx.subscriber(cmd.who)
        if sub.dialog_state is None:
            return Outcome([ctx.say(cmd.who, t("nothing_to_cancel", sub.language))])
        await ctx.set_dialog(sub, cmd.who, None, None)
        return Outcome([ctx.say(cmd.who, t("cancelled", sub.language))])

    routes.command(start, "start")
    routes.command(stop, "stop")
    routes.command(help_, "help")
    routes.command(cancel, "huy", "cancel")
    return routes
