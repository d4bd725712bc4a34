"""/moinhat (/latest) and /tim (/search): reading stored articles on demand.

/moinhat lists the newest articles the subscriber's own choices let through (the same
matching as fan-out); /tim uses the database's full-text search over folded text, so words
typed with or without diacritics find the same articles.
"""

from __future__ import annotations

from bot.dialog.context import FlowContext, Outcome
from bot.dialog.events import Command
from bot.dialog.routes import FlowRouter
from bot.dialog.screens import render_article_list
from jobs.i18n import t
from jobs.route.fanout import index_articles, topics_of
from jobs.route.match import Candidate, wants, words

LATEST = 5
SCAN = 200  # newest articles looked through for /moinhat
RESULTS = 8


def router(ctx: FlowContext) -> FlowRouter:
    routes = FlowRouter("reading")

    async def latest(cmd: Command) -> Outcome:
        sub = await ctx.subscriber(cmd.who)
        prefs = await ctx.store.preferences.get(sub.id)
        category_map = await ctx.store.topics.category_map()
        picked = [
            a
            for a in await ctx.store.articles.latest(SCAN)
            if wants(
                prefs,
                Candidate.of(a.feed_id, topics_of(a.categories, category_map), a.title, a.summary),
            )
        ][:LATEST]
        if not picked:
            return Outcome([ctx.say(cmd.who, t("latest_none", sub.language))])
        caps = ctx.capabilities(cmd.who.platform)
        message = render_article_list(picked, sub.language, caps, header_key="latest_header")
        return Outcome([message])

    async def search(cmd: Command) -> Outcome:
        sub = await ctx.subscriber(cmd.who)
        lang = sub.language
        query = cmd.args.strip()[:200]
        terms = list(words(query))
        if not terms:
            return Outcome([ctx.say(cmd.who, t("search_usage", lang))])
        await index_articles(ctx.store)
        ids = await ctx.store.search.search(terms, limit=RESULTS)
        found = await ctx.store.articles.get_many(ids)
        if not found:
            return Outcome([ctx.say(cmd.who, t("search_none", lang, query=query))])
        caps = ctx.capabilities(cmd.who.platform)
        message = render_article_list(found, lang, caps, header_key="search_header", query=query)
        return Outcome([message])

    routes.command(latest, "moinhat", "latest")
    routes.command(search, "tim", "search")
    return routes
