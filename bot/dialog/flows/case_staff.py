"""Staff case actions beyond the inbox's first row: «Nhận xử lý» (take), «Ghi chú» (an
internal note the citizen never sees), «Chuyển đơn vị» (pick a unit, then type the reason),
«Gộp» (type the other code), «Không thuộc thẩm quyền» (type the reason and where to go), and
the unit's canned answers; plus the same actions as typed commands for chats without buttons
(Zalo), on any platform: "PA00042 nhan", "PA00042 tl <trả lời>", "PA00042 gc <ghi chú>",
"PA00042 chuyen 3 <lý do>", "PA00042 gop PA00031", "PA00042 ktq <lý do>", "PA00042 dong"
(the syntax: jobs/staff/casework.py; the help: /help for staff, key cs_help).

As in the inbox, callback data carries only numbers, and who may act (role and unit) is read
from the database at the moment of each press, each typed command and each typed reason.
Every action is one storage transaction (state, history, the citizen's notice) and audited.
A step waiting for a staff member's text is that member's own ("<case>:<user>" in the ref).
"""

from __future__ import annotations

import logging

from bot.dialog.context import FlowContext, Outcome, parse_id
from bot.dialog.events import Press, Text, Who
from bot.dialog.routes import FlowRouter
from jobs.channel import Button, OutMessage
from jobs.i18n import t
from jobs.render.callbacks import case_data
from jobs.render.cards import TYPED_PLATFORMS, case_card
from jobs.render.markup import shorten
from jobs.staff import casework
from storage.audit import actor_of
from storage.cases import Changed
from storage.records import Feedback, Subscriber

log = logging.getLogger(__name__)

NOTING = "case_note"
TRANSFERRING = "case_transfer"
MERGING = "case_merge"
REFUSING = "case_not_responsible"
STEPS = {"n": NOTING, "m": MERGING, "k": REFUSING}
PROMPTS = {NOTING: "cs_note_prompt", MERGING: "cs_merge_prompt", REFUSING: "cs_ktq_prompt"}


