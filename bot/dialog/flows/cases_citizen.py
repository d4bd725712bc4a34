"""The citizen's side of a case: the guided intake, their cases, the satisfaction question.

/guiphananh (or the «Gửi phản ánh» button offered under a plain message) opens ONE guided step:
choose a category (buttons on Telegram; Zalo draws them as a numbered list, so "2" picks the
second), write, attach up to BANTIN_CASE_MAX_PHOTOS photos, share a place, then «Gửi» (on Zalo
the number of «Gửi», or the word "xong"). The step is the stored dialog state and the draft
lives in storage (storage/privacy.py), so a restart between two messages loses nothing; /huy or
«Hủy» cancels it. A place or a phone number is kept only once the citizen consented (asked
once, Decree 13/2023/NĐ-CP); refusing keeps the case without it.

/phananh lists the citizen's own cases with their states, /phananh <code> shows one of them —
their words and the office's answers, never the staff's internal notes; another citizen's
code is "not found", exactly like a code that does not exist. The satisfaction question under
a closed case's notice (`sat:<case>:1|2`) records the answer; «chưa hài lòng» within 7 days
reopens the case (storage/cases.py `rate`).
"""

from __future__ import annotations

import logging
import re
import unicodedata

from bot.dialog.context import FlowContext, Outcome, parse_id
from bot.dialog.events import Command, Place, Press, Text, photo_of
from bot.dialog.filing import FEEDBACK_MAX_CHARS, file_case, refusal_text
from bot.dialog.menus import parse_choice
from bot.dialog.routes import FlowRouter
from bot.dialog.screens import (
    render_case_list,
    render_case_thread,
    render_category_choice,
    render_consent_question,
    render_intake_prompt,
    render_intake_status,
    render_offer,
)
from jobs.i18n import t
from storage.cases import Changed
from storage.feedback import Refused
from storage.kinds import FINAL_STATES, Author, CaseEventKind, Satisfaction
from storage.privacy import Draft
from storage.records import Subscriber, parse_case_code

log = logging.getLogger(__name__)

CASE_INTAKE = "case_intake"  # the dialog state; its ref is the step: "cat" or "write"
LIST_LIMIT = 10
MAX_CATEGORIES = 30  # shown as buttons (Zalo: numbers 1..30, «Không rõ» after them)
_DONE_WORDS = frozenset({"xong", "gui", "done", "send", "ok xong"})
_START_WORDS = frozenset({"gui phan anh", "phan anh moi"})
_PHONE = re.compile(r"^\s*(?:\+?84|0)(?:[\s.-]?\d){9,10}\s*$")
# A place typed or pasted as text: "10.77, 106.70" or a map link with "@lat,lon" / "q=lat,lon".
_COORDS = re.compile(r"(?:^|[@=\s])(-?\d{1,2}\.\d{3,})\s*,\s*(-?\d{1,3}\.\d{3,})")


