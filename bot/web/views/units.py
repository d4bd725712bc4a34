"""Đơn vị (units): units, their staff chat and members, categories (lĩnh vực) and canned
answers, in the browser: admins only, the role read from the database on this request.

The rules live in storage/units.py (the default unit and a unit holding open cases are never
removed; a category is deactivated, never deleted, from here; a member must be staff first);
this page only shows the storage's refusals in words. Every change is audited with the same
action names as chat (/donvi, /linhvuc) and the CLI (`bantin units|categories|canned`), so the
audit log reads the same whichever way an admin worked.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.web.app import audit, console, lang_of, render, require_admin, staff_of
from bot.web.links import PREFIX
from jobs.cases.canned import unknown_placeholders
from jobs.i18n import t
from storage.case_queue import QueueFilter
from storage.kinds import OPEN_STATES
from storage.records import CannedAnswer
from storage.units import MAX_DEADLINE_DAYS, NAME_MAX, TITLE_MAX

CHAT_PLATFORMS = ("telegram", "zalo")
TEXT_MAX = 4000  # a canned answer is one chat message
HOME = f"{PREFIX}/units"


def _int(value: object, *, low: int = 0, high: int = 10**9) -> int | None:
    text = str(value or "").strip()
    if not text.isascii() or not text.isdigit() or len(text) > 10:
        return None
    number = int(text)
    return number if low <= number <= high else None


def _path_id(request: web.Request, name: str = "id") -> int:
    found = _int(request.match_info.get(name))
    if found is None:
        raise web.HTTPNotFound()
    return found


async def units_page(
    request: web.Request, *, errors: list[str] | None = None, notices: list[str] | None = None
) -> web.Response:
    if (refused := require_admin(request)) is not None:
        return refused
    store = console(request).app.store
    units = await store.units.all()
    members = {u.id: await store.units.members(u.id) for u in units}
    now = console(request).now()
    # A count per unit (tens of them): the queue's own count, so the figure is the one the
    # case queue shows behind the link.
    open_cases = {
        u.id: (
            await store.case_queue.page(
                QueueFilter(states=OPEN_STATES, unit_id=u.id), now=now, limit=1
            )
        ).total
        for u in units
    }
    canned_groups: list[tuple[str | None, list[CannedAnswer]]] = [
        (None, await store.units.canned(None))
    ]
    for u in units:
        canned_groups.append((u.name, await store.units.canned(u.id, shared=False)))
    default = next((u for u in units if u.is_default), None)
    return render(
        request,
        "units.html",
        status=400 if errors else 200,
        units=units,
        default_name=default.name if default else "—",
        members=members,
        open_cases=open_cases,
        staff_members=await store.staff.all(),
        categories=await store.units.categories(),
        canned_groups=canned_groups,
        chat_platforms=CHAT_PLATFORMS,
        name_max=NAME_MAX,
        title_max=TITLE_MAX,
        text_max=TEXT_MAX,
        max_days=MAX_DEADLINE_DAYS,
        errors=errors or [],
        notices=notices or [],
    )


async def _refuse(request: web.Request, key: str, **params: Any) -> web.Response:
    return await units_page(request, errors=[t(key, lang_of(request), **params)])


def _done(anchor: str = "") -> web.HTTPSeeOther:
    return web.HTTPSeeOther(HOME + (f"#{anchor}" if anchor else ""))


async def units_list(request: web.Request) -> web.Response:
    return await units_page(request)


# -- units ---------------------------------------------------------------------------------------


async def unit_add(request: web.Request) -> web.Response:
    if (refused := require_admin(request)) is not None:
        return refused
    name = str((await request.post()).get("name") or "")
    try:
        unit = await console(request).app.store.units.add(name)
    except ValueError:
        return await _refuse(request, "web_units_bad_name", max=NAME_MAX)
    if unit is None:
        return await _refuse(request, "cu_unit_taken", unit=name.strip())
    await audit(request, "unit.add", f"unit:{unit.id}")
    raise _done(f"unit-{unit.id}")


async def unit_rename(request: web.Request) -> web.Response:
    if (refused := require_admin(request)) is not None:
        return refused
    unit_id = _path_id(request)
    name = str((await request.post()).get("name") or "")
    try:
        renamed = await console(request).app.store.units.rename(unit_id, name)
    except ValueError:
        return await _refuse(request, "web_units_bad_name", max=NAME_MAX)
    if renamed is None:
        return await _refuse(request, "cu_unit_taken", unit=name.strip())
    await audit(request, "unit.rename", f"unit:{unit_id}", renamed.name)
    raise _done(f"unit-{unit_id}")


async def unit_remove(request: web.Request) -> web.Response:
    if (refused := require_admin(request)) is not None:
        return refused
    store = console(request).app.store
    unit = await store.units.get(_path_id(request))
    if unit is None:
        raise web.HTTPNotFound()
    outcome = await store.units.remove(unit.id)
    if outcome != "removed":
        return await _refuse(request, f"cu_unit_remove_{outcome}", unit=unit.name)
    await audit(request, "unit.remove", f"unit:{unit.id}", unit.name)
    raise _done()


async def unit_chat(request: web.Request) -> web.Response:
    """Set the unit's staff chat, or (both fields empty, or the clear button) send it back to
    the configured staff chat."""
    if (refused := require_admin(request)) is not None:
        return refused
    unit_id = _path_id(request)
    form = await request.post()
    platform = str(form.get("platform") or "")
    chat = str(form.get("chat_id") or "").strip()
    if form.get("clear") or not chat:
        platform_or_none, chat_or_none = None, None
    elif platform not in CHAT_PLATFORMS or len(chat) > 100 or " " in chat:
        return await _refuse(request, "web_units_bad_chat")
    else:
        platform_or_none, chat_or_none = platform, chat
    if not await console(request).app.store.units.set_chat(unit_id, platform_or_none, chat_or_none):
        raise web.HTTPNotFound()
    detail = f"{platform_or_none}:{chat_or_none}" if chat_or_none else "staff chat"
    await audit(request, "unit.set_chat", f"unit:{unit_id}", detail)
    raise _done(f"unit-{unit_id}")


def _person(value: object) -> tuple[str, str] | None:
    platform, sep, user = str(value or "").partition(":")
    if not sep or not platform or not user.strip() or len(user) > 100:
        return None
    return platform, user.strip()


async def member_add(request: web.Request) -> web.Response:
    if (refused := require_admin(request)) is not None:
        return refused
    unit_id = _path_id(request)
    target = _person((await request.post()).get("person"))
    if target is None:
        return await _refuse(request, "web_units_pick_member")
    shown = f"{target[0]}:{target[1]}"
    store = console(request).app.store
    result = await store.units.add_member(unit_id, *target)
    if result == "missing":
        raise web.HTTPNotFound()
    if result == "no_staff":
        return await _refuse(request, "cu_member_not_staff", person=shown)
    if result == "added":
        await audit(request, "unit.member_add", f"unit:{unit_id}", shown)
    raise _done(f"unit-{unit_id}")


async def member_remove(request: web.Request) -> web.Response:
    if (refused := require_admin(request)) is not None:
        return refused
    unit_id = _path_id(request)
    target = _person((await request.post()).get("person"))
    if target is not None and await console(request).app.store.units.remove_member(
        unit_id, *target
    ):
        await audit(request, "unit.member_remove", f"unit:{unit_id}", f"{target[0]}:{target[1]}")
    raise _done(f"unit-{unit_id}")


# -- categories ----------------------------------------------------------------------------------


async def _category_fields(
    request: web.Request,
) -> tuple[str, int | None, int | None, int | None, bool] | web.Response:
    """(name, unit id or None for the default unit, days, position, active) or the page with
    the reason the form was refused."""
    form = await request.post()
    name = str(form.get("name") or "")
    unit_text = str(form.get("unit") or "")
    unit_id = _int(unit_text) if unit_text else None
    if unit_text and unit_id is None:
        return await _refuse(request, "web_units_category_bad")
    days = _int(form.get("days"), high=MAX_DEADLINE_DAYS)
    if days is None:
        return await _refuse(request, "web_units_bad_days", max=MAX_DEADLINE_DAYS)
    position_text = str(form.get("position") or "").strip()
    position = _int(position_text, high=1_000_000) if position_text else None
    if position_text and position is None:
        return await _refuse(request, "web_units_category_bad")
    return name, unit_id, days, position, bool(form.get("active"))


async def category_add(request: web.Request) -> web.Response:
    if (refused := require_admin(request)) is not None:
        return refused
    fields = await _category_fields(request)
    if isinstance(fields, web.Response):
        return fields
    name, unit_id, days, position, _active = fields
    assert days is not None
    try:
        added = await console(request).app.store.units.add_category(
            name, unit_id=unit_id, deadline_days=days, position=position
        )
    except ValueError:
        return await _refuse(request, "web_units_bad_name", max=NAME_MAX)
    if added is None:
        return await _refuse(request, "cu_category_taken", category=name.strip())
    await audit(request, "category.add", f"category:{added.id}", f"unit={unit_id} days={days}")
    raise _done(f"category-{added.id}")


async def category_edit(request: web.Request) -> web.Response:
    if (refused := require_admin(request)) is not None:
        return refused
    category_id = _path_id(request)
    fields = await _category_fields(request)
    if isinstance(fields, web.Response):
        return fields
    name, unit_id, days, position, active = fields
    store = console(request).app.store
    if await store.units.category(category_id) is None:
        raise web.HTTPNotFound()
    try:
        edited = await store.units.edit_category(
            category_id,
            name=name,
            unit_id=unit_id,
            deadline_days=days,
            position=position,
            active=active,
        )
    except ValueError:
        return await _refuse(request, "web_units_bad_name", max=NAME_MAX)
    if edited is None:
        return await _refuse(request, "cu_category_taken", category=name.strip())
    detail = f"name={edited.name} unit={unit_id} days={days} position={position} active={active}"
    await audit(request, "category.edit", f"category:{category_id}", detail)
    raise _done(f"category-{category_id}")


async def category_deactivate(request: web.Request) -> web.Response:
    if (refused := require_admin(request)) is not None:
        return refused
    category_id = _path_id(request)
    if not await console(request).app.store.units.deactivate_category(category_id):
        raise web.HTTPNotFound()
    await audit(request, "category.deactivate", f"category:{category_id}")
    raise _done(f"category-{category_id}")


# -- canned answers ------------------------------------------------------------------------------


async def canned_add(request: web.Request) -> web.Response:
    if (refused := require_admin(request)) is not None:
        return refused
    form = await request.post()
    unit_text = str(form.get("unit") or "")
    unit_id = _int(unit_text) if unit_text else None
    title = str(form.get("title") or "")
    text = str(form.get("text") or "").replace("\r\n", "\n")
    if (unit_text and unit_id is None) or not text.strip() or len(text) > TEXT_MAX:
        return await _refuse(request, "web_units_canned_bad", max=TEXT_MAX)
    try:
        added = await console(request).app.store.units.add_canned(
            unit_id, title, text, created_by=staff_of(request).actor
        )
    except ValueError:
        return await _refuse(request, "web_units_canned_bad", max=TEXT_MAX)
    if added is None:
        return await _refuse(request, "cu_canned_taken", title=title.strip())
    await audit(request, "canned.add", f"canned:{added.id}", added.title)
    unknown = unknown_placeholders(text)
    if unknown:
        names = ", ".join("{" + n + "}" for n in unknown)
        return await units_page(
            request, notices=[t("cu_canned_unknown", lang_of(request), names=names)]
        )
    raise _done(f"canned-{added.id}")


async def canned_remove(request: web.Request) -> web.Response:
    if (refused := require_admin(request)) is not None:
        return refused
    answer_id = _path_id(request)
    if await console(request).app.store.units.remove_canned(answer_id):
        await audit(request, "canned.remove", f"canned:{answer_id}")
    raise _done("canned")


def add_routes(sub: web.Application) -> None:
    sub.router.add_get("/units", units_list)
    sub.router.add_post("/units", unit_add)
    sub.router.add_post("/units/{id}/rename", unit_rename)
    sub.router.add_post("/units/{id}/remove", unit_remove)
    sub.router.add_post("/units/{id}/chat", unit_chat)
    sub.router.add_post("/units/{id}/members", member_add)
    sub.router.add_post("/units/{id}/members/remove", member_remove)
    sub.router.add_post("/units/categories", category_add)
    sub.router.add_post("/units/categories/{id}", category_edit)
    sub.router.add_post("/units/categories/{id}/deactivate", category_deactivate)
    sub.router.add_post("/units/canned", canned_add)
    sub.router.add_post("/units/canned/{id}/remove", canned_remove)
