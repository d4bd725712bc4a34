"""The deadline job: reminders to a unit's chat before a case is due, escalation when late.

Runs in the scheduler (bot/app/schedule.py, "case-deadlines"), which only the leader runs.
WHEN is decided here in working time (jobs/cases/worktime.py): a reminder goes out once the
working time left before the due time is at most BANTIN_CASE_REMIND_BEFORE hours, an escalation
once the due time has passed. The job acts only inside working hours, so a case due on Monday
is not "reminded" to an empty office on Friday night; it is at 07:30 on Monday.
WHETHER a notice was already sent is the database's business (storage/case_deadlines.py): each
notice is claimed once with a conditional UPDATE in the transaction that queues it in the
outbox, so restarts and several schedulers never send one twice.

Where: a unit's own chat, else the configured staff chat(s) (BANTIN_STAFF_CHAT_ID,
BANTIN_ZALO_STAFF_CHAT_ID); escalations go to the default unit's chat (the admins'), which is
the configured staff chat unless an admin set another.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from jobs.cases.worktime import Calendar
from jobs.staff.forward import current_staff_chat
from storage.records import Unit

if TYPE_CHECKING:
    from storage.store import Store

log = logging.getLogger(__name__)

Chat = tuple[str, str]  # (platform, chat_id)


@dataclass(frozen=True)
class DeadlineRun:
    reminders: int = 0
    escalations: int = 0
    skipped: bool = False  # outside working time: nothing looked at

    @property
    def queued(self) -> int:
        return self.reminders + self.escalations


def unit_chats(unit: Unit, configured: Sequence[Chat]) -> list[Chat]:
    """Where a unit's staff read: its own chat, else the configured staff chat(s)."""
    if unit.platform and unit.chat_id:
        return [(unit.platform, unit.chat_id)]
    return list(configured)


async def resolve_configured(store: Store, configured: Sequence[Chat]) -> list[Chat]:
    """The configured staff chats, following a group that moved (became a supergroup)."""
    return [(p, await current_staff_chat(store, p, chat)) for p, chat in configured]


async def run_deadlines(
    store: Store,
    calendar: Calendar,
    *,
    now: datetime,
    remind_before: timedelta,
    configured: Sequence[Chat],
) -> DeadlineRun:
    """One pass: queue the reminders and escalations due at `now` (each at most once ever)."""
    if not calendar.is_working_time(now):
        return DeadlineRun(skipped=True)
    staff_chats = await resolve_configured(store, configured)
    default = await store.units.ensure_default()
    units = await store.units.all()
    chats = {u.id: unit_chats(u, staff_chats) for u in units}
    admins = unit_chats(default, staff_chats)
    reminders = []
    if remind_before > timedelta():
        due_before = calendar.add_working_time(now, remind_before)
        reminders = await store.deadlines.remind(
            now=now, due_before=due_before, chats=chats, fallback=admins
        )
    escalations = await store.deadlines.escalate(now=now, chats=admins)
    run = DeadlineRun(len(reminders), len(escalations))
    if run.queued:
        log.info(
            "case deadlines",
            extra={"reminders": run.reminders, "escalations": run.escalations},
        )
    return run
