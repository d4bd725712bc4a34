"""/tukhoa (/keywords): include and exclude words, matched whole-word and diacritic-blind.

"/tukhoa an ninh, giao thông" adds include words, "/tukhoa -xổ số" an exclude word,
"/tukhoa xoa an ninh" removes one, "/tukhoa xoa" removes all; no argument lists them. Words
are plain text: nothing a subscriber types is ever run as a pattern (jobs/route/match.py).
"""

from __future__ import annotations

from bot.dialog.context import FlowContext, Outcome
from bot.dialog.events import Command
from bot.dialog.groups import may_manage, refusal
from bot.dialog.routes import FlowRouter
from jobs.i18n import t
from jobs.route.match import clean_keyword

_REMOVE = ("xoa", "xóa", "del", "remove", "bo", "bỏ")


def router(ctx: FlowContext) -> FlowRouter:
    routes = FlowRouter("keywords")

    async def keywords(cmd: Command) -> Outcome:
        sub = await ctx.subscriber(cmd.who)
        lang = sub.language
        prefs = ctx.store.preferences
        args = cmd.args.strip()
        if not args:
            current = await prefs.get(sub.id)
            if not current.include and not current.exclude:
                return Outcome([ctx.say(cmd.who, t("keywords_usage", lang))])
            listing = t(
                "keywords_list",
                lang,
                include=", ".join(current.include) or t("none", lang),
                exclude=", ".join(current.exclude) or t("none", lang),
            )
            return Outcome([ctx.say(cmd.who, listing)])
        if not await may_manage(ctx, cmd):
            return await refusal(ctx, cmd)
        head, _, tail = args.partition(" ")
        if head.lower() in _REMOVE:
            word = clean_keyword(tail) if tail.strip() else None
            removed = await prefs.remove_keyword(sub.id, word)
            key = (
                "keywords_cleared"
                if word is None
                else ("keyword_removed" if removed else "keyword_missing")
            )
            return Outcome([ctx.say(cmd.who, t(key, lang, word=word or ""))])
        added: list[str] = []
        for part in args.split(","):
            exclude = part.strip().startswith("-")
            word = clean_keyword(part.strip().lstrip("-+"))
            if word is None:
                continue
            if not await prefs.add_keyword(sub.id, word, exclude=exclude):
                return Outcome([ctx.say(cmd.who, t("keywords_full", lang))])
            added.append(f"−{word}" if exclude else word)
        if not added:
            return Outcome([ctx.say(cmd.who, t("keywords_usage", lang))])
        return Outcome([ctx.say(cmd.who, t("keywords_added", lang, words=", ".join(added)))])

    routes.command(keywords, "tukhoa", "keywords")
    return routes
