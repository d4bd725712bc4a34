"""Phản ánh: the case queue (filters, diacritic-free search, keyset pages) and one case's page
(thread with internal notes marked, photos, the place as a map link, history) with the staff
actions of chat: take, answer (with the unit's canned answers), note, transfer, merge, not
responsible, close, ban.

Every request asks the database who may act on this case now (CaseRepo.staff_access: the
role, and for an editor the case's unit — the rule chat uses), not only the page that drew
the button: an editor of another unit gets 403 for the page, its photos and every action.
Each action runs through jobs/staff/casework.py, the functions chat's buttons and typed
commands call, so the state change, the history line, the citizen's notice (outbox) and the
audit entry (same action names as chat) are exactly the same whichever way staff worked.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from urllib.parse import urlencode

from aiohttp import web

from bot.web.app import console, forbidden, lang_of, render, staff_of
from bot.web.links import PREFIX
from jobs.i18n import t
from jobs.media.store import MediaError, content_type_of
from jobs.render.cards import map_link
from jobs.render.markup import VIETNAM
from jobs.staff import casework
from storage.case_queue import DUE, NEWEST, QueueFilter, search_words
from storage.cases import Changed, Unchanged
from storage.kinds import OPEN_STATES, TicketState
from storage.records import Feedback, parse_case_code

log = logging.getLogger(__name__)

PAGE = 50
STATES = tuple(TicketState)
# What a redirect after an action may say (?msg=…): only these keys are ever shown.
MESSAGES = frozenset(
    {
        "taken",
        "answered",
        "noted",
        "transferred",
        "merged",
        "not_responsible",
        "closed",
        "banned",
        "unbanned",
        "empty",
        "too_long",
        "unit_missing",
        "target_missing",
        "same_case",
        "wrong_state",
        "missing",
    }
)
UNCHANGED = {"target_missing": "target_missing", "same_case": "same_case", "missing": "missing"}


def _int(raw: str | None) -> int | None:
    if raw and raw.isdigit() and len(raw) < 10 and 0 < int(raw) < 2**31:
        return int(raw)
    return None


def _day(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value[:10]).replace(tzinfo=VIETNAM) if value else None
    except ValueError:
        return None


def queue_filter(query: dict[str, str], actor: str) -> QueueFilter:
    """The queue's filters from the query string; anything unreadable filters nothing."""
    state = query.get("state", "open")
    states: frozenset[str] = frozenset()
    if state == "open":
        states = OPEN_STATES
    elif state in STATES:
        states = frozenset({state})
    until = _day(query.get("until", ""))
    text = query.get("q", "")[:200].strip()
    code = parse_case_code(text) if text else None  # "PA00042", "#42", "42": that case
    return QueueFilter(
        states=states,
        unit_id=_int(query.get("unit")),
        category_id=_int(query.get("category")),
        overdue=query.get("overdue") == "1",
        assignee=actor if query.get("mine") == "1" else None,
        since=_day(query.get("since", "")),
        until=until + timedelta(days=1) if until else None,
        words=() if code is not None else search_words(text),
        case_id=code,
        sort=DUE if query.get("sort") == DUE else NEWEST,
    )


async def queue(request: web.Request) -> web.Response:
    c = console(request)
    store = c.app.store
    staff = staff_of(request)
    query = {k: v for k, v in request.query.items() if k != "after"}
    flt = queue_filter(query, staff.actor)
    after = request.query.get("after", "")[:40] or None
    page = await store.case_queue.page(
        flt, now=c.now(), viewer=(staff.platform, staff.user_id), cursor=after, limit=PAGE
    )
    units = await store.units.all()
    categories = await store.units.categories()
    more = f"?{urlencode({**query, 'after': page.next_cursor})}" if page.next_cursor else None
    template = "_case_rows.html" if request.headers.get("HX-Request") else "cases.html"
    return render(
        request,
        template,
        page=page,
        query=request.query,
        states=STATES,
        units=units,
        unit_names={u.id: u.name for u in units},
        categories=categories,
        category_names={x.id: x.name for x in categories},
        more=more,
        now=c.now(),
    )


# -- one case ----------------------------------------------------------------------------------


async def _allowed_case(request: web.Request) -> Feedback | web.Response:
    """The case of this URL if the signed-in member may act on it right now; else the 404 or
    403 page (the role and unit as the database says on this request)."""
    ident = _int(request.match_info["id"])
    if ident is None:
        raise web.HTTPNotFound()
    c = console(request)
    staff = staff_of(request)
    access = await c.app.store.cases.staff_access(ident, staff.platform, staff.user_id)
    if access == "missing":
        raise web.HTTPNotFound()
    if access != "ok":
        log.warning(
            "web: refused case", extra={"user": staff.actor, "ticket": ident, "why": access}
        )
        return forbidden(request)
    case = await c.app.store.feedback.get(ident)
    if case is None:
        raise web.HTTPNotFound()
    return case


