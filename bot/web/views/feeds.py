"""Nguồn tin: feed health (last success, last error, next poll, articles), add, remove, OPML.

Every staff member sees the table; adding, removing and importing are for admins (as in chat).
Addresses are shown without user:password@ (Feed.shown_url), error texts too. Only http(s)
feeds are added here: a file:// address is for the operator on the server (`bantin feeds add`).
"""

from __future__ import annotations

from aiohttp import web

from bot.web.app import audit, console, lang_of, render, require_admin
from bot.web.links import PREFIX
from jobs.i18n import t
from jobs.ingest.opml import OpmlError, OpmlFeed, parse_opml, to_opml
from storage.urls import without_userinfo

MAX_OPML_BYTES = 1_000_000  # the listener reads at most 1 MB per request anyway
MAX_URL = 2000


async def page(
    request: web.Request, *, errors: list[str] | None = None, notice: str = ""
) -> web.Response:
    feeds = await console(request).app.store.feeds.all()
    return render(
        request,
        "feeds.html",
        status=400 if errors else 200,
        feeds=feeds,
        errors=errors or [],
        notice=notice,
        error_text=lambda e: without_userinfo(e)[:300] if e else "",
    )


async def list_feeds(request: web.Request) -> web.Response:
    return await page(request)


async def add(request: web.Request) -> web.Response:
    if (refused := require_admin(request)) is not None:
        return refused
    form = await request.post()
    url = str(form.get("url") or "").strip()
    name = str(form.get("name") or "").strip()[:300] or None
    category = str(form.get("category") or "").strip()[:200] or None
    if not url.startswith(("http://", "https://")) or len(url) > MAX_URL or " " in url:
        return await page(request, errors=[t("web_feed_bad_url", lang_of(request))])
    feed, created = await console(request).app.store.feeds.add(url, name=name, category=category)
    if created:
        await audit(request, "feed.add", f"feed:{feed.id}", feed.shown_url)
    raise web.HTTPSeeOther(f"{PREFIX}/feeds")


async def remove(request: web.Request) -> web.Response:
    if (refused := require_admin(request)) is not None:
        return refused
    raw = request.match_info["id"]
    if raw.isdigit() and 0 < int(raw) < 2**31:
        if await console(request).app.store.feeds.remove(int(raw)):
            await audit(request, "feed.remove", f"feed:{raw}")
    raise web.HTTPSeeOther(f"{PREFIX}/feeds")


async def import_opml(request: web.Request) -> web.Response:
    if (refused := require_admin(request)) is not None:
        return refused
    lang = lang_of(request)
    form = await request.post()
    upload = form.get("file")
    data = getattr(upload, "file", None)
    if data is None:
        return await page(request, errors=[t("web_opml_missing", lang)])
    body = data.read(MAX_OPML_BYTES + 1)
    try:
        if len(body) > MAX_OPML_BYTES:
            raise OpmlError("larger than 1 MB")
        found = parse_opml(body)
    except OpmlError as exc:
        return await page(request, errors=[t("web_opml_invalid", lang, error=str(exc))])
    store = console(request).app.store
    known = {f.url for f in await store.feeds.all()}
    added = skipped = 0
    for feed in found.feeds:
        if feed.url in known:
            skipped += 1
            continue
        _, created = await store.feeds.add(feed.url, name=feed.name, category=feed.category)
        added += created
        skipped += not created
    if added:
        await audit(request, "feed.import", "opml", f"{added}")
    notice = t("cli_opml_imported", lang, added=added, skipped=skipped, invalid=len(found.invalid))
    return await page(request, notice=notice)


async def export_opml(request: web.Request) -> web.Response:
    c = console(request)
    feeds = await c.app.store.feeds.all()
    data = to_opml([OpmlFeed(f.url, f.name, f.category) for f in feeds], now=c.now())
    return web.Response(
        body=data,
        content_type="text/x-opml",
        charset="utf-8",
        headers={"Content-Disposition": 'attachment; filename="bantin-feeds.opml"'},
    )


def add_routes(sub: web.Application) -> None:
    sub.router.add_get("/feeds", list_feeds)
    sub.router.add_post("/feeds", add)
    sub.router.add_post("/feeds/{id}/remove", remove)
    sub.router.add_post("/feeds/import", import_opml)
    sub.router.add_get("/feeds/export.opml", export_opml)
