"""What a case's citizen (and, for reminders, its unit) reads when the case changes.

The outbox carries only the event's id (kinds 'case_notice' and 'case_reminder'); the text is
drawn from the event and the case at send time, in the recipient's language and the platform's
markup. The rendering of each kind of event lives here so the deliverer stays one dispatch.

The citizen is told when a unit takes the case (with the date an answer is due), when it is
handled, transferred (to whom, why, the new due date), merged (the code to follow from now on),
refused as not this office's matter (the reason and where to go), closed (with the one-tap
satisfaction question: buttons on Telegram, "gõ 1 / gõ 2" on Zalo's numbered menu) and
reopened. Receipt itself is the immediate reply to the citizen (bot/dialog/filing.py), which
carries the code and the due date.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from jobs.cases.intake import local_date
from jobs.channel import Button, Capabilities, OutMessage
from jobs.i18n import t
from jobs.render.markup import plain
from storage.kinds import CaseEventKind, OutboxKind
from storage.records import Case, CaseEvent, Delivery, Subscriber
from storage.store import Store

log = logging.getLogger(__name__)


def satisfaction_data(case_id: int, satisfied: bool) -> str:
    """Callback data of the satisfaction buttons: "sat:<case>:1" (hài lòng) or ":2"."""
    return f"sat:{case_id}:{1 if satisfied else 2}"


async def render_case_event(
    store: Store, row: Delivery, sub: Subscriber, caps: Capabilities
) -> OutMessage | None:
    """The notice for one outbox row of kind case_notice / case_reminder; None when the
    event or its case is gone (the row is then dropped by the deliverer)."""
    event = await store.cases.event(row.item_id)
    if event is None:
        return None
    case = await store.cases.get(event.case_id)
    if case is None:
        return None
    if row.kind == OutboxKind.CASE_REMINDER:
        from jobs.render.case_staff_notices import render_case_staff_notice

        return await render_case_staff_notice(store, event, case, sub, caps)
    if sub.id != case.subscriber_id:  # their case was merged into this one: the state only
        state = t(f"case_state_{case.status}", sub.language)
        return plain(t("case_follow_notice", sub.language, code=case.shown_code, state=state), caps)
    return await render_citizen_notice(store, event, case, sub.language, caps)


async def _unit_name(store: Store, unit_id: int | None, lang: str) -> str:
    unit = await store.units.get(unit_id) if unit_id else None
    return unit.name if unit is not None else t("portal_default", lang)


async def render_citizen_notice(
    store: Store, event: CaseEvent, case: Case, lang: str, caps: Capabilities
) -> OutMessage:
    """One state change of `case`, as its citizen reads it."""
    code, due = case.shown_code, local_date(case.due_at)
    kind = event.kind
    if kind == CaseEventKind.ACCEPTED:
        unit = await _unit_name(store, case.unit_id, lang)
        return plain(t("cz_n_accepted", lang, code=code, unit=unit, due=due), caps)
    if kind == CaseEventKind.STARTED:
        return plain(t("cz_n_started", lang, code=code), caps)
    if kind == CaseEventKind.ANSWERED:
        return plain(t("cz_n_answered", lang, code=code), caps)
    if kind == CaseEventKind.TRANSFERRED:
        unit = await _unit_name(store, event.unit_id or case.unit_id, lang)
        reason = event.detail or "—"
        text = t("cz_n_transferred", lang, code=code, unit=unit, reason=reason, due=due)
        return plain(text, caps)
    if kind == CaseEventKind.MERGED:
        target = event.detail or "—"
        return plain(t("cz_n_merged", lang, code=code, target=target), caps)
    if kind == CaseEventKind.NOT_RESPONSIBLE:
        reason = event.detail or case.state_reason or ""
        return plain(t("cz_n_not_responsible", lang, code=code, reason=reason).strip(), caps)
    if kind == CaseEventKind.CLOSED:
        key = "cz_n_closed_typed" if caps.menus else "cz_n_closed"
        message = plain(t(key, lang, code=code), caps)
        if not caps.buttons:
            return message
        row = (
            Button(t("cz_btn_satisfied", lang), satisfaction_data(case.id, True)),
            Button(t("cz_btn_unsatisfied", lang), satisfaction_data(case.id, False)),
        )
        return replace(message, buttons=(row,))
    if kind == CaseEventKind.REOPENED:
        return plain(t("cz_n_reopened", lang, code=code), caps)
    state = t(f"case_state_{case.status}", lang)
    return plain(t("case_notice_generic", lang, code=code, state=state), caps)
