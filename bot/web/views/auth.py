"""Signing in with a one-time link, signing out, the language switch.

The link's GET only shows a button: link previews (Telegram fetches URLs sent in chat) and
mail scanners must not use up the link; the POST behind the button consumes it, once.
"""

from __future__ import annotations

import logging

from aiohttp import web

from bot.web import links
from bot.web.app import (
    COOKIE,
    LANG_COOKIE,
    console,
    lang_of,
    next_path,
    render,
    staff_of,
)
from jobs.i18n import LANGUAGES, t
from storage.audit import actor_of

log = logging.getLogger(__name__)


async def login_form(request: web.Request) -> web.Response:
    token = request.match_info.get("token", "")
    return render(request, "login.html", token=token)


async def login(request: web.Request) -> web.Response:
    c = console(request)
    now = c.now()
    address = request.remote or "?"
    lang = lang_of(request)
    if not c.limiter.allow(address, now):
        log.warning("web: sign-in rate limited", extra={"address": address})
        return render(request, "error.html", status=429, message=t("web_rate_limited", lang))
    form = await request.post()
    token = str(form.get("token") or request.match_info.get("token", ""))[:200]
    store = c.app.store
    who = await store.web.use_login_token(links.hash_token(token), now=now) if token else None
    role = await store.staff.role_of(*who) if who else None
    if who is None or role is None:
        return render(request, "error.html", status=403, message=t("web_link_invalid", lang))
    session_token = links.new_token()
    await store.web.add_session(
        links.hash_token(session_token), who[0], who[1], role, now=now, lifetime=c.limits.absolute
    )
    await store.audit.record(actor_of(*who), "web.login", None, role, now=now)
    await store.web.purge(now)
    response = web.HTTPSeeOther(f"{links.PREFIX}/")
    response.set_cookie(
        COOKIE,
        session_token,
        path=links.PREFIX,
        httponly=True,
        secure=c.secure,
        samesite="Lax",
        max_age=int(c.limits.absolute.total_seconds()),
    )
    raise response


async def logout(request: web.Request) -> web.Response:
    c = console(request)
    staff = staff_of(request)
    await c.app.store.web.revoke(staff.session_id, c.now())
    await c.app.store.audit.record(staff.actor, "web.logout", now=c.now())
    response = render(request, "signed_out.html", logged_out=True)
    response.del_cookie(COOKIE, path=links.PREFIX)
    return response


async def switch_language(request: web.Request) -> web.Response:
    lang = request.query.get("to", "")
    response = web.HTTPSeeOther(next_path(request.query.get("next")))
    if lang in LANGUAGES:
        response.set_cookie(
            LANG_COOKIE, lang, path=links.PREFIX, samesite="Lax", max_age=365 * 86400
        )
    raise response


def add_routes(sub: web.Application) -> None:
    sub.router.add_get("/login/{token}", login_form)
    sub.router.add_post("/login/{token}", login)
    sub.router.add_get("/login", login_form)
    sub.router.add_post("/logout", logout)
    sub.router.add_get("/lang", switch_language)
