"""The /admin sub-application: security headers, sessions, CSRF, templates, static files.

Every request but the sign-in pages and static files goes through `authenticate`: the session
cookie is looked up by its hash, its idle and absolute expiry checked, and the staff member's
role read from the database *now* (a removed or demoted member's session dies on their next
click, whatever page they had open). Every POST carries the session's CSRF token (form field
`csrf` or header `X-CSRF-Token`); without it the answer is 403 and nothing changes. Pages are
Jinja2 templates with autoescaping on; scripts come only from /admin/static (CSP script-src
'self', no inline scripts or handlers).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
from aiohttp import web

from bot.web import links, sessions
from jobs.i18n import DEFAULT_LANGUAGE, LANGUAGES, t
from storage.audit import actor_of
from storage.staff import ADMIN

if TYPE_CHECKING:
    from bot.app.compose import App

log = logging.getLogger(__name__)

COOKIE = "bantin_session"
LANG_COOKIE = "bantin_lang"
CSRF_HEADER = "X-CSRF-Token"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
UPLOAD_SLACK = 64 * 1024  # the form's other fields around an uploaded photo
PUBLIC_PATHS = (links.LOGIN_PATH, f"{links.PREFIX}/static/", f"{links.PREFIX}/lang")


@dataclass(frozen=True)
class Console:
    """What the console needs from the process: the app, where it is reached, the limits."""

    app: App
    base: str
    limits: sessions.Limits
    limiter: sessions.RateLimiter
    stopping: asyncio.Event  # set at shutdown: live streams end at once

    @property
    def secure(self) -> bool:
        return self.base.startswith("https://")

    def now(self) -> datetime:
        return self.app.clock()


@dataclass(frozen=True)
class Staff:
    """The signed-in staff member of this request, as the database says right now."""

    platform: str
    user_id: str
    role: str
    session_id: int
    csrf: str

    @property
    def actor(self) -> str:
        return actor_of(self.platform, self.user_id)

    @property
    def is_admin(self) -> bool:
        return self.role == ADMIN


CONSOLE: web.AppKey[Console] = web.AppKey("bantin_console")
# aiohttp ≥ 3.13 types request storage with RequestKey; older versions take a plain string.
STAFF: Any = web.RequestKey("bantin_staff", Staff) if hasattr(web, "RequestKey") else "bantin_staff"
ENV: web.AppKey[jinja2.Environment] = web.AppKey("bantin_jinja")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("bot.web", "templates"),
        autoescape=True,  # every value from citizens, feeds and staff is escaped
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _when
    return env


def _when(value: datetime | None) -> str:
    if value is None:
        return "—"
    from jobs.render.markup import VIETNAM

    return value.astimezone(VIETNAM).strftime("%d/%m/%Y %H:%M")


def console(request: web.Request) -> Console:
    return request.config_dict[CONSOLE]


def staff_of(request: web.Request) -> Staff:
    return request[STAFF]  # type: ignore[no-any-return]


def lang_of(request: web.Request) -> str:
    lang = request.cookies.get(LANG_COOKIE, DEFAULT_LANGUAGE)
    return lang if lang in LANGUAGES else DEFAULT_LANGUAGE


def render(
    request: web.Request, template: str, *, status: int = 200, **context: Any
) -> web.Response:
    lang = lang_of(request)

    def translate(key: str, **params: Any) -> str:
        return t(key, lang, **params)

    staff = request.get(STAFF)
    body = (
        request.config_dict[ENV]
        .get_template(template)
        .render(
            _=translate,
            lang=lang,
            staff=staff,
            csrf=staff.csrf if staff else "",
            path=request.path,
            prefix=links.PREFIX,
            **context,
        )
    )
    return web.Response(text=body, content_type="text/html", charset="utf-8", status=status)


def forbidden(request: web.Request) -> web.Response:
    return render(request, "error.html", status=403, message=t("web_forbidden", lang_of(request)))


def require_admin(request: web.Request) -> web.Response | None:
    """The 403 page for an editor on an admin page (the role as read on this request)."""
    if not staff_of(request).is_admin:
        log.warning("web: refused admin page", extra={"user": staff_of(request).actor})
        return forbidden(request)
    return None


async def audit(
    request: web.Request, action: str, target: str | None = None, detail: str | None = None
) -> None:
    """Record a staff action exactly as chat actions are (storage/audit.py)."""
    c = console(request)
    await c.app.store.audit.record(staff_of(request).actor, action, target, detail, now=c.now())


# -- middlewares ---------------------------------------------------------------------------------


@web.middleware
async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith(PUBLIC_PATHS) or request.path.rstrip("/") == links.PREFIX + "/login":
        return await handler(request)
    c = console(request)
    token = request.cookies.get(COOKIE)
    staff = await load_staff(c, token) if token else None
    if staff is None or token is None:
        if request.headers.get("HX-Request"):
            return web.Response(status=401, headers={"HX-Redirect": f"{links.PREFIX}/login"})
        return render(request, "signed_out.html", status=401)
    if request.content_type == "multipart/form-data":
        # An upload (a composer photo) may exceed the listener's 1 MB body limit: allowed up
        # to the media limit, and only now that the session is known to be a staff member's.
        request = request.clone(client_max_size=c.app.settings.media_max_bytes + UPLOAD_SLACK)
    request[STAFF] = staff
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        given = request.headers.get(CSRF_HEADER)
        if given is None and request.content_type in (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ):
            given = str((await request.post()).get("csrf") or "")
        if not links.csrf_ok(token, given):
            log.warning("web: refused POST without CSRF token", extra={"user": staff.actor})
            return render(
                request, "error.html", status=403, message=t("web_csrf_refused", lang_of(request))
            )
    return await handler(request)


async def load_staff(c: Console, token: str) -> Staff | None:
    """The session behind `token` if it is alive and its member's role is unchanged; a dead one
    is revoked in the database so it stays dead."""
    store = c.app.store
    session = await store.web.session(links.hash_token(token))
    if session is None:
        return None
    now = c.now()
    role_now = await store.staff.role_of(session.platform, session.user_id)
    reason = sessions.dead_because(session, role_now, now, c.limits)
    if reason is not None:
        if session.revoked_at is None:
            await store.web.revoke(session.id, now)
            log.info("web: session ended", extra={"reason": reason, "session": session.id})
        return None
    if sessions.needs_touch(session, now):
        await store.web.touch(session.id, now)
    assert role_now is not None
    return Staff(session.platform, session.user_id, role_now, session.id, links.csrf_for(token))


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if not request.path.startswith(f"{links.PREFIX}/static/"):
        response.headers.setdefault("Cache-Control", "no-store")


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """404 and 405 as pages; anything else unexpected as a short 500 page (details in the log)."""
    try:
        return await handler(request)
    except web.HTTPNotFound:
        return render(
            request, "error.html", status=404, message=t("web_not_found", lang_of(request))
        )
    except web.HTTPException:
        raise
    except Exception:
        log.exception("web: request failed", extra={"path": request.path})
        return render(request, "error.html", status=500, message=t("web_error", lang_of(request)))


# -- the application ---------------------------------------------------------------------------


def static_dir() -> Path:
    return Path(str(resources.files("bot.web").joinpath("static")))


def console_app(app: App, *, base: str, limits: sessions.Limits | None = None) -> web.Application:
    """The /admin sub-application for `app` (bot/web/serve.py mounts it on the listener)."""
    from bot.web import views

    # Bodies are bounded by the parent application (1 MB: ops_http.DEFAULT_MAX_BODY), which reads
    # them: an OPML file or a form is far smaller.
    sub = web.Application(middlewares=[errors, authenticate])
    stopping = asyncio.Event()
    sub[CONSOLE] = Console(app, base, limits or sessions.Limits(), sessions.RateLimiter(), stopping)

    async def stop_streams(_: web.Application) -> None:
        stopping.set()

    sub.on_shutdown.append(stop_streams)
    sub[ENV] = environment()
    sub.on_response_prepare.append(security_headers)
    views.add_routes(sub)
    sub.router.add_static("/static/", static_dir(), name="static", append_version=False)
    return sub


def next_path(value: str | None) -> str:
    """A redirect target that stays inside the console (never another site)."""
    if value and value.startswith(links.PREFIX + "/") and not value.startswith("//"):
        return value
    return links.PREFIX + "/"
