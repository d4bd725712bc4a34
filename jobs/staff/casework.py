"""What a staff member does to a case, whatever the way they asked: a button on Telegram, a
typed command on Zalo ("PA00042 nhan"), a reply to a card. The dialog's flows read the request
and check who may act (storage: CaseRepo.staff_access, at the moment of the action); here
each action is carried out through storage/cases.py (one transaction: state, history, the
citizen's notice) and recorded in the audit log, so every path does exactly the same.

The typed commands are parsed here too, so every flow (and a step waiting for a staff
member's text) reads them alike:

    PA00042                  the card again            PA00042 nhan           take it
    PA00042 tl <trả lời>     answer the citizen        PA00042 mau [số]       canned answers
    PA00042 gc <ghi chú>     internal note             PA00042 chuyen [số đơn vị] [lý do]
    PA00042 gop PA00031      merge (→ trùng)           PA00042 ktq <lý do, nơi liên hệ>
    PA00042 dong             close                     PA00042 chan / bochan  ban / unban

Verbs are read without diacritics or case ("nhận", "Đóng", "ghi chú" work too).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from jobs.cases.canned import CaseFacts, render_canned, values_for
from jobs.channel import Capabilities, OutMessage
from jobs.i18n import t
from jobs.render.cards import TYPED_PLATFORMS, case_card
from jobs.route.match import fold  # the one folding: "Đóng" → "dong"
from storage.cases import Changed, Unchanged
from storage.records import CannedAnswer, Feedback, FeedbackMessage, parse_case_code
from storage.store import Store

ANSWER_MAX_CHARS = 3000  # leaves room in one message for the quote and the header
REASON_MAX_CHARS = 1000
NOTE_MAX_CHARS = 3000

# Audit actions: the answer, close and ban keep the names they had before cases.
AUDIT = {
    "take": "case.take",
    "note": "case.note",
    "transfer": "case.transfer",
    "merge": "case.merge",
    "not_responsible": "case.not_responsible",
    "close": "feedback.close",
    "answer": "feedback.answer",
    "ban": "citizen.ban",
    "unban": "citizen.unban",
}

# verb (no diacritics, no spaces) → action
VERBS = {
    "xem": "show",
    "nhan": "take",
    "nhanxuly": "take",
    "tl": "answer",
    "traloi": "answer",
    "mau": "canned",
    "gc": "note",
    "ghichu": "note",
    "chuyen": "transfer",
    "chuyendonvi": "transfer",
    "gop": "merge",
    "ktq": "not_responsible",
    "dong": "close",
    "chan": "ban",
    "bochan": "unban",
}
_COMMAND = re.compile(r"^\s*(PA\s*-?\s*\d{1,10})(?=\s|$|[:.,])[\s:.,]*(.*)$", re.I | re.S)


@dataclass(frozen=True)
class StaffCommand:
    """A typed staff command: the case number, the action, and the words after the verb."""

    case_id: int
    action: str  # a value of VERBS
    arg: str = ""


def parse_command(text: str) -> StaffCommand | None:
    """ "PA00042 nhan" → StaffCommand(42, "take"); "pa42 tl Đã sửa" → (42, "answer", "Đã
    sửa"); a code alone → "show"; anything else (an unknown verb too) → None."""
    match = _COMMAND.match(text)
    if match is None:
        return None
    case_id = parse_case_code(match.group(1))
    if case_id is None:
        return None
    rest = match.group(2).strip()
    if not rest:
        return StaffCommand(case_id, "show")
    words = rest.split(maxsplit=2)
    # two-word verbs first ("ghi chú", "trả lời", "bỏ chặn", "nhận xử lý" as three)
    for size in (3, 2, 1):
        if len(words) < size:
            continue
        verb = fold("".join(words[:size]))
        if verb in VERBS:
            arg = rest.split(maxsplit=size)[size] if len(rest.split(maxsplit=size)) > size else ""
            return StaffCommand(case_id, VERBS[verb], arg.strip())
    return None


def split_transfer(arg: str) -> tuple[str, str]:
    """ "3 không đúng địa bàn" → ("3", reason); "Phòng Xây dựng: lý do" → (name, reason);
    a name without a colon → (name, "")."""
    arg = arg.strip()
    head, _, tail = arg.partition(" ")
    if head.lstrip("#").isdigit():
        return head.lstrip("#"), tail.strip()
    name, colon, reason = arg.partition(":")
    return (name.strip(), reason.strip()) if colon else (arg, "")


# -- the actions -------------------------------------------------------------------------------


async def audit(
    store: Store, actor: str, action: str, case_id: int, detail: str | None, now: datetime
) -> None:
    await store.audit.record(actor, AUDIT[action], f"feedback:{case_id}", detail, now=now)


async def answer(
    store: Store, case_id: int, *, actor: str, text: str, now: datetime
) -> FeedbackMessage | None:
    """Store the answer and queue it to the citizen (outbox kind 'answer', in the same
    transaction: storage/feedback.py), audit it; None when the case is gone."""
    message = await store.feedback.add_answer(case_id, staff_user=actor, text=text, now=now)
    if message is None:
        return None
    await audit(store, actor, "answer", case_id, text[:200], now)
    return message


async def act(
    store: Store,
    action: str,
    case_id: int,
    *,
    actor: str,
    now: datetime,
    arg: str = "",
    unit_id: int | None = None,
) -> Changed | Unchanged:
    """take, transfer (unit_id, arg = reason), merge (arg = the other code),
    not_responsible (arg = reason), close: through CaseRepo, audited when something changed."""
    cases = store.cases
    if action == "take":
        done = await cases.take(case_id, actor=actor, now=now)
    elif action == "transfer":
        assert unit_id is not None
        done = await cases.transfer(case_id, unit_id=unit_id, reason=arg, actor=actor, now=now)
    elif action == "merge":
        done = await cases.merge(case_id, into_code=arg, actor=actor, now=now)
    elif action == "not_responsible":
        done = await cases.not_responsible(case_id, reason=arg, actor=actor, now=now)
    elif action == "close":
        done = await cases.close(case_id, actor=actor, now=now)
    else:
        raise ValueError(action)
    if isinstance(done, Changed):
        detail = done.event.detail if action != "take" else None
        if action == "transfer":
            detail = f"unit:{unit_id} {arg}"[:300]
        await audit(store, actor, action, case_id, detail, now)
    return done


async def note(
    store: Store, case_id: int, *, actor: str, text: str, now: datetime
) -> FeedbackMessage | None:
    """An internal note: never sent to the citizen; audited (its first words)."""
    message = await store.cases.note(case_id, actor=actor, text=text, now=now)
    if message is not None:
        await audit(store, actor, "note", case_id, text[:200], now)
    return message


async def ban(store: Store, case: Feedback, *, actor: str, now: datetime, on: bool) -> None:
    detail = f"subscriber:{case.subscriber_id}"
    if on:
        await store.feedback.ban(case.subscriber_id, by=actor, now=now, ticket=case.id)
    else:
        await store.feedback.unban(case.subscriber_id)
    await audit(store, actor, "ban" if on else "unban", case.id, detail, now)


async def canned_for(store: Store, case: Feedback, lang: str) -> list[tuple[CannedAnswer, str]]:
    """The unit's canned answers (and those shared by every unit), each filled in for this
    case: {ma_phan_anh}, {ten}, {han}, {linh_vuc}, {don_vi}, {ngay_nhan}."""
    answers = await store.units.canned(case.unit_id)
    if not answers:
        return []
    sub = await store.subscribers.get_by_id(case.subscriber_id)
    unit = await store.units.get(case.unit_id) if case.unit_id else None
    category = await store.units.category(case.category_id) if case.category_id else None
    facts = CaseFacts(
        code=case.shown_code,
        name=sub.display_name if sub else None,
        due_at=case.due_at,
        category=category.name if category else None,
        unit=unit.name if unit else None,
        received_at=case.created_at,
    )
    values = values_for(facts, anonymous=t("cs_canned_anonymous", lang))
    return [(a, render_canned(a.text, values)) for a in answers]


def unchanged_text(done: Unchanged, case: Feedback, lang: str) -> str:
    """Why an action changed nothing, in words for the staff member."""
    if done.reason == "missing":
        return t("ticket_missing", lang, ticket=case.id)
    if done.reason == "target_missing":
        return t("cs_target_missing", lang, code=case.shown_code)
    if done.reason == "same_case":
        return t("cs_same_case", lang, code=case.shown_code)
    state = t(f"case_state_{done.state}", lang) if done.state else "?"
    return t("cs_wrong_state", lang, code=case.shown_code, state=state)


async def refusal(store: Store, platform: str, user_id: str, case_id: int, lang: str) -> str | None:
    """Why this person may not act on this case now (role and unit, read from the database
    at this moment); None when they may."""
    access = await store.cases.staff_access(case_id, platform, user_id)
    if access == "ok":
        return None
    if access == "missing":
        return t("ticket_missing", lang, ticket=case_id)
    if access == "other_unit":
        return t("cs_other_unit", lang, ticket=case_id)
    return t("staff_only", lang)


async def edited_card(
    store: Store,
    before: Feedback,
    *,
    chat_id: str,
    message_id: str | None,
    platform: str,
    caps: Capabilities,
    lang: str,
    now: datetime,
) -> OutMessage | None:
    """The pressed card re-rendered as the case reads now, where that can be done: on a
    platform that edits (not Zalo), on the case's own card (not an /inbox list or a prompt); a
    photo card's words are its caption, which the channel's edit rewrites as well."""
    if platform in TYPED_PLATFORMS or message_id is None:
        return None
    if message_id != before.forwarded_message_id or chat_id != before.forwarded_chat_id:
        return None
    fresh = await store.feedback.get(before.id) or before
    return await case_card(store, fresh, lang, caps, platform=platform, now=now)
