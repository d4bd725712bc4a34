"""Thông báo: compose, preview side by side, confirm, watch the progress live, cancel.

A web broadcast is a draft written by the signed-in staff member (created_by is their chat
identity, as in chat), confirmed through `jobs.route.announce.submit` — the one path every
broadcast takes, so audience, schedule, urgency, quiet hours and "only your own draft" apply
exactly as in chat — and audited with the same actions.
"""

from __future__ import annotations

import asyncio
import json
import logging
from contextlib import suppress
from dataclasses import replace
from datetime import datetime, timedelta

from aiohttp import web

from bot.web.app import COOKIE, audit, console, lang_of, load_staff, render, staff_of
from bot.web.links import PREFIX
from bot.web.preview import TELEGRAM, draft, preview
from jobs.i18n import t
from jobs.media.images import ImageRefused, prepare
from jobs.render.markup import VIETNAM, format_date
from jobs.render.messages import MEDIA_PHOTO, announcement_limit
from jobs.route.announce import submit
from jobs.staff.progress import broadcast_progress
from storage.kinds import AnnouncementStatus, Audience

log = logging.getLogger(__name__)

SSE_EVERY = 1.0  # seconds between progress events
SSE_MAX = timedelta(hours=6)  # a stream ends after this; the page reconnects


def parse_audience(value: str) -> str | None:
    """'all', 'topic:3', 'feed:7' as given by the form; anything else is refused."""
    if value == Audience.EVERYONE:
        return value
    kind, _, ident = value.partition(":")
    if kind in (Audience.TOPIC, Audience.FEED) and ident.isdigit() and 0 < int(ident) < 2**31:
        return f"{kind}:{int(ident)}"
    return None


def parse_when(value: str, now: datetime) -> datetime | str | None:
    """A datetime-local value in Vietnam time → aware UTC; '' → None (now); 'bad' if unreadable
    or in the past."""
    value = value.strip()
    if not value:
        return None
    try:
        local = datetime.fromisoformat(value)
    except ValueError:
        return "bad"
    when = local.replace(tzinfo=VIETNAM) if local.tzinfo is None else local
    return "bad" if when <= now else when


async def _options(request: web.Request) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    return await console(request).app.store.announcements.audience_options()


async def page(request: web.Request) -> web.Response:
    store = console(request).app.store
    topics, feeds = await _options(request)
    return render(
        request,
        "broadcasts.html",
        topics=topics,
        feeds=feeds,
        count=await store.announcements.audience_size(Audience.EVERYONE),
        summaries=await store.announcements.summaries(20),
        form={"text": "", "audience": "all", "when": "", "urgent": False},
        errors=[],
        limit=announcement_limit(TELEGRAM),
    )


async def count(request: web.Request) -> web.Response:
    """The live recipient count of the audience picked (htmx swaps it in)."""
    audience = parse_audience(request.query.get("audience", "all")) or Audience.EVERYONE
    n = await console(request).app.store.announcements.audience_size(audience)
    return render(request, "_count.html", count=n)


async def live_preview(request: web.Request) -> web.Response:
    form = await request.post()
    text = str(form.get("text") or "")[:10_000]
    return render(request, "_preview.html", preview=preview(draft(text), lang_of(request)))


async def create(request: web.Request) -> web.Response:
    c = console(request)
    store = c.app.store
    staff = staff_of(request)
    lang = lang_of(request)
    form = await request.post()
    text = str(form.get("text") or "").strip()
    audience_in = str(form.get("audience") or "all")
    when_in = str(form.get("when") or "")
    urgent = form.get("urgent") == "1"
    errors = []
    limit = announcement_limit(TELEGRAM)
    if not text:
        errors.append(t("web_bc_empty", lang))
    elif len(text) > limit:
        errors.append(t("broadcast_too_long", lang, length=len(text), limit=limit))
    audience = parse_audience(audience_in)
    if audience is None:
        errors.append(t("web_bc_bad_audience", lang))
    when = parse_when(when_in, c.now())
    if when == "bad":
        errors.append(t("web_bc_bad_time", lang))
    photo = form.get("photo")
    upload = b""
    if isinstance(photo, web.FileField) and photo.filename:
        upload = photo.file.read(c.app.settings.media_max_bytes + 1)
    if upload and not errors:
        caption = announcement_limit(replace(TELEGRAM, max_text=TELEGRAM.max_caption))
        if len(text) > caption:  # with a photo, the text is its caption
            errors.append(t("broadcast_too_long", lang, length=len(text), limit=caption))
    prepared = None
    if upload and not errors:
        try:
            prepared = await asyncio.to_thread(
                prepare,
                upload,
                max_bytes=c.app.settings.media_max_bytes,
                max_pixels=c.app.settings.media_max_pixels,
            )
        except ImageRefused as refused:
            errors.append(t("web_bc_photo_refused", lang, reason=refused.detail))
    if errors:
        topics, feeds = await _options(request)
        form_back = {"text": text, "audience": audience_in, "when": when_in, "urgent": urgent}
        return render(
            request,
            "broadcasts.html",
            status=400,
            topics=topics,
            feeds=feeds,
            count=await store.announcements.audience_size(audience or Audience.EVERYONE),
            summaries=await store.announcements.summaries(20),
            form=form_back,
            errors=errors,
            limit=limit,
        )
    assert audience is not None and not isinstance(when, str)
    photo_ref = None
    if prepared is not None:  # checked and re-encoded like chat photos; kept in the media store
        photo_ref = MEDIA_PHOTO + await c.app.media.put(prepared.data, prepared.content_type)
    ann = await store.announcements.create(text, created_by=staff.actor, text_format="staff")
    await store.announcements.set_plan(
        ann.id, audience=audience, scheduled_at=when, urgent=urgent, photo_file_id=photo_ref
    )
    raise web.HTTPSeeOther(f"{PREFIX}/broadcasts/{ann.id}")


