"""Người đăng ký: counts, search by name or id, one subscriber's choices and history, and
refusing (or accepting again) a citizen's feedback — the same ban staff set from a case card."""

from __future__ import annotations

from aiohttp import web

from bot.web.app import audit, console, render, staff_of
from bot.web.links import PREFIX

PAGE = 50


def _id(raw: str) -> int:
    if not raw.isdigit() or not 0 < int(raw) < 2**31:
        raise web.HTTPNotFound()
    return int(raw)


async def page(request: web.Request) -> web.Response:
    store = console(request).app.store
    query = request.query.get("q", "")[:200]
    after = request.query.get("after", "0")
    rows = await store.web.find_subscribers(
        query, limit=PAGE, after_id=int(after) if after.isdigit() and len(after) < 10 else 0
    )
    template = "_subscriber_rows.html" if request.headers.get("HX-Request") else "subscribers.html"
    counts = await store.web.subscriber_counts()
    return render(
        request,
        template,
        rows=rows,
        query=query,
        counts=sorted(counts.items()),
        more=rows[-1].subscriber.id if len(rows) == PAGE else None,
    )


async def detail(request: web.Request) -> web.Response:
    store = console(request).app.store
    ident = _id(request.match_info["id"])
    sub = await store.subscribers.get_by_id(ident)
    if sub is None:
        raise web.HTTPNotFound()
    prefs = await store.preferences.get(ident)
    topics = {t.id: t.name for t in await store.topics.all()}
    feeds = {f.id: f.label for f in await store.feeds.all()}
    return render(
        request,
        "subscriber.html",
        sub=sub,
        prefs=prefs,
        topic_names=[topics.get(i, f"#{i}") for i in sorted(prefs.topics)],
        feed_names=[feeds.get(i, f"#{i}") for i in sorted(prefs.feeds)],
        banned=await store.feedback.is_banned(ident),
        history=await store.web.history(ident),
    )


async def block(request: web.Request) -> web.Response:
    c = console(request)
    ident = _id(request.match_info["id"])
    staff = staff_of(request)
    if await c.app.store.subscribers.get_by_id(ident) is None:
        raise web.HTTPNotFound()
    if await c.app.store.feedback.ban(ident, by=staff.actor, now=c.now()):
        await audit(request, "citizen.ban", f"subscriber:{ident}", "web")
    raise web.HTTPSeeOther(f"{PREFIX}/subscribers/{ident}")


async def unblock(request: web.Request) -> web.Response:
    c = console(request)
    ident = _id(request.match_info["id"])
    if await c.app.store.feedback.unban(ident):
        await audit(request, "citizen.unban", f"subscriber:{ident}", "web")
    raise web.HTTPSeeOther(f"{PREFIX}/subscribers/{ident}")


def add_routes(sub: web.Application) -> None:
    sub.router.add_get("/subscribers", page)
    sub.router.add_get("/subscribers/{id}", detail)
    sub.router.add_post("/subscribers/{id}/block", block)
    sub.router.add_post("/subscribers/{id}/unblock", unblock)
