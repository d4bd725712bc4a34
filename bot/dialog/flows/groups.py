"""Groups and channels: only the chat's administrators subscribe it or change its settings.

Who is an administrator is asked of the platform at the moment of the action (Telegram's
getChatMember), never taken from the update: an adapter installs its check with
`install_admin_check`. A private chat always manages itself. Without a check for the
platform, only bantin staff may manage a group — refusing is the safe default.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING
from weakref import WeakKeyDictionary

from bot.dialog.events import Command, Event
from bot.dialog.flows.base import Outcome
from jobs.i18n import t

if TYPE_CHECKING:
    from bot.dialog.router import Dialog

log = logging.getLogger(__name__)

AdminCheck = Callable[[str, str], Awaitable[bool]]  # (chat_id, user_id) -> is admin
_CHECKS: WeakKeyDictionary[Dialog, dict[str, AdminCheck]] = WeakKeyDictionary()
SHARED = ("group", "supergroup", "channel")


def install_admin_check(dialog: Dialog, platform: str, check: AdminCheck) -> None:
    _CHECKS.setdefault(dialog, {})[platform] = check


async def may_manage(dialog: Dialog, event: Event) -> bool:
    """Whether this event's sender may subscribe the chat or change its settings."""
    who = event.who
    if who.chat_type not in SHARED:
        return True
    if who.chat_type == "channel" and isinstance(event, Command):
        return True  # only a channel's administrators can post in it
    check = _CHECKS.get(dialog, {}).get(who.platform)
    if check is not None:
        try:
            if await check(who.chat_id, who.user_id):
                return True
        except Exception:  # the platform could not say: refuse, and say why in the log
            log.warning("admin check failed", extra={"chat": who.chat_id})
    return await dialog.ctx.is_staff(who)


async def refusal(dialog: Dialog, event: Event) -> Outcome:
    """The polite no for a group member who is not an administrator."""
    sub = await dialog.ctx.subscriber(event.who)
    text = t("group_admin_only", sub.language)
    if isinstance(event, Command):
        return Outcome([dialog.ctx.say(event.who, text)])
    return Outcome(toast=text)


def register(dialog: Dialog) -> None:
    """Nothing to route: other flows call `may_manage` before every change."""
