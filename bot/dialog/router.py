"""The platform-neutral conversation: a router from neutral events to flows.

Adapters turn platform updates into `bot.dialog.events` and carry out the returned `Outcome`, so
Telegram, Zalo and the console share every flow. Each flow (bot/dialog/flows/) builds its own
`FlowRouter` of commands, button prefixes (callback data "prefix:rest"), text states and
free-text handlers; the Dialog includes them here, in one place and in one order (the order
free-text handlers are tried). State that must survive a restart (waiting for feedback text)
lives in storage, per chat and person, and every staff action checks the role in storage at the
moment it runs, whatever a button's callback data claims. Callback data is untrusted: ids go
through `bot.dialog.context.parse_id`, and unknown or out-of-range data is answered with a
polite toast that changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from bot.dialog.context import DEFAULT_RATE_LIMIT, AdminCheck, FlowContext, Outcome
from bot.dialog.events import Command, Event, Press
from bot.dialog.flows import (
    broadcast,
    case_staff,
    cases_citizen,
    feedback,
    inbox,
    keywords,
    preferences,
    privacy,
    reading,
    staff,
    subscription,
    units,
    weblogin,
    zalo_codes,
)
from bot.dialog.routes import CommandHandler, FlowRouter, PressHandler, TextHandler
from bot.dialog.screens import typed
from jobs.channel import Capabilities
from jobs.i18n import t
from storage.feedback import RateLimit
from storage.store import Store

log = logging.getLogger(__name__)
H = TypeVar("H")

__all__ = ["Dialog", "Outcome", "install_admin_check"]

# Every flow, in the order their free-text handlers are tried (a reply to a push is feedback
# before a "PH 12" code is read, and both before a reply to a staff card).
FLOWS = (
    subscription,
    case_staff,  # staff's typed case commands ("PA00042 dong") before citizens' words
    feedback,
    broadcast,
    zalo_codes,
    staff,
    inbox,
    preferences,
    keywords,
    reading,
    weblogin,
    units,  # /donvi, /linhvuc: admins set up units and categories
    privacy,  # /xoadulieu
    cases_citizen,  # /guiphananh, /phananh; its plain-message offer is tried last
)


class Dialog:
    def __init__(
        self,
        store: Store,
        *,
        capabilities: Callable[[str], Capabilities],
        clock: Callable[[], datetime],
        portal_name: str | None = None,
        feedback_limit: RateLimit = DEFAULT_RATE_LIMIT,
    ) -> None:
        self.ctx = FlowContext(store, capabilities, clock, portal_name, feedback_limit)
        self._commands: dict[str, CommandHandler] = {}
        self._presses: dict[str, PressHandler] = {}
        self._states: dict[str, TextHandler] = {}
        self._text_fallbacks: list[TextHandler] = []
        for flow in FLOWS:
            self.include(flow.router(self.ctx))

    def include(self, router: FlowRouter) -> None:
        """Take a flow's routes; two flows claiming one command, prefix or state is a bug."""
        _merge(self._commands, router.commands, router.name)
        _merge(self._presses, router.presses, router.name)
        _merge(self._states, router.states, router.name)
        self._text_fallbacks.extend(router.texts)

    def install_admin_check(self, platform: str, check: AdminCheck) -> None:
        """How to ask `platform` whether a user administers a group (bot/dialog/groups.py)."""
        self.ctx.admin_checks[platform] = check

    # -- dispatch -------------------------------------------------------------------------------

    async def handle(self, event: Event) -> Outcome:
        if isinstance(event, Command):
            handler = self._commands.get(event.name)
            if handler is None:
                sub = await self.ctx.subscriber(event.who)
                text = t("unknown_command", sub.language, command=event.name[:40])
                return Outcome([self.ctx.say(event.who, text)])
            return await handler(event)
        if isinstance(event, Press):
            prefix, _, rest = event.data.partition(":")
            press_handler = self._presses.get(prefix)
            if press_handler is None:
                log.info("unknown button", extra={"data": event.data[:64]})
                return self.ctx.invalid_press(await self.ctx.subscriber(event.who))
            return await press_handler(event, rest)
        sub = await self.ctx.subscriber(event.who)
        if sub.dialog_state and sub.dialog_state in self._states:
            outcome = await self._states[sub.dialog_state](event, sub)
            if outcome is not None:
                return outcome
        for fallback in self._text_fallbacks:
            outcome = await fallback(event, sub)
            if outcome is not None:
                return outcome
        hint = typed("plain_text_hint", self.ctx.capabilities(event.who.platform))  # Zalo: type
        return Outcome([self.ctx.say(event.who, t(hint, sub.language))])


def _merge(table: dict[str, H], routes: dict[str, H], flow: str) -> None:
    taken = table.keys() & routes.keys()
    if taken:
        raise ValueError(f"flow {flow!r} reuses routes {sorted(taken)}")
    table.update(routes)


def install_admin_check(dialog: Dialog, platform: str, check: AdminCheck) -> None:
    """The composition root's hook: `dialog` asks `platform` who administers a group."""
    dialog.install_admin_check(platform, check)
