"""What every flow is handed: storage, the platform's capabilities, the clock, and small helpers.

Flows never import each other or the Dialog: what more than one of them needs (this context,
the outcome they return, reading ids from untrusted callback data) lives here, in the dialog
layer, and each flow builds its own `FlowRouter` (bot/dialog/routes.py) from a context.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from bot.dialog.events import Who
from jobs.cases.worktime import Calendar
from jobs.channel import Capabilities, OutMessage
from jobs.i18n import t
from jobs.render.markup import plain
from storage.feedback import RateLimit
from storage.records import Subscriber
from storage.staff import ADMIN, EDITOR
from storage.store import Store

STAFF_ROLES = (ADMIN, EDITOR)
MAX_ID = 2**31 - 1  # row ids are 32-bit integers in every database we run on
_ID = re.compile(r"[0-9]{1,10}")

AdminCheck = Callable[[str, str], Awaitable[bool]]  # (chat_id, user_id) -> is admin
DEFAULT_RATE_LIMIT = RateLimit()


def parse_id(text: str) -> int | None:
    """A row id from callback data, a code or a stored reference; None for anything else.

    Every flow reads ids through here: callback data is whatever a client sends, and an id past
    the column's range (or "²", which str.isdigit accepts) would reach the database as an error
    instead of a polite "this button no longer works".
    """
    if not _ID.fullmatch(text):
        return None
    value = int(text)
    return value if 1 <= value <= MAX_ID else None


@dataclass
class Outcome:
    """What the adapter must do for one event."""

    replies: list[OutMessage] = field(default_factory=list)
    edit: OutMessage | None = None  # replaces the message whose button was pressed
    toast: str | None = None  # short notice on the pressed button (always answered)
    wake_outbox: bool = False
    wake_feedback: bool = False


@dataclass
class FlowContext:
    store: Store
    capabilities: Callable[[str], Capabilities]
    clock: Callable[[], datetime]
    portal_name: str | None = None
    feedback_limit: RateLimit = DEFAULT_RATE_LIMIT  # every path that files feedback obeys it
    # Per platform, how to ask whether a user administers a group (bot/dialog/groups.py);
    # filled by the composition root once the platform's channel exists.
    admin_checks: dict[str, AdminCheck] = field(default_factory=dict)
    # Cases (#15), set by the composition root: the working calendar due times run on (None:
    # the default one, jobs/cases/intake.py), the photos a case takes, and how a citizen's
    # stored photos are deleted from the media store (None: only marked erased).
    calendar: Calendar | None = None
    max_photos: int = 3
    erase_photos: Callable[[int], Awaitable[int]] | None = None

    async def subscriber(self, who: Who) -> Subscriber:
        """The chat's subscriber row, created (inactive) the first time the chat is seen, with
        `dialog_state`/`dialog_ref` set to the step of the person who wrote (in a group, each
        member has their own)."""
        return await self.store.subscribers.with_dialog(
            who.platform,
            who.chat_id,
            who.user_id,
            chat_type=who.chat_type,
            display_name=who.display_name,
        )

    async def set_dialog(
        self, sub: Subscriber, who: Who, state: str | None, ref: str | None
    ) -> None:
        """Set or clear the step of the person `who` in this chat (never the whole chat's)."""
        await self.store.subscribers.set_dialog(sub.id, state, ref, user=who.user_id)

    def invalid_press(self, sub: Subscriber) -> Outcome:
        """The polite answer to a button whose data is unknown, forged or out of range."""
        return Outcome(toast=t("authz_press_invalid", sub.language))

    def say(self, who: Who, text: str) -> OutMessage:
        """Catalog text as a reply fit for the chat's platform (escaped, within limits)."""
        return plain(text, self.capabilities(who.platform))

    async def role(self, who: Who) -> str | None:
        """The user's staff role read from storage now (never from callback data)."""
        return await self.store.staff.role_of(who.platform, who.user_id)

    async def is_staff(self, who: Who) -> bool:
        return await self.role(who) in STAFF_ROLES
