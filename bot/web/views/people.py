"""Cán bộ (staff: list, add, change role, remove) and Nhật ký (the audit log, filtered, CSV):
admins only, the role read from the database on this request.

The platform's last admin can be neither removed nor demoted here either (the rule lives in
storage/staff.py). A member removed or given another role loses their open console sessions at
once (and the per-request role check would end them anyway).
"""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

from aiohttp import web

from bot.cli.export_cells import safe_row
from bot.web.app import audit, console, lang_of, render, require_admin, staff_of
from bot.web.links import PREFIX
from jobs.i18n import t
from jobs.render.markup import VIETNAM
from storage.audit import actor_of
from storage.staff import ADMIN, EDITOR

PLATFORMS = ("telegram", "zalo", "zalo_oa", "console")
AUDIT_PAGE = 100
CSV_MAX = 50_000


async def staff_page(request: web.Request, *, errors: list[str] | None = None) -> web.Response:
    if (refused := require_admin(request)) is not None:
        return refused
    members = await console(request).app.store.staff.all()
    return render(
        request,
        "staff.html",
        status=400 if errors else 200,
        members=members,
        platforms=PLATFORMS,
        roles=(ADMIN, EDITOR),
        errors=errors or [],
    )


async def staff_list(request: web.Request) -> web.Response:
    return await staff_page(request)


async def staff_set(request: web.Request) -> web.Response:
    if (refused := require_admin(request)) is not None:
        return refused
    c = console(request)
    lang = lang_of(request)
    form = await request.post()
    platform = str(form.get("platform") or "")
    user = str(form.get("user_id") or "").strip()
    role = str(form.get("role") or "")
    if platform not in PLATFORMS or role not in (ADMIN, EDITOR) or not user or len(user) > 100:
        return await staff_page(request, errors=[t("web_staff_bad", lang)])
    me = staff_of(request)
    result = await c.app.store.staff.set_role_unless_last_admin(
        platform, user, role=role, added_by=me.actor
    )
    if result == "last_admin":
        return await staff_page(request, errors=[t("authz_staff_last_admin_demote", lang)])
    if result != "unchanged":
        await audit(request, "staff.add", actor_of(platform, user), role)
        await c.app.store.web.revoke_all(platform, user, c.now())
    raise web.HTTPSeeOther(f"{PREFIX}/staff")


async def staff_remove(request: web.Request) -> web.Response:
    if (refused := require_admin(request)) is not None:
        return refused
    c = console(request)
    form = await request.post()
    platform = str(form.get("platform") or "")
    user = str(form.get("user_id") or "")[:100]
    result = await c.app.store.staff.remove_unless_last_admin(platform, user)
    if result == "last_admin":
        return await staff_page(request, errors=[t("staff_last_admin", lang_of(request))])
    if result == "removed":
        await audit(request, "staff.remove", actor_of(platform, user))
        await c.app.store.web.revoke_all(platform, user, c.now())
    raise web.HTTPSeeOther(f"{PREFIX}/staff")


def _day(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value).replace(tzinfo=VIETNAM) if value else None
    except ValueError:
        return None


def _filters(request: web.Request) -> dict[str, object]:
    q = request.query
    until = _day(q.get("until", "")[:10])
    return {
        "actor": q.get("actor", "").strip()[:100] or None,
        "action": q.get("action", "").strip()[:50] or None,
        "since": _day(q.get("since", "")[:10]),
        "until": until + timedelta(days=1) if until else None,
    }


async def audit_page(request: web.Request) -> web.Response:
    if (refused := require_admin(request)) is not None:
        return refused
    before = request.query.get("before", "")
    entries = await console(request).app.store.web.audit_page(
        **_filters(request),  # type: ignore[arg-type]
        before_id=int(before) if before.isdigit() and len(before) < 19 else None,
        limit=AUDIT_PAGE,
    )
    return render(
        request,
        "audit.html",
        entries=entries,
        query=request.query,
        more=entries[-1].id if len(entries) == AUDIT_PAGE else None,
        export=request.query_string,
    )


async def audit_csv(request: web.Request) -> web.Response:
    """The filtered log as CSV; every cell a spreadsheet would run as a formula is neutralised
    (bot/cli/export_cells.py, as `bantin audit`)."""
    if (refused := require_admin(request)) is not None:
        return refused
    entries = await console(request).app.store.web.audit_page(
        **_filters(request),  # type: ignore[arg-type]
        limit=CSV_MAX,
    )
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["id", "at", "actor", "action", "target", "detail"])
    for e in entries:
        writer.writerow(
            safe_row([e.id, e.at.isoformat(), e.actor, e.action, e.target or "", e.detail or ""])
        )
    return web.Response(
        body=("\ufeff" + out.getvalue()).encode("utf-8"),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": 'attachment; filename="bantin-audit.csv"'},
    )


def add_routes(sub: web.Application) -> None:
    sub.router.add_get("/staff", staff_list)
    sub.router.add_post("/staff", staff_set)
    sub.router.add_post("/staff/remove", staff_remove)
    sub.router.add_get("/audit", audit_page)
    sub.router.add_get("/audit.csv", audit_csv)
