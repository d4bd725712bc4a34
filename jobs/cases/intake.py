"""A citizen's new case: its due time, worked out in one place.

Every path that files a case (the guided /guiphananh step, the button under a push, a reply to
a push, "PH <id>", a plain message) builds its `CaseIntake` here, so the due time is always the
category's deadline in WORKING days on the working calendar (jobs/cases/worktime.py), and a case
with no category («không rõ») gets the default deadline in its default unit.
"""

from __future__ import annotations

from datetime import datetime

from jobs.cases.worktime import DEFAULT_WORK_HOURS, TZ, Calendar
from storage.feedback import CaseIntake
from storage.store import Store

# The deadline of a case without a category (the categories table's default too).
DEFAULT_DEADLINE_DAYS = 10

_default: Calendar | None = None


def default_calendar() -> Calendar:
    """The calendar when the composition root installed none: default hours, shipped holidays."""
    global _default
    if _default is None:
        _default = Calendar.from_settings(DEFAULT_WORK_HOURS, None)
    return _default


async def case_intake(
    store: Store,
    *,
    now: datetime,
    category_id: int | None = None,
    calendar: Calendar | None = None,
    place: tuple[float, float, str | None] | None = None,
) -> CaseIntake:
    """The intake of a case received at `now`: category (0 or None: «không rõ»), due time,
    and a place (only when the citizen consented: the caller checks)."""
    days = DEFAULT_DEADLINE_DAYS
    chosen: int | None = None
    if category_id:
        category = await store.units.category(category_id)
        if category is not None and category.active:
            chosen, days = category.id, category.deadline_days
    due = (calendar or default_calendar()).add_working_days(now, days)
    lat, lon, label = place if place is not None else (None, None, None)
    return CaseIntake(
        category_id=chosen, due_at=due, place_lat=lat, place_lon=lon, place_label=label
    )


def local_date(when: datetime | None) -> str:
    """A due time as citizens read it: the Vietnamese date (dd/mm/yyyy, Asia/Ho_Chi_Minh)."""
    if when is None:
        return "—"
    return when.astimezone(TZ).strftime("%d/%m/%Y")
