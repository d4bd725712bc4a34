"""One flow's routes: the commands, button prefixes, text states and free-text handlers it
answers. Each flow builds its own `FlowRouter` from a `FlowContext`; the Dialog
(bot/dialog/router.py) includes them in one place and dispatches, so flows grow side by side
without importing each other or the Dialog.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bot.dialog.context import Outcome
from bot.dialog.events import Command, Press, Text
from storage.records import Subscriber

CommandHandler = Callable[[Command], Awaitable[Outcome]]
PressHandler = Callable[[Press, str], Awaitable[Outcome]]
TextHandler = Callable[[Text, Subscriber], Awaitable[Outcome | None]]


class FlowRouter:
    def __init__(self, name: str) -> None:
        self.name = name
        self.commands: dict[str, CommandHandler] = {}
        self.presses: dict[str, PressHandler] = {}
        self.states: dict[str, TextHandler] = {}
        self.texts: list[TextHandler] = []

    def command(self, handler: CommandHandler, *names: str) -> None:
        for name in names:
            self.commands[name] = handler

    def press(self, prefix: str, handler: PressHandler) -> None:
        """Buttons whose callback data is "prefix:rest"; the handler gets `rest`."""
        self.presses[prefix] = handler

    def state(self, name: str, handler: TextHandler) -> None:
        """Free text from a person whose stored step in this chat is `name` (each member of a
        group has their own)."""
        self.states[name] = handler

    def text(self, handler: TextHandler) -> None:
        """Free text in no state; tried in the order flows are included, None means "not
        mine"."""
        self.texts.append(handler)