async def _announcement_or_404(request: web.Request) -> int:
    raw = request.match_info["id"]
    if not raw.isdigit() or not 0 < int(raw) < 2**31:
        raise web.HTTPNotFound()
    return int(raw)


async def detail(request: web.Request) -> web.Response:
    store = console(request).app.store
    ident = await _announcement_or_404(request)
    ann = await store.announcements.get(ident)
    if ann is None:
        raise web.HTTPNotFound()
    staff = staff_of(request)
    topics, feeds = await _options(request)
    names = {f"topic:{i}": n for i, n in topics} | {f"feed:{i}": n for i, n in feeds}
    count = (
        await store.announcements.audience_size(ann.audience)
        if ann.status == AnnouncementStatus.DRAFT
        else ann.recipients
    )
    return render(
        request,
        "broadcast.html",
        ann=ann,
        own=ann.created_by == staff.actor,
        urgent=await store.announcements.is_urgent(ident),
        audience_name=names.get(ann.audience, ""),
        count=count,
        preview=preview(ann, lang_of(request)),
        progress=None,
        cancellable=ann.status
        in (AnnouncementStatus.DRAFT, AnnouncementStatus.SCHEDULED, AnnouncementStatus.QUEUED)
        and ann.finished_at is None,
    )


async def confirm(request: web.Request) -> web.Response:
    c = console(request)
    store = c.app.store
    staff = staff_of(request)
    ident = await _announcement_or_404(request)
    now = c.now()
    target = f"announcement:{ident}"
    done = await submit(store, ident, by=staff.actor, now=now)
    if done.outcome == AnnouncementStatus.SCHEDULED:
        await audit(request, "broadcast.schedule", target, format_date(done.when) or "")
    elif done.outcome == AnnouncementStatus.QUEUED:
        await audit(request, "broadcast.queue", target, f"{done.count}")
        log.info("broadcast queued", extra={"announcement": ident, "recipients": done.count})
        if "deliverer" in c.app.built:  # in this process (bantin run); workers find rows anyway
            c.app.deliverer.wake()
    raise web.HTTPSeeOther(f"{PREFIX}/broadcasts/{ident}")


async def discard(request: web.Request) -> web.Response:
    c = console(request)
    store = c.app.store
    staff = staff_of(request)
    ident = await _announcement_or_404(request)
    ann = await store.announcements.get(ident)
    if ann is not None and ann.created_by == staff.actor:
        if await store.announcements.transition(
            ident, frm=AnnouncementStatus.DRAFT, to=AnnouncementStatus.CANCELLED, now=c.now()
        ):
            await audit(request, "broadcast.discard", f"announcement:{ident}")
    raise web.HTTPSeeOther(f"{PREFIX}/broadcasts")


async def cancel(request: web.Request) -> web.Response:
    c = console(request)
    staff = staff_of(request)
    ident = await _announcement_or_404(request)
    outcome, pending, sent = await c.app.store.announcements.cancel(
        ident, by=staff.actor, now=c.now()
    )
    if outcome == AnnouncementStatus.CANCELLED:
        await audit(
            request, "broadcast.cancel", f"announcement:{ident}", f"pending={pending} sent={sent}"
        )
    raise web.HTTPSeeOther(f"{PREFIX}/broadcasts/{ident}")


async def events(request: web.Request) -> web.StreamResponse:
    """Server-Sent Events: the broadcast's progress every second until nothing is left to
    send. The session and role are checked again before every event."""
    c = console(request)
    store = c.app.store
    ident = await _announcement_or_404(request)
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"}
    )
    await response.prepare(request)
    started = c.now()
    token = request.cookies.get(COOKIE, "")
    while True:
        now = c.now()
        if now - started > SSE_MAX or await load_staff(c, token) is None:
            break
        ann = await store.announcements.get(ident)
        if ann is None:
            break
        p = await broadcast_progress(store, ident, now)
        total = max(p.queued, 1)
        data = {
            "status": ann.status,
            "queued": p.queued,
            "sent": p.sent,
            "failed": p.failed,
            "blocked": p.blocked,
            "cancelled": p.cancelled,
            "remaining": p.remaining,
            "rate": round(p.rate, 1),
            "eta": None if p.eta_seconds is None else round(p.eta_seconds),
            "percent": 100
            if p.done and p.queued
            else round(100 * (p.queued - p.remaining) / total),
            "done": bool(p.done and (p.queued or ann.status == AnnouncementStatus.CANCELLED)),
        }
        try:
            await response.write(f"event: progress\ndata: {json.dumps(data)}\n\n".encode())
        except (ConnectionResetError, RuntimeError):
            break
        if data["done"]:
            break
        with suppress(TimeoutError):
            await asyncio.wait_for(c.stopping.wait(), SSE_EVERY)
        if c.stopping.is_set():
            break
    return response


def add_routes(sub: web.Application) -> None:
    sub.router.add_get("/broadcasts", page)
    sub.router.add_get("/broadcasts/count", count)
    sub.router.add_post("/broadcasts/preview", live_preview)
    sub.router.add_post("/broadcasts", create)
    sub.router.add_get("/broadcasts/{id}", detail)
    sub.router.add_post("/broadcasts/{id}/confirm", confirm)
    sub.router.add_post("/broadcasts/{id}/discard", discard)
    sub.router.add_post("/broadcasts/{id}/cancel", cancel)
    sub.router.add_get("/broadcasts/{id}/events", events)