def router(ctx: FlowContext) -> FlowRouter:
    routes = FlowRouter("case_staff")
    store = ctx.store

    def say(who: Who, text: str) -> Outcome:
        return Outcome([ctx.say(who, text)])

    def done(who: Who, text: str) -> Outcome:
        """An action's answer: the citizen's notice goes out now, and a transferred case's
        card is posted in its new unit's chat now (not at the next forwarding run)."""
        return Outcome([ctx.say(who, text)], wake_outbox=True, wake_feedback=True)

    async def allowed(who: Who, case_id: int, lang: str) -> str | None:
        why = await casework.refusal(store, who.platform, who.user_id, case_id, lang)
        if why is not None:
            log.warning("refused case action", extra={"user": who.user_id, "ticket": case_id})
        return why

    async def edit_of(event: Press, before: Feedback, lang: str) -> OutMessage | None:
        return await casework.edited_card(
            store,
            before,
            chat_id=event.who.chat_id,
            message_id=event.message_id,
            platform=event.who.platform,
            caps=ctx.capabilities(event.who.platform),
            lang=lang,
            now=ctx.clock(),
        )

    # -- the actions, whichever way they were asked ---------------------------------------------

    async def take(who: Who, case: Feedback, lang: str) -> str:
        actor = actor_of(who.platform, who.user_id)
        done = await casework.act(store, "take", case.id, actor=actor, now=ctx.clock())
        if isinstance(done, Changed):
            return t("cs_taken", lang, code=case.shown_code)
        return casework.unchanged_text(done, case, lang)

    async def close(who: Who, case: Feedback, lang: str) -> str:
        actor = actor_of(who.platform, who.user_id)
        done = await casework.act(store, "close", case.id, actor=actor, now=ctx.clock())
        if isinstance(done, Changed):
            return t("ticket_closed", lang, ticket=case.id)
        return casework.unchanged_text(done, case, lang)

    async def note(who: Who, case: Feedback, text: str, lang: str) -> str:
        text = text.strip()
        if not text:
            return t("cs_note_prompt", lang, code=case.shown_code)
        if len(text) > casework.NOTE_MAX_CHARS:
            return t("answer_too_long", lang, length=len(text), limit=casework.NOTE_MAX_CHARS)
        actor = actor_of(who.platform, who.user_id)
        await casework.note(store, case.id, actor=actor, text=text, now=ctx.clock())
        return t("cs_noted", lang, code=case.shown_code)

    async def merge(who: Who, case: Feedback, other: str, lang: str) -> str:
        actor = actor_of(who.platform, who.user_id)
        target = await store.cases.by_code(other)
        if target is None:
            return t("cs_target_missing", lang, code=shorten(other.strip(), 20))
        done = await casework.act(
            store, "merge", case.id, actor=actor, now=ctx.clock(), arg=target.shown_code
        )
        if isinstance(done, Changed):
            return t("cs_merged", lang, code=case.shown_code, target=target.shown_code)
        return casework.unchanged_text(done, case, lang)

    async def not_responsible(who: Who, case: Feedback, reason: str, lang: str) -> str:
        reason = reason.strip()
        if not reason:
            return t("cs_ktq_prompt", lang, code=case.shown_code)
        actor = actor_of(who.platform, who.user_id)
        done = await casework.act(
            store,
            "not_responsible",
            case.id,
            actor=actor,
            now=ctx.clock(),
            arg=reason[: casework.REASON_MAX_CHARS],
        )
        if isinstance(done, Changed):
            return t("cs_not_responsible_done", lang, code=case.shown_code)
        return casework.unchanged_text(done, case, lang)

    async def transfer(who: Who, case: Feedback, unit_id: int, reason: str, lang: str) -> str:
        unit = await store.units.get(unit_id)
        if unit is None:
            return t("cs_unit_missing", lang)
        actor = actor_of(who.platform, who.user_id)
        done = await casework.act(
            store,
            "transfer",
            case.id,
            actor=actor,
            now=ctx.clock(),
            arg=reason.strip()[: casework.REASON_MAX_CHARS],
            unit_id=unit.id,
        )
        if isinstance(done, Changed):
            return t("cs_transferred", lang, code=case.shown_code, unit=unit.name)
        return casework.unchanged_text(done, case, lang)

    async def canned_list(who: Who, case: Feedback, lang: str) -> OutMessage:
        canned = await casework.canned_for(store, case, lang)
        if not canned:
            return ctx.say(who, t("cs_canned_none", lang, code=case.shown_code))
        lines = [t("cs_canned_title", lang, code=case.shown_code)]
        lines += [f"{n}. {a.title}: {shorten(text, 300)}" for n, (a, text) in enumerate(canned, 1)]
        lines.append(t("cs_canned_typed", lang, code=case.shown_code))
        return ctx.say(who, "\n".join(lines))

    async def unit_list(who: Who, case: Feedback, lang: str) -> OutMessage:
        """The units a case can go to, as buttons (Telegram) and as numbers to type
        ("PA00042 chuyen 3 <lý do>")."""
        units = [u for u in await store.units.all() if u.id != case.unit_id]
        if not units:
            return ctx.say(who, t("cs_no_units", lang))
        lines = [t("cs_transfer_pick", lang, code=case.shown_code)]
        lines += [f"{u.id}. {u.name}" for u in units]
        lines.append(t("cs_transfer_typed", lang, code=case.shown_code))
        message = ctx.say(who, "\n".join(lines))
        buttons = tuple(
            (Button(shorten(u.name, 40), case_data("u", case.id, u.id)),) for u in units[:20]
        )
        # On Zalo a numbered menu would number the units again (1, 2 …) beside their own
        # numbers: there the numbers to type are the only way.
        pressable = ctx.capabilities(who.platform).buttons and who.platform not in TYPED_PLATFORMS
        return OutMessage(
            text=message.text, markup=message.markup, buttons=buttons if pressable else ()
        )

    # -- buttons --------------------------------------------------------------------------------

    async def press(event: Press, rest: str) -> Outcome:
        action, _, tail = rest.partition(":")
        ident, _, arg = tail.partition(":")
        sub = await ctx.subscriber(event.who)
        lang = sub.language
        case_id = parse_id(ident)
        arg_id = parse_id(arg) if arg else None
        needs_arg = action in ("u", "a", "s")
        if (
            action not in ("t", "n", "x", "u", "m", "k", "a", "s")
            or case_id is None
            or needs_arg != (arg_id is not None)
        ):
            return ctx.invalid_press(sub)
        if not await ctx.is_staff(event.who):
            log.warning("refused staff button", extra={"user": event.who.user_id})
            return Outcome(toast=t("staff_only", lang))
        why = await allowed(event.who, case_id, lang)
        if why is not None:
            return Outcome(toast=why)
        case = await store.feedback.get(case_id)
        if case is None:
            return Outcome(toast=t("ticket_missing", lang, ticket=case_id))
        who = event.who
        if action == "t":
            toast = await take(who, case, lang)
            return Outcome(edit=await edit_of(event, case, lang), toast=toast, wake_outbox=True)
        if action in STEPS:
            step = STEPS[action]
            await ctx.set_dialog(sub, who, step, f"{case.id}:{who.user_id}")
            return say(who, t(PROMPTS[step], lang, code=case.shown_code))
        if action == "x":
            return Outcome([await unit_list(who, case, lang)])
        assert arg_id is not None
        if action == "u":
            unit = await store.units.get(arg_id)
            if unit is None or unit.id == case.unit_id:
                return Outcome(toast=t("cs_unit_missing", lang))
            await ctx.set_dialog(sub, who, TRANSFERRING, f"{case.id}:{unit.id}:{who.user_id}")
            prompt = t("cs_transfer_prompt", lang, code=case.shown_code, unit=unit.name)
            return say(who, prompt)
        # a canned answer: "a" shows it filled in with a button to send it; "s" sends it
        filled = await canned_text(case, arg_id, lang)
        if filled is None:
            return Outcome(toast=t("cs_canned_gone", lang))
        if action == "a":
            preview = t("cs_canned_preview", lang, code=case.shown_code, text=filled)
            message = ctx.say(who, preview)
            send = Button(t("cs_canned_send", lang), case_data("s", case.id, arg_id))
            caps = ctx.capabilities(who.platform)
            buttons = ((send,),) if caps.buttons else ()
            return Outcome([OutMessage(message.text, buttons=buttons, markup=message.markup)])
        return await answer(who, sub, case, filled, lang)

    async def canned_text(case: Feedback, canned_id: int, lang: str) -> str | None:
        """The canned answer filled in for this case; None unless it is one of the case's
        unit's (or shared by every unit)."""
        for answer_, filled in await casework.canned_for(store, case, lang):
            if answer_.id == canned_id:
                return filled
        return None

    async def answer(who: Who, sub: Subscriber, case: Feedback, text: str, lang: str) -> Outcome:
        text = text.strip()
        if not text:
            return say(who, t("cs_answer_usage", lang, code=case.shown_code))
        if len(text) > casework.ANSWER_MAX_CHARS:
            limit = casework.ANSWER_MAX_CHARS
            return say(who, t("answer_too_long", lang, length=len(text), limit=limit))
        actor = actor_of(who.platform, who.user_id)
        message = await casework.answer(store, case.id, actor=actor, text=text, now=ctx.clock())
        if message is None:
            return say(who, t("ticket_missing", lang, ticket=case.id))
        if sub.dialog_state == "answering":  # the inbox's «Trả lời» step, now done
            await ctx.set_dialog(sub, who, None, None)
        return Outcome([ctx.say(who, t("answer_queued", lang, ticket=case.id))], wake_outbox=True)

    # -- the typed steps after a button -----------------------------------------------------------

    def step_of(msg: Text, sub: Subscriber) -> tuple[int, str] | None:
        """(case id, the rest of the ref) of this member's own step; None for anything else."""
        ref = sub.dialog_ref or ""
        head, _, tail = ref.partition(":")
        case_id = parse_id(head)
        *middle, user = tail.split(":") if tail else [""]
        if case_id is None or user != msg.who.user_id:
            return None
        return case_id, ":".join(middle)

    async def typed_step(msg: Text, sub: Subscriber) -> Outcome | None:
        found = step_of(msg, sub)
        command = casework.parse_command(msg.text)
        if found is None or (command is not None and not _is_code(command, sub)):
            return None  # not this member's step, or a typed command: handled as such
        case_id, middle = found
        lang = sub.language
        step = sub.dialog_state
        why = await allowed(msg.who, case_id, lang)
        case = await store.feedback.get(case_id)
        if why is not None or case is None:
            await ctx.set_dialog(sub, msg.who, None, None)
            return say(msg.who, why or t("ticket_missing", lang, ticket=case_id))
        text = msg.text.strip()
        if not text:
            return say(
                msg.who,
                t(PROMPTS.get(step or "", "cs_transfer_reason"), lang, code=case.shown_code),
            )
        await ctx.set_dialog(sub, msg.who, None, None)
        if step == NOTING:
            return say(msg.who, await note(msg.who, case, text, lang))
        if step == MERGING:
            return done(msg.who, await merge(msg.who, case, text, lang))
        if step == REFUSING:
            return done(msg.who, await not_responsible(msg.who, case, text, lang))
        unit_id = parse_id(middle)
        if unit_id is None:
            return say(msg.who, t("cs_unit_missing", lang))
        return done(msg.who, await transfer(msg.who, case, unit_id, text, lang))

    # -- typed commands ("PA00042 nhan") ----------------------------------------------------------

    async def typed(msg: Text, sub: Subscriber) -> Outcome | None:
        command = casework.parse_command(msg.text)
        if command is None:
            return None
        who, lang = msg.who, sub.language
        if not await ctx.is_staff(who):
            if command.action == "show":
                return None  # a citizen writing their own code: theirs to handle
            log.warning("refused typed staff command", extra={"user": who.user_id})
            return say(who, t("staff_only", lang))
        why = await allowed(who, command.case_id, lang)
        if why is not None:
            return say(who, why)
        case = await store.feedback.get(command.case_id)
        if case is None:
            return say(who, t("ticket_missing", lang, ticket=command.case_id))
        action, arg = command.action, command.arg
        if action == "show":
            caps = ctx.capabilities(who.platform)
            card = await case_card(store, case, lang, caps, platform=who.platform, now=ctx.clock())
            return Outcome([card])
        if action == "take":
            return done(who, await take(who, case, lang))
        if action == "close":
            return done(who, await close(who, case, lang))
        if action == "note":
            return say(who, await note(who, case, arg, lang))
        if action == "answer":
            return await answer(who, sub, case, arg, lang)
        if action == "canned":
            number = parse_id(arg.strip()) if arg.strip() else None
            if number is None:
                return Outcome([await canned_list(who, case, lang)])
            canned = await casework.canned_for(store, case, lang)
            if number > len(canned):
                return say(who, t("cs_canned_gone", lang))
            return await answer(who, sub, case, canned[number - 1][1], lang)
        if action == "merge":
            if not arg.strip():
                return say(who, t("cs_merge_prompt", lang, code=case.shown_code))
            return done(who, await merge(who, case, arg, lang))
        if action == "not_responsible":
            if not arg.strip():
                await ctx.set_dialog(sub, who, REFUSING, f"{case.id}:{who.user_id}")
                return say(who, t("cs_ktq_prompt", lang, code=case.shown_code))
            return done(who, await not_responsible(who, case, arg, lang))
        if action in ("ban", "unban"):
            actor = actor_of(who.platform, who.user_id)
            on = action == "ban"
            await casework.ban(store, case, actor=actor, now=ctx.clock(), on=on)
            return say(who, t("citizen_banned" if on else "citizen_unbanned", lang, ticket=case.id))
        # transfer
        if not arg.strip():
            return Outcome([await unit_list(who, case, lang)])
        ref, reason = casework.split_transfer(arg)
        unit = await store.units.find(ref)
        if unit is None:
            return say(who, t("cs_unit_missing", lang))
        if not reason:
            await ctx.set_dialog(sub, who, TRANSFERRING, f"{case.id}:{unit.id}:{who.user_id}")
            return say(who, t("cs_transfer_prompt", lang, code=case.shown_code, unit=unit.name))
        return done(who, await transfer(who, case, unit.id, reason, lang))

    routes.press("cs", press)
    for step in (NOTING, TRANSFERRING, MERGING, REFUSING):
        routes.state(step, typed_step)
    routes.text(typed)
    return routes


def _is_code(command: casework.StaffCommand, sub: Subscriber) -> bool:
    """A bare code typed while «Gộp» waits for one is the answer to that step."""
    return command.action == "show" and sub.dialog_state == MERGING