def folded(text: str) -> str:
    """Lower case, no diacritics, single spaces ("Gửi phản ánh" → "gui phan anh")."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    bare = "".join(c for c in decomposed if unicodedata.category(c) != "Mn")
    return " ".join(bare.lower().split())


def typed_place(text: str) -> Place | None:
    """Coordinates in a text (Zalo Bot Platform has no location event: citizens paste a map
    link or type them); None when there are none or they are out of range."""
    match = _COORDS.search(text)
    if match is None:
        return None
    lat, lon = float(match.group(1)), float(match.group(2))
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return Place(lat, lon)


def router(ctx: FlowContext) -> FlowRouter:
    routes = FlowRouter("cases_citizen")
    privacy = ctx.store.privacy

    async def categories() -> list[tuple[int, str]]:
        found = await ctx.store.units.categories(active_only=True)
        return [(c.id, c.name) for c in found][:MAX_CATEGORIES]

    async def category_name(category_id: int | None, lang: str) -> str:
        if category_id:
            category = await ctx.store.units.category(category_id)
            if category is not None:
                return category.name
        return t("cz_unknown_category", lang)

    # -- opening the step ----------------------------------------------------------------------

    async def open_intake(event: Command | Press | Text, sub: Subscriber, draft: Draft) -> Outcome:
        """Start the step: the category list, or straight to writing when there is none."""
        lang, caps = sub.language, ctx.capabilities(event.who.platform)
        if event.who.chat_type != "private":
            return Outcome([ctx.say(event.who, t("cz_private_only", lang))])
        if await ctx.store.feedback.is_banned(sub.id):
            return Outcome([ctx.say(event.who, t("feedback_banned", lang))])
        options = await categories()
        if not options:
            draft.category_id = 0
            await privacy.save_draft(sub.id, event.who.user_id, draft)
            await ctx.set_dialog(sub, event.who, CASE_INTAKE, "write")
            prompt = render_intake_prompt(
                t("cz_unknown_category", lang), ctx.max_photos, lang, caps
            )
            return Outcome([prompt])
        await privacy.save_draft(sub.id, event.who.user_id, draft)
        await ctx.set_dialog(sub, event.who, CASE_INTAKE, "cat")
        return Outcome([render_category_choice(options, lang, caps)])

    async def start(cmd: Command) -> Outcome:
        sub = await ctx.subscriber(cmd.who)
        return await open_intake(cmd, sub, Draft())

    # -- the step, message by message ----------------------------------------------------------

    def status(msg: Text | Press, sub: Subscriber, draft: Draft) -> Outcome:
        caps = ctx.capabilities(msg.who.platform)
        shown = render_intake_status(
            len(draft.text),
            len(draft.photos),
            ctx.max_photos,
            draft.place is not None,
            sub.language,
            caps,
        )
        return Outcome([shown])

    async def choose(event: Press | Text, sub: Subscriber, category_id: int) -> Outcome:
        draft = await privacy.draft(sub.id, event.who.user_id)
        draft.category_id = category_id
        await privacy.save_draft(sub.id, event.who.user_id, draft)
        await ctx.set_dialog(sub, event.who, CASE_INTAKE, "write")
        lang, caps = sub.language, ctx.capabilities(event.who.platform)
        name = await category_name(category_id, lang)
        prompt = render_intake_prompt(name, ctx.max_photos, lang, caps)
        if draft.text or draft.photos:  # words kept from the offer under a plain message
            return Outcome([prompt, status(event, sub, draft).replies[0]])
        return Outcome([prompt])

    async def ask_consent(msg: Text, sub: Subscriber, draft: Draft, what_key: str) -> Outcome:
        await privacy.save_draft(sub.id, msg.who.user_id, draft)
        what = t(what_key, sub.language)
        caps = ctx.capabilities(msg.who.platform)
        return Outcome([render_consent_question(what, sub.language, caps)])

    async def take_place(msg: Text, sub: Subscriber, draft: Draft, place: Place) -> Outcome:
        shared = (place.latitude, place.longitude, place.label)
        if sub.consent_at is None:  # asked once; nothing is kept before the answer
            draft.pending_place = shared
            return await ask_consent(msg, sub, draft, "cz_consent_what_place")
        draft.place = shared
        await privacy.save_draft(sub.id, msg.who.user_id, draft)
        return status(msg, sub, draft)

    async def writing(msg: Text, sub: Subscriber) -> Outcome | None:
        """One message of the step: words, a photo, a place, a phone number, or "xong"."""
        if sub.dialog_ref == "cat":
            options = await categories()
            wanted = folded(msg.text)
            for ident, name in options:
                if wanted and folded(name) == wanted:
                    return await choose(msg, sub, ident)
            if wanted == folded(t("cz_unknown_category", sub.language)):
                return await choose(msg, sub, 0)
            number = parse_choice(msg.text)  # a number whose Zalo menu expired or was used
            if number is not None and 1 <= number <= len(options) + 1:
                return await choose(
                    msg, sub, options[number - 1][0] if number <= len(options) else 0
                )
            # Words typed before choosing are kept; the question is asked again.
            draft = await privacy.draft(sub.id, msg.who.user_id)
            if msg.text.strip() and len(draft.text) + len(msg.text) <= FEEDBACK_MAX_CHARS:
                draft.text = "\n".join(p for p in (draft.text, msg.text.strip()) if p)
            if photo_of(msg) and len(draft.photos) < ctx.max_photos:
                draft.photos.append(photo_of(msg) or "")
            await privacy.save_draft(sub.id, msg.who.user_id, draft)
            caps = ctx.capabilities(msg.who.platform)
            return Outcome([render_category_choice(options, sub.language, caps)])
        draft = await privacy.draft(sub.id, msg.who.user_id)
        words = msg.text.strip()
        if folded(words) in _DONE_WORDS and not photo_of(msg) and msg.place is None:
            return await finish(msg, sub)
        place = msg.place or (typed_place(words) if not photo_of(msg) else None)
        if place is not None:
            return await take_place(msg, sub, draft, place)
        if _PHONE.match(words) and not photo_of(msg):
            phone = re.sub(r"[\s.-]", "", words)
            if sub.consent_at is None:
                draft.pending_phone = phone
                return await ask_consent(msg, sub, draft, "cz_consent_what_phone")
            await privacy.set_phone(sub.id, phone)
            return Outcome([ctx.say(msg.who, t("cz_consent_yes", sub.language, what=phone))])
        photo = photo_of(msg)
        if photo is not None:
            if len(draft.photos) >= ctx.max_photos:
                limit = t("cz_too_many_photos", sub.language, max=ctx.max_photos)
                return Outcome([ctx.say(msg.who, limit)])
            draft.photos.append(photo)
        if words:
            joined = "\n".join(p for p in (draft.text, words) if p)
            if len(joined) > FEEDBACK_MAX_CHARS:
                too_long = t(
                    "feedback_too_long",
                    sub.language,
                    length=len(joined),
                    limit=FEEDBACK_MAX_CHARS,
                )
                return Outcome([ctx.say(msg.who, too_long)])
            draft.text = joined
        await privacy.save_draft(sub.id, msg.who.user_id, draft)
        return status(msg, sub, draft)

    async def finish(event: Text | Press, sub: Subscriber) -> Outcome:
        draft = await privacy.draft(sub.id, event.who.user_id)
        if not draft.text.strip() and not draft.photos:
            return Outcome([ctx.say(event.who, t("cz_need_text", sub.language))])
        outcome = await file_case(
            ctx,
            event,
            sub,
            draft.text.strip(),
            article_id=draft.article_id,
            category_id=draft.category_id or None,
            photos=draft.photos,
            place=draft.place if sub.consent_at is not None else None,
        )
        if outcome.wake_feedback:  # filed (not refused): the step is over
            await privacy.drop_draft(sub.id, event.who.user_id)
            await ctx.set_dialog(sub, event.who, None, None)
        return outcome

    # -- buttons (Zalo: the numbers of the list) -----------------------------------------------

    async def press(event: Press, rest: str) -> Outcome:
        sub = await ctx.subscriber(event.who)
        action, _, arg = rest.partition(":")
        lang = sub.language
        if action == "new":  # the offer under a plain message: its words are the draft
            draft = await privacy.draft(sub.id, event.who.user_id)
            return await open_intake(event, sub, draft)
        if action == "add":
            case_id = parse_id(arg)
            if case_id is None:
                return ctx.invalid_press(sub)
            return await add_to_case(event, sub, case_id)
        if action == "x":
            await privacy.drop_draft(sub.id, event.who.user_id)
            if sub.dialog_state == CASE_INTAKE:
                await ctx.set_dialog(sub, event.who, None, None)
                return Outcome([ctx.say(event.who, t("cz_cancelled", lang))])
            return Outcome([ctx.say(event.who, t("cz_offer_no", lang))])
        if sub.dialog_state != CASE_INTAKE:
            return ctx.invalid_press(sub)
        if action == "cat":
            category_id = 0 if arg == "0" else parse_id(arg)
            if category_id is None or sub.dialog_ref != "cat":
                return ctx.invalid_press(sub)
            if category_id and await ctx.store.units.category(category_id) is None:
                return ctx.invalid_press(sub)
            return await choose(event, sub, category_id)
        if action == "send":
            return await finish(event, sub)
        if action in ("ok", "no"):
            return await consent(event, sub, action == "ok")
        return ctx.invalid_press(sub)

    async def consent(event: Press, sub: Subscriber, agreed: bool) -> Outcome:
        draft = await privacy.draft(sub.id, event.who.user_id)
        what_key = "cz_consent_what_place" if draft.pending_place else "cz_consent_what_phone"
        what = t(what_key, sub.language)
        if not (draft.pending_place or draft.pending_phone):
            return ctx.invalid_press(sub)
        if agreed:
            now = ctx.clock()
            await privacy.give_consent(sub.id, now)
            log.info("consent given", extra={"subscriber": sub.id})
            if draft.pending_place:
                draft.place = draft.pending_place
            if draft.pending_phone:
                await privacy.set_phone(sub.id, draft.pending_phone)
        draft.pending_place, draft.pending_phone = None, None
        await privacy.save_draft(sub.id, event.who.user_id, draft)
        said = t("cz_consent_yes" if agreed else "cz_consent_no", sub.language, what=what)
        return Outcome([ctx.say(event.who, said), status(event, sub, draft).replies[0]])

    # -- a plain message, with no step open ----------------------------------------------------

    async def plain_message(msg: Text, sub: Subscriber) -> Outcome | None:
        """In a private chat, words (or a photo, a place) that nothing else took: typing
        "gửi phản ánh" opens the step; anything else is offered as a case — one tap (one
        number on Zalo) and the words become its draft, nothing is filed without it."""
        if msg.who.chat_type != "private" or msg.reply_to:
            return None
        words = msg.text.strip()
        if folded(words) in _START_WORDS:
            return await open_intake(msg, sub, Draft())
        photo = photo_of(msg)
        if not words and photo is None and msg.place is None:
            return None
        if len(words) > FEEDBACK_MAX_CHARS:
            return None
        draft = Draft(text=words, photos=[photo] if photo else [])
        if msg.place is not None:
            draft.pending_place = (msg.place.latitude, msg.place.longitude, msg.place.label)
            if sub.consent_at is not None:
                draft.place, draft.pending_place = draft.pending_place, None
        await privacy.save_draft(sub.id, msg.who.user_id, draft)
        recent = await ctx.store.cases.for_subscriber(sub.id, limit=1)
        open_case = recent[0] if recent and recent[0].status not in FINAL_STATES else None
        caps = ctx.capabilities(msg.who.platform)
        return Outcome([render_offer(sub.language, caps, open_case)])

    async def add_to_case(event: Press, sub: Subscriber, case_id: int) -> Outcome:
        """The offer's «Thêm vào PA…»: the draft's words and photos join that case (their
        own only; a merged case leads to the case it follows)."""
        own = await ctx.store.cases.get(case_id)
        if own is None or own.subscriber_id != sub.id:
            return ctx.invalid_press(sub)
        draft = await privacy.draft(sub.id, event.who.user_id)
        if not draft.text.strip() and not draft.photos:
            return ctx.invalid_press(sub)
        ticket = await ctx.store.cases.followed(own.id) or own
        now, rate = ctx.clock(), ctx.feedback_limit
        reply = await ctx.store.feedback.file_reply(
            ticket.id,
            sub.id,
            draft.text.strip(),
            limit=rate,
            now=now,
            photo_file_id=draft.photos[0] if draft.photos else None,
            via=own.id if ticket.id != own.id else None,
        )
        if reply is None:
            return ctx.invalid_press(sub)
        if isinstance(reply, Refused):
            return Outcome([ctx.say(event.who, refusal_text(reply, sub.language, rate))])
        for ref in draft.photos:
            await ctx.store.photos.record(
                ticket.id, event.who.platform, ref, message_id=reply.id, now=now
            )
        await privacy.drop_draft(sub.id, event.who.user_id)
        said = t("cz_followup_thanks", sub.language, ticket=ticket.id, code=ticket.shown_code)
        return Outcome([ctx.say(event.who, said)], wake_feedback=True)

    # -- /phananh ------------------------------------------------------------------------------

    async def cases(cmd: Command) -> Outcome:
        sub = await ctx.subscriber(cmd.who)
        lang, caps = sub.language, ctx.capabilities(cmd.who.platform)
        if cmd.who.chat_type != "private":  # a group's cases hold its members' words
            return Outcome([ctx.say(cmd.who, t("cz_private_only", lang))])
        code = cmd.args.strip()
        if not code:
            mine = await ctx.store.cases.for_subscriber(sub.id, limit=LIST_LIMIT)
            return Outcome([render_case_list(mine, lang, caps)])
        number = parse_case_code(code)
        case = await ctx.store.cases.get(number) if number is not None else None
        if case is None or case.subscriber_id != sub.id:  # someone else's: as if none
            return Outcome([ctx.say(cmd.who, t("cz_not_found", lang, code=code[:20]))])
        messages = [
            m
            for m in await ctx.store.cases.thread(case.id, notes=False)
            if m.author in (Author.CITIZEN, Author.STAFF)
            and not (m.staff_user or "").startswith("via:")  # another citizen's merged words
        ]
        photos = len(await ctx.store.photos.of_case(case.id))
        followed = await ctx.store.cases.followed(case.id) if case.merged_into else None
        shown = render_case_thread(
            case,
            messages,
            category=await category_name(case.category_id, lang),
            photos=photos,
            followed=followed,
            lang=lang,
            caps=caps,
        )
        return Outcome([shown])

    # -- the satisfaction question -------------------------------------------------------------

    async def satisfaction(event: Press, rest: str) -> Outcome:
        sub = await ctx.subscriber(event.who)
        ident, _, choice = rest.partition(":")
        case_id = parse_id(ident)
        if case_id is None or choice not in ("1", "2"):
            return ctx.invalid_press(sub)
        value = Satisfaction.SATISFIED if choice == "1" else Satisfaction.UNSATISFIED
        done = await ctx.store.cases.rate(case_id, sub.id, value, now=ctx.clock())
        case = await ctx.store.cases.get(case_id)
        if case is None or case.subscriber_id != sub.id:
            return ctx.invalid_press(sub)
        code, lang = case.shown_code, sub.language
        if isinstance(done, Changed):
            if done.event.kind == CaseEventKind.REOPENED:
                log.info("case reopened by its citizen", extra={"case": case_id})
                said = t("cz_rated_reopened", lang, code=code)
                return Outcome([ctx.say(event.who, said)], wake_feedback=True)
            return Outcome([ctx.say(event.who, t("cz_rated", lang, code=code))])
        if done.reason == "late":
            return Outcome([ctx.say(event.who, t("cz_rated_late", lang, code=code))])
        return Outcome([ctx.say(event.who, t("cz_rated_state", lang, code=code))])

    routes.command(start, "guiphananh")
    routes.command(cases, "phananh")
    routes.press("ci", press)
    routes.press("sat", satisfaction)
    routes.state(CASE_INTAKE, writing)
    routes.text(plain_message)
    return routes
