"""Staff announcements.

`/broadcast <text>` → preview (Gửi / Hủy) → queued through the outbox: the one-line path, as it
always was. `/broadcast` alone walks a guided composer: the text (with *bold*, _italic_ and
[links](https://…), see bot.render.staff_html), an optional photo, the audience (everyone, a
topic, a source), the time (now, or a time in Vietnam), urgent or not, then the preview exactly
as recipients will get it and confirm / cancel. `/broadcasts` lists recent ones with their counts
and a cancel button for those scheduled or still sending.

Authorization comes from storage at every step: a citizen who forges any button's callback data
is refused and nothing changes; a double tap queues once. The draft lives in the announcements
table and the step in the chat's stored dialog state, so a restart mid-way loses nothing.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.events import Command, Press, Text, Who
from bot.flows.base import Outcome
from bot.flows.feedback import photo_of
from bot.i18n import t
from bot.render import (
    VIETNAM,
    announcement_limit,
    format_date,
    plain,
    render_audience_choice,
    render_broadcast_list,
    render_broadcast_preview,
    render_photo_choice,
    render_staff_announcement,
    render_time_choice,
    render_urgent_choice,
    render_wizard_summary,
)
from jobs.digest import effective_quiet, release_time
from jobs.fanout import ANNOUNCEMENT, queue_announcement
from storage.announcements import CANCELLED, DRAFT, EVERYONE, QUEUED
from storage.audit import actor_of
from storage.preferences import QUIET_DEFAULT_KEY, extra
from storage.records import Announcement, Subscriber
from storage.store import Store

if TYPE_CHECKING:
    from bot.dialog import Dialog

log = logging.getLogger(__name__)

COMPOSING, PHOTO, TIME = "bc_text", "bc_photo", "bc_time"
_TIME = re.compile(
    r"^(?:(?P<d>\d{1,2})[/.-](?P<m>\d{1,2})(?:[/.-](?P<y>\d{4}))?\s+)?(?P<H>\d{1,2})[:hH](?P<M>\d{2})$"
)


def parse_local_time(value: str, now: datetime) -> datetime | None:
    """A time staff typed, in Vietnam time, as aware UTC; None if it cannot be read.

    "HH:MM" is its next occurrence (today, or tomorrow once passed); "DD/MM HH:MM" is this year;
    "DD/MM/YYYY HH:MM" is exact. A date in the past is returned as is (the caller says so).
    """
    match = _TIME.match(value.strip())
    if match is None:
        return None
    local_now = now.astimezone(VIETNAM)
    try:
        when = local_now.replace(
            hour=int(match["H"]), minute=int(match["M"]), second=0, microsecond=0
        )
        if match["d"]:
            year = int(match["y"]) if match["y"] else local_now.year
            when = when.replace(year=year, month=int(match["m"]), day=int(match["d"]))
        elif when <= local_now:
            when += timedelta(days=1)
    except ValueError:
        return None
    return when.astimezone(now.tzinfo)


async def hold_for_quiet_hours(store: Store, announcement_id: int, *, now: datetime) -> None:
    """A non-urgent broadcast waits for the end of each recipient's quiet hours, as the one-line
    path does (jobs.fanout.queue_announcement, issue 5); urgent ones go out at once.

    Mirrors that function's deferral because the composer queues through
    AnnouncementRepo.queue_now (status and rows in one transaction, audience applied)."""
    if await store.announcements.is_urgent(announcement_id):
        return
    ex = extra(store)
    default = await store.state.get(QUIET_DEFAULT_KEY)
    held: dict[datetime, list[int]] = defaultdict(list)
    for r in await ex.preferences.recipients():
        at = release_time(now, effective_quiet(r.preferences.quiet_hours, default))
        if at > now:
            held[at].append(r.subscriber.id)
    for at, ids in held.items():
        await store.deliveries.defer(ANNOUNCEMENT, announcement_id, ids, until=at)


async def release_due_broadcasts(store: Store, now: datetime) -> int:
    """Queue every scheduled broadcast whose time has come (run by the scheduler); returns how
    many. Status and outbox rows change in one transaction, so running this twice, or in two
    processes, queues each broadcast once."""
    released = 0
    for ann in await store.announcements.due_scheduled(now):
        count = await store.announcements.queue_now(ann.id, now=now, frm="scheduled")
        if count is not None:
            await hold_for_quiet_hours(store, ann.id, now=now)
            released += 1
            log.info("scheduled broadcast queued", extra={"announcement": ann.id, "count": count})
    return released


def register(dialog: Dialog) -> None:
    ctx = dialog.ctx
    store = ctx.store

    # -- the one-line path (unchanged behaviour, now audited) ------------------------------------

    async def compose(cmd: Command) -> Outcome:
        sub = await ctx.subscriber(cmd.who)
        lang = sub.language
        if not await ctx.is_staff(cmd.who):
            log.warning("refused staff command", extra={"user": cmd.who.user_id})
            return Outcome([ctx.say(cmd.who, t("staff_only", lang))])
        text = cmd.args.strip()
        if not text:
            return await start_wizard(cmd.who, sub)
        caps = ctx.capabilities(cmd.who.platform)
        limit = announcement_limit(caps)
        if len(text) > limit:
            too_long = t("broadcast_too_long", lang, length=len(text), limit=limit)
            return Outcome([ctx.say(cmd.who, too_long)])
        draft = await store.announcements.create(
            text,
            created_by=actor_of(cmd.who.platform, cmd.who.user_id),
            origin_platform=cmd.who.platform,
            origin_chat_id=cmd.who.chat_id,
        )
        recipients = (await store.subscribers.counts())["active"]
        return Outcome([render_broadcast_preview(draft, recipients, lang, caps)])

    async def press(event: Press, rest: str) -> Outcome:
        action, _, ident = rest.partition(":")
        if action not in ("ok", "no") or not ident.isdigit():
            return Outcome()
        announcement_id = int(ident)
        sub = await ctx.subscriber(event.who)
        lang = sub.language
        if not await ctx.is_staff(event.who):
            log.warning(
                "refused staff button", extra={"user": event.who.user_id, "data": event.data}
            )
            return Outcome(toast=t("staff_only", lang))
        now = ctx.clock()
        actor = actor_of(event.who.platform, event.who.user_id)
        target = f"announcement:{announcement_id}"
        if action == "no":
            if await store.announcements.transition(
                announcement_id, frm=DRAFT, to=CANCELLED, now=now
            ):
                await store.staff.audit.record(actor, "broadcast.discard", target, now=now)
                done = t("broadcast_cancelled", lang, id=announcement_id)
                return Outcome(edit=ctx.say(event.who, done))
            return Outcome(toast=t("broadcast_already", lang, id=announcement_id))
        if not await store.announcements.transition(announcement_id, frm=DRAFT, to=QUEUED, now=now):
            return Outcome(toast=t("broadcast_already", lang, id=announcement_id))
        count = await queue_announcement(store, announcement_id, now=now)
        if event.message_id:  # the preview becomes the broadcast's progress message
            await store.announcements.set_progress_message(announcement_id, event.message_id)
        await store.staff.audit.record(actor, "broadcast.queue", target, f"{count}", now=now)
        log.info("broadcast queued", extra={"announcement": announcement_id, "recipients": count})
        done = t("broadcast_queued", lang, id=announcement_id, count=count)
        return Outcome(edit=ctx.say(event.who, done), toast=done, wake_outbox=True)

    # -- the guided composer -------------------------------------------------------------------

    async def start_wizard(who: Who, sub: Subscriber) -> Outcome:
        await store.subscribers.set_dialog(sub.id, COMPOSING, f"0:{who.user_id}")
        return Outcome([ctx.say(who, t("wizard_compose", sub.language))])

    def step_ref(sub: Subscriber, who: Who) -> int | None:
        """The draft id of this chat's step if `who` started it (group chats: one member's
        composer never takes another member's text)."""
        ident, _, user = (sub.dialog_ref or "").partition(":")
        return int(ident) if ident.isdigit() and user == who.user_id else None

    async def own_draft(who: Who, announcement_id: int) -> Announcement | None:
        """The draft, if it is still a draft and `who` wrote it."""
        ann = await store.announcements.get(announcement_id)
        if ann is None or ann.status != DRAFT:
            return None
        return ann if ann.created_by == actor_of(who.platform, who.user_id) else None

    async def composing(msg: Text, sub: Subscriber) -> Outcome | None:
        if step_ref(sub, msg.who) is None:
            return None
        lang = sub.language
        if not await ctx.is_staff(msg.who):
            await store.subscribers.set_dialog(sub.id, None, None)
            return Outcome([ctx.say(msg.who, t("staff_only", lang))])
        text = msg.text.strip()
        caps = ctx.capabilities(msg.who.platform)
        limit = announcement_limit(caps)
        if not text:
            return Outcome([ctx.say(msg.who, t("wizard_compose", lang))])
        if len(text) > limit:
            too_long = t("broadcast_too_long", lang, length=len(text), limit=limit)
            return Outcome([ctx.say(msg.who, too_long)])
        draft = await store.announcements.create(
            text,
            created_by=actor_of(msg.who.platform, msg.who.user_id),
            origin_platform=msg.who.platform,
            origin_chat_id=msg.who.chat_id,
            text_format="staff",
        )
        photo = photo_of(msg)
        if photo is not None:  # text and photo in one message: skip the photo step
            await store.announcements.set_plan(draft.id, photo_file_id=photo)
            return await ask_audience(msg.who, sub, draft.id)
        await store.subscribers.set_dialog(sub.id, PHOTO, f"{draft.id}:{msg.who.user_id}")
        return Outcome([render_photo_choice(draft.id, lang, caps)])

    async def photo_step(msg: Text, sub: Subscriber) -> Outcome | None:
        ident = step_ref(sub, msg.who)
        if ident is None:
            return None
        photo = photo_of(msg)
        if photo is None:
            return Outcome([ctx.say(msg.who, t("wizard_photo_expected", sub.language))])
        if await own_draft(msg.who, ident) is None or not await ctx.is_staff(msg.who):
            await store.subscribers.set_dialog(sub.id, None, None)
            return Outcome([ctx.say(msg.who, t("wizard_stale", sub.language))])
        await store.announcements.set_plan(ident, photo_file_id=photo)
        return await ask_audience(msg.who, sub, ident)

    async def ask_audience(who: Who, sub: Subscriber, announcement_id: int) -> Outcome:
        await store.subscribers.set_dialog(sub.id, None, None)
        topics, feeds = await store.announcements.audience_options()
        caps = ctx.capabilities(who.platform)
        return Outcome([render_audience_choice(announcement_id, topics, feeds, sub.language, caps)])

    async def time_step(msg: Text, sub: Subscriber) -> Outcome | None:
        ident = step_ref(sub, msg.who)
        if ident is None:
            return None
        lang = sub.language
        if await own_draft(msg.who, ident) is None or not await ctx.is_staff(msg.who):
            await store.subscribers.set_dialog(sub.id, None, None)
            return Outcome([ctx.say(msg.who, t("wizard_stale", lang))])
        now = ctx.clock()
        when = parse_local_time(msg.text, now)
        if when is None:
            return Outcome([ctx.say(msg.who, t("wizard_time_bad", lang, value=msg.text[:40]))])
        if when <= now:
            past = t("wizard_time_past", lang, when=format_date(when))
            return Outcome([ctx.say(msg.who, past)])
        await store.announcements.set_plan(ident, scheduled_at=when)
        await store.subscribers.set_dialog(sub.id, None, None)
        caps = ctx.capabilities(msg.who.platform)
        return Outcome([render_urgent_choice(ident, lang, caps)])

    async def audience_label(audience: str, lang: str) -> str:
        kind, _, ident = audience.partition(":")
        topics, feeds = await store.announcements.audience_options()
        names = dict(topics if kind == "topic" else feeds)
        name = names.get(int(ident), ident) if ident.isdigit() else ident
        if kind == "topic":
            return t("wizard_topic", lang, name=name)
        if kind == "feed":
            return t("wizard_source", lang, name=name)
        return t("wizard_everyone", lang)

    async def preview(who: Who, lang: str, announcement_id: int) -> Outcome:
        """The announcement exactly as recipients get it, then who / when / urgency + Gửi/Hủy."""
        ann = await store.announcements.get(announcement_id)
        assert ann is not None
        caps = ctx.capabilities(who.platform)
        summary = render_wizard_summary(
            ann,
            audience_label=await audience_label(ann.audience, lang),
            recipients=await store.announcements.audience_size(ann.audience),
            urgent=await store.announcements.is_urgent(ann.id),
            lang=lang,
            caps=caps,
        )
        exact = render_staff_announcement(ann, lang, caps)
        return Outcome([plain(t("wizard_preview_title", lang), caps), exact, summary])

    async def wizard_press(event: Press, rest: str) -> Outcome:
        parts = rest.split(":")
        if len(parts) not in (2, 3) or not parts[1].isdigit():
            return Outcome()
        action, ident, arg = parts[0], int(parts[1]), parts[2] if len(parts) == 3 else ""
        sub = await ctx.subscriber(event.who)
        lang = sub.language
        if not await ctx.is_staff(event.who):
            log.warning(
                "refused staff button", extra={"user": event.who.user_id, "data": event.data}
            )
            return Outcome(toast=t("staff_only", lang))
        if action == "x":
            return await cancel(event, lang, ident)
        if await own_draft(event.who, ident) is None:
            return Outcome(toast=t("wizard_stale", lang))
        caps = ctx.capabilities(event.who.platform)
        if action == "skip":
            return await ask_audience(event.who, sub, ident)
        if action == "aud":
            audience = _audience(arg)
            if audience is None:
                return Outcome()
            await store.announcements.set_plan(ident, audience=audience)
            await store.subscribers.set_dialog(sub.id, TIME, f"{ident}:{event.who.user_id}")
            return Outcome([render_time_choice(ident, lang, caps)])
        if action == "now":
            await store.announcements.set_plan(ident, scheduled_at=None)
            await store.subscribers.set_dialog(sub.id, None, None)
            return Outcome([render_urgent_choice(ident, lang, caps)])
        if action == "urg" and arg in ("0", "1"):
            await store.announcements.set_plan(ident, urgent=arg == "1")
            return await preview(event.who, lang, ident)
        if action == "ok":
            return await confirm(event, lang, ident)
        if action == "no":
            return await discard(event, lang, ident)
        return Outcome()

    async def confirm(event: Press, lang: str, ident: int) -> Outcome:
        now = ctx.clock()
        ann = await store.announcements.get(ident)
        assert ann is not None
        actor = actor_of(event.who.platform, event.who.user_id)
        target = f"announcement:{ident}"
        if event.message_id:  # the summary becomes the broadcast's progress message
            await store.announcements.set_progress_message(ident, event.message_id)
        if ann.scheduled_at is not None and ann.scheduled_at > now:
            if not await store.announcements.schedule(ident):
                return Outcome(toast=t("broadcast_already", lang, id=ident))
            when = format_date(ann.scheduled_at) or ""
            await store.staff.audit.record(actor, "broadcast.schedule", target, when, now=now)
            done = t("wizard_scheduled", lang, id=ident, when=when)
            return Outcome(edit=ctx.say(event.who, done), toast=done)
        count = await store.announcements.queue_now(ident, now=now)
        if count is None:
            return Outcome(toast=t("broadcast_already", lang, id=ident))
        await hold_for_quiet_hours(store, ident, now=now)
        await store.staff.audit.record(actor, "broadcast.queue", target, f"{count}", now=now)
        log.info("broadcast queued", extra={"announcement": ident, "recipients": count})
        done = t("broadcast_queued", lang, id=ident, count=count)
        return Outcome(edit=ctx.say(event.who, done), toast=done, wake_outbox=True)

    async def discard(event: Press, lang: str, ident: int) -> Outcome:
        now = ctx.clock()
        if not await store.announcements.transition(ident, frm=DRAFT, to=CANCELLED, now=now):
            return Outcome(toast=t("broadcast_already", lang, id=ident))
        actor = actor_of(event.who.platform, event.who.user_id)
        await store.staff.audit.record(actor, "broadcast.discard", f"announcement:{ident}", now=now)
        return Outcome(edit=ctx.say(event.who, t("broadcast_cancelled", lang, id=ident)))

    async def cancel(event: Press, lang: str, ident: int) -> Outcome:
        """Stop a scheduled or running broadcast: pending rows cancelled, sent ones counted."""
        now = ctx.clock()
        actor = actor_of(event.who.platform, event.who.user_id)
        outcome, pending, sent = await store.announcements.cancel(ident, by=actor, now=now)
        if outcome != "cancelled":
            return Outcome(toast=t("broadcast_not_cancellable", lang, id=ident))
        detail = f"pending={pending} sent={sent}"
        await store.staff.audit.record(actor, "broadcast.cancel", f"announcement:{ident}", detail)
        done = t("broadcast_stopped", lang, id=ident, pending=pending, sent=sent)
        return Outcome([ctx.say(event.who, done)], toast=done)

    async def broadcasts(cmd: Command) -> Outcome:
        sub = await ctx.subscriber(cmd.who)
        if not await ctx.is_staff(cmd.who):
            log.warning("refused staff command", extra={"user": cmd.who.user_id})
            return Outcome([ctx.say(cmd.who, t("staff_only", sub.language))])
        summaries = await store.announcements.summaries(10)
        caps = ctx.capabilities(cmd.who.platform)
        return Outcome([render_broadcast_list(summaries, sub.language, caps)])

    dialog.command(compose, "broadcast")
    dialog.command(broadcasts, "broadcasts")
    dialog.press("bc", press)
    dialog.press("bw", wizard_press)
    dialog.state(COMPOSING, composing)
    dialog.state(PHOTO, photo_step)
    dialog.state(TIME, time_step)


def _audience(arg: str) -> str | None:
    """Button argument → stored audience: 'all', 't3' → 'topic:3', 'f5' → 'feed:5'."""
    if arg == EVERYONE:
        return EVERYONE
    if arg[:1] in ("t", "f") and arg[1:].isdigit():
        return f"{'topic' if arg[0] == 't' else 'feed'}:{int(arg[1:])}"
    return None
