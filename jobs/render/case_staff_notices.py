"""What a unit's chat reads when a case nears its due time, and what admins read when it is late.

Drawn at send time from the history line (`case_events`, kind 'reminder' or 'escalation') the
deadline job wrote, the case, its unit and category, so the notice says which unit and which
case even when it reaches the admins' chat rather than the unit's own. Staff are told the code
they type to act on it; the citizen's words are quoted shortly (the card has them in full).
"""

from __future__ import annotations

from jobs.channel import Capabilities, OutMessage
from jobs.i18n import t
from jobs.render.markup import format_date, plain, shorten
from storage.kinds import CaseEventKind
from storage.records import Case, CaseEvent, Subscriber
from storage.store import Store

QUOTE_CHARS = 160


async def render_case_staff_notice(
    store: Store, event: CaseEvent, case: Case, sub: Subscriber, caps: Capabilities
) -> OutMessage:
    """The reminder or escalation `event` of `case`, for the staff chat `sub`."""
    lang = sub.language
    unit = await store.units.get(case.unit_id) if case.unit_id else None
    category = await store.units.category(case.category_id) if case.category_id else None
    unknown = t("cu_unknown", lang)
    key = "cu_escalation" if event.kind == CaseEventKind.ESCALATION else "cu_reminder"
    text = t(
        key,
        lang,
        code=case.shown_code,
        unit=unit.name if unit else unknown,
        category=category.name if category else unknown,
        due=format_date(case.due_at) or unknown,
        state=t(f"case_state_{case.status}", lang),
        assignee=case.assignee or t("cu_nobody", lang),
        quote=shorten(" ".join(case.text.split()), QUOTE_CHARS),
    )
    return plain(text, caps)
