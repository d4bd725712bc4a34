"""Staff announcements.

`/broadcast <text>` → preview (Gửi / Hủy) → queued through the outbox: the one-line path, as it
always was. `/broadcast` alone walks a guided composer: the text (with *bold*, _italic_ and
[links](https://…), see jobs.render.staff_markup), an optional photo, the audience (everyone, a
topic, a source), the time (now, or a time in Vietnam), urgent or not, then the preview exactly
as recipients will get it and confirm / cancel. `/broadcasts` lists recent ones with their counts
and a cancel button for those scheduled or still sending.

Authorization comes from storage at every step: a citizen who forges any button's callback data
is refused and nothing changes; a double tap queues once. The draft lives in the announcements
table and the step in the staff member's own stored dialog state (in a group, each member's), so
a restart mid-way loses nothing. Confirming — from the one-line preview or the composer — acts
only on the presser's own draft and queues it through jobs.route.announce, the one path every
broadcast takes (audience, schedule, urgency and quiet hours included).
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta

from bot.dialog.context import FlowContext, Outcome, parse_id
from bot.dialog.events import Command, Press, Text, Who, photo_of
from bot.dialog.routes import FlowRouter
from bot.dialog.screens import (
    render_audience_choice,
    render_broadcast_list,
    render_broadcast_preview,
    render_photo_choice,
    render_time_choice,
    render_urgent_choice,
    render_wizard_summary,
)
from jobs.i18n import t
from jobs.render.markup import VIETNAM, format_date, plain
from jobs.render.messages import announcement_limit, render_staff_announcement
from jobs.route.announce import submit
from storage.audit import actor_of
from storage.kinds import AnnouncementStatus, Audience
from storage.records import Announcement, Subscriber

log = logging.getLogger(__name__)

__all__ = ["parse_local_time", "router"]

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


def router(ctx: FlowContext) -> FlowRouter:
    routes = FlowRouter("broadcast")
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
        """Gửi / Hủy under a one-line preview: the same confirm as the composer's."""
        action, _, ident = rest.partition(":")
        sub = await ctx.subscriber(event.who)
        lang = sub.language
        announcement_id = parse_id(ident)
        if action not in ("ok", "no") or announcement_id is None:
            return ctx.invalid_press(sub)
        if not await ctx.is_staff(event.who):
            log.warning(
                "refused staff button", extra={"user": event.who.user_id, "data": event.data}
            )
            return Outcome(toast=t("staff_only", lang))
        if await own_draft(event.who, announcement_id) is None:
            return Outcome(toast=t("broadcast_already", lang, id=announcement_id))
        if action == "no":
            return await discard(event, lang, announcement_id)
        return await confirm(event, lang, announcement_id)

    # -- the guided composer -------------------------------------------------------------------

    async def start_wizard(who: Who, sub: Subscriber) -> Outcome:
        await ctx.set_dialog(sub, who, COMPOSING, f"0:{who.user_id}")
        return Outcome([ctx.say(who, t("wizard_compose", sub.language))])

    def step_ref(sub: Subscriber, who: Who) -> int | None:
        """The draft id of this chat's step if `who` started it (group chats: one member's
        composer never takes another member's text)."""
        ident, _, user = (sub.dialog_ref or "").partition(":")
        if user != who.user_id:
            return None
        return 0 if ident == "0" else parse_id(ident)  # 0: no draft yet (composing the text)

    async def own_draft(who: Who, announcement_id: int) -> Announcement | None:
        """The draft, if it is still a draft and `who` wrote it."""
        ann = await store.announcements.get(announcement_id)
        if ann is None or ann.status != AnnouncementStatus.DRAFT:
            return None
        return ann if ann.created_by == actor_of(who.platform, who.user_id) else None

    async def composing(msg: Text, sub: Subscriber) -> Outcome | None:
        if step_ref(sub, msg.who) is None:
            return None
        lang = sub.language
        if not await ctx.is_staff(msg.who):
            await ctx.set_dialog(sub, msg.who, None, None)
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
        await ctx.set_dialog(sub, msg.who, PHOTO, f"{draft.id}:{msg.who.user_id}")
        return Outcome([render_photo_choice(draft.id, lang, caps)])

    async def photo_step(msg: Text, sub: Subscriber) -> Outcome | None:
        ident = step_ref(sub, msg.who)
        if ident is None:
            return None
        photo = photo_of(msg)
        if photo is None:
            return Outcome([ctx.say(msg.who, t("wizard_photo_expected", sub.language))])
        if await own_draft(msg.who, ident) is None or not await ctx.is_staff(msg.who):
            await ctx.set_dialog(sub, msg.who, None, None)
            return Outcome([ctx.say(msg.who, t("wizard_stale", sub.language))])
        await store.announcements.set_plan(ident, photo_file_id=photo)
        return await ask_audience(msg.who, sub, ident)

    async def ask_audience(who: Who, sub: Subscriber, announcement_id: int) -> Outcome:
        await ctx.set_dialog(sub, who, None, None)
        topics, feeds = await store.announcements.audience_options()
        caps = ctx.capabilities(who.platform)
        return Outcome([render_audience_choice(announcement_id, topics, feeds, sub.language, caps)])

    async def time_step(msg: Text, sub: Subscriber) -> Outcome | None:
        ident = step_ref(sub, msg.who)
        if ident is None:
            return None
        lang = sub.language
        if await own_draft(msg.who, ident) is None or not await ctx.is_staff(msg.who):
            await ctx.set_dialog(sub, msg.who, None, None)
            return Outcome([ctx.say(msg.who, t("wizard_stale", lang))])
        now = ctx.clock()
        when = parse_local_time(msg.text, now)
        if when is None:
            return Outcome([ctx.say(msg.who, t("wizard_time_bad", lang, value=msg.text[:40]))])
        if when <= now:
            past = t("wizard_time_past", lang, when=format_date(when))
            return Outcome([ctx.say(msg.who, past)])
        await store.announcements.set_plan(ident, scheduled_at=when)
        await ctx.set_dialog(sub, msg.who, None, None)
        caps = ctx.capabilities(msg.who.platform)
        return Outcome([render_urgent_choice(ident, lang, caps)])

    async def known_audience(arg: str) -> str | None:
        """The audience a button names, if it is everyone or a topic or source that exists."""
        audience = _audience(arg)
        if audience is None or audience == Audience.EVERYONE:
            return audience
        topics, feeds = await store.announcements.audience_options()
        kind, _, ident = audience.partition(":")
        known = {i for i, _ in (topics if kind == Audience.TOPIC else feeds)}
        return audience if int(ident) in known else None

    async def audience_label(audience: str, lang: str) -> str:
        kind, _, ident = audience.partition(":")
        topics, feeds = await store.announcements.audience_options()
        names = dict(topics if kind == Audience.TOPIC else feeds)
        number = parse_id(ident)
        name = names.get(number, ident) if number is not None else ident
        if kind == Audience.TOPIC:
            return t("wizard_topic", lang, name=name)
        if kind == Audience.FEED:
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
        sub = await ctx.subscriber(event.who)
        lang = sub.language
        number = parse_id(parts[1]) if len(parts) in (2, 3) else None
        if number is None:
            return ctx.invalid_press(sub)
        action, ident, arg = parts[0], number, parts[2] if len(parts) == 3 else ""
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
            audience = await known_audience(arg)
            if audience is None:
                return ctx.invalid_press(sub)
            await store.announcements.set_plan(ident, audience=audience)
            await ctx.set_dialog(sub, event.who, TIME, f"{ident}:{event.who.user_id}")
            return Outcome([render_time_choice(ident, lang, caps)])
        if action == "now":
            await store.announcements.set_plan(ident, scheduled_at=None)
            await ctx.set_dialog(sub, event.who, None, None)
            return Outcome([render_urgent_choice(ident, lang, caps)])
        if action == "urg" and arg in ("0", "1"):
            await store.announcements.set_plan(ident, urgent=arg == "1")
            return await preview(event.who, lang, ident)
        if action == "ok":
            return await confirm(event, lang, ident)
        if action == "no":
            return await discard(event, lang, ident)
        return ctx.invalid_press(sub)

    async def confirm(event: Press, lang: str, ident: int) -> Outcome:
        """Queue or schedule the presser's own draft, with its own audience, time and urgency
        (jobs.route.announce.submit, the path the CLI and the scheduler take too)."""
        now = ctx.clock()
        actor = actor_of(event.who.platform, event.who.user_id)
        target = f"announcement:{ident}"
        if await own_draft(event.who, ident) is None:
            return Outcome(toast=t("broadcast_already", lang, id=ident))
        if event.message_id:  # the preview becomes the broadcast's progress message
            await store.announcements.set_progress_message(ident, event.message_id)
        done_ = await submit(store, ident, by=actor, now=now)
        if done_.outcome == AnnouncementStatus.SCHEDULED:
            when = format_date(done_.when) or ""
            await store.audit.record(actor, "broadcast.schedule", target, when, now=now)
            done = t("wizard_scheduled", lang, id=ident, when=when)
            return Outcome(edit=ctx.say(event.who, done), toast=done)
        if done_.outcome != AnnouncementStatus.QUEUED:
            return Outcome(toast=t("broadcast_already", lang, id=ident))
        count = done_.count
        await store.audit.record(actor, "broadcast.queue", target, f"{count}", now=now)
        log.info("broadcast queued", extra={"announcement": ident, "recipients": count})
        done = t("broadcast_queued", lang, id=ident, count=count)
        return Outcome(edit=ctx.say(event.who, done), toast=done, wake_outbox=True)

    async def discard(event: Press, lang: str, ident: int) -> Outcome:
        now = ctx.clock()
        discarded = await store.announcements.transition(
            ident, frm=AnnouncementStatus.DRAFT, to=AnnouncementStatus.CANCELLED, now=now
        )
        if not discarded:
            return Outcome(toast=t("broadcast_already", lang, id=ident))
        actor = actor_of(event.who.platform, event.who.user_id)
        await store.audit.record(actor, "broadcast.discard", f"announcement:{ident}", now=now)
        return Outcome(edit=ctx.say(event.who, t("broadcast_cancelled", lang, id=ident)))

    async def cancel(event: Press, lang: str, ident: int) -> Outcome:
        """Stop a scheduled or running broadcast: pending rows cancelled, sent ones counted."""
        now = ctx.clock()
        actor = actor_of(event.who.platform, event.who.user_id)
        outcome, pending, sent = await store.announcements.cancel(ident, by=actor, now=now)
        if outcome != AnnouncementStatus.CANCELLED:
            return Outcome(toast=t("broadcast_not_cancellable", lang, id=ident))
        detail = f"pending={pending} sent={sent}"
        await store.audit.record(actor, "broadcast.cancel", f"announcement:{ident}", detail)
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

    routes.command(compose, "broadcast")
    routes.command(broadcasts, "broadcasts")
    routes.press("bc", press)
    routes.press("bw", wizard_press)
    routes.state(COMPOSING, composing)
    routes.state(PHOTO, photo_step)
    routes.state(TIME, time_step)
    return routes


def _audience(arg: str) -> str | None:
    """Button argument → stored audience: 'all', 't3' → 'topic:3', 'f5' → 'feed:5'."""
    if arg == Audience.EVERYONE:
        return Audience.EVERYONE
    number = parse_id(arg[1:])
    if arg[:1] in ("t", "f") and number is not None:
        return f"{'topic' if arg[0] == 't' else 'feed'}:{number}"
    return None
