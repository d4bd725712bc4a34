"""The platform-neutral conversation: a router from neutral events to flows.

Adapters turn platform updates into `bot.dialog.events` and carry out the returned `Outcome`, so
Telegram, Zalo and the console share every flow. Flows (bot/dialog/flows/) register commands, button
prefixes (callback data "prefix:rest") and text states; state that must survive a restart
(waiting for feedback text) lives in storage, per chat and person, and every staff action checks
the role in storage at the moment it runs, whatever a button's callback data claims. Callback
data is untrusted: ids go through `bot.dialog.flows.base.parse_id`, and unknown or out-of-range data
is answered with a polite toast that changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from bot.dialog.events import Command, Event, Press, Text
from bot.dialog.flows import (
    broadcast,
    feedback,
    groups,
    inbox,
    keywords,
    preferences,
    reading,
    staff,
    subscription,
    zalo_codes,
)
from bot.dialog.flows.base import FlowContext, Outcome
from bot.dialog.flows.feedback import DEFAULT_RATE_LIMIT
from jobs.channel import Capabilities
from jobs.i18n import t
from storage.feedback import RateLimit
from storage.records import Subscriber
from storage.store import Store

log = logging.getLogger(__name__)

CommandHandler = Callable[[Command], Awaitable[Outcome]]
PressHandler = Callable[[Press, str], Awaitable[Outcome]]
TextHandler = Callable[[Text, Subscriber], Awaitable[Outcome | None]]

__all__ = ["Dialog", "Outcome"]

FLOWS = (
    subscription,
    feedback,
    broadcast,
    zalo_codes,
    staff,
    inbox,
    preferences,
    keywords,
    reading,
    groups,
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
        self.ctx = FlowContext(store, capabilities, clock, portal_name)
        self.feedback_limit = feedback_limit  # read by bot/dialog/flows/feedback.py at registration
        self._commands: dict[str, CommandHandler] = {}
        self._presses: dict[str, PressHandler] = {}
        self._states: dict[str, TextHandler] = {}
        self._text_fallbacks: list[TextHandler] = []
        for flow in FLOWS:
            flow.register(self)

    # -- registration (called by flows) --------------------------------------------------------

    def command(self, handler: CommandHandler, *names: str) -> None:
        for name in names:
            self._commands[name] = handler

    def press(self, prefix: str, handler: PressHandler) -> None:
        """Buttons whose callback data is "prefix:rest"; the handler gets `rest`."""
        self._presses[prefix] = handler

    def state(self, name: str, handler: TextHandler) -> None:
        """Free text from a person whose stored step in this chat is `name` (each member of a
        group has their own)."""
        self._states[name] = handler

    def text(self, handler: TextHandler) -> None:
        """Free text in no state; handlers are tried in order, None means "not mine"."""
        self._text_fallbacks.append(handler)

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
        return Outcome([self.ctx.say(event.who, t("plain_text_hint", sub.language))])
