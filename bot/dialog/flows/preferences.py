"""/caidat (/settings) and /lang: every choice a subscriber has, changed with buttons.

Buttons carry "st:<action>[:<id>]" — short server-side ids, never state — and every change is
re-checked against the group-admin rule at the moment it runs. Digest times and quiet hours
are typed as text after their button (a stored dialog state, so a restart loses nothing).
"""

from __future__ import annotations

from bot.dialog.context import FlowContext, Outcome, parse_id
from bot.dialog.events import Command, Event, Press, Text
from bot.dialog.groups import may_manage, refusal
from bot.dialog.routes import FlowRouter
from bot.dialog.screens import render_choices, render_settings
from jobs.i18n import LANGUAGES, t
from jobs.route.digest import effective_quiet, format_time, parse_quiet, parse_times
from storage.kinds import DigestMode
from storage.preferences import QUIET_DEFAULT_KEY
from storage.records import Subscriber

TIMES, QUIET = "st_times", "st_quiet"


def router(ctx: FlowContext) -> FlowRouter:
    routes = FlowRouter("preferences")

    async def settings_screen(sub: Subscriber, lang: str, event: Event, intro: str = "") -> Outcome:
        prefs = await ctx.store.preferences.get(sub.id)
        default = await ctx.store.state.get(QUIET_DEFAULT_KEY)
        window = effective_quiet(prefs.quiet_hours, default)
        quiet = f"{format_time(window[0])}-{format_time(window[1])}" if window else None
        caps = ctx.capabilities(event.who.platform)
        message = render_settings(prefs, quiet, lang, caps, intro=intro)
        if isinstance(event, Press):
            return Outcome(edit=message)
        return Outcome([message])

    async def choices(sub: Subscriber, kind: str, event: Event) -> Outcome:
        prefs = await ctx.store.preferences.get(sub.id)
        if kind == "t":
            options = [(tp.id, tp.name) for tp in await ctx.store.topics.all()]
            chosen = prefs.topics
        else:
            options = [(f.id, f.label) for f in await ctx.store.feeds.all() if f.enabled]
            chosen = prefs.feeds
        caps = ctx.capabilities(event.who.platform)
        message = render_choices(kind, options, chosen, prefs.all_news, sub.language, caps)
        return Outcome(edit=message) if isinstance(event, Press) else Outcome([message])

    async def settings(cmd: Command) -> Outcome:
        sub = await ctx.subscriber(cmd.who)
        return await settings_screen(sub, sub.language, cmd)

    async def lang(cmd: Command) -> Outcome:
        if not await may_manage(ctx, cmd):
            return await refusal(ctx, cmd)
        sub = await ctx.subscriber(cmd.who)
        wanted = cmd.args.strip().lower()[:2]
        new = wanted if wanted in LANGUAGES else ("en" if sub.language == "vi" else "vi")
        await ctx.store.preferences.set_language(sub.id, new)
        return Outcome([ctx.say(cmd.who, t("lang_switched", new))])

    async def press(event: Press, rest: str) -> Outcome:
        action, _, ident = rest.partition(":")
        sub = await ctx.subscriber(event.who)
        lang = sub.language
        if not await may_manage(ctx, event):
            return await refusal(ctx, event)
        prefs = ctx.store.preferences
        if action == "home":
            return await settings_screen(sub, lang, event)
        if action == "ok":  # onboarding: keep everything
            await prefs.everything(sub.id)
            return Outcome(edit=ctx.say(event.who, t("onboard_done", lang)))
        if action in ("topics", "feeds"):
            return await choices(sub, "t" if action == "topics" else "f", event)
        if action in ("t", "f"):
            number = parse_id(ident)
            if number is None:
                return ctx.invalid_press(sub)
            if action == "t":
                chosen = await prefs.choose(sub.id, topic=number)
            else:
                chosen = await prefs.choose(sub.id, feed=number)
            if chosen is None:  # a topic or source that does not exist (any more)
                return ctx.invalid_press(sub)
            return await choices(sub, action, event)
        if action == "all":
            await prefs.everything(sub.id)
            return await settings_screen(sub, lang, event, t("scope_all_set", lang))
        if action == "mode":
            current = await prefs.get(sub.id)
            digest = current.mode == DigestMode.DIGEST
            mode = DigestMode.INSTANT if digest else DigestMode.DIGEST
            await prefs.update(sub.id, mode=mode)
            return await settings_screen(sub, lang, event)
        if action == "preview":
            current = await prefs.get(sub.id)
            await prefs.update(sub.id, link_preview=not current.link_preview)
            return await settings_screen(sub, lang, event)
        if action == "lang":
            new = "en" if lang == "vi" else "vi"
            await prefs.set_language(sub.id, new)
            return await settings_screen(sub, new, event, t("lang_switched", new))
        if action in ("times", "quiet"):
            await ctx.set_dialog(sub, event.who, TIMES if action == "times" else QUIET, None)
            ask = "ask_times" if action == "times" else "ask_quiet"
            return Outcome([ctx.say(event.who, t(ask, lang))])
        if action == "kw":
            return Outcome([ctx.say(event.who, t("keywords_usage", lang))])
        if action == "done":
            return Outcome(edit=ctx.say(event.who, t("settings_closed", lang)))
        return ctx.invalid_press(sub)

    async def typed(event: Text, sub: Subscriber) -> Outcome | None:
        lang = sub.language
        if not await may_manage(ctx, event):
            return None
        prefs = ctx.store.preferences
        if sub.dialog_state == TIMES:
            times = parse_times(event.text)
            if times is None:
                return Outcome([ctx.say(event.who, t("bad_times", lang))])
            await prefs.update(sub.id, digest_times=times, mode=DigestMode.DIGEST)
            reply = t("times_saved", lang, times=", ".join(times))
        else:
            quiet = parse_quiet(event.text)
            if quiet is None:
                return Outcome([ctx.say(event.who, t("bad_quiet", lang))])
            await prefs.update(sub.id, quiet_hours=quiet)
            shown = t("off", lang) if quiet == "off" else quiet.replace("-", "–")
            reply = t("quiet_saved", lang, quiet=shown)
        await ctx.set_dialog(sub, event.who, None, None)
        return await settings_screen(sub, lang, event, reply)

    routes.command(settings, "caidat", "settings")
    routes.command(lang, "lang", "ngonngu")
    routes.press("st", press)
    routes.state(TIMES, typed)
    routes.state(QUIET, typed)
    return routes