async def detail(request: web.Request) -> web.Response:
    found = await _allowed_case(request)
    if isinstance(found, web.Response):
        return found
    case = found
    c = console(request)
    store = c.app.store
    lang = lang_of(request)
    sub = await store.subscribers.get_by_id(case.subscriber_id)
    units = await store.units.all()
    unit_names = {u.id: u.name for u in units}
    category = await store.units.category(case.category_id) if case.category_id else None
    merged = await store.cases.get(case.merged_into) if case.merged_into else None
    article = await store.articles.get(case.article_id) if case.article_id else None
    photos = [p for p in await store.photos.of_case(case.id) if p.erased_at is None]
    msg = request.query.get("msg", "")
    now = c.now()
    return render(
        request,
        "case.html",
        case=case,
        sub=sub,
        unit_name=unit_names.get(case.unit_id or 0, "—"),
        unit_names=unit_names,
        units=[u for u in units if u.id != case.unit_id],
        category=category.name if category else None,
        merged=merged,
        article=article,
        thread=await store.cases.thread(case.id, notes=True),
        history=await store.cases.history(case.id),
        photos=photos,
        place=map_link(case.place_lat, case.place_lon)
        if case.place_lat is not None and case.place_lon is not None
        else None,
        canned=await casework.canned_for(store, case, lang),
        banned=await store.feedback.is_banned(case.subscriber_id),
        held=await store.cases.held_notices(case.subscriber_id),
        overdue=case.status in OPEN_STATES and case.due_at is not None and case.due_at < now,
        is_open=case.status
        not in (
            TicketState.CLOSED,
            TicketState.NOT_RESPONSIBLE,
            TicketState.DUPLICATE,
        ),
        message=t(f"web_case_msg_{msg}", lang) if msg in MESSAGES else None,
        answer_max=casework.ANSWER_MAX_CHARS,
        reason_max=casework.REASON_MAX_CHARS,
    )


async def photo(request: web.Request) -> web.StreamResponse:
    """A photo of the case from our media store (re-encoded, no EXIF), to signed-in staff who
    may see the case: never a platform URL (a Telegram file URL carries the bot token)."""
    found = await _allowed_case(request)
    if isinstance(found, web.Response):
        return found
    c = console(request)
    ident = _int(request.match_info["photo"])
    shot = await c.app.store.photos.get(ident) if ident else None
    if shot is None or shot.case_id != found.id or shot.erased_at or not shot.media_key:
        raise web.HTTPNotFound()
    try:
        data = await c.app.media.get(shot.media_key)
        kind = content_type_of(shot.media_key)
    except MediaError as err:
        log.warning("web: photo unavailable", extra={"photo": shot.id, "error": str(err)})
        raise web.HTTPNotFound() from None
    return web.Response(
        body=data,
        content_type=kind,
        headers={"Cache-Control": "private, no-store", "Content-Disposition": "inline"},
    )


def _back(case_id: int, msg: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(f"{PREFIX}/cases/{case_id}?msg={msg}")


def _outcome(done: Changed | Unchanged, ok: str) -> str:
    if isinstance(done, Changed):
        return ok
    return UNCHANGED.get(done.reason, "wrong_state")


def _wake(request: web.Request) -> None:
    app = console(request).app
    if "deliverer" in app.built:  # in this process (bantin run); workers find rows anyway
        app.deliverer.wake()


async def act(request: web.Request) -> web.Response:
    """POST /cases/{id}/{action}: one staff action, checked, carried out as chat does."""
    found = await _allowed_case(request)
    if isinstance(found, web.Response):
        return found
    case = found
    action = request.match_info["action"]
    c = console(request)
    store = c.app.store
    actor = staff_of(request).actor
    now = c.now()
    form = await request.post()
    text = str(form.get("text") or "").strip()
    if action in ("take", "close"):
        done = await casework.act(store, action, case.id, actor=actor, now=now)
        msg = _outcome(done, "taken" if action == "take" else "closed")
    elif action == "answer":
        canned = _int(str(form.get("canned") or ""))
        if not text and canned is not None:
            filled = {a.id: f for a, f in await casework.canned_for(store, case, lang_of(request))}
            text = filled.get(canned, "")
        if not text:
            msg = "empty"
        elif len(text) > casework.ANSWER_MAX_CHARS:
            msg = "too_long"
        else:
            sent = await casework.answer(store, case.id, actor=actor, text=text, now=now)
            msg = "answered" if sent is not None else "missing"
    elif action == "note":
        if not text:
            msg = "empty"
        elif len(text) > casework.NOTE_MAX_CHARS:
            msg = "too_long"
        else:
            await casework.note(store, case.id, actor=actor, text=text, now=now)
            msg = "noted"
    elif action == "transfer":
        unit = await store.units.get(_int(str(form.get("unit") or "")) or 0)
        if unit is None:
            msg = "unit_missing"
        elif not text:
            msg = "empty"
        else:
            done = await casework.act(
                store,
                "transfer",
                case.id,
                actor=actor,
                now=now,
                arg=text[: casework.REASON_MAX_CHARS],
                unit_id=unit.id,
            )
            msg = _outcome(done, "transferred")
    elif action == "merge":
        target = await store.cases.by_code(str(form.get("code") or "")[:30])
        if target is None:
            msg = "target_missing"
        else:
            done = await casework.act(
                store, "merge", case.id, actor=actor, now=now, arg=target.shown_code
            )
            msg = _outcome(done, "merged")
    elif action == "not_responsible":
        if not text:
            msg = "empty"
        else:
            done = await casework.act(
                store,
                "not_responsible",
                case.id,
                actor=actor,
                now=now,
                arg=text[: casework.REASON_MAX_CHARS],
            )
            msg = _outcome(done, "not_responsible")
    elif action in ("ban", "unban"):
        await casework.ban(store, case, actor=actor, now=now, on=action == "ban")
        msg = "banned" if action == "ban" else "unbanned"
    else:
        raise web.HTTPNotFound()
    if msg in ("taken", "closed", "answered", "transferred", "merged", "not_responsible"):
        _wake(request)
    raise _back(case.id, msg)


def add_routes(sub: web.Application) -> None:
    sub.router.add_get("/cases", queue)
    sub.router.add_get("/cases/{id}", detail)
    sub.router.add_get("/cases/{id}/photos/{photo}", photo)
    sub.router.add_post("/cases/{id}/{action}", act)
